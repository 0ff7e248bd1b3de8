// SPDX-License-Identifier: MIT
// System tests of lib/manager: a real Manager on a real Loop (both backends) spawning
// real processes, observed only through its API and the EventBus (reference §3.6, §6.2,
// §7.5, §7.6, §8). Tests wait for events with Loop::run_until, never for time; the
// few "nothing more happens" checks run the loop for a bounded time after checking that
// no timer is left that could make anything happen. TearDown shuts the manager down and
// a ChildGuard kills whatever might still be alive.
#include "lib/manager/manager.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lib/base/strutil.h"
#include "lib/events/event_bus.h"
#include "lib/json/json.h"
#include "lib/loop/loop.h"
#include "lib/manager/errors.h"
#include "tests/helpers/child_guard.h"
#include "tests/helpers/loop_backends.h"
#include "tests/helpers/temp_dir.h"

namespace gaffer::manager {
namespace {

using namespace std::chrono_literals;
using loop::Clock;
using loop::Loop;
using model::JobName;

constexpr auto kWait = 10s;

struct Event {
    std::string type;
    json::JsonPtr msg;

    long long num(const char* key) const { return json_integer_value(json_object_get(msg.get(), key)); }
    std::string str(const char* key) const {
        const char* s = json_string_value(json_object_get(msg.get(), key));
        return s ? s : "";
    }
    bool flag(const char* key) const { return json_is_true(json_object_get(msg.get(), key)); }
    bool has(const char* key) const { return json_object_get(msg.get(), key) != nullptr; }
};

model::JobSpec job_spec(const std::string& name, const std::string& cmd, int numprocesses,
                        double graceful_timeout = 10.0) {
    model::JobSpec s;
    s.name = JobName::parse(name);
    s.cmd = cmd;
    s.numprocesses = numprocesses;
    s.graceful_timeout = graceful_timeout;
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

bool alive(pid_t pid) {
    return kill(pid, 0) == 0;
}

class ManagerTest : public ::testing::TestWithParam<loop::Backend> {
protected:
    void SetUp() override {
        auto l = Loop::create(GetParam());
        if (!l) {
            if (GetParam() == loop::Backend::kIoUring)
                GTEST_SKIP() << "io_uring unavailable: " << l.error().message();
            FAIL() << l.error().message();
        }
        loop_ = std::move(l).value();
        bus_ = std::make_unique<events::EventBus>(*loop_);
        bus_->subscribe(".", [this](const std::string& type, const json_t* msg) {
            events_.push_back({type, json::ref(const_cast<json_t*>(msg))});
            if (type == "spawn")
                guard_.add(static_cast<pid_t>(events_.back().num("os_pid")));
        });
        make_manager(true);
    }

    void TearDown() override {
        if (mgr_) {
            for (const auto& p : mgr_->all_processes()) guard_.add(p.os_pid);
            bool done = false;
            mgr_->shutdown([&] { done = true; });
            EXPECT_TRUE(loop_->run_until([&] { return done; }, 30s)) << "shutdown did not finish";
            mgr_.reset();
        }
        guard_.kill_all();
        bus_.reset();
        loop_.reset();
    }

    void make_manager(bool cgroups) {
        mgr_.reset();
        Options o;
        o.default_cwd = "/";
        o.use_cgroups = cgroups;
        o.cgroup_name = "gaffer-test";
        mgr_ = std::make_unique<Manager>(*loop_, *bus_, o);
        mgr_->set_output_handler([this](const OutputChunk& c) { output_[c.pid].append(c.data); });
    }

    bool wait(const std::function<bool()>& pred, Clock::duration timeout = kWait) {
        return loop_->run_until(pred, timeout);
    }
    // Runs the loop for `d` whatever happens (for "nothing more happens" checks).
    void run_for(Clock::duration d) {
        (void)loop_->run_until([] { return false; }, d);
    }

    std::vector<const Event*> all(const std::string& type) const {
        std::vector<const Event*> out;
        for (const auto& e : events_)
            if (e.type == type)
                out.push_back(&e);
        return out;
    }
    size_t count(const std::string& type) const { return all(type).size(); }
    const Event* find(const std::string& type, const std::function<bool(const Event&)>& pred = nullptr) const {
        for (const auto& e : events_)
            if (e.type == type && (!pred || pred(e)))
                return &e;
        return nullptr;
    }
    const Event* exit_of(int pid) const {
        return find("exit", [pid](const Event& e) { return e.num("pid") == pid; });
    }
    // Position of the first matching event in the log, or npos.
    size_t index_of(const std::string& type, int pid = 0) const {
        for (size_t i = 0; i < events_.size(); ++i)
            if (events_[i].type == type && (pid == 0 || events_[i].num("pid") == pid))
                return i;
        return std::string::npos;
    }

    // The event types of the HEAD catalogue (§6.2) in publish order, without the 0.4
    // aliases of §6.3 (create, delete, stop_pid, proc.<template>.<event>).
    std::vector<std::string> head_types() const {
        std::vector<std::string> out;
        for (const auto& e : events_) {
            if (e.type == "create" || e.type == "delete" || e.type == "stop_pid")
                continue;
            if (e.type.rfind("proc.", 0) == 0) {
                std::string id = e.type.substr(5, e.type.find('.', 5) - 5);
                if (!parse_int(id))
                    continue;  // proc.<template>.*, not proc.<pid>.*
            }
            out.push_back(e.type);
        }
        return out;
    }

    pid_t os_pid(int pid) const {
        auto info = mgr_->process_info(pid);
        return info ? info->os_pid : 0;
    }
    bool gone(int pid) const { return !mgr_->process_info(pid); }

    std::unique_ptr<Loop> loop_;
    std::unique_ptr<events::EventBus> bus_;
    std::unique_ptr<Manager> mgr_;
    std::vector<Event> events_;
    std::map<int, std::string> output_;
    testutil::ChildGuard guard_;
};

const JobName kWeb = JobName::parse("default.web");

// ---------------------------------------------------------------- load, crash, scale

TEST_P(ManagerTest, LoadSpawnsTheConfiguredProcessesWithEvents) {
    ASSERT_TRUE(mgr_->load(job_spec("default.web", "sleep 1000", 3)));
    auto pids = mgr_->pids(kWeb);
    ASSERT_TRUE(pids);
    EXPECT_EQ(*pids, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(mgr_->process_count(), 3u);
    ASSERT_TRUE(wait([&] { return count("spawn") == 3 && count("job.default.web.spawn") == 3; }));
    for (int pid : *pids) {
        const Event* e = find("spawn", [pid](const Event& ev) { return ev.num("pid") == pid; });
        ASSERT_NE(e, nullptr) << pid;
        EXPECT_EQ(e->str("name"), "default.web");
        EXPECT_EQ(e->str("event"), "spawn");
        EXPECT_EQ(e->num("os_pid"), os_pid(pid));
        EXPECT_TRUE(alive(os_pid(pid)));
        EXPECT_NE(os_pid(pid), getpid());
    }
    // load, start, job.S.J.start, then the spawns (§6.2 typical sequence; the 0.4
    // aliases that a "." subscriber also receives are left out).
    std::vector<std::string> head = head_types();
    ASSERT_GE(head.size(), 5u);
    EXPECT_EQ(head[0], "load");
    EXPECT_EQ(head[1], "start");
    EXPECT_EQ(head[2], "job.default.web.start");
    EXPECT_EQ(head[3], "spawn");
    EXPECT_EQ(head[4], "job.default.web.spawn");
    auto info = mgr_->info(kWeb);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->running, 3);
    EXPECT_EQ(info->max_processes, 3);
    EXPECT_TRUE(info->active);
    EXPECT_FALSE(info->stopped);
    EXPECT_EQ(mgr_->load(job_spec("default.web", "sleep 1000", 1)).error().code, EEXIST);
}

TEST_P(ManagerTest, KilledProcessIsReplaced) {
    ASSERT_TRUE(mgr_->load(job_spec("default.web", "sleep 1000", 3)));
    ASSERT_TRUE(wait([&] { return count("spawn") == 3; }));
    const pid_t victim = os_pid(2);
    ASSERT_GT(victim, 0);
    ASSERT_EQ(kill(victim, SIGKILL), 0);

    ASSERT_TRUE(wait([&] { return exit_of(2) && count("spawn") == 4; }));
    const Event* e = exit_of(2);
    EXPECT_EQ(e->num("os_pid"), victim);
    EXPECT_EQ(e->num("term_signal"), SIGKILL);
    EXPECT_EQ(e->num("exit_status"), 0);
    EXPECT_FALSE(e->flag("once"));
    EXPECT_EQ(e->str("name"), "default.web");
    EXPECT_NE(find("job.default.web.exit", [](const Event& ev) { return ev.num("pid") == 2; }), nullptr);
    EXPECT_NE(find("proc.2.exit"), nullptr);
    EXPECT_LT(index_of("exit", 2), index_of("spawn", 4));  // exit, then the replacement

    EXPECT_EQ(*mgr_->pids(kWeb), (std::vector<int>{1, 3, 4}));
    ASSERT_TRUE(wait([&] { return gone(2); }));
    auto procs = mgr_->processes(kWeb);
    ASSERT_TRUE(procs);
    ASSERT_EQ(procs->size(), 3u);
    for (const auto& p : *procs) EXPECT_EQ(p.restarts, 1) << p.pid;  // job-wide count
    EXPECT_NE(os_pid(4), victim);
    EXPECT_TRUE(alive(os_pid(4)));
}

TEST_P(ManagerTest, ScaleDownReapsTheOldestProcesses) {
    ASSERT_TRUE(mgr_->load(job_spec("default.web", "sleep 1000", 3)));
    ASSERT_TRUE(wait([&] { return count("spawn") == 3; }));
    const pid_t os1 = os_pid(1), os2 = os_pid(2);
    auto r = mgr_->scale(kWeb, model::ScaleOp{model::ScaleOp::Kind::kSet, 1});
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 1);
    EXPECT_EQ(*mgr_->pids(kWeb), std::vector<int>{3});
    ASSERT_TRUE(wait([&] { return count("reap") == 2 && exit_of(1) && exit_of(2) && gone(1) && gone(2); }));
    auto reaps = all("reap");
    EXPECT_EQ(reaps[0]->num("pid"), 1);
    EXPECT_EQ(reaps[0]->num("os_pid"), os1);
    EXPECT_EQ(reaps[1]->num("pid"), 2);
    EXPECT_EQ(reaps[1]->num("os_pid"), os2);
    EXPECT_EQ(count("job.default.web.reap"), 2u);
    EXPECT_NE(find("proc.1.reap"), nullptr);
    EXPECT_NE(find("proc.2.reap"), nullptr);
    EXPECT_LT(index_of("update"), index_of("reap"));
    EXPECT_EQ(exit_of(1)->num("term_signal"), SIGTERM);
    EXPECT_EQ(mgr_->process_count(), 1u);
    EXPECT_EQ(count("spawn"), 3u);  // reaped processes are not replaced
    EXPECT_EQ(*mgr_->numprocesses(kWeb), 1);
    // Never below 0.
    EXPECT_EQ(*mgr_->scale(kWeb, model::ScaleOp{model::ScaleOp::Kind::kSub, 5}), 0);
    ASSERT_TRUE(wait([&] { return mgr_->process_count() == 0; }));
}

// ---------------------------------------------------------------- graceful stop (§7.6)

TEST_P(ManagerTest, ProcessIgnoringTermIsKilledAfterTheGracefulTimeout) {
    auto s = job_spec("default.stubborn", "sh -c 'trap \"\" TERM; echo ready; sleep 1000'", 1, 0.3);
    s.redirect_output = {"out"};
    ASSERT_TRUE(mgr_->load(s));
    // Only stop once the trap is in place, or SIGTERM would simply kill the shell.
    ASSERT_TRUE(wait([&] { return output_[1].find("ready") != std::string::npos; })) << output_[1];
    const auto t0 = Clock::now();
    ASSERT_TRUE(mgr_->stop_job(JobName::parse("default.stubborn")));
    ASSERT_TRUE(wait([&] { return exit_of(1) != nullptr; }));
    const auto elapsed = Clock::now() - t0;
    EXPECT_EQ(exit_of(1)->num("term_signal"), SIGKILL);
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, 5s);
    EXPECT_NE(find("stop_process", [](const Event& e) { return e.num("pid") == 1; }), nullptr);
    EXPECT_NE(find("job.default.stubborn.stop"), nullptr);
    ASSERT_TRUE(wait([&] { return mgr_->process_count() == 0; }));
    EXPECT_EQ(count("spawn"), 1u);
}

// The job's process forks a grandchild that ignores SIGTERM; stopping the job must not
// leave it behind (§7.6: both signals go to the whole process group, the SIGKILL through
// cgroup.kill where there is a cgroup).
class ManagerGrandchildTest : public ManagerTest {
protected:
    void TearDown() override {
        ManagerTest::TearDown();  // reaps what it kills while we are still the subreaper
        (void)prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    }

