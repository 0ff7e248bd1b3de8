// SPDX-License-Identifier: MIT
// System tests of lib/proc/spawner on the real kernel: vfork-style spawn, reaping through
// a loop-watched pidfd, exit codes and signals, the exec-failure stages (and that a failed
// child is never left as a zombie), child hygiene (signal mask and ignored signals reset,
// only the stdio fds inherited, own process group), group signalling and joining a
// cgroup. Every process started here is killed and reaped by a ChildGuard.
#include "lib/proc/spawner.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/cgroup/cgroup.h"
#include "lib/loop/loop.h"
#include "tests/helpers/child_guard.h"
#include "tests/helpers/temp_dir.h"

namespace gaffer::proc {
namespace {

using namespace std::chrono_literals;
using loop::Loop;

constexpr auto kWait = 10s;

ExecSpec exec_spec(std::string path, std::vector<std::string> argv) {
    ExecSpec s;
    s.path = std::move(path);
    s.argv = std::move(argv);
    s.envp = {"PATH=/usr/bin:/bin"};
    return s;
}

// waitpid(-1, WNOHANG): 0 (children, none exited) or ECHILD (none at all); never a pid.
void expect_no_zombie() {
    int status = 0;
    pid_t r = waitpid(-1, &status, WNOHANG);
    EXPECT_TRUE(r == 0 || (r < 0 && errno == ECHILD)) << "waitpid(-1) gave " << r << ": a zombie was left";
}

class SpawnerTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto l = Loop::create(loop::Backend::kAuto);  // honours GAFFER_LOOP
        if (!l)
            GTEST_SKIP() << "no event loop: " << l.error().message();
        loop_ = std::move(l).value();
    }

    // Spawns and registers the child with the guard; fails the test on a spawn error.
    Child spawn_ok(const ExecSpec& spec) {
        SpawnFailure failure;
        auto c = spawn(spec, &failure);
        EXPECT_TRUE(c) << spec.path << ": " << (c ? "" : c.error().message());
        if (!c)
            return Child{};
        EXPECT_EQ(failure.stage, ExecStage::kNone);
        guard_.add_pidfd(c->pidfd.get());
        return std::move(c).value();
    }

    // Waits (on the loop) for the child to exit and reaps it through its pidfd.
    ExitStatus wait_exit(const Child& c) {
        ExitStatus st;
        Loop::WatchId id = 0;
        auto w = loop_->watch(c.pidfd.get(), POLLIN, [&](uint32_t) {
            auto r = try_reap(c);
            EXPECT_TRUE(r) << (r ? "" : r.error().message());
            if (r && r->exited)
                st = *r;
        });
        EXPECT_TRUE(w);
        if (!w)
            return st;
        id = *w;
        EXPECT_TRUE(loop_->run_until([&] { return st.exited; }, kWait)) << "child " << c.pid << " did not exit";
        loop_->unwatch(id);
        return st;
    }

    // Reads `fd` on the loop until EOF, or until done(text) says enough.
    std::string read_fd(int fd, const std::function<bool(const std::string&)>& done = nullptr) {
        EXPECT_TRUE(set_nonblocking(fd));
        std::string out;
        bool eof = false;
        auto w = loop_->watch(fd, POLLIN, [&](uint32_t) {
            char buf[4096];
            for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n > 0) {
                    out.append(buf, static_cast<size_t>(n));
                    continue;
                }
                if (n == 0 || errno != EAGAIN)
                    eof = true;
                return;
            }
        });
        EXPECT_TRUE(w);
        if (!w)
            return out;
        EXPECT_TRUE(loop_->run_until([&] { return eof || (done && done(out)); }, kWait)) << "read so far: " << out;
        loop_->unwatch(*w);
        return out;
    }

    // Runs `argv` with stdout to a pipe and returns what it printed (after it exited).
    std::string output_of(ExecSpec spec, ExitStatus* ret_status = nullptr) {
        auto p = Pipe::make();
        EXPECT_TRUE(p);
        spec.stdout_fd = p->write.get();
        Child c = spawn_ok(spec);
        p->write.reset();  // EOF once the child (and whatever inherited it) is gone
        std::string out = c.pid ? read_fd(p->read.get()) : "";
        ExitStatus st = c.pid ? wait_exit(c) : ExitStatus{};
        if (ret_status)
            *ret_status = st;
        return out;
    }

    std::unique_ptr<Loop> loop_;
    testutil::ChildGuard guard_;
};

