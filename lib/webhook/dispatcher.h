// SPDX-License-Identifier: MIT
// Dispatcher: delivers events to the `[webhooks]` URLs (reference §10.6, security-defaults.md
// "Webhooks"). Each event matching a hook (rule in hook_set.h) is POSTed to each matching
// URL once: the body is the event message (§6.2) as compact JSON, with
// `Content-Type: application/json`, `User-Agent: gafferd/<version>` and, when a secret is
// set, `X-Gaffer-Timestamp`/`X-Gaffer-Signature` (the signed string is in signature.h).
//
// libcurl is loaded at run time (curl_api.h) by the first set_hooks() with at least one
// hook; a Dispatcher without hooks never loads it, and gafferd does not link it.
//
// I/O: libcurl's multi API driven by the gafferd Loop (curl_loop.h): nothing polls,
// nothing blocks, and gafferd creates no thread.
// Name resolution: libcurl answers IP literals and "localhost" itself. For other names it
// uses its asynchronous resolver; Debian's libcurl has the threaded one, so getaddrinfo runs
// on a short-lived thread inside libcurl, never on the loop. A libcurl without an
// asynchronous resolver (no CURL_VERSION_ASYNCHDNS) would resolve synchronously, so then
// set_hooks() refuses host names (EINVAL) and only IP literals and localhost are accepted.
// Proxies come from the usual environment variables (http_proxy, https_proxy, no_proxy), as
// for every libcurl program; redirects are not followed; only http and https are spoken.
//
// Invariants and bounds:
// - At most Options::max_in_flight requests at once; each has connect_timeout and
//   total_timeout.
// - Deliveries waiting to be sent (first tries and retries in back-off alike) are at most
//   Options::max_queue; past it the oldest (by event order) is dropped and counted, and a
//   warning is logged at most every ten seconds. Memory stays flat under any event flood.
// - A delivery is retried (retry.h) on connect errors, timeouts and 5xx, with exponential
//   back-off, up to max_attempts attempts; 4xx and other permanent errors fail at once.
//   Failures are counted and logged at most every ten seconds.
// - Deliveries to one URL may overlap and arrive out of order; receivers order by the
//   message (or X-Gaffer-Timestamp), not by arrival.
// - Must be destroyed before the Loop and the EventBus it was created with. Destroying it
//   abandons queued and in-flight deliveries, closes their connections and leaves no watch,
//   timer or subscription behind.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/base/result.h"
#include "lib/events/event_bus.h"
#include "lib/loop/loop.h"
#include "lib/webhook/hook_set.h"

namespace gaffer::webhook {

class CurlLoop;

struct Options {
    std::string secret;  // [gaffer] webhook_secret; empty = unsigned requests
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds total_timeout{5000};  // per attempt, connect included
    size_t max_queue = 1024;                        // deliveries waiting (incl. back-off)
    int max_attempts = 5;                           // per delivery, the first one included
    std::chrono::milliseconds first_backoff{500};
    std::chrono::milliseconds max_backoff{30000};
    size_t max_in_flight = 8;
};

class Dispatcher {
public:
    struct Stats {
        uint64_t delivered = 0;  // answered 2xx
        uint64_t failed = 0;     // given up: permanent error or attempts exhausted
        uint64_t dropped = 0;    // discarded unsent: queue full, or its URL left the hook set
        uint64_t retried = 0;    // retries scheduled
        size_t queued = 0;       // waiting now, back-off included
        size_t in_flight = 0;    // requests open now
    };

    // EINVAL for options that cannot work (a zero bound or timeout). Starts with no hooks:
    // nothing is subscribed and libcurl is not loaded until set_hooks().
    static Result<std::unique_ptr<Dispatcher>> create(loop::Loop& loop, events::EventBus& bus, Options options);
    ~Dispatcher();
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    // Replaces the hook set with `hooks` ((event pattern, url) pairs, as
    // config::DaemonConfig::webhooks), at start-up and on every reload. All or nothing: if
    // one URL is invalid, EINVAL names it and the previous set stays in force. Patterns that
    // went away are unsubscribed from the bus, new ones subscribed, unchanged ones kept (so
    // no event is lost or doubled across a reload). Queued deliveries to URLs no longer in
    // the set are dropped (counted in `dropped`); requests in flight finish but are not
    // retried. The first non-empty set loads libcurl: ELIBACC naming the libraries tried if
    // none can be loaded, EIO if it cannot be initialised (the previous set stays too).
    // `bad_index`: set to the index of the refused hook when one is (HookSet::make).
    Status set_hooks(const std::vector<std::pair<std::string, std::string>>& hooks, size_t* bad_index = nullptr);

    // Replaces the signing secret (reload of [gaffer] webhook_secret); applies from the next
    // attempt on, retries included. Empty = unsigned.
    void set_secret(std::string secret);

    Stats stats() const;

    // Whether libcurl resolves names without blocking (see the banner); false until libcurl
    // is loaded.
    bool async_dns() const { return async_dns_; }

private:
    // One event's body, shared by its deliveries to every URL.
    struct Payload {
        std::string type;
        std::string body;
    };
    struct Delivery {
        uint64_t seq = 0;  // event order: the smallest is the oldest
        std::string url;
        std::shared_ptr<const Payload> payload;
        int attempts = 0;                      // attempts made so far
        loop::Clock::time_point not_before{};  // back-off: not sent before this
    };
    struct Transfer;
    struct RateLimit {
        loop::Clock::time_point last{};
        uint64_t since_last = 0;
    };

    Dispatcher(loop::Loop& loop, events::EventBus& bus, Options options);
    // Loads libcurl (curl_api()) and creates the multi handle; all or nothing.
    Status init_curl();

    void on_event(const std::string& pattern, const std::string& type, const json_t* msg);
    void enqueue(Delivery d);
    void pump();
    void start(Delivery d);
    void finish(void* easy, int curl_code);
    void arm_retry_timer(loop::Clock::time_point when);
    void note_failure(const Delivery& d, const std::string& why);

    loop::Loop& loop_;
    events::EventBus& bus_;
    Options options_;
    std::unique_ptr<CurlLoop> curl_;  // set by init_curl(), then for good
    bool async_dns_ = false;
    HookSet hooks_;
    std::map<std::string, events::EventBus::SubId> subs_;             // pattern → subscription
    std::map<uint64_t, Delivery> pending_;                            // by event order; oldest first
    std::unordered_map<void*, std::unique_ptr<Transfer>> transfers_;  // easy handle → attempt
    loop::Loop::TimerId retry_timer_ = 0;
    loop::Clock::time_point retry_at_{};
    uint64_t next_seq_ = 1;
    bool closing_ = false;  // in the destructor: nothing more is started
    Stats stats_;
    RateLimit drop_log_, fail_log_;
};

}  // namespace gaffer::webhook