    // Loads default.tree, whose process starts a grandchild that ignores SIGTERM, and
    // sets *grandchild. Orphans come to us, so a dead grandchild can be reaped and
    // checked here instead of lingering as a zombie of PID 1.
    void start_tree(double graceful_timeout, pid_t* grandchild) {
        ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
        auto s =
            job_spec("default.tree", "sh -c 'trap \"\" TERM; echo $$; exec sleep 1000' & wait", 1, graceful_timeout);
        s.shell = true;
        s.redirect_output = {"out"};
        ASSERT_TRUE(mgr_->load(s));
        ASSERT_TRUE(wait([&] { return output_[1].find('\n') != std::string::npos; }));
        auto gc = parse_int(output_[1]);
        ASSERT_TRUE(gc) << output_[1];
        *grandchild = static_cast<pid_t>(*gc);
        guard_.add(*grandchild);
        ASSERT_TRUE(alive(*grandchild));
    }

    void run_case() {
        pid_t grandchild = 0;
        ASSERT_NO_FATAL_FAILURE(start_tree(0.3, &grandchild));

        ASSERT_TRUE(mgr_->stop_job(JobName::parse("default.tree")));
        ASSERT_TRUE(wait([&] { return gone(1); })) << "the manager still tracks the process";
        // The manager says the process is gone: its grandchild must be dead too (reaped
        // by us as subreaper, or already gone). Allow the kernel to finish the exit.
        int status = 0;
        bool dead = wait(
            [&] {
                pid_t r = waitpid(grandchild, &status, WNOHANG);
                return r == grandchild || (!alive(grandchild) && errno == ESRCH);
            },
            2s);
        EXPECT_TRUE(dead) << "grandchild " << grandchild << " survived the stop";
        if (dead && WIFSIGNALED(status)) {
            EXPECT_EQ(WTERMSIG(status), SIGKILL);
        }
        EXPECT_EQ(kill(grandchild, 0) == 0 ? 0 : errno, ESRCH);
    }
};

TEST_P(ManagerGrandchildTest, GrandchildIgnoringTermIsGoneAfterStopWithCgroups) {
    if (std::string(mgr_->cgroup_mode()) == "none")
        GTEST_SKIP() << "no usable cgroup2 hierarchy (needs root or delegation)";
    run_case();
}

TEST_P(ManagerGrandchildTest, GrandchildIgnoringTermIsGoneAfterStopWithoutCgroups) {
    make_manager(false);
    ASSERT_STREQ(mgr_->cgroup_mode(), "none");
    run_case();
}

// A second shutdown signal (kill_all_now) must reach the group of a process whose main
// process already exited, long before its graceful timeout, also without a cgroup.
TEST_P(ManagerGrandchildTest, KillAllNowReachesTheGroupOfAnExitedLeaderWithoutCgroups) {
    make_manager(false);
    pid_t grandchild = 0;
    ASSERT_NO_FATAL_FAILURE(start_tree(60, &grandchild));
    ASSERT_TRUE(mgr_->stop_job(JobName::parse("default.tree")));
    // The leader exits on SIGTERM and is reaped; the grandchild ignores it and keeps the
    // group alive.
    run_for(500ms);
    ASSERT_TRUE(alive(grandchild));
    mgr_->kill_all_now();
    int status = 0;
    EXPECT_TRUE(wait([&] { return waitpid(grandchild, &status, WNOHANG) == grandchild; }, 5s))
        << "grandchild " << grandchild << " survived kill_all_now";
    EXPECT_TRUE(wait([&] { return gone(1); }, 5s));
}

// ---------------------------------------------------------------- PATH search

// The PATH search is reused between spawns only while its result is still there.
TEST_P(ManagerTest, PathSearchFollowsAnExecutableThatMoved) {
    testutil::TempDir a, b;
    ASSERT_TRUE(a.ok() && b.ok());
    auto script = [](const std::string& path, const std::string& word) {
        FILE* f = fopen(path.c_str(), "w");
        ASSERT_NE(f, nullptr);
        fprintf(f, "#!/bin/sh\necho %s\nexec sleep 1000\n", word.c_str());
        fclose(f);
        ASSERT_EQ(chmod(path.c_str(), 0755), 0);
    };
    script(b / "gaffer-moved-tool", "from-b");
    auto s = job_spec("default.moved", "gaffer-moved-tool", 1);
    s.env["PATH"] = a.path() + ":" + b.path() + ":/usr/bin:/bin";
    s.redirect_output = {"out"};
    ASSERT_TRUE(mgr_->load(s));
    ASSERT_TRUE(wait([&] { return output_[1].find("from-b\n") != std::string::npos; })) << output_[1];
    // The tool moves from b to a (earlier in PATH): the replacement must find it there.
    ASSERT_EQ(unlink((b / "gaffer-moved-tool").c_str()), 0);
    script(a / "gaffer-moved-tool", "from-a");
    auto info = mgr_->process_info(1);
    ASSERT_TRUE(info);
    ASSERT_EQ(kill(info->os_pid, SIGKILL), 0);
    ASSERT_TRUE(wait([&] { return output_.count(2) && output_[2].find("from-a\n") != std::string::npos; }))
        << (output_.count(2) ? output_[2] : "no process 2");
}

// ---------------------------------------------------------------- commit

// issue 12: the spawner's errno is translated at the manager boundary; a missing
// executable is a spawn failure of a job that exists, not an unknown job.
TEST_P(ManagerTest, CommitThatCannotSpawnIsSpawnFailed) {
    model::JobSpec spec = job_spec("default.ghost", "/nonexistent/gaffer-ghost", 1);
    spec.start = false;
    ASSERT_TRUE(mgr_->load(std::move(spec)));
    auto c = mgr_->commit(JobName::parse("default.ghost"), std::nullopt, {});
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, manager::kSpawnFailed) << c.error().message();
    EXPECT_EQ(c.error().cause, ENOENT);
    EXPECT_STREQ(c.error().stage, "exec");
    EXPECT_EQ(manager::map_error(c.error()).outcome, manager::Outcome::kSpawnFailed);
    EXPECT_EQ(mgr_->process_count(), 0u);
}