// ---------------------------------------------------------------- spawn and reap

TEST_F(SpawnerTest, SpawnsTrueAndReapsItThroughAWatchedPidfd) {
    Child c = spawn_ok(exec_spec("/bin/true", {"true"}));
    ASSERT_GT(c.pid, 0);
    ASSERT_TRUE(c.pidfd);
    EXPECT_TRUE(fcntl(c.pidfd.get(), F_GETFD) & FD_CLOEXEC);
    ExitStatus st = wait_exit(c);
    EXPECT_TRUE(st.exited);
    EXPECT_EQ(st.exit_status, 0);
    EXPECT_EQ(st.term_signal, 0);
    // Reaped: the pid is gone, and a second reap reports an error instead of a status.
    EXPECT_FALSE(try_reap(c));
    EXPECT_EQ(kill(c.pid, 0) == 0 ? 0 : errno, ESRCH);
    // Signalling a reaped child is not an error (ESRCH counts as success).
    EXPECT_TRUE(send_signal(c, SIGTERM, false));
    EXPECT_TRUE(send_signal(c, SIGTERM, true));
    expect_no_zombie();
}

TEST_F(SpawnerTest, TryReapOfARunningChildSaysNotExited) {
    Child c = spawn_ok(exec_spec("/bin/sleep", {"sleep", "1000"}));
    auto st = try_reap(c);
    ASSERT_TRUE(st);
    EXPECT_FALSE(st->exited);
    ASSERT_TRUE(send_signal(c, SIGKILL, false));
    ExitStatus end = wait_exit(c);
    EXPECT_EQ(end.term_signal, SIGKILL);
    EXPECT_EQ(end.exit_status, 0);
}

struct ExitCase {
    const char* script;
    int exit_status;
    int term_signal;
};

class SpawnerExit : public SpawnerTest, public ::testing::WithParamInterface<ExitCase> {};

TEST_P(SpawnerExit, ReportsExitCodesAndSignals) {
    const auto& c = GetParam();
    Child child = spawn_ok(exec_spec("/bin/sh", {"sh", "-c", c.script}));
    ExitStatus st = wait_exit(child);
    EXPECT_TRUE(st.exited);
    EXPECT_EQ(st.exit_status, c.exit_status) << c.script;
    EXPECT_EQ(st.term_signal, c.term_signal) << c.script;
}

INSTANTIATE_TEST_SUITE_P(Values, SpawnerExit,
                         ::testing::Values(ExitCase{"exit 0", 0, 0}, ExitCase{"exit 7", 7, 0},
                                           ExitCase{"exit 255", 255, 0}, ExitCase{"kill -TERM $$", 0, SIGTERM},
                                           ExitCase{"kill -KILL $$", 0, SIGKILL},
                                           ExitCase{"kill -USR1 $$", 0, SIGUSR1}));

// ---------------------------------------------------------------- exec-failure stages

struct FailCase {
    const char* name;
    std::function<ExecSpec()> make;
    ExecStage stage;
    int err;
};

class SpawnerFailure : public SpawnerTest, public ::testing::WithParamInterface<FailCase> {};

TEST_P(SpawnerFailure, ReportsTheStageAndLeavesNoZombie) {
    const auto& c = GetParam();
    SpawnFailure failure;
    auto r = spawn(c.make(), &failure);
    ASSERT_FALSE(r) << c.name << " spawned pid " << r->pid;
    EXPECT_EQ(failure.stage, c.stage) << c.name << ": got stage " << to_string(failure.stage);
    EXPECT_EQ(failure.err, c.err) << c.name << ": got " << strerror(failure.err);
    EXPECT_EQ(r.error().code, c.err) << r.error().message();
    expect_no_zombie();
    // Without ret_failure the error still carries the errno.
    auto r2 = spawn(c.make(), nullptr);
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().code, c.err);
    expect_no_zombie();
}

