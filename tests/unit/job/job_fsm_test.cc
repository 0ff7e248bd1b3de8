// SPDX-License-Identifier: MIT
// Tests of lib/job/job_fsm: the job state machine fed by hand with a virtual clock
// (reference §3.6 scale, §7.5 flapping, §8 lifecycle). Each step compares the whole
// Action vector the FSM returns; a kSpawn is "executed" by calling spawned() with the
// next fake pid, exactly as the manager does.
#include "lib/job/job_fsm.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <ostream>
#include <vector>

namespace gaffer::job {

// Readable failure messages for whole-vector comparisons.
void PrintTo(const Action& a, std::ostream* os) {
    static const char* const kNames[] = {"Spawn",       "Stop",       "Reap", "ArmRetry",
                                         "CancelRetry", "ArmRespawn", "Flap", "GaveUp"};
    *os << kNames[static_cast<int>(a.kind)] << "{pid=" << a.pid << ",count=" << a.count << ",delay=" << a.delay.count()
        << "}";
}

namespace {

using std::chrono::milliseconds;
using K = Action::Kind;

Action Spawn(int n) {
    return {K::kSpawn, 0, n};
}
Action Stop(int pid) {
    return {K::kStop, pid};
}
Action Reap(int pid) {
    return {K::kReap, pid};
}
Action ArmRetry(double s) {
    return {K::kArmRetry, 0, 0, Seconds(s)};
}
Action ArmRespawn(double s) {
    return {K::kArmRespawn, 0, 0, Seconds(s)};
}
Action CancelRetry() {
    return {K::kCancelRetry};
}
Action Flap() {
    return {K::kFlap};
}
Action GaveUp() {
    return {K::kGaveUp};
}

model::JobSpec make_spec(int numprocesses, std::optional<model::Flapping> flapping = std::nullopt) {
    model::JobSpec s;
    s.name = model::JobName::parse("default.web");
    s.cmd = "sleep 1000";
    s.numprocesses = numprocesses;
    s.flapping = flapping;
    s.config_json = "{}";
    return s;
}

model::Flapping flapping(int attempts, double window, double retry_in, int max_retry) {
    model::Flapping f;
    f.attempts = attempts;
    f.window = window;
    f.retry_in = retry_in;
    f.max_retry = max_retry;
    return f;
}

model::ScaleOp add(int n) {
    return {model::ScaleOp::Kind::kAdd, n};
}
model::ScaleOp sub(int n) {
    return {model::ScaleOp::Kind::kSub, n};
}
model::ScaleOp set(int n) {
    return {model::ScaleOp::Kind::kSet, n};
}

// A job FSM plus a virtual clock and a pid counter standing in for the manager.
class Harness {
public:
    explicit Harness(const model::JobSpec& spec) : fsm(spec) {}

    JobFsm fsm;
    Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
    int next_pid = 1;

    void advance(Clock::duration d) { now += d; }
    void advance_s(double s) { now += std::chrono::duration_cast<Clock::duration>(Seconds(s)); }

    // Plays the manager: every kSpawn becomes `count` calls to spawned(). Returns the
    // actions unchanged so that tests can compare them.
    const Actions& run(const Actions& actions) {
        last = actions;
        for (const auto& a : actions)
            if (a.kind == K::kSpawn)
                for (int i = 0; i < a.count; ++i) fsm.spawned(next_pid++);
        return last;
    }

    Actions start() { return run(fsm.start(now)); }
    Actions exited(int pid) { return run(fsm.exited(pid, now)); }
    Actions retry_fired() { return run(fsm.retry_fired(now)); }
    Actions respawn_fired() { return run(fsm.respawn_fired(now)); }
    Actions scale(const model::ScaleOp& op) { return run(fsm.scale(op)); }
    Actions spawn_failed() { return fsm.spawn_failed(now); }  // nothing spawned

    std::vector<int> procs() const { return fsm.processes(); }

