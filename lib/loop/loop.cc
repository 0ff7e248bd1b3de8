// SPDX-License-Identifier: MIT
#include "lib/loop/loop.h"

#include <cstdlib>
#include <cstring>

#include "lib/base/log.h"
#include "lib/loop/backends.h"

namespace gaffer::loop {

Result<std::unique_ptr<Loop>> Loop::create(Backend backend) {
    if (backend == Backend::kAuto) {
        const char* env = getenv("GAFFER_LOOP");
        if (env && *env) {
            if (strcmp(env, "io_uring") == 0) {
                backend = Backend::kIoUring;
            } else if (strcmp(env, "epoll") == 0) {
                backend = Backend::kEpoll;
            } else {
                return fail(Error::make(EINVAL, "GAFFER_LOOP='%s': expected io_uring or epoll", env));
            }
        }
    }
    if (backend == Backend::kIoUring)
        return make_uring_loop();
    if (backend == Backend::kEpoll)
        return make_epoll_loop();
    auto r = make_uring_loop();
    if (r)
        return r;
    log_debug("io_uring unavailable (%s), using epoll", r.error().message().c_str());
    return make_epoll_loop();
}

Loop::TimerId Loop::add_timer(Clock::duration after, Callback cb) {
    TimerId id = next_timer_++;
    auto when = Clock::now() + after;
    timers_.emplace(TimerKey{when, id}, std::move(cb));
    timer_when_.emplace(id, when);
    return id;
}

void Loop::cancel_timer(TimerId id) {
    auto it = timer_when_.find(id);
    if (it == timer_when_.end())
        return;
    timers_.erase(TimerKey{it->second, id});
    timer_when_.erase(it);
}

void Loop::post(Callback fn) {
    posted_.push_back(std::move(fn));
}

void Loop::run_due_timers() {
    auto now = Clock::now();
    // Timers added by a callback for "now" run on the next turn, so a zero-delay timer
    // chain cannot starve I/O.
    std::vector<TimerId> due;
    for (auto& [key, cb] : timers_) {
        if (key.when > now)
            break;
        due.push_back(key.id);
    }
    for (TimerId id : due) {
        auto it = timer_when_.find(id);
        if (it == timer_when_.end())
            continue;  // cancelled by an earlier timer
        auto node = timers_.extract(TimerKey{it->second, id});
        timer_when_.erase(it);
        node.mapped()();
    }
}

void Loop::run_posted() {
    // Work posted while draining runs in the same turn, in order.
    size_t guard = 0;
    while (!posted_.empty() && guard++ < 1000000) {
        auto fn = std::move(posted_.front());
        posted_.pop_front();
        fn();
    }
}

int Loop::next_timeout_ms(std::optional<Clock::duration> max_wait) const {
    if (!posted_.empty() || stopping_)
        return 0;
    std::optional<Clock::duration> wait = max_wait;
    if (!timers_.empty()) {
        auto d = timers_.begin()->first.when - Clock::now();
        if (!wait || d < *wait)
            wait = d;
    }
    if (!wait)
        return -1;
    if (*wait <= Clock::duration::zero())
        return 0;
    // Round up so that a timer is never woken for early.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(*wait).count();
    return ms > 86400000 ? 86400000 : static_cast<int>(ms);
}

Status Loop::run_once(std::optional<Clock::duration> max_wait) {
    run_posted();
    int timeout = next_timeout_ms(max_wait);
    if (timeout != 0)
        ++wakeups_;
    GAFFER_RETURN_IF_ERROR(wait_and_dispatch(timeout));
    run_due_timers();
    run_posted();
    return ok();
}

Status Loop::run() {
    stopping_ = false;
    while (!stopping_) GAFFER_RETURN_IF_ERROR(run_once(std::nullopt));
    return ok();
}

bool Loop::run_until(const std::function<bool()>& pred, Clock::duration timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        // Posted work (an EventBus delivery, say) may satisfy pred: run it and look
        // before blocking, or run_once would wait for its whole timeout first.
        run_posted();
        if (pred())
            return true;
        auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero())
            return pred();
        if (!run_once(left))
            return pred();
    }
}

}  // namespace gaffer::loop
