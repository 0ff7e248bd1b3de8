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
// Invariants:
// - A transfer's `done` runs on the loop (never inside a libcurl callback), once, after
//   the handle was removed from the multi; the caller owns the easy handle throughout and
//   may clean it up in `done`.
// - After `done` no loop watch of this CurlLoop remains on the transfer's socket, so a
//   CURLOPT_CONNECT_ONLY transfer's caller may watch CURLINFO_ACTIVESOCKET itself.
// - remove() and the destructor abandon transfers without calling `done`; the destructor
//   leaves no watch or timer behind. Must be destroyed before the Loop.
#pragma once

#include <curl/curl.h>

#include <functional>
#include <map>
#include <memory>

#include "lib/base/result.h"
#include "lib/loop/loop.h"

namespace gaffer::webhook {

struct CurlApi;

class CurlLoop {
public:
    using Done = std::function<void(CURLcode result)>;

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
    Status add(CURL* easy, Done done);
    // Abandons a transfer added here: `done` is never called. Unknown handles are ignored.
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
    std::map<CURL*, Done> transfers_;
    loop::Loop::TimerId timer_ = 0;
    // Cleared by the destructor: a `done` that destroys this CurlLoop stops drain_done().
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace gaffer::webhook