TEST_P(ManagerTest, CommittedProcessIsNeverRestarted) {
    ASSERT_TRUE(mgr_->load(job_spec("default.web", "sleep 1000", 1)));
    auto c = mgr_->commit(kWeb, 0.5, {{"EXTRA", "1"}});
    ASSERT_TRUE(c) << c.error().message();
    const int cpid = *c;
    EXPECT_EQ(cpid, 2);
    EXPECT_EQ(*mgr_->pids(kWeb), std::vector<int>{1});  // regular processes only
    auto info = mgr_->info(kWeb);
    EXPECT_EQ(info->running, 2);
    EXPECT_EQ(info->running_out, 1);
    auto pinfo = mgr_->process_info(cpid);
    ASSERT_TRUE(pinfo);
    EXPECT_TRUE(pinfo->commited);
    ASSERT_TRUE(pinfo->env);
    EXPECT_EQ(pinfo->env->at("EXTRA"), "1");
    EXPECT_EQ(mgr_->spec(kWeb)->env.count("EXTRA"), 0u);  // the job's env is untouched
    ASSERT_TRUE(wait([&] { return count("spawn") == 2; }));
    EXPECT_EQ(count("job.default.web.spawn"), 1u);  // only the global spawn for a commit

    ASSERT_EQ(kill(pinfo->os_pid, SIGKILL), 0);
    ASSERT_TRUE(wait([&] { return exit_of(cpid) && gone(cpid); }));
    EXPECT_TRUE(exit_of(cpid)->flag("once"));
    EXPECT_EQ(exit_of(cpid)->num("term_signal"), SIGKILL);
    EXPECT_NE(find("job.default.web.exit", [&](const Event& e) { return e.num("pid") == cpid; }), nullptr);
    // Any restart would have been published with the exit, in the same turn.
    EXPECT_EQ(count("spawn"), 2u);
    EXPECT_EQ(mgr_->process_count(), 1u);
    EXPECT_EQ(*mgr_->pids(kWeb), std::vector<int>{1});
    EXPECT_EQ(mgr_->process_info(1)->restarts, 0);
    EXPECT_EQ(mgr_->commit(JobName::parse("default.nope"), std::nullopt, {}).error().code, ENOENT);
    EXPECT_EQ(mgr_->commit(kWeb, -1.0, {}).error().code, EINVAL);
    // The regular processes share one copy of the environment; the commit has its own.
    ASSERT_TRUE(mgr_->scale(kWeb, model::ScaleOp{model::ScaleOp::Kind::kAdd, 1}));
    ASSERT_TRUE(wait([&] { return mgr_->pids(kWeb)->size() == 2; }));
    auto p1 = mgr_->process_info(1), p3 = mgr_->process_info(mgr_->pids(kWeb)->back());
    ASSERT_TRUE(p1 && p3 && p1->env && p3->env);
    EXPECT_EQ(p1->env.get(), p3->env.get());
    EXPECT_NE(p1->env.get(), pinfo->env.get());
}

