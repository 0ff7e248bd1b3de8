// SPDX-License-Identifier: MIT
// lib/manager/exec_plan: what a job's child becomes, checked without spawning anything.
#include "lib/manager/exec_plan.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

#include <string>
#include <vector>

namespace gaffer::manager {
namespace {

using Strings = std::vector<std::string>;

model::JobSpec job(std::string cmd) {
    model::JobSpec s;
    s.name.job = "web";
    s.cmd = std::move(cmd);
    return s;
}

// plan_exec with the usual inputs: no uid change, no log files.
struct Planner {
    Strings args;
    model::Env env;
    std::vector<gid_t> groups;
    bool keep_groups = false;
    bool logged_stdout = false, logged_stderr = false;
    ExecDefaults defaults{"/srv", 022, 1024};

    Result<ExecPlan> plan(const model::JobSpec& s) const {
        return plan_exec({s, args, env, groups, keep_groups, logged_stdout, logged_stderr}, defaults);
    }
};

// --- the environment (reference §7.4) ---

TEST(ExecPlanEnv, PrecedenceDaemonUserJobSessionCommit) {
    auto s = job("true");
    s.os_env = true;
    s.env = {{"A", "job"}, {"B", "job"}, {"C", "job"}, {"HOME", "/job-home"}};
    model::Env daemon{{"A", "daemon"}, {"B", "daemon"}, {"C", "daemon"}, {"D", "daemon"}, {"HOME", "/root"}};
    model::Env user{{"HOME", "/home/u"}, {"USER", "u"}, {"LOGNAME", "u"}};
    model::Env session{{"B", "session"}, {"C", "session"}};
    model::Env commit{{"C", "commit"}};
    model::Env env = plan_env(s, daemon, user, session, &commit, "");
    EXPECT_EQ(env, (model::Env{{"A", "job"},
                               {"B", "session"},
                               {"C", "commit"},
                               {"D", "daemon"},
                               {"HOME", "/job-home"},  // the job's own beats the user's
                               {"LOGNAME", "u"},
                               {"USER", "u"}}));
    // The user's variables beat the daemon's.
    s.env.erase("HOME");
    EXPECT_EQ(plan_env(s, daemon, user, session, nullptr, "").at("HOME"), "/home/u");
    // Inputs are left as they were (the stored config is not mutated).
    EXPECT_EQ(s.env.size(), 3u);
    EXPECT_EQ(session.size(), 2u);
}

TEST(ExecPlanEnv, WithoutOsEnvOnlyConfiguredVariables) {
    auto s = job("true");
    s.env = {{"A", "1"}};
    model::Env env = plan_env(s, {{"PATH", "/daemon/bin"}, {"SECRET", "x"}}, {}, {}, nullptr, "");
    EXPECT_EQ(env, (model::Env{{"A", "1"}}));
}

TEST(ExecPlanEnv, DaemonsOwnVariablesAreKeptFromJobs) {
    const char* envp[] = {"PATH=/usr/bin",
                          "NOTIFY_SOCKET=/run/systemd/notify",
                          "WATCHDOG_USEC=30000000",
                          "WATCHDOG_PID=1",
                          "LISTEN_FDS=2",
                          "LISTEN_PID=1",
                          "LISTEN_FDNAMES=a:b",
                          "NOEQUALS",
                          "EMPTY=",
                          "X=a=b",
                          nullptr};
    model::Env d = job_visible_environment(envp);
    EXPECT_EQ(d, (model::Env{{"EMPTY", ""}, {"PATH", "/usr/bin"}, {"X", "a=b"}}));
    EXPECT_TRUE(job_visible_environment(nullptr).empty());
    // An os_env job that is no notify job has no NOTIFY_SOCKET at all.
    auto s = job("true");
    s.os_env = true;
    EXPECT_EQ(plan_env(s, d, {}, {}, nullptr, "/ignored").count("NOTIFY_SOCKET"), 0u);
}

TEST(ExecPlanEnv, NotifyJobGetsTheDaemonsSocketAndWatchdog) {
    auto s = job("true");
    s.notify = true;
    s.env = {{"NOTIFY_SOCKET", "/tmp/job-says"}, {"WATCHDOG_USEC", "1"}};
    model::Env commit{{"NOTIFY_SOCKET", "/tmp/commit-says"}};
    model::Env env = plan_env(s, {}, {}, {}, &commit, "@gafferd-notify-1");
    EXPECT_EQ(env.at("NOTIFY_SOCKET"), "@gafferd-notify-1");  // nothing overrides it
    EXPECT_EQ(env.at("WATCHDOG_USEC"), "1");                  // no watchdog_sec: the job's own
    s.watchdog_sec = 2.5;
    env = plan_env(s, {}, {}, {}, nullptr, "@gafferd-notify-1");
    EXPECT_EQ(env.at("WATCHDOG_USEC"), "2500000");
    // What the manager arms per process.
    auto plan = Planner{}.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_TRUE(plan->notify);
    EXPECT_DOUBLE_EQ(plan->watchdog_sec, 2.5);
}

// --- argv, path, cwd ---

TEST(ExecPlanArgv, ShellRunsTheWholeCmdArgsBecomePositional) {
    auto s = job("echo \"$1\" $HOME; exit 3");
    s.shell = true;
    Planner p;
    p.args = {"x$y", "z"};
    p.env = {{"PATH", "/opt/bin"}, {"y", "Y"}};
    auto plan = p.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->exec.path, "/bin/sh");
    EXPECT_FALSE(plan->search_path);
    EXPECT_EQ(plan->cmd, "sh");
    // The script is not split and not substituted (the shell does that); args are.
    EXPECT_EQ(plan->exec.argv, (Strings{"sh", "-c", "echo \"$1\" $HOME; exit 3", "xY", "z"}));
    ASSERT_TRUE(plan->args);
    EXPECT_EQ(*plan->args, (Strings{"-c", "echo \"$1\" $HOME; exit 3", "xY", "z"}));
}

TEST(ExecPlanArgv, CommandWordsAreSplitAndSubstituted) {
    auto s = job("$TOOL --name 'a b' $NAME");
    Planner p;
    p.args = {"tail$NAME"};
    p.env = {{"TOOL", "mytool"}, {"NAME", "n"}};
    auto plan = p.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->exec.argv, (Strings{"mytool", "--name", "a b", "n", "tailn"}));
    EXPECT_TRUE(plan->search_path);
    EXPECT_EQ(plan->exec.path, "mytool");
    EXPECT_EQ(plan->path_var, "/bin:/usr/bin");  // no PATH: the default search path
    p.env["PATH"] = "/opt/bin";
    EXPECT_EQ(p.plan(s)->path_var, "/opt/bin");
}

