// SPDX-License-Identifier: MIT
// LookupdLink: one gafferd -> gaffer_lookupd registration websocket (reference §13.2) on
// the gafferd loop, and CurlConnector, the libcurl multi handle that opens its TCP (and
// TLS) connection.
//
// Transport. libcurl (loaded at run time, lib/webhook/curl_api.h) opens the connection
// with CURLOPT_CONNECT_ONLY: name resolution (libcurl's threaded resolver, never on the
// loop), TCP connect, TLS handshake with the client options, all driven by the loop through
// CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION, bounded by CURLOPT_CONNECTTIMEOUT_MS. The link
// then takes the socket (CURLINFO_ACTIVESOCKET), watches it on the loop and speaks
// the websocket through curl_easy_send/curl_easy_recv (non-blocking: CURLE_AGAIN).
// Why not the shared CurlLoop (lib/webhook/curl_loop.h): it removes a finished transfer
// from its multi handle before calling back, and libcurl (7.88, Debian 12) closes a
// CONNECT_ONLY connection when its handle leaves the multi ("Better close the connection
// here, at once", multi.c). The connector keeps the handle in its multi until the link
// closes.
//
// Life of a link: kWaiting (back-off timer) -> kConnecting (libcurl) -> kHandshake (the
// upgrade request out, the 101 in) -> kOpen (IDENTIFY, the full registration, then the
// manager's events; PING every heartbeat) -> any failure -> kWaiting. A failure is never
// fatal and never blocks: it is logged (at most one warning per link every 10 s), the
// connection is dropped and a reconnect scheduled after reconnect_delay() (0.5 s doubling
// to 30 s, +-25 %); the count restarts once a link stayed up for 10 s.
//
// Bounds: the connect and handshake together must finish within connect_timeout; an open
// link whose lookupd sent nothing (no reply to the PINGs) for 2 heartbeats is dropped;
// bytes waiting to be sent beyond the last full registration are at most max_queue (a
// lookupd that cannot keep up is dropped and re-synced from scratch on the next link:
// nothing is lost silently; a full registration itself is as large as the manager's state,
// which the manager's limits bound); replies
// awaited are at most kMaxPending (older ones are forgotten); a frame from the lookupd is
// at most 64 KiB; the answer head at most 16 KiB.
#pragma once

#include <curl/curl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "lib/announce/registration.h"
#include "lib/base/result.h"
#include "lib/loop/loop.h"
#include "lib/ws/client.h"
#include "lib/ws/websocket.h"

namespace gaffer::webhook {
struct CurlApi;
}

namespace gaffer::announce {

// A lookupd address, http(s)://host[:port][/prefix] (reference §13.2: the websocket is
// <prefix>/ws on it).
struct LookupdUrl {
    std::string text;     // as configured
    bool tls = false;     // https
    std::string host;     // Host header: host[:port] as written ([v6] keeps its brackets)
    std::string ws_path;  // <prefix>/ws
    std::string connect;  // what libcurl connects to: scheme://host[:port]/
};
// EINVAL (with a one-line reason) for anything but http:// or https:// followed by a host,
// an optional numeric port and an optional path; no user info, query, fragment, space or
// control character.
Result<LookupdUrl> parse_lookupd_url(std::string_view text);

// Client TLS for https lookupds: --cacert, --client-certfile, --client-keyfile.
struct TlsOptions {
    std::string cacert, certfile, keyfile;
};

struct LinkOptions {
    Identity identity;
    std::string key;  // sent as X-Api-Key on the upgrade when not empty
    std::chrono::milliseconds heartbeat{15000};
    std::chrono::milliseconds connect_timeout{5000};
    TlsOptions tls;
    size_t max_queue = size_t{4} << 20;
};

// A libcurl multi handle on the loop that only opens connections (CONNECT_ONLY) and keeps
// each easy handle in the multi until remove(): see the banner. Must outlive its handles'
// removal, and be destroyed before the loop.
class CurlConnector {
public:
    using Done = std::function<void(CURLcode result)>;
    static Result<std::unique_ptr<CurlConnector>> create(loop::Loop& loop, const webhook::CurlApi& curl);
    ~CurlConnector();
    CurlConnector(const CurlConnector&) = delete;
    CurlConnector& operator=(const CurlConnector&) = delete;