    Actions last;
};

// ---------------------------------------------------------------- start/stop/reload

TEST(JobFsm, StartSpawnsTheConfiguredNumber) {
    Harness h(make_spec(3));
    EXPECT_FALSE(h.fsm.stopped());
    EXPECT_EQ(h.start(), (Actions{Spawn(3)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(h.fsm.target(), 3);
    // A second start has nothing to do.
    EXPECT_EQ(h.start(), Actions{});
}

TEST(JobFsm, StartWithZeroProcessesSpawnsNothing) {
    Harness h(make_spec(0));
    EXPECT_EQ(h.start(), Actions{});
    EXPECT_TRUE(h.procs().empty());
}

TEST(JobFsm, StopStopsEveryProcessAndZeroesTheTarget) {
    Harness h(make_spec(3));
    h.start();
    EXPECT_EQ(h.fsm.stop(), (Actions{Stop(1), Stop(2), Stop(3)}));
    EXPECT_TRUE(h.fsm.stopped());
    EXPECT_EQ(h.fsm.target(), 0);
    EXPECT_TRUE(h.procs().empty());
    // Their exits are ours: no replacement, no crash bookkeeping.
    EXPECT_EQ(h.exited(1), Actions{});
    EXPECT_EQ(h.exited(2), Actions{});
    EXPECT_EQ(h.exited(3), Actions{});
    EXPECT_EQ(h.fsm.stop(), Actions{});
}

TEST(JobFsm, StartAfterStopResetsTheTargetToTheConfig) {
    Harness h(make_spec(3));
    h.start();
    EXPECT_EQ(h.scale(add(2)), (Actions{Spawn(2)}));
    EXPECT_EQ(h.fsm.target(), 5);
    h.fsm.stop();
    EXPECT_EQ(h.start(), (Actions{Spawn(3)}));  // scaling is lost (§3.6)
    EXPECT_EQ(h.fsm.target(), 3);
    EXPECT_EQ(h.procs(), (std::vector<int>{6, 7, 8}));
}

TEST(JobFsm, StartReconcilesARunningJobToTheConfig) {
    Harness h(make_spec(2));
    h.start();
    h.scale(add(2));  // 1..4
    EXPECT_EQ(h.start(), (Actions{Reap(1), Reap(2)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{3, 4}));
}

TEST(JobFsm, StoppedAtLoadWaitsForStart) {
    Harness h(make_spec(2));
    h.fsm.set_stopped_at_load();
    EXPECT_TRUE(h.fsm.stopped());
    EXPECT_EQ(h.scale(add(1)), Actions{});
    EXPECT_EQ(h.fsm.target(), 3);
    EXPECT_EQ(h.start(), (Actions{Spawn(2)}));
}

TEST(JobFsm, ReloadStopsEverythingAndSpawnsReplacementsAtOnce) {
    Harness h(make_spec(3));
    h.start();
    h.scale(add(1));  // pids 1..4, target 4
    EXPECT_EQ(h.run(h.fsm.reload(h.now)), (Actions{Stop(1), Stop(2), Stop(3), Stop(4), Spawn(3)}));
    EXPECT_EQ(h.fsm.target(), 3);
    EXPECT_EQ(h.procs(), (std::vector<int>{5, 6, 7}));
    // The old processes' exits are not crashes and are not replaced again.
    for (int pid = 1; pid <= 4; ++pid) EXPECT_EQ(h.exited(pid), Actions{}) << pid;
    EXPECT_EQ(h.procs(), (std::vector<int>{5, 6, 7}));
}

TEST(JobFsm, ReloadOfAStoppedJobSpawnsNothing) {
    Harness h(make_spec(3));
    h.start();
    h.fsm.stop();
    EXPECT_EQ(h.run(h.fsm.reload(h.now)), Actions{});
    EXPECT_TRUE(h.fsm.stopped());
    EXPECT_EQ(h.fsm.target(), 3);  // reset to the config, spawned at the next start
}

// ---------------------------------------------------------------- scale

TEST(JobFsm, ScaleUpSpawnsTheDifference) {
    Harness h(make_spec(1));
    h.start();
    EXPECT_EQ(h.scale(add(2)), (Actions{Spawn(2)}));
    EXPECT_EQ(h.fsm.target(), 3);
    EXPECT_EQ(h.scale(set(5)), (Actions{Spawn(2)}));
    EXPECT_EQ(h.fsm.target(), 5);
    EXPECT_EQ(h.scale(set(5)), Actions{});
    EXPECT_EQ(h.scale(add(0)), Actions{});
    EXPECT_EQ(h.procs(), (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(JobFsm, ScaleDownReapsTheOldestFirst) {
    Harness h(make_spec(5));
    h.start();
    EXPECT_EQ(h.scale(sub(3)), (Actions{Reap(1), Reap(2), Reap(3)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{4, 5}));
    EXPECT_EQ(h.fsm.target(), 2);
    // Reaped processes exit without being replaced or counted as crashes.
    EXPECT_EQ(h.exited(1), Actions{});
    EXPECT_EQ(h.exited(2), Actions{});
    EXPECT_EQ(h.exited(3), Actions{});
    EXPECT_EQ(h.scale(set(1)), (Actions{Reap(4)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{5}));
}

TEST(JobFsm, ScaleDownAfterAReplacementReapsInSpawnOrder) {
    Harness h(make_spec(3));
    h.start();                                    // 1 2 3
    EXPECT_EQ(h.exited(1), (Actions{Spawn(1)}));  // crash: 2 3 4
    EXPECT_EQ(h.scale(sub(1)), (Actions{Reap(2)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{3, 4}));
}

TEST(JobFsm, ScaleNeverGoesBelowZero) {
    Harness h(make_spec(2));
    h.start();
    EXPECT_EQ(h.scale(sub(10)), (Actions{Reap(1), Reap(2)}));
    EXPECT_EQ(h.fsm.target(), 0);
    EXPECT_EQ(h.scale(sub(1)), Actions{});
    EXPECT_EQ(h.fsm.target(), 0);
    EXPECT_EQ(h.scale(add(1)), (Actions{Spawn(1)}));
    EXPECT_EQ(h.fsm.target(), 1);
}

TEST(JobFsm, ScaleOfAStoppedJobChangesOnlyTheTarget) {
    Harness h(make_spec(2));
    h.start();
    h.fsm.stop();
    EXPECT_EQ(h.scale(add(3)), Actions{});
    EXPECT_EQ(h.fsm.target(), 3);
    EXPECT_TRUE(h.procs().empty());
}

// ---------------------------------------------------------------- update (PUT)

TEST(JobFsm, UpdateReplacesEveryProcessOnePerExit) {
    Harness h(make_spec(2));
    h.start();  // 1 2
    // New numprocesses 3 > current target 2: one new process at once, the two old ones
    // are stopped and each is replaced when it has exited.
    EXPECT_EQ(h.run(h.fsm.update(make_spec(3), false)), (Actions{Stop(1), Stop(2), Spawn(1)}));
    EXPECT_EQ(h.fsm.target(), 3);
    EXPECT_TRUE(h.fsm.is_replacing(1));
    EXPECT_TRUE(h.fsm.is_replacing(2));
    EXPECT_EQ(h.procs(), (std::vector<int>{3}));
    EXPECT_EQ(h.exited(1), (Actions{Spawn(1)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{3, 4}));
    EXPECT_EQ(h.exited(2), (Actions{Spawn(1)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{3, 4, 5}));
    EXPECT_FALSE(h.fsm.is_replacing(1));
    EXPECT_EQ(h.exited(2), Actions{});  // a second report changes nothing
}

TEST(JobFsm, UpdateKeepsTheLargerCurrentTarget) {
    Harness h(make_spec(1));
    h.start();
    h.scale(add(2));  // 1 2 3, target 3
    EXPECT_EQ(h.run(h.fsm.update(make_spec(2), false)), (Actions{Stop(1), Stop(2), Stop(3)}));
    EXPECT_EQ(h.fsm.target(), 3);  // max(2, 3)
    EXPECT_EQ(h.exited(2), (Actions{Spawn(1)}));
    EXPECT_EQ(h.exited(1), (Actions{Spawn(1)}));
    EXPECT_EQ(h.exited(3), (Actions{Spawn(1)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{4, 5, 6}));
    // The new config is what start goes back to.
    h.fsm.stop();
    EXPECT_EQ(h.start(), (Actions{Spawn(2)}));
}

TEST(JobFsm, UpdateWithExactTargetTakesTheNewNumprocesses) {
    // A config file's reload that drops `numprocesses = 2`: the default (1) applies.
    Harness h(make_spec(2));
    h.start();  // 1 2
    EXPECT_EQ(h.run(h.fsm.update(make_spec(1), false, /*exact_target=*/true)), (Actions{Stop(1), Stop(2)}));
    EXPECT_EQ(h.fsm.target(), 1);
    EXPECT_EQ(h.exited(1), Actions{});  // one still being replaced is enough
    EXPECT_EQ(h.exited(2), (Actions{Spawn(1)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{3}));
}

TEST(JobFsm, UpdateWithStartUnstopsAStoppedJob) {
    Harness h(make_spec(2));
    h.start();
    h.fsm.stop();
    EXPECT_EQ(h.run(h.fsm.update(make_spec(2), false)), Actions{});
    EXPECT_TRUE(h.fsm.stopped());
    EXPECT_EQ(h.run(h.fsm.update(make_spec(2), true)), (Actions{Spawn(2)}));
    EXPECT_FALSE(h.fsm.stopped());
}

TEST(JobFsm, ScaleDownDuringAnUpdateCountsTheProcessesBeingReplaced) {
    Harness h(make_spec(3));
    h.start();                                 // 1 2 3
    h.run(h.fsm.update(make_spec(3), false));  // all three replaced on exit
    EXPECT_EQ(h.scale(set(1)), Actions{});     // nothing left to reap
    EXPECT_EQ(h.exited(1), Actions{});         // 2 still replacing: 1 counted
    EXPECT_EQ(h.exited(2), Actions{});
    EXPECT_EQ(h.exited(3), (Actions{Spawn(1)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{4}));
}

// ---------------------------------------------------------------- stop_process, crashes

TEST(JobFsm, StopProcessIsReplacedWhenItExits) {
    Harness h(make_spec(2));
    h.start();
    EXPECT_EQ(h.run(h.fsm.stop_process(1)), (Actions{Stop(1)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{2}));
    EXPECT_TRUE(h.fsm.is_replacing(1));
    EXPECT_EQ(h.exited(1), (Actions{Spawn(1)}));  // only once it has exited
    EXPECT_EQ(h.procs(), (std::vector<int>{2, 3}));
    EXPECT_EQ(h.run(h.fsm.stop_process(99)), Actions{});
    EXPECT_EQ(h.run(h.fsm.stop_process(1)), Actions{});
}

TEST(JobFsm, StopAllReplaceReplacesEachProcess) {
    Harness h(make_spec(2));
    h.start();
    EXPECT_EQ(h.run(h.fsm.stop_all_replace()), (Actions{Stop(1), Stop(2)}));
    EXPECT_EQ(h.exited(2), (Actions{Spawn(1)}));
    EXPECT_EQ(h.exited(1), (Actions{Spawn(1)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{3, 4}));
}

TEST(JobFsm, StopWhileAProcessIsBeingReplacedDoesNotReplaceIt) {
    Harness h(make_spec(2));
    h.start();
    h.run(h.fsm.stop_process(1));
    EXPECT_EQ(h.fsm.stop(), (Actions{Stop(2)}));
    EXPECT_EQ(h.exited(1), Actions{});
    EXPECT_EQ(h.exited(2), Actions{});
    EXPECT_TRUE(h.procs().empty());
}

TEST(JobFsm, CrashIsReplacedAtOnce) {
    Harness h(make_spec(2));
    h.start();
    EXPECT_EQ(h.exited(2), (Actions{Spawn(1)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{1, 3}));
    EXPECT_EQ(h.exited(42), Actions{});  // unknown pid
}

// ---------------------------------------------------------------- flapping (§7.5)

TEST(JobFsm, CrashesSpreadWiderThanTheWindowDoNotFlap) {
    Harness h(make_spec(1, flapping(3, 1.0, 7.0, 5)));
    h.start();
    for (int i = 0; i < 20; ++i) {
        h.advance(milliseconds(600));  // 3 crashes span 1.2 s > 1 s
        EXPECT_EQ(h.exited(h.procs().front()), (Actions{Spawn(1)})) << "crash " << i;
    }
    EXPECT_FALSE(h.fsm.retry_pending());
}

TEST(JobFsm, AttemptsCrashesWithinTheWindowFlap) {
    Harness h(make_spec(1, flapping(3, 1.0, 7.0, 5)));
    h.start();
    EXPECT_EQ(h.exited(1), (Actions{Spawn(1)}));
    h.advance(milliseconds(500));
    EXPECT_EQ(h.exited(2), (Actions{Spawn(1)}));
    h.advance(milliseconds(500));  // span exactly 1.0 s: not "> window", so flapping
    EXPECT_EQ(h.exited(3), (Actions{Flap(), ArmRetry(7.0)}));
    EXPECT_TRUE(h.fsm.stopped());
    EXPECT_TRUE(h.fsm.retry_pending());
    EXPECT_EQ(h.fsm.retries(), 1);
    EXPECT_TRUE(h.procs().empty());
    EXPECT_EQ(h.retry_fired(), (Actions{Spawn(1)}));
    EXPECT_FALSE(h.fsm.stopped());
    EXPECT_FALSE(h.fsm.retry_pending());
    EXPECT_EQ(h.retry_fired(), Actions{});  // a stale timer does nothing
}

TEST(JobFsm, FlapStopsTheOtherProcessesWithoutCountingTheirExits) {
    Harness h(make_spec(3, flapping(2, 1.0, 0.5, 5)));
    h.start();                                    // 1 2 3
    EXPECT_EQ(h.exited(1), (Actions{Spawn(1)}));  // 2 3 4
    h.advance(milliseconds(10));
    EXPECT_EQ(h.exited(2), (Actions{Flap(), Stop(3), Stop(4), ArmRetry(0.5)}));
    EXPECT_EQ(h.exited(3), Actions{});
    EXPECT_EQ(h.exited(4), Actions{});
    h.advance(milliseconds(500));
    EXPECT_EQ(h.retry_fired(), (Actions{Spawn(3)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{5, 6, 7}));
}

// The §7.5 fix: the retry counter survives retries, so after max_retry flapping
// periods in a row the job gives up and stays stopped, even with retry_in far larger
// than the window (the original compared against stale timestamps and retried forever).
struct GiveUpCase {
    int attempts;
    double window;
    double retry_in;
    int max_retry;
};

class JobFsmGiveUp : public ::testing::TestWithParam<GiveUpCase> {};

TEST_P(JobFsmGiveUp, GivesUpAfterMaxRetryFlappingPeriods) {
    const auto c = GetParam();
    Harness h(make_spec(1, flapping(c.attempts, c.window, c.retry_in, c.max_retry)));
    h.start();
    for (int period = 1; period <= c.max_retry + 1; ++period) {
        for (int i = 1; i < c.attempts; ++i) {
            EXPECT_EQ(h.exited(h.procs().front()), (Actions{Spawn(1)})) << "period " << period;
            h.advance(milliseconds(10));
        }
        Actions a = h.exited(h.procs().front());
        if (period <= c.max_retry) {
            ASSERT_EQ(a, (Actions{Flap(), ArmRetry(c.retry_in)})) << "period " << period;
            EXPECT_EQ(h.fsm.retries(), period);
            h.advance_s(c.retry_in);
            ASSERT_EQ(h.retry_fired(), (Actions{Spawn(1)}));
            h.advance(milliseconds(10));
        } else {
            ASSERT_EQ(a, (Actions{Flap(), GaveUp()})) << "period " << period;
        }
    }
    EXPECT_TRUE(h.fsm.stopped());
    EXPECT_FALSE(h.fsm.retry_pending());
    EXPECT_TRUE(h.procs().empty());
    EXPECT_EQ(h.retry_fired(), Actions{});
    h.advance_s(c.retry_in * 10);
    EXPECT_EQ(h.retry_fired(), Actions{});
    EXPECT_TRUE(h.fsm.stopped());
    // start resets the history and the retry counter.
    EXPECT_EQ(h.start(), (Actions{Spawn(1)}));
    EXPECT_EQ(h.fsm.retries(), 0);
    for (int i = 1; i < c.attempts; ++i) {
        h.advance(milliseconds(10));
        EXPECT_EQ(h.exited(h.procs().front()), (Actions{Spawn(1)}));
    }
    h.advance(milliseconds(10));
    EXPECT_EQ(h.exited(h.procs().front()),
              c.max_retry > 0 ? (Actions{Flap(), ArmRetry(c.retry_in)}) : (Actions{Flap(), GaveUp()}));
}

INSTANTIATE_TEST_SUITE_P(Params, JobFsmGiveUp,
                         ::testing::Values(GiveUpCase{2, 1.0, 0.2, 2},  // the manager test's values
                                           GiveUpCase{2, 1.0, 7.0, 5},  // the defaults
                                           GiveUpCase{3, 1.0, 7.0, 1},
                                           GiveUpCase{5, 2.0, 30.0, 2},   // attempts > max_retry
                                           GiveUpCase{2, 1.0, 1.0, 0}));  // give up at once

TEST(JobFsm, AQuietPeriodAfterARetryResetsTheRetryCounter) {
    Harness h(make_spec(1, flapping(2, 1.0, 7.0, 2)));
    h.start();
    h.exited(1);
    EXPECT_EQ(h.exited(2), (Actions{Flap(), ArmRetry(7.0)}));
    h.advance_s(7.0);
    h.retry_fired();  // pid 3
    EXPECT_EQ(h.fsm.retries(), 1);
    // Two crashes far apart: not flapping, and the counter starts over.
    h.advance_s(100);
    EXPECT_EQ(h.exited(3), (Actions{Spawn(1)}));
    h.advance_s(100);
    EXPECT_EQ(h.exited(4), (Actions{Spawn(1)}));
    EXPECT_EQ(h.fsm.retries(), 0);
}

TEST(JobFsm, HistoryHoldsAtLeastAttemptsTimestamps) {
    // attempts (4) > max_retry (1): the original kept max_retry timestamps and could
    // never see 4 crashes, so it never detected flapping.
    Harness h(make_spec(1, flapping(4, 10.0, 1.0, 1)));
    h.start();
    for (int i = 0; i < 3; ++i) {
        h.advance(milliseconds(100));
        EXPECT_EQ(h.exited(h.procs().front()), (Actions{Spawn(1)})) << i;
    }
    h.advance(milliseconds(100));
    EXPECT_EQ(h.exited(h.procs().front()), (Actions{Flap(), ArmRetry(1.0)}));
}

TEST(JobFsm, ExitsCausedByGafferAreNotCrashes) {
    Harness h(make_spec(3, flapping(2, 1.0, 7.0, 5)));
    h.start();  // 1 2 3
    // All at the same instant, far more than `attempts` exits in the window.
    EXPECT_EQ(h.scale(sub(1)), (Actions{Reap(1)}));
    EXPECT_EQ(h.exited(1), Actions{});
    EXPECT_EQ(h.run(h.fsm.stop_process(2)), (Actions{Stop(2)}));
    EXPECT_EQ(h.exited(2), (Actions{Spawn(1)}));  // 3 4
    EXPECT_EQ(h.run(h.fsm.update(make_spec(2, flapping(2, 1.0, 7.0, 5)), false)), (Actions{Stop(3), Stop(4)}));
    EXPECT_EQ(h.exited(3), (Actions{Spawn(1)}));
    EXPECT_EQ(h.exited(4), (Actions{Spawn(1)}));  // 5 6
    EXPECT_EQ(h.run(h.fsm.stop_all_replace()), (Actions{Stop(5), Stop(6)}));
    EXPECT_EQ(h.exited(5), (Actions{Spawn(1)}));
    EXPECT_EQ(h.exited(6), (Actions{Spawn(1)}));  // 7 8
    EXPECT_EQ(h.run(h.fsm.reload(h.now)), (Actions{Stop(7), Stop(8), Spawn(2)}));
    EXPECT_EQ(h.exited(7), Actions{});
    EXPECT_EQ(h.exited(8), Actions{});  // 9 10
    EXPECT_FALSE(h.fsm.retry_pending());
    // The history is still empty: one real crash is replaced, the second one flaps.
    EXPECT_EQ(h.exited(9), (Actions{Spawn(1)}));
    EXPECT_EQ(h.exited(10), (Actions{Flap(), Stop(11), ArmRetry(7.0)}));
}

TEST(JobFsm, ScaleDuringTheRetryBackOffSpawnsNothingUntilTheRetry) {
    Harness h(make_spec(1, flapping(2, 1.0, 7.0, 5)));
    h.start();
    h.exited(1);
    ASSERT_EQ(h.exited(2), (Actions{Flap(), ArmRetry(7.0)}));
    EXPECT_EQ(h.scale(add(2)), Actions{});
    EXPECT_EQ(h.fsm.target(), 3);
    EXPECT_TRUE(h.procs().empty());
    EXPECT_EQ(h.scale(sub(1)), Actions{});
    EXPECT_EQ(h.fsm.target(), 2);
    h.advance_s(7.0);
    EXPECT_EQ(h.retry_fired(), (Actions{Spawn(2)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{3, 4}));
}

TEST(JobFsm, StopCancelsAPendingRetry) {
    Harness h(make_spec(1, flapping(2, 1.0, 7.0, 5)));
    h.start();
    h.exited(1);
    ASSERT_EQ(h.exited(2), (Actions{Flap(), ArmRetry(7.0)}));
    EXPECT_EQ(h.fsm.stop(), (Actions{CancelRetry()}));
    EXPECT_FALSE(h.fsm.retry_pending());
    EXPECT_TRUE(h.fsm.stopped());
    // Even if the timer fired anyway (it raced with the cancel), nothing comes back.
    EXPECT_EQ(h.retry_fired(), Actions{});
    EXPECT_TRUE(h.procs().empty());
    EXPECT_EQ(h.fsm.stop(), Actions{});
}

TEST(JobFsm, StartDuringTheRetryBackOffCancelsItAndStartsAtOnce) {
    Harness h(make_spec(2, flapping(2, 1.0, 7.0, 5)));
    h.start();  // 1 2
    h.exited(1);
    ASSERT_EQ(h.exited(2), (Actions{Flap(), Stop(3), ArmRetry(7.0)}));
    EXPECT_EQ(h.start(), (Actions{CancelRetry(), Spawn(2)}));
    EXPECT_EQ(h.fsm.retries(), 0);
    EXPECT_EQ(h.retry_fired(), Actions{});
    EXPECT_EQ(h.exited(3), Actions{});
    EXPECT_EQ(h.procs(), (std::vector<int>{4, 5}));
}

TEST(JobFsm, ReloadDuringTheRetryBackOffRestartsTheJob) {
    // The flapping stop is the FSM's own; reload resets the flapping state (§3.6) and
    // must not leave the job stopped for good with its retry cancelled.
    Harness h(make_spec(1, flapping(2, 1.0, 7.0, 5)));
    h.start();
    h.exited(1);
    ASSERT_EQ(h.exited(2), (Actions{Flap(), ArmRetry(7.0)}));
    EXPECT_EQ(h.run(h.fsm.reload(h.now)), (Actions{CancelRetry(), Spawn(1)}));
    EXPECT_FALSE(h.fsm.stopped());
    EXPECT_FALSE(h.fsm.retry_pending());
    EXPECT_EQ(h.fsm.retries(), 0);
}

TEST(JobFsm, ReloadAfterGivingUpKeepsTheJobStopped) {
    Harness h(make_spec(1, flapping(2, 1.0, 7.0, 0)));
    h.start();
    h.exited(1);
    ASSERT_EQ(h.exited(2), (Actions{Flap(), GaveUp()}));
    EXPECT_EQ(h.run(h.fsm.reload(h.now)), Actions{});
    EXPECT_TRUE(h.fsm.stopped());
}

TEST(JobFsm, FlapStoppedFromTheFlapUntilTheJobRunsAgain) {
    Harness h(make_spec(1, flapping(2, 1.0, 7.0, 1)));
    h.start();
    EXPECT_FALSE(h.fsm.flap_stopped());
    h.exited(1);
    ASSERT_EQ(h.exited(2), (Actions{Flap(), ArmRetry(7.0)}));
    EXPECT_TRUE(h.fsm.flap_stopped());  // waiting for the retry
    h.retry_fired();
    EXPECT_FALSE(h.fsm.flap_stopped());
    h.exited(3);
    ASSERT_EQ(h.exited(4), (Actions{Flap(), GaveUp()}));
    EXPECT_TRUE(h.fsm.flap_stopped());  // gave up
    h.run(h.fsm.reload(h.now));
    EXPECT_TRUE(h.fsm.flap_stopped());  // a reload leaves a job that gave up stopped
    h.start();
    EXPECT_FALSE(h.fsm.flap_stopped());
    h.run(h.fsm.stop());
    EXPECT_FALSE(h.fsm.flap_stopped());  // stopped by the user, not by flapping
}

// ---------------------------------------------------------------- spawn failures

TEST(JobFsm, SpawnFailureBacksOffWithAGrowingDelay) {
    Harness h(make_spec(1));
    ASSERT_EQ(h.fsm.start(h.now), (Actions{Spawn(1)}));  // the spawn fails: no spawned()
    double expected = 0.1;
    for (int i = 0; i < 12; ++i) {
        Actions a = h.spawn_failed();
        ASSERT_EQ(a.size(), 1u) << i;
        EXPECT_EQ(a[0].kind, K::kArmRespawn) << i;
        EXPECT_DOUBLE_EQ(a[0].delay.count(), expected) << i;
        EXPECT_TRUE(h.fsm.respawn_pending());
        // Nothing else spawns while the back-off runs.
        EXPECT_EQ(h.fsm.scale(add(0)), Actions{});
        EXPECT_EQ(h.fsm.respawn_fired(h.now), (Actions{Spawn(1)})) << i;
        EXPECT_FALSE(h.fsm.respawn_pending());
        expected = std::min(expected * 2, 10.0);
    }
    EXPECT_DOUBLE_EQ(expected, 10.0);  // the cap was reached
    // A successful spawn resets the back-off.
    h.fsm.spawned(h.next_pid++);
    EXPECT_EQ(h.fsm.exited(1, h.now), (Actions{Spawn(1)}));  // a crash; that spawn fails again
    EXPECT_EQ(h.spawn_failed(), (Actions{ArmRespawn(0.1)}));
}

TEST(JobFsm, FailuresOfOneMultiSpawnArmOneBackOff) {
    Harness h(make_spec(3));
    ASSERT_EQ(h.fsm.start(h.now), (Actions{Spawn(3)}));
    EXPECT_TRUE(h.fsm.may_spawn());
    h.fsm.spawned(h.next_pid++);  // the first of the three starts, the next two fail
    EXPECT_EQ(h.spawn_failed(), (Actions{ArmRespawn(0.1)}));
    EXPECT_FALSE(h.fsm.may_spawn());         // the manager stops this kSpawn here
    EXPECT_EQ(h.spawn_failed(), Actions{});  // already pending
    EXPECT_EQ(h.run(h.fsm.respawn_fired(h.now)), (Actions{Spawn(2)}));
    EXPECT_TRUE(h.fsm.may_spawn());
    EXPECT_EQ(h.procs(), (std::vector<int>{1, 2, 3}));
}

TEST(JobFsm, StopCancelsASpawnBackOff) {
    Harness h(make_spec(1));
    (void)h.fsm.start(h.now);
    ASSERT_EQ(h.spawn_failed(), (Actions{ArmRespawn(0.1)}));
    EXPECT_EQ(h.fsm.stop(), (Actions{CancelRetry()}));
    EXPECT_FALSE(h.fsm.respawn_pending());
    EXPECT_EQ(h.fsm.respawn_fired(h.now), Actions{});
    EXPECT_EQ(h.spawn_failed(), Actions{});  // a stopped job does not retry
}

TEST(JobFsm, SpawnFailuresCountTowardsFlapping) {
    Harness h(make_spec(1, flapping(2, 1.0, 7.0, 5)));
    (void)h.fsm.start(h.now);
    EXPECT_EQ(h.spawn_failed(), (Actions{ArmRespawn(0.1)}));
    h.advance(milliseconds(100));
    ASSERT_EQ(h.fsm.respawn_fired(h.now), (Actions{Spawn(1)}));
    EXPECT_EQ(h.spawn_failed(), (Actions{Flap(), ArmRetry(7.0)}));
    EXPECT_TRUE(h.fsm.retry_pending());
    EXPECT_FALSE(h.fsm.respawn_pending());
    EXPECT_FALSE(h.fsm.may_spawn());
}

// ---------------------------------------------------------------- quick crashes

TEST(JobFsm, QuickCrashWithoutFlappingRespawnsAfterAShortDelay) {
    Harness h(make_spec(2));
    h.start();
    // Ended by itself right after its start: respawned after 0.1 s, not at once.
    EXPECT_EQ(h.run(h.fsm.exited(1, h.now, {h.now})), (Actions{ArmRespawn(0.1)}));
    EXPECT_TRUE(h.fsm.respawn_pending());
    // A second quick crash while the delay runs arms nothing more.
    EXPECT_EQ(h.run(h.fsm.exited(2, h.now, {h.now})), Actions{});
    EXPECT_EQ(h.respawn_fired(), (Actions{Spawn(2)}));
    EXPECT_EQ(h.procs(), (std::vector<int>{3, 4}));
    // A process that lived (or was killed from outside) is replaced at once.
    EXPECT_EQ(h.run(h.fsm.exited(3, h.now, {h.now - std::chrono::seconds(5)})), (Actions{Spawn(1)}));
    // Stopping the job cancels a pending delay.
    ASSERT_EQ(h.run(h.fsm.exited(4, h.now, {h.now})), (Actions{ArmRespawn(0.1)}));
    EXPECT_EQ(h.fsm.stop(), (Actions{CancelRetry(), Stop(5)}));
    EXPECT_EQ(h.respawn_fired(), Actions{});
}

TEST(JobFsm, QuickCrashWithFlappingFollowsTheFlappingRules) {
    auto spec = make_spec(1);
    spec.flapping = flapping(3, 1.0, 7.0, 5);
    Harness h(spec);
    h.start();
    // Not flapping yet (attempts = 3): the spec's immediate respawn.
    EXPECT_EQ(h.run(h.fsm.exited(1, h.now, {h.now})), (Actions{Spawn(1)}));
}

// The quick-exit rule is the FSM's: what counts is how and when the process ended.
TEST(JobFsm, QuickCrashIsAnExitOrFaultWithinOneSecondOfTheStart) {
    EXPECT_TRUE(JobFsm::ended_by_itself(0));
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGTRAP})
        EXPECT_TRUE(JobFsm::ended_by_itself(sig)) << sig;
    for (int sig : {SIGTERM, SIGKILL, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGPIPE})
        EXPECT_FALSE(JobFsm::ended_by_itself(sig)) << sig;

    struct Case {
        double lived;  // seconds between start and exit
        int term_signal;
        bool quick;
    };
    for (const Case& c :
         {Case{0.0, 0, true}, Case{0.999, 0, true}, Case{0.5, SIGSEGV, true}, Case{0.5, SIGABRT, true},
          Case{1.0, 0, false}, Case{3.0, SIGSEGV, false}, Case{0.1, SIGTERM, false}, Case{0.1, SIGKILL, false}}) {
        Harness h(make_spec(1));
        h.start();
        Clock::time_point started = h.now;
        h.advance_s(c.lived);
        Actions want = c.quick ? Actions{ArmRespawn(0.1)} : Actions{Spawn(1)};
        EXPECT_EQ(h.run(h.fsm.exited(1, h.now, {started, c.term_signal})), want)
            << "lived " << c.lived << " s, signal " << c.term_signal;
    }
    // Without a start time (the default ProcessExit) nothing is quick.
    Harness h(make_spec(1));
    h.start();
    EXPECT_EQ(h.exited(1), (Actions{Spawn(1)}));
}

// ---------------------------------------------------------------- restart count

TEST(JobFsm, RestartsCountUnexpectedExitsThatAreReplaced) {
    Harness h(make_spec(2));
    h.start();
    EXPECT_EQ(h.fsm.restarts(), 0);
    h.exited(1);  // crash, replaced at once
    EXPECT_EQ(h.fsm.restarts(), 1);
    ASSERT_EQ(h.run(h.fsm.exited(2, h.now, {h.now})), (Actions{ArmRespawn(0.1)}));  // quick: later
    EXPECT_EQ(h.fsm.restarts(), 2);
    ASSERT_EQ(h.run(h.fsm.exited(3, h.now, {h.now})), Actions{});  // the delay already runs
    EXPECT_EQ(h.fsm.restarts(), 2);
    h.respawn_fired();
    EXPECT_EQ(h.fsm.restarts(), 2);      // the respawn is no second restart
    EXPECT_EQ(h.exited(42), Actions{});  // unknown pid
    EXPECT_EQ(h.fsm.restarts(), 2);
}

TEST(JobFsm, RestartsDoNotCountExitsOnPurpose) {
    Harness h(make_spec(3));
    h.start();  // 1 2 3
    // Stopped to be replaced (DELETE /pid, stopall, reload, update).
    ASSERT_EQ(h.run(h.fsm.stop_process(1)), (Actions{Stop(1)}));
    ASSERT_EQ(h.exited(1), (Actions{Spawn(1)}));  // 2 3 4
    EXPECT_EQ(h.fsm.restarts(), 0);
    // Reaped by a scale-down.
    ASSERT_EQ(h.scale(sub(1)), (Actions{Reap(2)}));
    ASSERT_EQ(h.exited(2), Actions{});
    EXPECT_EQ(h.fsm.restarts(), 0);
    // Stopped with the job.
    ASSERT_EQ(h.fsm.stop(), (Actions{Stop(3), Stop(4)}));
    h.exited(3);
    h.exited(4);
    EXPECT_EQ(h.fsm.restarts(), 0);
}

TEST(JobFsm, RestartsDoNotCountAFlappingStopAndLastAcrossUpdates) {
    auto spec = make_spec(1, flapping(2, 10.0, 7.0, 1));
    Harness h(spec);
    h.start();
    ASSERT_EQ(h.exited(1), (Actions{Spawn(1)}));
    EXPECT_EQ(h.fsm.restarts(), 1);
    ASSERT_EQ(h.exited(2), (Actions{Flap(), ArmRetry(7.0)}));  // no replacement
    EXPECT_EQ(h.fsm.restarts(), 1);
    h.retry_fired();
    (void)h.run(h.fsm.update(make_spec(1), true));
    EXPECT_EQ(h.fsm.restarts(), 1);  // the job's count, not the config's
}

}  // namespace
}  // namespace gaffer::job
