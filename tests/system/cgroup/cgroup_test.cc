// SPDX-License-Identifier: MIT
// System tests of lib/cgroup and lib/stats/cgroup_stats on real cgroups: per-process
// groups in every hierarchy (v2, plus the v1 memory/cpu/pids controllers on a hybrid
// host), resource limits (memory_max with an OOM kill, cpu_max, pids_max against a fork
// bomb), CPU and memory statistics of the whole tree, and kill() reaching a setsid()
// grandchild that ignores SIGTERM. Children are spawned with lib/proc's spawner and join
// through ExecSpec::cgroup_procs_fds = Group::procs_fds().
//
// Needs root and a cgroup2 mount; skips with the reason otherwise. The test process is
// a child subreaper so that orphaned grandchildren are reaped here. Every group, tree
// directory and process a test creates is removed in TearDown.
#include "lib/cgroup/cgroup.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <list>
#include <string>

#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/proc/spawner.h"
#include "lib/stats/cgroup_stats.h"
#include "lib/stats/proc_stats.h"
#include "tests/helpers/child_guard.h"

namespace gaffer::cgroup {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = 1 << 20;

bool exists(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0;
}

std::string read_trimmed(const std::string& path) {
    auto t = read_file(path);
    return t ? std::string(trim(*t)) : std::string("<" + t.error().message() + ">");
}

// Waits up to `ms` for POLLIN on `fd` (a pidfd turns readable when the process exits).
bool wait_readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
}

void pause_ms(int ms) {
    (void)::poll(nullptr, 0, ms);
}

// Reads one line from a pipe, waiting up to `ms`.
std::string read_line(int fd, int ms) {
    std::string out;
    auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (out.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0 || !wait_readable(fd, static_cast<int>(left)))
            break;
        char buf[256];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

double proc_cpu_seconds(pid_t pid) {
    auto t = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!t)
        return -1;
    auto st = stats::parse_proc_stat(*t);
    return st ? st->utime + st->stime : -1;
}

// The machine is shared (other builds run beside the tests), so a CPU burner gets the
// highest priority to really have one core to itself, which is what the tests measure.
// With autogroup scheduling, nice only ranks tasks inside one session's group, so the
// burner runs in its own session and its autogroup gets the nice value too.
void boost(pid_t pid) {
    EXPECT_EQ(::setpriority(PRIO_PROCESS, static_cast<id_t>(pid), -20), 0) << strerror(errno);
    std::string autogroup = "/proc/" + std::to_string(pid) + "/autogroup";
    if (exists(autogroup))
        (void)write_file(autogroup, "-20");
}