INSTANTIATE_TEST_SUITE_P(
    Values, SpawnerFailure,
    ::testing::Values(
        FailCase{"missing_binary", [] { return exec_spec("/nonexistent/x", {"x"}); }, ExecStage::kExec, ENOENT},
        FailCase{"not_executable", [] { return exec_spec("/etc/passwd", {"passwd"}); }, ExecStage::kExec, EACCES},
        FailCase{"bare_name_not_searched", [] { return exec_spec("true", {"true"}); }, ExecStage::kExec, ENOENT},
        FailCase{"empty_argv", [] { return exec_spec("/bin/true", {}); }, ExecStage::kExec, EINVAL},
        FailCase{"missing_cwd",
                 [] {
                     auto s = exec_spec("/bin/true", {"true"});
                     s.cwd = "/nonexistent/dir";
                     return s;
                 },
                 ExecStage::kCwd, ENOENT},
        FailCase{"cwd_is_a_file",
                 [] {
                     auto s = exec_spec("/bin/true", {"true"});
                     s.cwd = "/etc/passwd";
                     return s;
                 },
                 ExecStage::kCwd, ENOTDIR},
        FailCase{"unwritable_cgroup_fd",
                 [] {
                     static int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
                     auto s = exec_spec("/bin/true", {"true"});
                     s.cgroup_procs_fds = {ro};
                     return s;
                 },
                 ExecStage::kCgroup, EBADF}),
    [](const ::testing::TestParamInfo<FailCase>& param_info) { return std::string(param_info.param.name); });

// Runs `fn` in a forked child that has dropped to uid/gid 65534 (nobody) with no
// supplementary groups and no capabilities; returns the SpawnFailure it saw.
struct Unprivileged {
    SpawnFailure failure;
    bool spawned = false;
    bool zombie = false;
    bool ok = false;
};

Unprivileged run_unprivileged(const std::function<ExecSpec()>& make) {
    Unprivileged out;
    auto p = Pipe::make();
    if (!p)
        return out;
    pid_t pid = fork();
    if (pid < 0)
        return out;
    if (pid == 0) {
        p->read.reset();
        Unprivileged res;
        gid_t g = 65534;
        if (setgroups(1, &g) == 0 && setresgid(g, g, g) == 0 && setresuid(65534, 65534, 65534) == 0) {
            res.ok = true;
            auto r = spawn(make(), &res.failure);
            res.spawned = r.has_value();
            int status;
            pid_t z = waitpid(-1, &status, WNOHANG);
            res.zombie = z > 0;
        }
        (void)!write(p->write.get(), &res, sizeof res);
        _exit(0);
    }
    p->write.reset();
    Unprivileged res;
    ssize_t n = read(p->read.get(), &res, sizeof res);  // the child exits right after writing
    int status;
    (void)waitpid(pid, &status, 0);
    if (n == static_cast<ssize_t>(sizeof res))
        out = res;
    return out;
}

TEST_F(SpawnerTest, UidChangeWithoutPrivilegeFailsAtTheUidStage) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to drop to uid 65534 for the unprivileged spawn";
    auto res = run_unprivileged([] {
        auto s = exec_spec("/bin/true", {"true"});
        s.uid = 0;
        return s;
    });
    ASSERT_TRUE(res.ok) << "could not drop privileges";
    EXPECT_FALSE(res.spawned);
    EXPECT_EQ(res.failure.stage, ExecStage::kUid) << to_string(res.failure.stage);
    EXPECT_EQ(res.failure.err, EPERM);
    EXPECT_FALSE(res.zombie);
    expect_no_zombie();
}

TEST_F(SpawnerTest, GidChangeWithoutPrivilegeFailsAtTheGidStage) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to drop to uid 65534 for the unprivileged spawn";
    auto res = run_unprivileged([] {
        auto s = exec_spec("/bin/true", {"true"});
        s.gid = 0;
        return s;
    });
    ASSERT_TRUE(res.ok) << "could not drop privileges";
    EXPECT_FALSE(res.spawned);
    EXPECT_EQ(res.failure.stage, ExecStage::kGid) << to_string(res.failure.stage);
    EXPECT_EQ(res.failure.err, EPERM);
    EXPECT_FALSE(res.zombie);
}