TEST(ExecPlanArgv, PlainArgumentsAreTheJobsOwnList) {
    Planner p;
    p.args = {"-v", "--port=80"};
    auto plan = p.plan(job("server"));
    ASSERT_TRUE(plan);
    EXPECT_FALSE(plan->args);  // shared with the job, not copied
    EXPECT_EQ(plan->exec.argv, (Strings{"server", "-v", "--port=80"}));
}

TEST(ExecPlanArgv, BadCmdIsEinval) {
    EXPECT_EQ(Planner{}.plan(job("   ")).error().code, EINVAL);
    EXPECT_FALSE(Planner{}.plan(job("echo 'unterminated")));
}

TEST(ExecPlanArgv, CwdAndDaemonDefaults) {
    auto s = job("true");
    s.detach = true;
    s.no_new_privs = true;
    s.capabilities = {"cap_net_bind_service", "cap_no_such_thing"};
    auto plan = Planner{}.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->exec.cwd, "/srv");
    EXPECT_EQ(plan->exec.umask, 022);
    EXPECT_EQ(plan->exec.nofile_soft, 1024u);
    EXPECT_TRUE(plan->exec.new_session);
    EXPECT_TRUE(plan->exec.no_new_privs);
    EXPECT_EQ(plan->exec.ambient_caps, (std::vector<int>{CAP_NET_BIND_SERVICE}));
    EXPECT_TRUE(plan->exec.drop_bounding);
    s.cwd = "/var/lib/web";
    EXPECT_EQ(Planner{}.plan(s)->exec.cwd, "/var/lib/web");
}

TEST(ExecPlanArgv, EnvironmentIsPassedSorted) {
    Planner p;
    p.env = {{"B", "2"}, {"A", "1=1"}};
    EXPECT_EQ(p.plan(job("true"))->exec.envp, (Strings{"A=1=1", "B=2"}));
}

// --- uid without gid: root vs not root ---