// ---------------------------------------------------------------- flapping (§7.5)

TEST_P(ManagerTest, FlappingJobGivesUpAfterMaxRetryAndStaysStopped) {
    auto s = job_spec("default.flappy", "false", 1);
    s.flapping = flapping(2, 1.0, 0.2, 2);
    ASSERT_TRUE(mgr_->load(s));
    ASSERT_TRUE(wait([&] {
        return find("stop", [](const Event& e) { return e.str("reason") == "flapping"; }) != nullptr;
    })) << "flap events so far: "
        << count("flap");
    const JobName name = JobName::parse("default.flappy");
    // Two crashes per period; max_retry (2) retries, then the third period gives up.
    EXPECT_EQ(count("flap"), 3u);
    EXPECT_EQ(count("spawn"), 6u);
    EXPECT_EQ(count("exit"), 6u);
    for (const Event* e : all("exit")) EXPECT_EQ(e->num("exit_status"), 1);
    EXPECT_NE(find("job.default.flappy.stop"), nullptr);
    EXPECT_EQ(count("spawn_error"), 0u);
    auto info = mgr_->info(name);
    ASSERT_TRUE(info);
    EXPECT_TRUE(info->stopped);
    EXPECT_TRUE(mgr_->pids(name)->empty());
    ASSERT_TRUE(wait([&] { return mgr_->process_count() == 0; }));
    // Nothing is left that could spawn again: no retry timer, no process.
    EXPECT_EQ(loop_->timer_count(), 0u);
    run_for(500ms);
    EXPECT_EQ(count("spawn"), 6u);
    EXPECT_EQ(mgr_->counters().spawned, 6u);
}