TEST_F(SpawnerTest, UidAndGidAreAppliedWhenRoot) {
    if (geteuid() != 0)
        GTEST_SKIP() << "changing uid/gid needs root";
    auto s = exec_spec("/bin/sh", {"sh", "-c", "echo $(id -u) $(id -g) $(id -G)"});
    s.uid = 65534;
    s.gid = 65534;
    ExitStatus st;
    EXPECT_EQ(output_of(s, &st), "65534 65534 65534\n");  // no supplementary groups kept
    EXPECT_EQ(st.exit_status, 0);
}

// ---------------------------------------------------------------- child hygiene

// The "SigBlk:"/"SigIgn:" masks of a status text, as numbers.
uint64_t mask_of(const std::string& text, const std::string& key) {
    size_t at = text.find(key + ":");
    if (at == std::string::npos)
        return ~0ull;
    return std::stoull(text.substr(at + key.size() + 1), nullptr, 16);
}

TEST_F(SpawnerTest, ChildStartsWithAnEmptySignalMaskAndNoIgnoredSignals) {
    // The daemon blocks the signals it reads through signalfd and may ignore SIGPIPE;
    // both would survive execve without the reset.
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGCHLD);
    ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
    struct sigaction ign {
    }, old_pipe{}, old_hup{};
    ign.sa_handler = SIG_IGN;
    ASSERT_EQ(sigaction(SIGPIPE, &ign, &old_pipe), 0);
    ASSERT_EQ(sigaction(SIGHUP, &ign, &old_hup), 0);

    std::string out = output_of(exec_spec("/bin/sh", {"sh", "-c", "grep -E 'SigBlk|SigIgn' /proc/self/status"}));

    (void)sigaction(SIGHUP, &old_hup, nullptr);
    (void)sigaction(SIGPIPE, &old_pipe, nullptr);
    (void)sigprocmask(SIG_SETMASK, &old_mask, nullptr);

    EXPECT_EQ(mask_of(out, "SigBlk"), 0u) << out;
    EXPECT_EQ(mask_of(out, "SigIgn"), 0u) << out;
}

std::set<int> numbers_in(const std::string& text) {
    std::set<int> out;
    for (const auto& w : split_any(text, " \n"))
        if (auto n = parse_int(w))
            out.insert(static_cast<int>(*n));
    return out;
}

TEST_F(SpawnerTest, OnlyTheStdioFdsAreInherited) {
    // A descriptor the daemon forgot to mark CLOEXEC must not leak either.
    UniqueFd leaky(open("/dev/null", O_RDONLY));  // no O_CLOEXEC on purpose
    ASSERT_TRUE(leaky);
    UniqueFd leaky_high(fcntl(leaky.get(), F_DUPFD, 200));
    ASSERT_TRUE(leaky_high);
    std::string out = output_of(exec_spec("/bin/ls", {"ls", "/proc/self/fd"}));
    // 0, 1, 2, plus the directory ls itself opened to list /proc/self/fd (the lowest
    // free number, 3, only if nothing else was inherited).
    EXPECT_EQ(numbers_in(out), (std::set<int>{0, 1, 2, 3})) << out;
}

TEST_F(SpawnerTest, StdinDefaultsToDevNullAndExtraFdsFollowStdio) {
    auto extra = Pipe::make();
    ASSERT_TRUE(extra);
    struct stat sb;
    ASSERT_EQ(fstat(extra->read.get(), &sb), 0);
    auto s = exec_spec("/bin/sh",
                       {"sh", "-c", "readlink /proc/self/fd/0 /proc/self/fd/2 /proc/self/fd/3; ls /proc/self/fd"});
    s.extra_fds = {extra->read.get()};
    std::string out = output_of(s);
    auto lines = split_any(out, "\n");
    ASSERT_GE(lines.size(), 4u) << out;
    EXPECT_EQ(lines[0], "/dev/null");
    EXPECT_EQ(lines[1], "/dev/null");
    EXPECT_EQ(lines[2], "pipe:[" + std::to_string(sb.st_ino) + "]");
    std::set<int> fds;
    for (size_t i = 3; i < lines.size(); ++i)
        if (auto n = parse_int(lines[i]))
            fds.insert(static_cast<int>(*n));
    EXPECT_EQ(fds, (std::set<int>{0, 1, 2, 3, 4})) << out;  // 4: ls's own directory
}