    const webhook::CurlApi& curl() const { return curl_; }
    // Starts connecting `easy`; `done` runs on the loop when the connection is made or
    // failed (once). The handle stays in the multi.
    Status add(CURL* easy, Done done);
    // Takes `easy` out of the multi (closing its connection); `done` is not called after.
    void remove(CURL* easy);
    // The caller watches `fd` itself from now on: the connector stops watching it.
    void release_fd(int fd);

private:
    CurlConnector(loop::Loop& loop, const webhook::CurlApi& curl) : loop_(loop), curl_(curl) {}
    static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
    static int on_timer(CURLM* multi, long timeout_ms, void* userp);
    void action(curl_socket_t fd, int mask);

    loop::Loop& loop_;
    const webhook::CurlApi& curl_;
    CURLM* multi_ = nullptr;
    std::map<int, loop::Loop::WatchId> watches_;
    std::set<int> released_;
    std::map<CURL*, Done> pending_;
    loop::Loop::TimerId timer_ = 0;
    bool closing_ = false;
};

class LookupdLink {
public:
    enum class State { kWaiting, kConnecting, kHandshake, kOpen };
    static constexpr size_t kMaxPending = 4096;
    static constexpr size_t kMaxFrame = 64 * 1024;

    struct Stats {
        uint64_t attempts = 0;  // connections started
        uint64_t opened = 0;    // handshakes completed
        uint64_t failures = 0;  // links dropped or attempts failed
        uint64_t refused = 0;   // error replies
    };

    // `snapshot` gives what the manager holds now (called when the link opens).
    LookupdLink(loop::Loop& loop, CurlConnector& connector, const LinkOptions& options, LookupdUrl url,
                std::function<Snapshot()> snapshot);
    ~LookupdLink();
    LookupdLink(const LookupdLink&) = delete;
    LookupdLink& operator=(const LookupdLink&) = delete;

    // Connects now (from kWaiting; otherwise nothing).
    void start();
    // Sends what a manager event changes (no-op unless open).
    void load(const std::string& job) { send_all(reg_.load(job)); }
    void unload(const std::string& job) { send_all(reg_.unload(job)); }
    void spawn(const std::string& job, int pid) { send_all(reg_.spawn(job, pid)); }
    void exit(const std::string& job, int pid) { send_all(reg_.exit(job, pid)); }
    // Sends the whole difference between the registration and the manager.
    void resync();

    State state() const { return state_; }
    const LookupdUrl& url() const { return url_; }
    const Stats& stats() const { return stats_; }

private:
    void connect();
    void on_connected(CURLcode rc);
    void on_io(uint32_t revents);
    void on_bytes(std::string_view bytes);
    void decode(std::string_view bytes);
    void on_open();
    void on_frame(ws::Event&& ev);
    void on_reply(std::string_view text);
    void on_heartbeat();
    void arm_heartbeat();
    void send_all(const std::vector<Op>& ops);
    void send_op(const Op& op);
    // Appends a masked frame; the caller flushes (once per batch of messages).
    void send_frame(ws::Opcode opcode, std::string_view payload);
    // Random bytes for msgids and masks from a per-link pool refilled by getrandom(2).
    Status random(uint8_t* out, size_t n);
    void flush();
    void update_watch();
    // Drops the connection and schedules the next attempt.
    void drop(const std::string& why);
    void teardown();
    void warn(const std::string& what);

    loop::Loop& loop_;
    CurlConnector& connector_;
    const LinkOptions& options_;
    LookupdUrl url_;
    std::function<Snapshot()> snapshot_;

    State state_ = State::kWaiting;
    CURL* easy_ = nullptr;
    int fd_ = -1;
    loop::Loop::WatchId watch_ = 0;
    uint32_t watched_events_ = 0;
    loop::Loop::TimerId retry_timer_ = 0;
    loop::Loop::TimerId deadline_timer_ = 0;
    loop::Loop::TimerId heartbeat_timer_ = 0;

    std::string ws_key_;
    ws::ResponseReader reader_;
    std::unique_ptr<ws::Decoder> decoder_;
    std::string out_;
    size_t out_sent_ = 0;
    // Bytes of this connection appended and sent so far, and where the last full
    // registration (on_open, resync) ended: the queue bound counts what waits beyond it.
    uint64_t appended_total_ = 0, sent_total_ = 0, sync_end_total_ = 0;
    bool in_sync_ = false;
    std::deque<std::pair<std::string, Op>> pending_;  // msgid, message awaiting its reply
    Registration reg_;
    std::array<uint8_t, 4096> random_{};
    size_t random_used_ = 4096;

    loop::Clock::time_point opened_at_{};
    loop::Clock::time_point last_rx_{};
    int failures_ = 0;
    loop::Clock::time_point last_warning_{};
    uint64_t suppressed_ = 0;
    Stats stats_;
    // Set by the destructor and teardown() callers: callbacks that find it false return.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace gaffer::announce
