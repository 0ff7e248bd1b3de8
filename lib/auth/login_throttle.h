// SPDX-License-Identifier: MIT
// LoginThrottle: keeps password guessing on GET /auth from taking the event loop
// (issue 11 §6). Every password check is one PBKDF2 run (~14 ms, password.h) on the
// single loop thread, so checks are admitted, not queued and never waited for:
//
// - Per client address and per user name (known or not), kFreeFailures failed checks are
//   free; each further failure puts that address and that user into a delay of 1 s,
//   doubling per failure up to kMaxDelay. While either is in its delay, admit() refuses
//   at once (the route answers 429 with Retry-After) and no PBKDF2 runs.
// - A success clears the counters of that address and that user.
// - A global budget of kChecksPerSecond checks per second (a token bucket of that size)
//   bounds the loop time spent on PBKDF2 whatever the number of addresses and names:
//   at most ~14 % of a core.
// - A counter without a failure for kForgetAfter is forgotten. At most kMaxEntries
//   counters are kept; when full, the least recently failed one is dropped.
//
// Pure bookkeeping: no I/O, no sleeping, no timers; the clock is injectable for tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gaffer::auth {

class LoginThrottle {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    using Seconds = std::chrono::seconds;

    static constexpr unsigned kFreeFailures = 5;
    static constexpr Seconds kFirstDelay{1};
    static constexpr Seconds kMaxDelay{60};
    static constexpr Seconds kForgetAfter{900};
    static constexpr unsigned kChecksPerSecond = 10;
    static constexpr size_t kMaxEntries = 4096;

    struct Options {
        unsigned checks_per_second = kChecksPerSecond;
        size_t max_entries = kMaxEntries;
        Clock clock;  // empty: std::chrono::steady_clock::now
    };

    LoginThrottle() : LoginThrottle(Options{}) {}
    explicit LoginThrottle(Options options);

    // Zero when a password check for `user` from `address` may run now (it is then taken
    // from the global budget); else how long the caller should wait (at least 1 s).
    Seconds admit(std::string_view address, std::string_view user);
    // The outcome of an admitted check.
    void failed(std::string_view address, std::string_view user);
    void succeeded(std::string_view address, std::string_view user);

    size_t entries() const { return entries_.size(); }

private:
    using TimePoint = std::chrono::steady_clock::time_point;
    struct Entry {
        unsigned failures = 0;
        TimePoint blocked_until{};
        TimePoint last_failure{};
    };

    TimePoint now() const;
    // Time left in the delay of `key` (zero if none); forgets a stale counter.
    std::chrono::steady_clock::duration remaining(const std::string& key, TimePoint t);
    void record_failure(std::string key, TimePoint t);
    void make_room(TimePoint t);

    Options options_;
    std::unordered_map<std::string, Entry> entries_;
    double tokens_;
    TimePoint refilled_{};
};

}  // namespace gaffer::auth