TEST_F(SpawnerTest, StdioSourcesAtLowNumbersAreNotClobbered) {
    // Give the child our stdout pipe as its stderr and vice versa to make sure dup2 into
    // 0..2 never overwrites a source that sits at a low number.
    auto p = Pipe::make();
    ASSERT_TRUE(p);
    auto s = exec_spec("/bin/sh", {"sh", "-c", "echo out; echo err >&2"});
    s.stdout_fd = p->write.get();
    s.stderr_fd = p->write.get();
    Child c = spawn_ok(s);
    p->write.reset();
    EXPECT_EQ(read_fd(p->read.get()), "out\nerr\n");
    EXPECT_EQ(wait_exit(c).exit_status, 0);
}

TEST_F(SpawnerTest, EnvironmentAndCwdAreApplied) {
    testutil::TempDir dir;
    ASSERT_TRUE(dir.ok());
    auto s = exec_spec("/usr/bin/env", {"env"});
    s.envp = {"A=1", "B=two words"};
    EXPECT_EQ(output_of(s), "A=1\nB=two words\n");
    auto pwd = exec_spec("/bin/pwd", {"pwd"});
    pwd.cwd = dir.path();
    EXPECT_EQ(output_of(pwd), dir.path() + "\n");
}

// gafferd raises its own soft RLIMIT_NOFILE; its children get the original one back.
TEST_F(SpawnerTest, NofileSoftLimitIsAppliedAndTheHardOneKept) {
    struct rlimit ours {};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &ours), 0);
    ASSERT_GT(ours.rlim_max, 100u);
    auto s = exec_spec("/bin/sh", {"sh", "-c", "ulimit -Sn; ulimit -Hn"});
    s.nofile_soft = 100;
    std::string hard = ours.rlim_max == RLIM_INFINITY ? "unlimited" : std::to_string(ours.rlim_max);
    EXPECT_EQ(output_of(s), "100\n" + hard + "\n");
    // Unset: inherited.
    s.nofile_soft.reset();
    std::string soft = ours.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(ours.rlim_cur);
    EXPECT_EQ(output_of(s), soft + "\n" + hard + "\n");
}

TEST_F(SpawnerTest, ChildGetsItsOwnProcessGroup) {
    Child c = spawn_ok(exec_spec("/bin/sleep", {"sleep", "1000"}));
    EXPECT_EQ(getpgid(c.pid), c.pid);
    EXPECT_EQ(getsid(c.pid), getsid(0));  // same session: only the group is new
    ASSERT_TRUE(send_signal(c, SIGKILL, true));
    EXPECT_EQ(wait_exit(c).term_signal, SIGKILL);
}

TEST_F(SpawnerTest, NewSessionMakesTheChildASessionLeader) {
    auto s = exec_spec("/bin/sleep", {"sleep", "1000"});
    s.new_session = true;
    Child c = spawn_ok(s);
    EXPECT_EQ(getsid(c.pid), c.pid);
    EXPECT_EQ(getpgid(c.pid), c.pid);
    ASSERT_TRUE(send_signal(c, SIGTERM, true));
    EXPECT_EQ(wait_exit(c).term_signal, SIGTERM);
}

// A shell whose background `sleep` (same process group) prints its pid.
struct ShellWithGrandchild {
    Child child;
    pid_t grandchild = 0;
    UniqueFd grandchild_pidfd;
};