class CgroupSystem : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root to create cgroups";
        if (detect_mode() == Mode::kNone)
            GTEST_SKIP() << "no cgroup2 mount (/sys/fs/cgroup or /sys/fs/cgroup/unified)";
        tree_ = Tree::create("gaffer-cgtest");
        if (tree_->mode() == Mode::kNone)
            GTEST_SKIP() << "cannot create cgroups here";
        ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    }

    void TearDown() override {
        if (!tree_)
            return;
        guard_.kill_all();
        for (auto& [job, g] : groups_) {
            if (g.path.empty())
                continue;
            if (tree_->populated(g))
                (void)tree_->kill(g);
            wait_unpopulated(g, 5000);
            auto r = tree_->remove(g, job);
            EXPECT_TRUE(r) << r.error().message();
            EXPECT_FALSE(exists(g.path)) << g.path;
            for (const auto& d : g.v1_path) EXPECT_TRUE(d.empty() || !exists(d)) << d;
        }
        groups_.clear();
        reap_orphans();
        EXPECT_EQ(tree_->kept_stat_fds(), 0u);  // remove() gave every kept fd back
        std::vector<std::string> dirs = {tree_->base()};
        for (int c = 0; c < kControllerCount; ++c) dirs.push_back(tree_->v1_base(static_cast<Controller>(c)));
        tree_.reset();
        for (const auto& d : dirs) EXPECT_TRUE(d.empty() || !exists(d)) << "left behind: " << d;
    }

    // Creates a group that TearDown cleans up; nullptr (with a test failure) on error.
    Group* make_group(const std::string& job, const Limits& limits = {}) {
        auto g = tree_->create_group(job, next_pid_++, limits);
        EXPECT_TRUE(g) << g.error().message();
        if (!g)
            return nullptr;
        groups_.emplace_back(job, std::move(g).value());
        return &groups_.back().second;
    }

    // Spawns the test helper (or `argv` as is when it starts with '/') in `g`; its
    // stdout (and stderr, with `err_fd`) come back through pipes.
    proc::Child spawn(Group& g, std::vector<std::string> argv, UniqueFd* out_fd, UniqueFd* err_fd = nullptr,
                      bool new_session = false) {
        proc::ExecSpec ex;
        ex.new_session = new_session;
        if (argv[0][0] != '/')
            argv.insert(argv.begin(), GAFFER_CGROUP_HELPER);
        ex.path = argv[0];
        ex.argv = argv;
        ex.envp = {"PATH=/usr/bin:/bin"};
        ex.cgroup_procs_fds = g.procs_fds();
        auto out = Pipe::make();
        EXPECT_TRUE(out);
        ex.stdout_fd = out->write.get();
        std::optional<Pipe> err;
        if (err_fd) {
            auto e = Pipe::make();
            EXPECT_TRUE(e);
            err = std::move(*e);
            ex.stderr_fd = err->write.get();
        }
        proc::SpawnFailure failure;
        auto child = proc::spawn(ex, &failure);
        EXPECT_TRUE(child) << child.error().message() << " at " << proc::to_string(failure.stage);
        if (!child)
            return {};
        guard_.add_pidfd(child->pidfd.get());
        g.close_join_fds();  // joined: the write fds are no longer needed
        if (out_fd)
            *out_fd = std::move(out->read);
        if (err_fd)
            *err_fd = std::move(err->read);
        return std::move(child).value();
    }

    // Waits for the child to exit and reaps it.
    proc::ExitStatus wait_exit(const proc::Child& c, int ms) {
        EXPECT_TRUE(wait_readable(c.pidfd.get(), ms)) << "process " << c.pid << " did not exit in " << ms << " ms";
        auto st = proc::try_reap(c);
        EXPECT_TRUE(st);
        return st ? *st : proc::ExitStatus{};
    }

    // Waits for "populated 0" through POLLPRI on cgroup.events (re-read after each wake).
    bool wait_unpopulated(Group& g, int ms) {
        UniqueFd fd(::open((g.path + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
        auto deadline = Clock::now() + std::chrono::milliseconds(ms);
        while (tree_->populated(g)) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0 || !fd)
                return false;
            struct pollfd p = {fd.get(), POLLPRI, 0};
            (void)::poll(&p, 1, static_cast<int>(std::min<long>(left, 100)));
            char buf[64];
            (void)!::pread(fd.get(), buf, sizeof buf, 0);
        }
        return true;
    }

    static void reap_orphans() {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
    }

    std::string v1_procs_path(const Group& g, Controller c) { return g.v1_path[static_cast<int>(c)] + "/cgroup.procs"; }

    std::unique_ptr<Tree> tree_;
    std::list<std::pair<std::string, Group>> groups_;
    testutil::ChildGuard guard_;
    int next_pid_ = 1;
};

