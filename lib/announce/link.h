// SPDX-License-Identifier: MIT
// LookupdLink: one gafferd -> gaffer_lookupd registration websocket (reference §13.2) on
// the gafferd loop.
//
// Transport. libcurl (loaded at run time, lib/webhook/curl_api.h) opens the connection
// with CURLOPT_CONNECT_ONLY on the shared webhook::CurlLoop, as a kept connection
// (CurlLoop::Keep::kConnection: libcurl 7.88 closes a connect-only connection when its
// handle leaves the multi, so the handle stays in until the link closes): name resolution
// (libcurl's threaded resolver, never on the loop), TCP connect, TLS handshake with the
// client options, all driven by the loop, bounded by CURLOPT_CONNECTTIMEOUT_MS. The link
// then takes the socket (CURLINFO_ACTIVESOCKET), watches it on the loop and speaks
// the websocket through curl_easy_send/curl_easy_recv (non-blocking: CURLE_AGAIN).
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
#include "lib/webhook/curl_loop.h"
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
    LookupdLink(loop::Loop& loop, webhook::CurlLoop& connector, const LinkOptions& options, LookupdUrl url,
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
    webhook::CurlLoop& connector_;
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