TEST_P(ManagerTest, UnloadDuringAFlappingRetryBringsNothingBack) {
    auto s = job_spec("default.flappy", "false", 1);
    s.flapping = flapping(2, 1.0, 0.3, 5);
    ASSERT_TRUE(mgr_->load(s));
    const JobName name = JobName::parse("default.flappy");
    ASSERT_TRUE(wait([&] { return count("flap") == 1; }));
    ASSERT_GE(loop_->timer_count(), 1u);  // the retry
    const uint64_t spawned = mgr_->counters().spawned;
    ASSERT_TRUE(mgr_->unload(name));
    EXPECT_FALSE(mgr_->has_job(name));
    ASSERT_TRUE(wait([&] { return mgr_->process_count() == 0; }));
    EXPECT_EQ(loop_->timer_count(), 0u) << "the retry timer survived the unload";
    run_for(600ms);  // twice retry_in
    EXPECT_EQ(mgr_->counters().spawned, spawned);
    EXPECT_EQ(mgr_->process_count(), 0u);
    ASSERT_TRUE(wait([&] { return find("unload") != nullptr; }));
}

TEST_P(ManagerTest, StopDuringAFlappingRetryBringsNothingBack) {
    auto s = job_spec("default.flappy", "false", 1);
    s.flapping = flapping(2, 1.0, 0.3, 5);
    ASSERT_TRUE(mgr_->load(s));
    const JobName name = JobName::parse("default.flappy");
    ASSERT_TRUE(wait([&] { return count("flap") == 1; }));
    const uint64_t spawned = mgr_->counters().spawned;
    ASSERT_TRUE(mgr_->stop_job(name));
    ASSERT_TRUE(wait([&] { return mgr_->process_count() == 0; }));
    EXPECT_EQ(loop_->timer_count(), 0u);
    run_for(600ms);
    EXPECT_EQ(mgr_->counters().spawned, spawned);
    EXPECT_TRUE(mgr_->info(name)->stopped);
}

