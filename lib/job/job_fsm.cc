// SPDX-License-Identifier: MIT
#include "lib/job/job_fsm.h"

#include <algorithm>
#include <cmath>
#include <csignal>

namespace gaffer::job {

JobFsm::JobFsm(const model::JobSpec& spec)
    : config_numprocesses_(spec.numprocesses), flapping_(spec.flapping), target_(spec.numprocesses) {}

void JobFsm::reset_flapping() {
    history_.clear();
    retries_ = 0;
    spawn_failures_ = 0;
}

void JobFsm::cancel_timers(Actions& out) {
    if (retry_pending_ || respawn_pending_)
        out.push_back({Action::Kind::kCancelRetry});
    retry_pending_ = false;
    respawn_pending_ = false;
}

void JobFsm::stop_all(Actions& out) {
    for (int pid : procs_) out.push_back({Action::Kind::kStop, pid});
    procs_.clear();
}

Actions JobFsm::reconcile() {
    Actions out;
    if (stopped_ || retry_pending_ || respawn_pending_)
        return out;
    int have = static_cast<int>(procs_.size() + replacing_.size());
    if (have < target_)
        out.push_back({Action::Kind::kSpawn, 0, target_ - have});
    // Surplus: the oldest regular processes go first (FIFO).
    while (static_cast<int>(procs_.size()) > target_) {
        out.push_back({Action::Kind::kReap, procs_.front()});
        procs_.erase(procs_.begin());
    }
    return out;
}

Actions JobFsm::start(Clock::time_point) {
    Actions out;
    cancel_timers(out);
    stopped_ = false;
    flap_stopped_ = false;
    target_ = config_numprocesses_;
    reset_flapping();
    auto r = reconcile();
    out.insert(out.end(), r.begin(), r.end());
    return out;
}

Actions JobFsm::stop() {
    Actions out;
    cancel_timers(out);
    stopped_ = true;
    flap_stopped_ = false;
    target_ = 0;
    stop_all(out);
    replacing_.clear();  // still stopping, but no longer replaced
    return out;
}

Actions JobFsm::reload(Clock::time_point) {
    Actions out;
    // A job waiting for a flapping retry was stopped by us, not by the user: reload
    // resets the flapping state, so it starts again now instead of never.
    if (retry_pending_) {
        stopped_ = false;
        flap_stopped_ = false;
    }
    cancel_timers(out);
    target_ = config_numprocesses_;
    reset_flapping();
    stop_all(out);
    replacing_.clear();  // the replacements are spawned right now
    auto r = reconcile();
    out.insert(out.end(), r.begin(), r.end());
    return out;
}

Actions JobFsm::scale(const model::ScaleOp& op) {
    target_ = op.apply(target_);
    return reconcile();
}

Actions JobFsm::update(const model::JobSpec& spec, bool start, bool exact_target) {
    Actions out;
    config_numprocesses_ = spec.numprocesses;
    flapping_ = spec.flapping;
    if (start && stopped_) {
        cancel_timers(out);
        stopped_ = false;
        flap_stopped_ = false;
        reset_flapping();
    }
    target_ = exact_target ? spec.numprocesses : std::max(spec.numprocesses, target_);
    for (int pid : procs_) {
        out.push_back({Action::Kind::kStop, pid});
        if (!stopped_)
            replacing_.insert(pid);
    }
    procs_.clear();
    auto r = reconcile();
    out.insert(out.end(), r.begin(), r.end());
    return out;
}

void JobFsm::spawned(int pid) {
    procs_.push_back(pid);
    spawn_failures_ = 0;
}

Actions JobFsm::stop_process(int pid) {
    Actions out;
    auto it = std::find(procs_.begin(), procs_.end(), pid);
    if (it == procs_.end())
        return out;
    procs_.erase(it);
    if (!stopped_)
        replacing_.insert(pid);
    out.push_back({Action::Kind::kStop, pid});
    return out;
}

Actions JobFsm::stop_all_replace() {
    Actions out;
    for (int pid : procs_) {
        out.push_back({Action::Kind::kStop, pid});
        if (!stopped_)
            replacing_.insert(pid);
    }
    procs_.clear();
    return out;
}

bool JobFsm::on_crash(Clock::time_point now, Actions& out) {
    if (!flapping_ || stopped_)
        return false;
    const auto& f = *flapping_;
    size_t cap = static_cast<size_t>(std::max({f.attempts, f.max_retry, 1}));
    history_.push_back(now);
    while (history_.size() > cap) history_.pop_front();
    if (static_cast<int>(history_.size()) < f.attempts)
        return false;
    if (Seconds(history_.back() - history_.front()).count() > f.window) {
        history_.clear();
        retries_ = 0;
        return false;
    }
    // Flapping. The timestamps are cleared, the retry counter is kept across retries,
    // so max_retry consecutive flapping periods really end with the job stopped.
    history_.clear();
    out.push_back({Action::Kind::kFlap});
    stop_all(out);
    replacing_.clear();
    cancel_timers(out);
    stopped_ = true;
    flap_stopped_ = true;
    if (retries_ < f.max_retry) {
        ++retries_;
        retry_pending_ = true;
        out.push_back({Action::Kind::kArmRetry, 0, 0, Seconds(f.retry_in)});
    } else {
        retries_ = 0;
        out.push_back({Action::Kind::kGaveUp});
    }
    return true;
}

bool JobFsm::ended_by_itself(int term_signal) {
    switch (term_signal) {
        case 0:
        case SIGSEGV:
        case SIGABRT:
        case SIGBUS:
        case SIGILL:
        case SIGFPE:
        case SIGSYS:
        case SIGTRAP:
            return true;
        default:
            return false;
    }
}

Actions JobFsm::exited(int pid, Clock::time_point now, const ProcessExit& how) {
    Actions out;
    if (replacing_.erase(pid)) {
        // A process we stopped to replace it: one replacement per exit.
        if (!stopped_ && !retry_pending_ && !respawn_pending_ &&
            static_cast<int>(procs_.size() + replacing_.size()) < target_)
            out.push_back({Action::Kind::kSpawn, 0, 1});
        return out;
    }
    auto it = std::find(procs_.begin(), procs_.end(), pid);
    if (it == procs_.end())
        return out;  // stopped or reaped on purpose: not a crash
    procs_.erase(it);
    // An unexpected exit: a crash.
    if (on_crash(now, out))
        return out;
    bool quick = ended_by_itself(how.term_signal) && now - how.started < kQuickExit;
    if (quick && !flapping_ && !stopped_ && !retry_pending_) {
        if (!respawn_pending_) {
            respawn_pending_ = true;
            out.push_back({Action::Kind::kArmRespawn, 0, 0, kQuickRespawnDelay});
        }
    } else {
        auto r = reconcile();
        out.insert(out.end(), r.begin(), r.end());
    }
    if (std::any_of(out.begin(), out.end(), [](const Action& a) {
            return a.kind == Action::Kind::kSpawn || a.kind == Action::Kind::kArmRespawn;
        }))
        ++restarts_;
    return out;
}

Actions JobFsm::spawn_failed(Clock::time_point now) {
    Actions out;
    if (on_crash(now, out))
        return out;
    if (stopped_ || respawn_pending_)
        return out;
    // Without a back-off a missing executable would be retried in a tight loop.
    ++spawn_failures_;
    double delay = std::min(0.1 * std::pow(2.0, spawn_failures_ - 1), 10.0);
    respawn_pending_ = true;
    out.push_back({Action::Kind::kArmRespawn, 0, 0, Seconds(delay)});
    return out;
}

Actions JobFsm::retry_fired(Clock::time_point) {
    if (!retry_pending_)
        return {};
    retry_pending_ = false;
    stopped_ = false;
    flap_stopped_ = false;
    return reconcile();
}

Actions JobFsm::respawn_fired(Clock::time_point) {
    if (!respawn_pending_)
        return {};
    respawn_pending_ = false;
    return reconcile();
}

}  // namespace gaffer::job