TEST_F(CgroupSystem, GroupsInEveryHierarchyAndTheChildJoinsThemAll) {
    Limits limits;
    limits.memory_max = 32 * kMiB;
    limits.cpu_max_percent = 20;
    limits.pids_max = 10;
    Group* g = make_group("test.layout", limits);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->path, tree_->base() + "/jobs/test.layout/1");
    EXPECT_TRUE(exists(g->path + "/cgroup.procs"));
    auto fds = g->procs_fds();
    ASSERT_FALSE(fds.empty());
    EXPECT_EQ(fds[0], g->procs.get());  // v2 first

    // The limits are in the files, wherever each controller lives.
    const std::string mem = g->v1_path[static_cast<int>(Controller::kMemory)];
    const std::string cpu = g->v1_path[static_cast<int>(Controller::kCpu)];
    const std::string pids = g->v1_path[static_cast<int>(Controller::kPids)];
    if (tree_->source(Controller::kMemory) == Source::kV1) {
        EXPECT_EQ(read_trimmed(mem + "/memory.limit_in_bytes"), std::to_string(32 * kMiB));
        if (exists(mem + "/memory.memsw.limit_in_bytes")) {
            EXPECT_EQ(read_trimmed(mem + "/memory.memsw.limit_in_bytes"), std::to_string(32 * kMiB));
        }
        EXPECT_EQ(read_trimmed(mem + "/memory.use_hierarchy"), "1");
    } else if (tree_->source(Controller::kMemory) == Source::kV2) {
        EXPECT_EQ(read_trimmed(g->path + "/memory.max"), std::to_string(32 * kMiB));
    }
    if (tree_->source(Controller::kCpu) == Source::kV1) {
        EXPECT_EQ(read_trimmed(cpu + "/cpu.cfs_quota_us"), "20000");
        EXPECT_EQ(read_trimmed(cpu + "/cpu.cfs_period_us"), "100000");
    } else if (tree_->source(Controller::kCpu) == Source::kV2) {
        EXPECT_EQ(read_trimmed(g->path + "/cpu.max"), "20000 100000");
    }
    if (tree_->source(Controller::kPids) == Source::kV1) {
        EXPECT_EQ(read_trimmed(pids + "/pids.max"), "10");
    } else if (tree_->source(Controller::kPids) == Source::kV2) {
        EXPECT_EQ(read_trimmed(g->path + "/pids.max"), "10");
    }
    size_t v1_count = 0;
    for (int c = 0; c < kControllerCount; ++c) v1_count += tree_->source(static_cast<Controller>(c)) == Source::kV1;
    EXPECT_EQ(fds.size(), 1 + v1_count);

    UniqueFd out;
    auto child = spawn(*g, {"idle"}, &out);
    ASSERT_GT(child.pid, 0);
    // The child is in the v2 group and in each v1 group, per /proc/<pid>/cgroup.
    auto pc = parse_proc_cgroup(read_file("/proc/" + std::to_string(child.pid) + "/cgroup").value());
    ASSERT_TRUE(pc.v2_path);
    EXPECT_TRUE(g->path.size() >= pc.v2_path->size() &&
                g->path.compare(g->path.size() - pc.v2_path->size(), std::string::npos, *pc.v2_path) == 0)
        << g->path << " vs " << *pc.v2_path;
    for (int c = 0; c < kControllerCount; ++c) {
        if (g->v1_path[c].empty())
            continue;
        auto procs = parse_procs(read_file(g->v1_path[c] + "/cgroup.procs").value());
        EXPECT_EQ(procs, std::vector<pid_t>{child.pid}) << g->v1_path[c];
    }
    EXPECT_TRUE(tree_->populated(*g));
    EXPECT_TRUE(g->procs_fds().empty());  // closed after the spawn
}

TEST_F(CgroupSystem, CpuBurnerNearOneCoreAndIdleSleeperNearZero) {
    Group* burn_g = make_group("test.burn");
    Group* idle_g = make_group("test.idle");
    ASSERT_TRUE(burn_g && idle_g);
    auto burner = spawn(*burn_g, {"burn"}, nullptr, nullptr, true);
    auto idler = spawn(*idle_g, {"idle"}, nullptr);
    ASSERT_GT(burner.pid, 0);
    ASSERT_GT(idler.pid, 0);
    boost(burner.pid);

    stats::CgroupSampler burn_s, idle_s;
    pause_ms(200);  // past exec and start-up
    auto t0 = Clock::now();
    double proc0 = proc_cpu_seconds(burner.pid);
    auto b0 = burn_s.sample(tree_.get(), burn_g, burner.pid, t0);
    auto i0 = idle_s.sample(tree_.get(), idle_g, idler.pid, t0);
    EXPECT_EQ(b0.cpu, 0.0);  // the first sample has nothing to compare with
    pause_ms(1000);
    auto t1 = Clock::now();
    double proc1 = proc_cpu_seconds(burner.pid);
    auto b1 = burn_s.sample(tree_.get(), burn_g, burner.pid, t1);
    auto i1 = idle_s.sample(tree_.get(), idle_g, idler.pid, t1);

    ASSERT_TRUE(b1.cpu && i1.cpu);
    double proc_pct = (proc1 - proc0) * 100.0 / std::chrono::duration<double>(t1 - t0).count();
    std::printf("burner %.1f %% (/proc %.1f %%), idle %.1f %%\n", *b1.cpu, proc_pct, *i1.cpu);
    EXPECT_GE(*b1.cpu, 50.0) << "/proc says " << proc_pct << "%";
    EXPECT_LE(*b1.cpu, 115.0);
    EXPECT_NEAR(*b1.cpu, proc_pct, 15.0);  // the cgroup and /proc agree
    EXPECT_LE(*i1.cpu, 5.0);
    ASSERT_TRUE(b1.cpu_time && b0.cpu_time);
    EXPECT_GT(*b1.cpu_time, *b0.cpu_time);
    EXPECT_TRUE(b1.children.empty());
    EXPECT_EQ(b1.os_pid, burner.pid);
    (void)i0;
}