// ---------------------------------------------------------------- shutdown

TEST_P(ManagerTest, ShutdownCallsDoneOnceEveryProcessIsGone) {
    ASSERT_TRUE(mgr_->load(job_spec("default.a", "sleep 1000", 2)));
    ASSERT_TRUE(mgr_->load(job_spec("s2.b", "sleep 1000", 1)));
    ASSERT_TRUE(mgr_->commit(JobName::parse("s2.b"), std::nullopt, {}));
    std::vector<pid_t> os;
    for (const auto& p : mgr_->all_processes()) os.push_back(p.os_pid);
    ASSERT_EQ(os.size(), 4u);

    bool done = false;
    size_t left_at_done = 99;
    bool all_dead_at_done = false;
    mgr_->shutdown([&] {
        done = true;
        left_at_done = mgr_->process_count();
        all_dead_at_done = std::none_of(os.begin(), os.end(), alive);
    });
    EXPECT_FALSE(done);
    EXPECT_TRUE(mgr_->shutting_down());
    ASSERT_TRUE(wait([&] { return done; }));
    EXPECT_EQ(left_at_done, 0u);
    EXPECT_TRUE(all_dead_at_done);
    EXPECT_TRUE(wait([&] { return count("exit") == 4; }));
    EXPECT_EQ(count("spawn"), 4u);  // nothing was replaced
    // No new work once shutting down.
    EXPECT_EQ(mgr_->load(job_spec("default.late", "sleep 1000", 1)).error().code, EPERM);
    EXPECT_EQ(mgr_->start_job(JobName::parse("default.a")).error().code, EPERM);
    EXPECT_EQ(mgr_->commit(JobName::parse("default.a"), std::nullopt, {}).error().code, EPERM);
    EXPECT_EQ(mgr_->process_count(), 0u);
}

TEST_P(ManagerTest, ShutdownWithNothingRunningCallsDoneOnTheNextTurn) {
    bool done = false;
    mgr_->shutdown([&] { done = true; });
    EXPECT_FALSE(done);
    EXPECT_TRUE(wait([&] { return done; }));
}

// ---------------------------------------------------------------- spawn failures

TEST_P(ManagerTest, ExecFailureIsPublishedAndBacksOff) {
    ASSERT_TRUE(mgr_->load(job_spec("default.broken", "/nonexistent/x", 1)));
    const auto t0 = Clock::now();
    ASSERT_TRUE(wait([&] { return count("spawn_error") >= 1; }));
    const Event* e = find("spawn_error");
    EXPECT_EQ(e->str("name"), "default.broken");
    EXPECT_EQ(e->str("stage"), "exec");
    EXPECT_EQ(e->num("errno"), ENOENT);
    EXPECT_TRUE(e->has("pid"));
    // Count the attempts over one second: a back-off, not a tight loop.
    run_for(1s - (Clock::now() - t0));
    const uint64_t attempts = mgr_->counters().spawn_failures;
    EXPECT_LT(attempts, 10u);
    EXPECT_GE(attempts, 2u) << "the job should keep retrying";
    EXPECT_EQ(mgr_->counters().spawned, 0u);
    EXPECT_EQ(mgr_->process_count(), 0u);
    EXPECT_EQ(count("spawn"), 0u);
    // Stopping the job ends the retries.
    ASSERT_TRUE(mgr_->stop_job(JobName::parse("default.broken")));
    EXPECT_EQ(loop_->timer_count(), 0u);
}

