// SPDX-License-Identifier: MIT
// JobFsm: the pure state machine of one job (reference §7.5, §8). It owns no process,
// makes no system call and reads no clock: the manager feeds it inputs with the current
// time and executes the Actions it returns, in order. That keeps every rule about
// scaling, replacement and flapping testable with a virtual clock.
//
// State: the `stopped` flag, the target process count, the regular processes in spawn
// order (committed processes are the manager's business), the processes being stopped
// that must be replaced when they exit, the flapping history and the restart count.
//
// Invariants: target >= 0; a pid is in at most one of processes()/replacing; while
// stopped or waiting for a flapping retry nothing is spawned.
#pragma once

#include <chrono>
#include <deque>
#include <set>
#include <vector>

#include "lib/model/job_spec.h"
#include "lib/model/values.h"

namespace gaffer::job {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

struct Action {
    enum class Kind {
        kSpawn,        // start `count` new regular processes
        kStop,         // stop `pid` gracefully (publishes stop_process)
        kReap,         // stop `pid` as surplus of a scale-down (publishes reap)
        kArmRetry,     // flapping: call retry_fired() after `delay`
        kCancelRetry,  // drop a pending retry timer
        kArmRespawn,   // spawn failure back-off: call respawn_fired() after `delay`
        kFlap,         // publish `flap`
        kGaveUp,       // flapping exhausted max_retry: the job stays stopped
    };
    Kind kind;
    int pid = 0;
    int count = 0;
    Seconds delay{0};
    bool operator==(const Action&) const = default;
};
using Actions = std::vector<Action>;

// How a process ended, as the manager observed it (JobFsm::exited).
struct ProcessExit {
    Clock::time_point started{};  // when it was spawned (the default: long ago)
    int term_signal = 0;          // the signal that ended it; 0 for an exit
};

class JobFsm {
public:
    explicit JobFsm(const model::JobSpec& spec);

    bool stopped() const { return stopped_; }
    int target() const { return target_; }
    const std::vector<int>& processes() const { return procs_; }
    bool retry_pending() const { return retry_pending_; }
    // Flapping stopped the job (§7.5): it waits for a retry, or gave up; until it is
    // started, reloaded or updated again.
    bool flap_stopped() const { return flap_stopped_; }
    bool respawn_pending() const { return respawn_pending_; }
    int retries() const { return retries_; }
    bool is_replacing(int pid) const { return replacing_.count(pid) > 0; }
    // Whether the rest of a kSpawn may still be started: false once the job is stopped
    // or waits for a retry or a respawn back-off (after a spawn_failed(), for one).
    bool may_spawn() const { return !stopped_ && !retry_pending_ && !respawn_pending_; }
    // Unexpected exits of regular processes that were answered with a replacement (at
    // once or after the quick-exit delay), over the job's life: ProcessInfo.restarts.
    // A process stopped, reaped or replaced on purpose, or a flapping stop, is no restart.
    int restarts() const { return restarts_; }

    // Loaded with start=false: stopped until started (reference §8, recommended).
    void set_stopped_at_load() { stopped_ = true; }

    Actions start(Clock::time_point now);
    Actions stop();
    Actions reload(Clock::time_point now);
    Actions scale(const model::ScaleOp& op);
    // PUT: new config; target = max(new numprocesses, current target), or exactly the
    // new numprocesses with `exact_target` (a config file's reload: the file says how
    // many); every process is stopped and replaced as it exits. `start` un-stops a
    // stopped job.
    Actions update(const model::JobSpec& spec, bool start, bool exact_target = false);

    // The manager started a regular process for a kSpawn.
    void spawned(int pid);
    // DELETE /<pid>: stop it now, replace it when it has exited.
    Actions stop_process(int pid);
    // Stop every regular process; the job replaces them as they exit (stopall).
    Actions stop_all_replace();
    // A regular or stopping process exited (committed ones are not reported here). An
    // unexpected exit is a quick crash when the process ended by itself (an exit, or a
    // fault signal: SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGTRAP, not a
    // signal someone sent it) within kQuickExit of its start. Without flapping settings
    // such a process is respawned after kQuickRespawnDelay instead of at once, so a job
    // whose command fails immediately costs ten spawns a second, not a core (systemd's
    // RestartSec default).
    Actions exited(int pid, Clock::time_point now, const ProcessExit& how = {});
    static constexpr Seconds kQuickExit{1.0};
    static constexpr Seconds kQuickRespawnDelay{0.1};
    // Whether `term_signal` (0: none) means the process ended by itself.
    static bool ended_by_itself(int term_signal);
    // A kSpawn could not start a process (exec failure and the like).
    Actions spawn_failed(Clock::time_point now);
    Actions retry_fired(Clock::time_point now);
    Actions respawn_fired(Clock::time_point now);

private:
    Actions reconcile();
    // Flapping bookkeeping for an unexpected exit; true if it took over (no respawn).
    bool on_crash(Clock::time_point now, Actions& out);
    void reset_flapping();
    void stop_all(Actions& out);
    void cancel_timers(Actions& out);

    int config_numprocesses_;
    std::optional<model::Flapping> flapping_;
    bool stopped_ = false;
    int target_;
    std::vector<int> procs_;
    std::set<int> replacing_;
    std::deque<Clock::time_point> history_;
    int retries_ = 0;
    bool retry_pending_ = false;
    bool flap_stopped_ = false;
    bool respawn_pending_ = false;
    int spawn_failures_ = 0;
    int restarts_ = 0;
};

}  // namespace gaffer::job
