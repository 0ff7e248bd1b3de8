// SPDX-License-Identifier: MIT
// Loop: the single-threaded event loop that drives all of gafferd. Two backends sit
// behind this one interface: io_uring (liburing; one-shot POLL_ADD re-armed after each
// callback, so watches are level-triggered) and epoll (for containers whose seccomp
// profile blocks io_uring). create() probes io_uring and falls back to epoll;
// GAFFER_LOOP=io_uring|epoll forces one.
//
// Invariants:
// - Everything runs on the thread that created the loop; nothing here creates threads.
// - Callbacks are looked up by id at dispatch time, so unwatch()/cancel_timer() are safe
//   from inside any callback, including the watch's own.
// - One watch per fd at a time; unwatch() before closing the fd.
// - Timers and posted work are bounded only by their owners; the loop itself allocates a
//   record per watch/timer, never per event.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "lib/base/result.h"

namespace gaffer::loop {

using Clock = std::chrono::steady_clock;

enum class Backend { kAuto, kIoUring, kEpoll };

class Loop {
public:
    using WatchId = uint64_t;
    using TimerId = uint64_t;
    using FdCallback = std::function<void(uint32_t revents)>;
    using Callback = std::function<void()>;

    // kAuto: GAFFER_LOOP from the environment if set, else io_uring if the probe works,
    // else epoll.
    static Result<std::unique_ptr<Loop>> create(Backend backend = Backend::kAuto);
    virtual ~Loop() = default;

    virtual const char* backend_name() const = 0;

    // Calls `cb(revents)` whenever `fd` is ready for `events` (POLLIN, POLLOUT, POLLPRI),
    // until unwatch(). POLLERR/POLLHUP are always reported.
    virtual Result<WatchId> watch(int fd, uint32_t events, FdCallback cb) = 0;
    virtual Status modify(WatchId id, uint32_t events) = 0;
    virtual void unwatch(WatchId id) = 0;

    TimerId add_timer(Clock::duration after, Callback cb);
    void cancel_timer(TimerId id);
    size_t timer_count() const { return timers_.size(); }

    // Runs `fn` on the next turn, after the current callback returns (FIFO).
    void post(Callback fn);

    Clock::time_point now() const { return Clock::now(); }

    // Runs until stop(); returns an error only if the backend itself fails.
    Status run();
    void stop() { stopping_ = true; }
    bool stopping() const { return stopping_; }
    // One turn: wait up to `max_wait` (nullopt = until something happens), dispatch.
    Status run_once(std::optional<Clock::duration> max_wait);
    // For tests: turn until pred() is true or `timeout` passes; returns pred().
    bool run_until(const std::function<bool()>& pred, Clock::duration timeout);

    // Number of wake-ups so far (a test hook: an idle daemon must not wake up).
    uint64_t wakeups() const { return wakeups_; }

protected:
    Loop() = default;
    // Waits at most timeout_ms (-1 = forever) and dispatches ready watches.
    virtual Status wait_and_dispatch(int timeout_ms) = 0;

private:
    void run_due_timers();
    void run_posted();
    int next_timeout_ms(std::optional<Clock::duration> max_wait) const;

    struct TimerKey {
        Clock::time_point when;
        TimerId id;
        bool operator<(const TimerKey& o) const { return when != o.when ? when < o.when : id < o.id; }
    };
    std::map<TimerKey, Callback> timers_;
    std::unordered_map<TimerId, Clock::time_point> timer_when_;
    TimerId next_timer_ = 1;
    std::deque<Callback> posted_;
    bool stopping_ = false;
    uint64_t wakeups_ = 0;
};

}  // namespace gaffer::loop