// Run in a forked child: drops to `uid` (and group `uid`) when root, then loads a job
// running as `uid`, with `gid` when `with_gid` (else none), into a Manager of its own and
// says what it published first ("spawn", or "spawn_error stage=... errno=..."; "skip: ..."
// when the backend is unavailable).
std::string first_spawn_outcome_as(loop::Backend backend, uid_t uid, bool with_gid) {
    if (geteuid() == 0 && (setgroups(0, nullptr) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
        return "drop failed: " + std::string(strerror(errno));
    auto l = Loop::create(backend);
    if (!l)
        return "skip: " + l.error().message();
    auto loop = std::move(l).value();
    events::EventBus bus(*loop);
    std::string seen;
    bus.subscribe(".", [&](const std::string& type, const json_t* msg) {
        if (!seen.empty())
            return;
        if (type == "spawn")
            seen = "spawn";
        if (type == "spawn_error")
            seen = "spawn_error stage=" + std::string(json_string_value(json_object_get(msg, "stage"))) +
                   " errno=" + std::to_string(json_integer_value(json_object_get(msg, "errno")));
    });
    Options o;
    o.default_cwd = "/";
    o.use_cgroups = false;
    Manager mgr(*loop, bus, o);
    model::JobSpec spec = job_spec("default.mine", "sleep 1000", 1);
    spec.uid = uid;
    if (with_gid)
        spec.gid = getegid();
    if (!mgr.load(spec))
        return "load failed";
    (void)loop->run_until([&] { return !seen.empty(); }, kWait);
    bool done = false;
    mgr.shutdown([&] { done = true; });
    if (!loop->run_until([&] { return done; }, kWait))
        return "shutdown did not finish";
    return seen.empty() ? "nothing published" : seen;
}

// Runs first_spawn_outcome_as in a forked child as nobody (or as the suite's own user when
// it is not root) and returns its answer.
std::string spawn_outcome_in_a_non_root_daemon(loop::Backend backend, bool with_gid) {
    const uid_t uid = geteuid() == 0 ? 65534 : geteuid();
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return "pipe failed";
    pid_t child = fork();
    if (child < 0)
        return "fork failed";
    if (child == 0) {
        close(fds[0]);
        alarm(30);
        std::string outcome = first_spawn_outcome_as(backend, uid, with_gid);
        (void)!write(fds[1], outcome.data(), outcome.size());
        _exit(0);
    }
    close(fds[1]);
    std::string got;
    char buf[256];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return "child status " + std::to_string(status);
    return got;
}

// A daemon that is not root may run a job as its own uid, and with its own gid (the
// router lets non-admins ask for both). The child then keeps the daemon's groups: a
// non-root process cannot call setgroups, so resolving the user's supplementary groups,
// or setting the gid as the only group, would fail every spawn with EPERM at stage "gid".
// The suite runs as root in CI, so a forked child drops to nobody first and reports
// through a pipe what its own Manager published.
TEST_P(ManagerTest, OwnUidWithoutGidSpawnsInANonRootDaemon) {
    std::string got = spawn_outcome_in_a_non_root_daemon(GetParam(), false);
    if (got.rfind("skip: ", 0) == 0)
        GTEST_SKIP() << got;
    EXPECT_EQ(got, "spawn");
}

TEST_P(ManagerTest, OwnUidAndOwnGidSpawnsInANonRootDaemon) {
    std::string got = spawn_outcome_in_a_non_root_daemon(GetParam(), true);
    if (got.rfind("skip: ", 0) == 0)
        GTEST_SKIP() << got;
    EXPECT_EQ(got, "spawn");
}

// As root, a uid without a gid means that user's primary group and supplementary groups
// (systemd's User=), never the daemon's own groups.
TEST_P(ManagerTest, UidWithoutGidAsRootRunsWithTheUsersGroups) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root";
    struct passwd* pw = getpwuid(65534);
    if (!pw)
        GTEST_SKIP() << "no passwd entry for uid 65534";
    auto s = job_spec("default.nobody", "sh -c 'id -u; id -g; id -G; sleep 1000'", 1);
    s.redirect_output = {"out"};
    s.uid = 65534;
    ASSERT_TRUE(mgr_->load(s));
    ASSERT_TRUE(wait([&] { return std::count(output_[1].begin(), output_[1].end(), '\n') >= 3; })) << output_[1];
    auto lines = split_any(output_[1], "\n");
    ASSERT_GE(lines.size(), 3u) << output_[1];
    EXPECT_EQ(lines[0], "65534");
    EXPECT_EQ(lines[1], std::to_string(pw->pw_gid));
    std::vector<gid_t> want(64);
    int n = static_cast<int>(want.size());
    ASSERT_GE(getgrouplist(pw->pw_name, pw->pw_gid, want.data(), &n), 0);
    want.resize(static_cast<size_t>(n));
    for (const auto& g : split_any(lines[2], " ")) {
        auto v = parse_int(g);
        ASSERT_TRUE(v) << lines[2];
        EXPECT_NE(std::find(want.begin(), want.end(), static_cast<gid_t>(*v)), want.end())
            << "group " << g << " is not one of uid 65534's";
    }
}

// ---------------------------------------------------------------- stop_process

TEST_P(ManagerTest, StoppedProcessIsReplacedWhenItHasExited) {
    ASSERT_TRUE(mgr_->load(job_spec("default.web", "sleep 1000", 2)));
    ASSERT_TRUE(mgr_->stop_process(1));
    EXPECT_EQ(*mgr_->pids(kWeb), std::vector<int>{2});
    EXPECT_EQ(mgr_->process_info(1)->state, model::ProcState::kStopping);
    ASSERT_TRUE(wait([&] { return exit_of(1) && count("spawn") == 3; }));
    EXPECT_EQ(exit_of(1)->num("term_signal"), SIGTERM);
    EXPECT_EQ(*mgr_->pids(kWeb), (std::vector<int>{2, 3}));
    EXPECT_EQ(mgr_->process_info(3)->restarts, 0);  // not an unexpected exit
    EXPECT_EQ(mgr_->stop_process(99).error().code, ENOENT);
}

// ---------------------------------------------------------------- slots, instance_env, pty

TEST_P(ManagerTest, SlotsGoBackToReplacementsAndScalingFillsGaps) {
    auto s = job_spec("default.web", "sleep 1000", 3);
    s.instance_env = true;
    s.env = {{"PORT", "6000"}};
    ASSERT_TRUE(mgr_->load(s));
    ASSERT_TRUE(wait([&] { return count("spawn") == 3; }));
    auto slot_of = [&](int pid) { return mgr_->process_info(pid)->slot; };
    auto env_of = [&](int pid) { return *mgr_->process_info(pid)->env; };
    for (int pid : {1, 2, 3}) {
        EXPECT_EQ(slot_of(pid), pid);
        EXPECT_EQ(env_of(pid).at("PS"), "web." + std::to_string(pid));
        EXPECT_EQ(env_of(pid).at("PORT"), std::to_string(5999 + pid));
    }
    // The replacement of the process in slot 2 takes slot 2, PORT and PS with it.
    ASSERT_EQ(kill(os_pid(2), SIGKILL), 0);
    ASSERT_TRUE(wait([&] { return count("spawn") == 4; }));
    EXPECT_EQ(slot_of(4), 2);
    EXPECT_EQ(env_of(4).at("PS"), "web.2");
    EXPECT_EQ(env_of(4).at("PORT"), "6001");
    // 3 -> 1 reaps the oldest (1 and 3); the survivor keeps its slot; scaling up fills 1, 3.
    ASSERT_TRUE(mgr_->scale(kWeb, model::ScaleOp{model::ScaleOp::Kind::kSet, 1}));
    EXPECT_EQ(*mgr_->pids(kWeb), std::vector<int>{4});
    EXPECT_EQ(slot_of(4), 2);
    ASSERT_TRUE(mgr_->scale(kWeb, model::ScaleOp{model::ScaleOp::Kind::kSet, 3}));
    EXPECT_EQ(*mgr_->pids(kWeb), (std::vector<int>{4, 5, 6}));
    EXPECT_EQ(slot_of(5), 1);
    EXPECT_EQ(slot_of(6), 3);
    EXPECT_EQ(env_of(6).at("PORT"), "6002");
    // A reload's new processes take the slots of the stopping ones.
    ASSERT_TRUE(mgr_->reload_job(kWeb));
    EXPECT_EQ(*mgr_->pids(kWeb), (std::vector<int>{7, 8, 9}));
    for (int pid : {7, 8, 9}) EXPECT_EQ(slot_of(pid), pid - 6);
}

TEST_P(ManagerTest, SlotsWithoutInstanceEnvLeaveTheEnvironmentAlone) {
    auto s = job_spec("default.web", "sleep 1000", 2);
    s.env = {{"PORT", "6000"}, {"PS", "mine"}};
    ASSERT_TRUE(mgr_->load(s));
    EXPECT_EQ(mgr_->process_info(2)->slot, 2);
    EXPECT_EQ(mgr_->process_info(2)->env->at("PORT"), "6000");
    EXPECT_EQ(mgr_->process_info(2)->env->at("PS"), "mine");
}

TEST_P(ManagerTest, PtyMakesStdoutAndStderrATerminalWithRawLines) {
    auto with = job_spec("default.tty",
                         "python3 -c 'import os, sys; print(sys.stdout.isatty(), os.isatty(2), "
                         "os.get_terminal_size().columns if os.isatty(1) else 0); print(\"err\", file=sys.stderr)'",
                         1);
    with.pty = true;
    with.redirect_output = {"out", "err"};
    with.env = {{"COLUMNS", "132"}};
    with.numprocesses = 0;
    ASSERT_TRUE(mgr_->load(with));
    auto r = mgr_->commit(JobName::parse("default.tty"), std::nullopt, {});
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE(wait([&] { return exit_of(*r) && gone(*r); })) << output_[*r];
    EXPECT_EQ(output_[*r], "True True 132\nerr\n");  // one stream, "\n" not "\r\n"

    auto without = with;
    without.name = JobName::parse("default.pipe");
    without.pty = false;
    without.redirect_output = {"out"};
    ASSERT_TRUE(mgr_->load(without));
    r = mgr_->commit(JobName::parse("default.pipe"), std::nullopt, {});
    ASSERT_TRUE(r);
    ASSERT_TRUE(wait([&] { return exit_of(*r) && gone(*r); })) << output_[*r];
    EXPECT_EQ(output_[*r], "False False 0\n");
}

TEST_P(ManagerTest, PtyOutputWithoutNewlineArrivesBeforeTheChildExits) {
    // printf writes at once; the daemon delivers what it reads, without waiting for a line end.
    auto s = job_spec("default.tick", "sh -c 'printf tick; exec sleep 1000'", 1);
    s.pty = true;
    s.redirect_output = {"out"};
    ASSERT_TRUE(mgr_->load(s));
    ASSERT_TRUE(wait([&] { return output_[1] == "tick"; })) << output_[1];
    EXPECT_EQ(exit_of(1), nullptr);
    EXPECT_EQ(*mgr_->stream_backlog(1, "", 100), "tick");
}

INSTANTIATE_TEST_SUITE_P(Backends, ManagerTest, ::testing::ValuesIn(testutil::test_backends()), testutil::backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, ManagerGrandchildTest, ::testing::ValuesIn(testutil::test_backends()),
                         testutil::backend_name);

}  // namespace
}  // namespace gaffer::manager