class SpawnerGroupTest : public SpawnerTest {
protected:
    ShellWithGrandchild start() {
        ShellWithGrandchild r;
        auto p = Pipe::make();
        EXPECT_TRUE(p);
        auto s = exec_spec("/bin/sh", {"sh", "-c", "sleep 1000 & echo $!; wait"});
        s.stdout_fd = p->write.get();
        r.child = spawn_ok(s);
        p->write.reset();
        std::string line =
            read_fd(p->read.get(), [](const std::string& t) { return t.find('\n') != std::string::npos; });
        auto pid = parse_int(line);
        EXPECT_TRUE(pid) << "no grandchild pid in '" << line << "'";
        if (!pid)
            return r;
        r.grandchild = static_cast<pid_t>(*pid);
        guard_.add(r.grandchild);
        r.grandchild_pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, r.grandchild, 0)));
        EXPECT_TRUE(r.grandchild_pidfd) << strerror(errno);
        EXPECT_EQ(getpgid(r.grandchild), r.child.pid);
        return r;
    }

    // Waits on the loop until the (non-child) process behind `pidfd` has exited.
    bool wait_gone(int pidfd, loop::Clock::duration timeout) {
        bool gone = false;
        auto w = loop_->watch(pidfd, POLLIN, [&](uint32_t) { gone = true; });
        EXPECT_TRUE(w);
        if (!w)
            return false;
        loop_->run_until([&] { return gone; }, timeout);
        loop_->unwatch(*w);
        return gone;
    }
};

TEST_F(SpawnerGroupTest, GroupSignalReachesAGrandchild) {
    auto sh = start();
    ASSERT_GT(sh.grandchild, 0);
    ASSERT_TRUE(send_signal(sh.child, SIGTERM, true));
    EXPECT_EQ(wait_exit(sh.child).term_signal, SIGTERM);
    EXPECT_TRUE(wait_gone(sh.grandchild_pidfd.get(), kWait)) << "grandchild " << sh.grandchild << " survived";
}

TEST_F(SpawnerGroupTest, PlainSignalReachesOnlyTheChild) {
    auto sh = start();
    ASSERT_GT(sh.grandchild, 0);
    ASSERT_TRUE(send_signal(sh.child, SIGTERM, false));
    EXPECT_EQ(wait_exit(sh.child).term_signal, SIGTERM);
    struct pollfd pfd {
        sh.grandchild_pidfd.get(), POLLIN, 0
    };
    EXPECT_EQ(poll(&pfd, 1, 0), 0) << "the grandchild should still run";
    // The group outlives its leader; a group signal through the reaped leader's pidfd
    // still reaches it where the kernel supports PIDFD_SIGNAL_PROCESS_GROUP.
}

// ---------------------------------------------------------------- cgroups

enum class Join { kWrite, kBornInIt, kClone3Refused };

class SpawnerCgroupTest : public SpawnerTest, public ::testing::WithParamInterface<Join> {};

INSTANTIATE_TEST_SUITE_P(Ways, SpawnerCgroupTest,
                         ::testing::Values(Join::kWrite, Join::kBornInIt, Join::kClone3Refused));