TEST_F(CgroupSystem, CpuMaxThrottlesTheBurner) {
    Limits limits;
    limits.cpu_max_percent = 20;
    Group* g = make_group("test.cpumax", limits);
    ASSERT_TRUE(g);
    auto burner = spawn(*g, {"burn"}, nullptr, nullptr, true);
    ASSERT_GT(burner.pid, 0);
    boost(burner.pid);  // without the limit it would take a whole core
    stats::CgroupSampler s;
    pause_ms(200);
    (void)s.sample(tree_.get(), g, burner.pid, Clock::now());
    pause_ms(1000);
    auto st = s.sample(tree_.get(), g, burner.pid, Clock::now());
    ASSERT_TRUE(st.cpu);
    std::printf("burner limited to 20 %%: %.1f %%\n", *st.cpu);
    EXPECT_GT(*st.cpu, 3.0);
    EXPECT_LE(*st.cpu, 30.0);  // 20 % of one CPU, with a period's worth of slack
}

TEST_F(CgroupSystem, MemoryToucherShowsItsMemory) {
    Group* g = make_group("test.touch");
    ASSERT_TRUE(g);
    UniqueFd out;
    auto child = spawn(*g, {"touch", "64"}, &out);
    ASSERT_GT(child.pid, 0);
    ASSERT_EQ(read_line(out.get(), 10000), "ready\n");

    auto u = tree_->usage(*g);
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->members, std::vector<pid_t>{child.pid});
    EXPECT_EQ(u->pids, 1u);
    EXPECT_EQ(u->oom_kills, 0u);
    EXPECT_FALSE(tree_->oom_killed(*g));
    // v1 memory groups exist only for memory_max (the migration costs ~10 ms).
    if (tree_->source(Controller::kMemory) == Source::kV1) {
        EXPECT_TRUE(g->v1_path[static_cast<int>(Controller::kMemory)].empty());
        EXPECT_FALSE(u->memory_bytes);
    }
    if (tree_->source(Controller::kMemory) == Source::kV2) {
        ASSERT_TRUE(u->memory_bytes);
        EXPECT_GE(*u->memory_bytes, 64 * kMiB);
        ASSERT_TRUE(u->memory_peak);
        EXPECT_GE(*u->memory_peak, *u->memory_bytes);
        ASSERT_TRUE(u->memory_anon);
        EXPECT_GE(*u->memory_anon, 64 * kMiB);
    }
    stats::CgroupSampler s;
    auto st = s.sample(tree_.get(), g, child.pid, Clock::now());
    ASSERT_TRUE(st.rss);  // the group's memory, or VmRSS without a memory controller
    EXPECT_GE(*st.rss, 64 * kMiB);
    ASSERT_TRUE(st.mem);
    EXPECT_GT(*st.mem, 0.0);
}

TEST_F(CgroupSystem, MemoryMaxGetsTheToucherOomKilled) {
    Limits limits;
    limits.memory_max = 32 * kMiB;
    Group* g = make_group("test.oom", limits);
    ASSERT_TRUE(g);
    EXPECT_FALSE(tree_->oom_killed(*g));
    UniqueFd out;
    auto child = spawn(*g, {"touch", "64"}, &out);
    ASSERT_GT(child.pid, 0);
    auto st = wait_exit(child, 20000);
    EXPECT_TRUE(st.exited);
    EXPECT_EQ(st.term_signal, SIGKILL);
    EXPECT_EQ(read_line(out.get(), 100), "");  // never got to "ready"
    EXPECT_TRUE(tree_->oom_killed(*g));
    auto u = tree_->usage(*g);
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_GE(u->oom_kills, 1u);
    EXPECT_TRUE(u->members.empty());
    ASSERT_TRUE(u->memory_peak);
    EXPECT_LE(*u->memory_peak, 33 * kMiB);
}