const UserEntry kAlice{"alice", "/home/alice", 1000, {1000, 27, 100}};

TEST(ExecPlanIdentity, RootBareUidTakesTheUsersGroups) {
    Identity id = plan_identity(1000, std::nullopt, 0, 0, kAlice);
    EXPECT_FALSE(id.keep_groups);
    EXPECT_EQ(id.gid, 1000u);
    EXPECT_EQ(id.groups, (std::vector<gid_t>{1000, 27, 100}));
    EXPECT_EQ(id.user_env, (model::Env{{"HOME", "/home/alice"}, {"LOGNAME", "alice"}, {"USER", "alice"}}));
}

TEST(ExecPlanIdentity, RootAskingForItselfStillSetsGroups) {
    // Root can change groups: uid 0 without a gid gets root's own list, no daemon leftovers.
    const UserEntry root{"root", "/root", 0, {0, 1}};
    Identity id = plan_identity(0, std::nullopt, 0, 0, root);
    EXPECT_FALSE(id.keep_groups);
    EXPECT_EQ(id.gid, 0u);
    EXPECT_EQ(id.groups, (std::vector<gid_t>{0, 1}));
    EXPECT_FALSE(plan_identity(std::nullopt, std::nullopt, 0, 0, std::nullopt).keep_groups);
    EXPECT_TRUE(needs_group_list(0, std::nullopt, 0, 0));
}

TEST(ExecPlanIdentity, RootUidAndGidSetsOnlyThatGroup) {
    Identity id = plan_identity(1000, 50, 0, 0, kAlice);
    EXPECT_FALSE(id.keep_groups);
    EXPECT_EQ(id.gid, 50u);
    EXPECT_TRUE(id.groups.empty());
    EXPECT_EQ(id.user_env.at("USER"), "alice");
}

TEST(ExecPlanIdentity, RootBareUidWithoutEntryUsesItsNumber) {
    Identity id = plan_identity(4242, std::nullopt, 0, 0, std::nullopt);
    EXPECT_FALSE(id.keep_groups);
    EXPECT_EQ(id.gid, 4242u);
    EXPECT_TRUE(id.groups.empty());
    EXPECT_TRUE(id.user_env.empty());
}

TEST(ExecPlanIdentity, NonRootOwnUidKeepsTheDaemonsGroups) {
    Identity id = plan_identity(1000, std::nullopt, 1000, 1000, kAlice);
    EXPECT_TRUE(id.keep_groups);
    EXPECT_FALSE(id.gid);
    EXPECT_TRUE(id.groups.empty());
    EXPECT_EQ(id.user_env.at("HOME"), "/home/alice");  // still the user's identity
    EXPECT_TRUE(plan_identity(1000, 1000, 1000, 1000, kAlice).keep_groups);
    EXPECT_TRUE(plan_identity(std::nullopt, 1000, 1000, 1000, std::nullopt).keep_groups);
    EXPECT_TRUE(plan_identity(std::nullopt, std::nullopt, 1000, 1000, std::nullopt).keep_groups);
    EXPECT_FALSE(plan_identity(1000, std::nullopt, 1000, 1000, std::nullopt).gid);
}

TEST(ExecPlanIdentity, NonRootOtherUidOrGidIsAChange) {
    // Asked for someone else: a real change (the spawn then fails with EPERM, as it must).
    Identity id = plan_identity(1001, std::nullopt, 1000, 1000, kAlice);
    EXPECT_FALSE(id.keep_groups);
    EXPECT_EQ(id.gid, 1000u);
    EXPECT_FALSE(plan_identity(1000, 27, 1000, 1000, kAlice).keep_groups);
    EXPECT_FALSE(plan_identity(std::nullopt, 27, 1000, 1000, std::nullopt).keep_groups);
    EXPECT_TRUE(plan_identity(std::nullopt, std::nullopt, 0, 0, std::nullopt).gid == std::nullopt);
}

TEST(ExecPlanIdentity, GroupListAskedOnlyWhenUsed) {
    EXPECT_TRUE(needs_group_list(1000, std::nullopt, 0, 0));
    EXPECT_FALSE(needs_group_list(1000, 50, 0, 0));
    EXPECT_FALSE(needs_group_list(std::nullopt, std::nullopt, 0, 0));
    EXPECT_FALSE(needs_group_list(1000, std::nullopt, 1000, 1000));
    EXPECT_TRUE(needs_group_list(1001, std::nullopt, 1000, 1000));
}