TEST_P(SpawnerCgroupTest, ChildJoinsACgroupOfTheTree) {
    const Join how = GetParam();
#if !defined(__x86_64__)
    if (how == Join::kBornInIt)
        GTEST_SKIP() << "clone3 is used on x86_64 only";
#endif
    if (geteuid() != 0)
        GTEST_SKIP() << "creating cgroups needs root (or a delegated subtree)";
    if (cgroup::detect_mode() == cgroup::Mode::kNone)
        GTEST_SKIP() << "no cgroup2 hierarchy mounted";
    auto tree = cgroup::Tree::create("gaffer-spawner-test");
    if (tree->mode() == cgroup::Mode::kNone)
        GTEST_SKIP() << "cgroup2 present but the test tree could not be created";
    auto g = tree->create_group("default.cgtest", 1);
    ASSERT_TRUE(g) << g.error().message();
    EXPECT_FALSE(tree->populated(*g));

    auto s = exec_spec("/bin/sleep", {"sleep", "1000"});
    UniqueFd not_a_cgroup(open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    switch (how) {
        case Join::kWrite:
            s.cgroup_procs_fds = {g->procs.get()};
            break;
        case Join::kBornInIt:
            ASSERT_TRUE(g->dir);
            s.cgroup_v2_dir_fd = g->dir.get();
            s.cgroup_v2_procs_fd = -1;  // only CLONE_INTO_CGROUP can put it there
            break;
        case Join::kClone3Refused:
            // clone3 refuses a directory outside cgroupfs (EBADF); the child then joins
            // by writing to cgroup.procs.
            s.cgroup_v2_dir_fd = not_a_cgroup.get();
            s.cgroup_v2_procs_fd = g->procs.get();
            break;
    }
    Child c = spawn_ok(s);
    ASSERT_GT(c.pid, 0);

    const std::string mount = tree->mode() == cgroup::Mode::kV2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
    ASSERT_EQ(g->path.compare(0, mount.size(), mount), 0) << g->path;
    auto text = read_file("/proc/" + std::to_string(c.pid) + "/cgroup");
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("0::" + g->path.substr(mount.size()) + "\n"), std::string::npos) << *text;
    EXPECT_TRUE(tree->populated(*g));

    // cgroup.kill empties it; "populated 0" arrives as POLLPRI on cgroup.events.
    bool notified = false;
    auto w = loop_->watch(g->events.get(), POLLPRI, [&](uint32_t) { notified = !tree->populated(*g); });
    ASSERT_TRUE(w);
    ASSERT_TRUE(tree->kill(*g));
    EXPECT_EQ(wait_exit(c).term_signal, SIGKILL);
    EXPECT_TRUE(loop_->run_until([&] { return notified; }, kWait));
    loop_->unwatch(*w);
    EXPECT_FALSE(tree->populated(*g));
    std::string path = g->path;
    ASSERT_TRUE(tree->remove(*g, "default.cgtest"));
    struct stat sb;
    EXPECT_NE(stat(path.c_str(), &sb), 0);
    EXPECT_NE(stat((tree->base() + "/jobs/default.cgtest").c_str(), &sb), 0);
}

// ---------------------------------------------------------------- find_executable

TEST(FindExecutable, SearchesThePathLikeExecvp) {
    testutil::TempDir dir;
    ASSERT_TRUE(dir.ok());
    ASSERT_EQ(mkdir((dir / "sh").c_str(), 0755), 0);  // a directory named sh: skipped
    EXPECT_EQ(find_executable("sh", dir.path() + ":/bin", ""), "/bin/sh");
    EXPECT_EQ(find_executable("sh", "/nonexistent:/bin:/usr/bin", ""), "/bin/sh");
    EXPECT_EQ(find_executable("no-such-program-here", "/bin:/usr/bin", ""), "no-such-program-here");
    EXPECT_EQ(find_executable("./x", "/bin", ""), "./x");
    EXPECT_EQ(find_executable("/abs/x", "/bin", ""), "/abs/x");
    // A non-executable regular file is skipped too.
    { UniqueFd f(open((dir / "tool").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)); }
    EXPECT_EQ(find_executable("tool", dir.path(), ""), "tool");
    ASSERT_EQ(chmod((dir / "tool").c_str(), 0755), 0);
    EXPECT_EQ(find_executable("tool", dir.path(), ""), dir / "tool");
    // Relative PATH entries (and the empty one, ".") resolve against the job's cwd.
    EXPECT_EQ(find_executable("tool", "", dir.path()), "./tool");
    EXPECT_EQ(find_executable("tool", "/bin:.", dir.path()), "./tool");
}

TEST(ExecStageNames, MatchTheSpawnErrorEvent) {
    EXPECT_STREQ(to_string(ExecStage::kExec), "exec");
    EXPECT_STREQ(to_string(ExecStage::kCwd), "cwd");
    EXPECT_STREQ(to_string(ExecStage::kUid), "uid");
    EXPECT_STREQ(to_string(ExecStage::kGid), "gid");
    EXPECT_STREQ(to_string(ExecStage::kCgroup), "cgroup");
    EXPECT_STREQ(to_string(ExecStage::kStdio), "stdio");
}

}  // namespace
}  // namespace gaffer::proc