TEST_F(CgroupSystem, PidsMaxStopsAForkBomb) {
    Limits limits;
    limits.pids_max = 10;
    Group* g = make_group("test.forkbomb", limits);
    ASSERT_TRUE(g);
    UniqueFd out, err;
    auto sh = spawn(*g, {"/bin/sh", "-c", "for i in $(seq 50); do sleep 5 & done; wait"}, &out, &err);
    ASSERT_GT(sh.pid, 0);
    size_t max_members = 0;
    uint64_t max_pids = 0;
    auto deadline = Clock::now() + std::chrono::seconds(3);
    bool exited = false;
    while (Clock::now() < deadline) {
        auto u = tree_->usage(*g);
        ASSERT_TRUE(u) << u.error().message();
        max_members = std::max(max_members, u->members.size());
        max_pids = std::max<uint64_t>(max_pids, u->pids.value_or(0));
        if (wait_readable(sh.pidfd.get(), 50)) {
            exited = true;
            break;
        }
    }
    auto u = tree_->usage(*g);
    ASSERT_TRUE(u);
    max_members = std::max(max_members, u->members.size());
    EXPECT_LE(max_members, 10u);
    EXPECT_LE(max_pids, 10u);
    EXPECT_GE(max_members, 5u);  // it did fork up to (about) the limit
    // The shell's forks failed with EAGAIN ("Cannot fork" from dash, "fork: retry:
    // Resource temporarily unavailable" from bash).
    (void)set_nonblocking(err.get());
    char buf[4096];
    ssize_t n = ::read(err.get(), buf, sizeof buf);
    std::string msg = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    EXPECT_NE(to_lower(msg).find("fork"), std::string::npos)
        << "stderr: " << msg << " (shell exited: " << exited << ")";
    ASSERT_TRUE(tree_->kill(*g));
    EXPECT_TRUE(wait_unpopulated(*g, 5000));
}

TEST_F(CgroupSystem, KillReachesASetsidGrandchildThatIgnoresSigterm) {
    Group* g = make_group("test.orphan");
    ASSERT_TRUE(g);
    UniqueFd out;
    auto child = spawn(*g, {"orphan"}, &out);
    ASSERT_GT(child.pid, 0);
    std::string line = read_line(out.get(), 10000);
    ASSERT_TRUE(starts_with(line, "ready ")) << line;
    pid_t gpid = static_cast<pid_t>(parse_int(trim(line.substr(6))).value_or(0));
    ASSERT_GT(gpid, 0);
    UniqueFd gfd(static_cast<int>(::syscall(SYS_pidfd_open, gpid, 0)));
    ASSERT_TRUE(gfd);
    guard_.add_pidfd(gfd.get());
    auto st = wait_exit(child, 10000);  // the helper itself is gone
    EXPECT_EQ(st.exit_status, 0);

    EXPECT_EQ(::getsid(gpid), gpid);  // its own session: a process-group kill misses it
    auto u = tree_->usage(*g);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->members, std::vector<pid_t>{gpid});
    EXPECT_TRUE(tree_->populated(*g));
    ASSERT_EQ(::syscall(SYS_pidfd_send_signal, gfd.get(), SIGTERM, nullptr, 0), 0);
    EXPECT_FALSE(wait_readable(gfd.get(), 200)) << "SIGTERM should have been ignored";

    ASSERT_TRUE(tree_->kill(*g));
    ASSERT_TRUE(wait_readable(gfd.get(), 5000)) << "kill() did not reach the grandchild";
    siginfo_t si{};
    ASSERT_EQ(::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(gfd.get()), &si, WEXITED), 0);
    EXPECT_EQ(si.si_code, CLD_KILLED);
    EXPECT_EQ(si.si_status, SIGKILL);
    EXPECT_TRUE(wait_unpopulated(*g, 5000));
}