TEST(ExecPlanIdentity, KeepGroupsLeavesGidAndGroupsUnset) {
    auto s = job("true");
    s.uid = 1000;
    s.gid = 1000;
    Planner p;
    p.groups = {1000, 27};
    auto plan = p.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->exec.uid, 1000u);
    EXPECT_EQ(plan->exec.gid, 1000u);
    EXPECT_EQ(plan->exec.groups, (std::vector<gid_t>{1000, 27}));
    p.keep_groups = true;
    plan = p.plan(s);
    EXPECT_EQ(plan->exec.uid, 1000u);
    EXPECT_FALSE(plan->exec.gid);
    EXPECT_TRUE(plan->exec.groups.empty());
}

// --- stdio, custom streams, cgroup ---

TEST(ExecPlanStdio, NothingRedirectedNoPipes) {
    auto plan = Planner{}.plan(job("true"));
    ASSERT_TRUE(plan);
    EXPECT_FALSE(plan->stdin_pipe);
    EXPECT_TRUE(plan->outputs.empty());
    EXPECT_TRUE(plan->streams.empty());
}

TEST(ExecPlanStdio, LabelsAndSharedPipe) {
    auto s = job("true");
    s.redirect_input = true;
    s.redirect_output = {"out", "out"};
    auto plan = Planner{}.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_TRUE(plan->stdin_pipe);
    ASSERT_EQ(plan->outputs.size(), 2u);
    EXPECT_EQ(plan->outputs[0].fd, 1);
    EXPECT_EQ(plan->outputs[0].label, "out");
    EXPECT_EQ(plan->outputs[0].log_key, "stdout");
    EXPECT_FALSE(plan->outputs[0].shares_stdout);
    EXPECT_EQ(plan->outputs[1].fd, 2);
    EXPECT_TRUE(plan->outputs[1].shares_stdout);

    s.redirect_output = {"out", "err"};
    plan = Planner{}.plan(s);
    ASSERT_EQ(plan->outputs.size(), 2u);
    EXPECT_EQ(plan->outputs[1].label, "err");
    EXPECT_EQ(plan->outputs[1].log_key, "stderr");
    EXPECT_FALSE(plan->outputs[1].shares_stdout);
}

TEST(ExecPlanStdio, LogFileOnlyGetsAPipeLabelledByItsStream) {
    auto s = job("true");
    Planner p;
    p.logged_stderr = true;
    auto plan = p.plan(s);
    ASSERT_EQ(plan->outputs.size(), 1u);
    EXPECT_EQ(plan->outputs[0].fd, 2);
    EXPECT_EQ(plan->outputs[0].label, "stderr");
    // An explicitly empty label is no pipe, even with a log file.
    s.redirect_output = {""};
    p.logged_stdout = true;
    p.logged_stderr = false;
    EXPECT_TRUE(p.plan(s)->outputs.empty());
}

TEST(ExecPlanStdio, CustomStreamsInOrder) {
    auto s = job("true");
    s.custom_streams = {"ctl", "data"};
    auto plan = Planner{}.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->streams, (Strings{"ctl", "data"}));  // fd 3, fd 4
    EXPECT_TRUE(plan->outputs.empty());
}

TEST(ExecPlanStdio, PtyIsOneStreamUnderTheFirstLabel) {
    auto s = job("true");
    s.pty = true;
    s.redirect_input = true;
    s.redirect_output = {"out", "err"};
    auto plan = Planner{}.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_TRUE(plan->pty);
    EXPECT_TRUE(plan->stdin_pipe);  // stdin keeps its pipe
    ASSERT_EQ(plan->outputs.size(), 2u);
    EXPECT_EQ(plan->outputs[0].fd, 1);
    EXPECT_EQ(plan->outputs[0].label, "out");
    EXPECT_EQ(plan->outputs[0].log_key, "stdout");
    EXPECT_FALSE(plan->outputs[0].shares_stdout);
    EXPECT_EQ(plan->outputs[1].fd, 2);
    EXPECT_TRUE(plan->outputs[1].shares_stdout);  // "err" is not used: one terminal
    EXPECT_EQ(plan->pty_cols, 80);
    EXPECT_EQ(plan->pty_rows, 24);

    // A stdout log file only: labelled "stdout".
    s.redirect_output.clear();
    Planner p;
    p.logged_stdout = true;
    plan = p.plan(s);
    ASSERT_EQ(plan->outputs.size(), 2u);
    EXPECT_EQ(plan->outputs[0].label, "stdout");
    EXPECT_TRUE(plan->outputs[1].shares_stdout);
}

