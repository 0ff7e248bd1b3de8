// SPDX-License-Identifier: MIT
// CurlLoop: one libcurl multi handle driven by the gafferd loop, for every lib/ user of
// libcurl (webhook delivery, the lookupd registration links, the etcd client).
//
// CURLMOPT_SOCKETFUNCTION maps to Loop::watch/modify/unwatch and CURLMOPT_TIMERFUNCTION to
// one loop timer; both call curl_multi_socket_action, and finished transfers are read with
// curl_multi_info_read. Nothing polls, nothing blocks, no thread is created by gafferd
// (libcurl's threaded resolver runs getaddrinfo on a short-lived thread of its own).
// libcurl is called through the dlopen'ed table of curl_api.h, never directly.
//
// Two kinds of transfers:
// - Keep::kNo (requests): `done` runs once the transfer finished, after the handle left
//   the multi.
// - Keep::kConnection (CURLOPT_CONNECT_ONLY: the lookupd links' websockets): `done` runs
//   once the connection is made or failed, and the handle STAYS in the multi until
//   remove(). libcurl 7.88 closes a connect-only connection when its handle leaves the
//   multi, so curl_easy_send/recv work only while it is in (tests/system/announce checks
//   both). From `done` on the socket (CURLINFO_ACTIVESOCKET) is the caller's to watch:
//   this CurlLoop no longer watches it nor follows libcurl's requests for it.
//
// Invariants:
// - `done` runs on the loop (never inside a libcurl callback), at most once; the caller
//   owns the easy handle throughout (a kNo handle may be cleaned up in `done`, a
//   kConnection handle only after remove()).
// - After `done` no loop watch of this CurlLoop remains on the transfer's socket.
// - remove() and the destructor abandon transfers without calling `done` (and close a
//   kept connection); the destructor leaves no watch or timer behind. Must be destroyed
//   before the Loop.
#pragma once

#include <curl/curl.h>

#include <functional>
#include <map>
#include <memory>
#include <set>

#include "lib/base/result.h"
#include "lib/loop/loop.h"

namespace gaffer::webhook {

struct CurlApi;

class CurlLoop {
public:
    using Done = std::function<void(CURLcode result)>;
    enum class Keep { kNo, kConnection };

    // Loads libcurl (curl_api(): ELIBACC, EIO) and creates the multi handle (EIO).
    // `max_connects`: CURLMOPT_MAXCONNECTS, the connection cache.
    static Result<std::unique_ptr<CurlLoop>> create(loop::Loop& loop, long max_connects = 16);
    ~CurlLoop();
    CurlLoop(const CurlLoop&) = delete;
    CurlLoop& operator=(const CurlLoop&) = delete;

    const CurlApi& curl() const { return *curl_; }
    // Whether libcurl resolves names without blocking the loop (CURL_VERSION_ASYNCHDNS).
    bool async_dns() const { return async_dns_; }

    // Starts a configured easy handle. Also sets CURLOPT_NOSIGNAL and an open-socket
    // function that makes every socket close-on-exec. EIO if the multi refuses it.
    Status add(CURL* easy, Done done, Keep keep = Keep::kNo);
    // Abandons a transfer added here, or ends a kept connection (closing it): `done` is
    // not called after. Unknown handles are ignored.
    void remove(CURL* easy);
    size_t transfers() const { return transfers_.size(); }

private:
    CurlLoop(loop::Loop& loop, const CurlApi& curl);
    static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
    static int on_timer(CURLM* multi, long timeout_ms, void* userp);
    void socket_action(curl_socket_t fd, int mask);
    void drain_done();
    void forget_socket(curl_socket_t fd);

    loop::Loop& loop_;
    const CurlApi* curl_;
    CURLM* multi_ = nullptr;
    bool async_dns_ = false;
    bool closing_ = false;
    std::map<curl_socket_t, loop::Loop::WatchId> sockets_;
    struct Transfer {
        Done done;  // empty once called (a kept connection stays until remove())
        Keep keep = Keep::kNo;
    };
    std::map<CURL*, Transfer> transfers_;
    // Sockets of kept connections: their owners watch them.
    std::set<curl_socket_t> released_;
    loop::Loop::TimerId timer_ = 0;
    // Cleared by the destructor: a `done` that destroys this CurlLoop stops drain_done().
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace gaffer::webhook