TEST_F(CgroupSystem, UsageCountsReadsAndKeepsFdsWithinTheBudget) {
    Group* a = make_group("test.fds");
    Group* b = make_group("test.fds");
    ASSERT_TRUE(a && b);
    auto child = spawn(*a, {"idle"}, nullptr);
    ASSERT_GT(child.pid, 0);
    uint64_t before = tree_->stat_reads();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(tree_->usage(*a));
    EXPECT_EQ(tree_->stat_reads(), before + 3);
    size_t kept_a = tree_->kept_stat_fds();
    EXPECT_GE(kept_a, 2u);  // at least cpu.stat and cgroup.procs
    EXPECT_LE(kept_a, static_cast<size_t>(kStatCount));

    // Over budget, a group reads its files by path and gets the same answers.
    tree_->set_stat_fd_budget(kept_a);
    auto ub = tree_->usage(*b);
    ASSERT_TRUE(ub);
    EXPECT_EQ(tree_->kept_stat_fds(), kept_a);
    EXPECT_TRUE(ub->members.empty());
    EXPECT_TRUE(ub->cpu_usec);
    EXPECT_EQ(tree_->stat_reads(), before + 4);
    auto ua = tree_->usage(*a);
    ASSERT_TRUE(ua);
    EXPECT_EQ(ua->members, std::vector<pid_t>{child.pid});
}

TEST_F(CgroupSystem, RemoveIsBusyWhilePopulatedThenCleansEveryHierarchy) {
    Limits limits;
    limits.pids_max = 100;
    limits.cpu_max_percent = 150;
    Group* g = make_group("test.remove", limits);
    ASSERT_TRUE(g);
    auto child = spawn(*g, {"idle"}, nullptr);
    ASSERT_GT(child.pid, 0);
    ASSERT_TRUE(tree_->usage(*g));
    std::string job_dir = tree_->base() + "/jobs/test.remove";

    auto busy = tree_->remove(*g, "test.remove");
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, EBUSY);
    EXPECT_TRUE(exists(g->path));

    ASSERT_TRUE(tree_->kill(*g));
    (void)wait_exit(child, 5000);
    ASSERT_TRUE(wait_unpopulated(*g, 5000));
    auto empty = tree_->usage(*g);
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->members.empty());
    EXPECT_GT(empty->cpu_usec.value_or(0), 0u);  // cpu.stat outlives the processes
    auto r = tree_->remove(*g, "test.remove");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(exists(g->path));
    EXPECT_FALSE(exists(job_dir));
    for (int c = 0; c < kControllerCount; ++c) {
        if (g->v1_path[c].empty())
            continue;
        EXPECT_FALSE(exists(g->v1_path[c])) << g->v1_path[c];
        EXPECT_FALSE(exists(tree_->v1_base(static_cast<Controller>(c)) + "/jobs/test.remove"));
    }
    // A removed group has no statistics any more.
    auto gone = tree_->usage(*g);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, ENOENT);
    EXPECT_FALSE(tree_->oom_killed(*g));
}

TEST_F(CgroupSystem, InvalidLimitLeavesNothingBehind) {
    Limits limits;
    limits.cpu_max_percent = 0;
    auto g = tree_->create_group("test.invalid", 99, limits);
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().code, EINVAL);
    EXPECT_FALSE(exists(tree_->base() + "/jobs/test.invalid"));

    // A value the kernel refuses: the error names the limit, and the directories made
    // for it (v2 and v1) are gone again.
    Limits huge;
    huge.pids_max = UINT64_MAX;  // "18446744073709551615" is not a valid pids.max
    auto h = tree_->create_group("test.invalid", 100, huge);
    ASSERT_FALSE(h);
    EXPECT_NE(h.error().context.find("pids_max"), std::string::npos) << h.error().message();
    EXPECT_FALSE(exists(tree_->base() + "/jobs/test.invalid"));
    for (int c = 0; c < kControllerCount; ++c) {
        const std::string& b = tree_->v1_base(static_cast<Controller>(c));
        if (!b.empty()) {
            EXPECT_FALSE(exists(b + "/jobs/test.invalid")) << b;
        }
    }
}

TEST(CgroupTree, NoCgroupsMeansLimitsAreAnError) {
    if (geteuid() == 0 && detect_mode() != Mode::kNone)
        GTEST_SKIP() << "cgroups are usable here";
    auto tree = Tree::create("gaffer-cgtest");
    ASSERT_EQ(tree->mode(), Mode::kNone);
    Limits limits;
    limits.memory_max = kMiB;
    auto g = tree->create_group("x.y", 1, limits);
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().code, EOPNOTSUPP);
}

}  // namespace
}  // namespace gaffer::cgroup