TEST(ExecPlanStdio, PtyWindowSizeFromColumnsAndLines) {
    auto s = job("true");
    s.pty = true;
    s.redirect_output = {"out"};
    Planner p;
    p.env = {{"COLUMNS", "132"}, {"LINES", "50"}};
    auto plan = p.plan(s);
    EXPECT_EQ(plan->pty_cols, 132);
    EXPECT_EQ(plan->pty_rows, 50);
    for (const char* bad : {"0", "65536", "-3", "80x", "", " 90", "1234567"}) {
        p.env = {{"COLUMNS", bad}, {"LINES", bad}};
        plan = p.plan(s);
        EXPECT_EQ(plan->pty_cols, 80) << bad;
        EXPECT_EQ(plan->pty_rows, 24) << bad;
    }
}

// --- slots and foreman's per-instance environment ---

TEST(ExecPlanSlots, LowestFreeSlotFillsGaps) {
    EXPECT_EQ(lowest_free_slot({}), 1);
    EXPECT_EQ(lowest_free_slot({1, 2, 3}), 4);
    EXPECT_EQ(lowest_free_slot({1, 3}), 2);  // a replacement takes the dead one's slot
    EXPECT_EQ(lowest_free_slot({3}), 1);     // after scaling 3 -> 1, scaling up fills 1, 2
    EXPECT_EQ(lowest_free_slot({3, 1}), 2);
    EXPECT_EQ(lowest_free_slot({2, 2, 1}), 3);  // duplicates and gaps beyond the count
    EXPECT_EQ(lowest_free_slot({0, 7, 1}), 2);
    std::vector<int> many(100000);
    for (size_t i = 0; i < many.size(); ++i) many[i] = static_cast<int>(many.size() - i);
    EXPECT_EQ(lowest_free_slot(many), 100001);
}

TEST(ExecPlanSlots, InstanceEnvSetsPsAndOffsetsANumericPort) {
    model::Env env{{"PORT", "6000"}, {"A", "a"}};
    apply_instance_env(env, "web", 1);
    EXPECT_EQ(env, (model::Env{{"A", "a"}, {"PORT", "6000"}, {"PS", "web.1"}}));  // instance 1 is the job's PORT
    env["PORT"] = "6000";
    apply_instance_env(env, "web", 3);
    EXPECT_EQ(env.at("PORT"), "6002");
    EXPECT_EQ(env.at("PS"), "web.3");
    // Without PORT none appears; a non-numeric one is left as is.
    model::Env none;
    apply_instance_env(none, "worker", 2);
    EXPECT_EQ(none, (model::Env{{"PS", "worker.2"}}));
    for (const char* odd : {"http", "", "-1", "60x", "1234567890"}) {
        model::Env e{{"PORT", odd}};
        apply_instance_env(e, "web", 2);
        EXPECT_EQ(e.at("PORT"), odd);
    }
}

TEST(ExecPlanSlots, SubstitutionSeesThePerInstancePort) {
    auto s = job("server --port $PORT --name ${PS}");
    Planner p;
    p.env = {{"PORT", "5000"}};
    apply_instance_env(p.env, "web", 2);
    auto plan = p.plan(s);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->exec.argv, (Strings{"server", "--port", "5001", "--name", "web.2"}));
}

TEST(ExecPlanCgroup, NameAndLimits) {
    auto s = job("true");
    s.name.session = "prod";
    auto plan = Planner{}.plan(s);
    EXPECT_EQ(plan->cgroup_name, "prod.web");
    EXPECT_FALSE(plan->limits.any());
    s.memory_max = 64u << 20;
    s.cpu_max = 150;
    s.pids_max = 10;
    plan = Planner{}.plan(s);
    EXPECT_EQ(plan->limits.memory_max, 64u << 20);
    EXPECT_EQ(plan->limits.cpu_max_percent, 150.0);
    EXPECT_EQ(plan->limits.pids_max, 10u);
}

}  // namespace
}  // namespace gaffer::manager
