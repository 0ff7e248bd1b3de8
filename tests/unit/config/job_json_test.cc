// SPDX-License-Identifier: MIT
// Unit tests of lib/config/job_json: job config objects (§7.1) → JobSpec, and every
// validation rule (all failures are EINVAL with "<member>: <reason>").
#include "lib/config/job_json.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "lib/json/json.h"

namespace gaffer::config {
namespace {

json::JsonPtr parse_json(const std::string& text) {
    auto j = json::parse(text);
    EXPECT_TRUE(j.has_value()) << text;
    return j ? std::move(*j) : json::JsonPtr(json_null());
}

Result<model::JobSpec> load(const std::string& text, JobJsonMode mode = JobJsonMode::kLoad,
                            std::string* member = nullptr) {
    auto j = parse_json(text);
    return job_from_json(j.get(), "sess", mode, member);
}

TEST(JobJson, MinimalConfigGetsTheDefaults) {
    auto spec = load(R"({"name": "web", "cmd": "python -m http.server"})");
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_EQ(spec->name.session, "sess");
    EXPECT_EQ(spec->name.job, "web");
    EXPECT_EQ(spec->cmd, "python -m http.server");
    EXPECT_TRUE(spec->args.empty());
    EXPECT_TRUE(spec->env.empty());
    EXPECT_FALSE(spec->os_env);
    EXPECT_FALSE(spec->uid.has_value());
    EXPECT_FALSE(spec->gid.has_value());
    EXPECT_EQ(spec->cwd, "");
    EXPECT_FALSE(spec->shell);
    EXPECT_FALSE(spec->detach);
    EXPECT_EQ(spec->numprocesses, 1);
    EXPECT_TRUE(spec->redirect_output.empty());
    EXPECT_FALSE(spec->redirect_input);
    EXPECT_TRUE(spec->custom_streams.empty());
    EXPECT_DOUBLE_EQ(spec->graceful_timeout, 10.0);
    EXPECT_FALSE(spec->flapping.has_value());
    EXPECT_EQ(spec->priority, INT_MAX);
    EXPECT_TRUE(spec->start);
    EXPECT_EQ(spec->log_max_bytes, 50ull << 20);
    EXPECT_EQ(spec->log_backups, 5);
    EXPECT_FALSE(spec->memory_max.has_value());
    EXPECT_FALSE(spec->cpu_max.has_value());
    EXPECT_FALSE(spec->pids_max.has_value());
    EXPECT_FALSE(spec->notify);
    EXPECT_FALSE(spec->ready_timeout.has_value());
    EXPECT_FALSE(spec->critical);
    EXPECT_TRUE(spec->capabilities.empty());
    EXPECT_FALSE(spec->no_new_privs);
    EXPECT_EQ(spec->config_json, R"({"name":"web","cmd":"python -m http.server"})");
}

TEST(JobJson, EveryMemberIsRead) {
    auto spec = load(R"({
        "name": "worker", "cmd": "/usr/bin/worker --fast", "args": ["a b", "c"],
        "env": {"PORT": "8000", "lower_case": "kept"}, "os_env": true,
        "uid": 0, "gid": "root", "cwd": "/srv", "shell": true, "detach": true,
        "numprocesses": 3, "redirect_output": ["out", "err"], "redirect_input": true,
        "custom_streams": ["ctl", "data"], "graceful_timeout": 2.5,
        "flapping": {"attempts": 3, "window": 1.5, "retry_in": 4, "max_retry": 6},
        "priority": -4, "start": false,
        "stdout_file": "/var/log/w.out", "stderr_file": "/var/log/w.err", "log_dir": "/var/log/w",
        "log_max_bytes": 1024, "log_backups": 0, "memory_max": "64M", "cpu_max": 50,
        "pids_max": 100, "notify": true, "ready_timeout": 0.5, "critical": true,
        "capabilities": ["cap_net_bind_service", "CAP_SYS_NICE"], "no_new_privs": true})");
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_EQ(spec->cmd, "/usr/bin/worker --fast");
    EXPECT_EQ(spec->args, (std::vector<std::string>{"a b", "c"}));
    EXPECT_EQ(spec->env, (model::Env{{"PORT", "8000"}, {"lower_case", "kept"}}));
    EXPECT_TRUE(spec->os_env);
    EXPECT_EQ(spec->uid, std::optional<uid_t>(0));
    EXPECT_EQ(spec->gid, std::optional<gid_t>(0));
    EXPECT_EQ(spec->cwd, "/srv");
    EXPECT_TRUE(spec->shell);
    EXPECT_TRUE(spec->detach);
    EXPECT_EQ(spec->numprocesses, 3);
    EXPECT_EQ(spec->redirect_output, (std::vector<std::string>{"out", "err"}));
    EXPECT_TRUE(spec->redirect_input);
    EXPECT_EQ(spec->custom_streams, (std::vector<std::string>{"ctl", "data"}));
    EXPECT_DOUBLE_EQ(spec->graceful_timeout, 2.5);
    ASSERT_TRUE(spec->flapping.has_value());
    EXPECT_EQ(*spec->flapping, (model::Flapping{3, 1.5, 4.0, 6}));
    EXPECT_EQ(spec->priority, -4);
    EXPECT_FALSE(spec->start);
    EXPECT_EQ(spec->stdout_file, "/var/log/w.out");
    EXPECT_EQ(spec->stderr_file, "/var/log/w.err");
    EXPECT_EQ(spec->log_dir, "/var/log/w");
    EXPECT_EQ(spec->log_max_bytes, 1024u);
    EXPECT_EQ(spec->log_backups, 0);
    EXPECT_EQ(spec->memory_max, std::optional<uint64_t>(64ull << 20));
    EXPECT_EQ(spec->cpu_max, std::optional<double>(50.0));
    EXPECT_EQ(spec->pids_max, std::optional<uint64_t>(100));
    EXPECT_TRUE(spec->notify);
    EXPECT_EQ(spec->ready_timeout, std::optional<double>(0.5));
    EXPECT_TRUE(spec->critical);
    EXPECT_EQ(spec->capabilities, (std::vector<std::string>{"CAP_NET_BIND_SERVICE", "CAP_SYS_NICE"}));
    EXPECT_TRUE(spec->no_new_privs);
}

TEST(JobJson, InstanceEnvAndPty) {
    auto spec = load(R"({"name": "web", "cmd": "./web"})");
    ASSERT_TRUE(spec);
    EXPECT_FALSE(spec->instance_env);
    EXPECT_FALSE(spec->pty);
    spec = load(R"({"name": "web", "cmd": "./web", "instance_env": true, "pty": true, "redirect_output": ["out"]})");
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_TRUE(spec->instance_env);
    EXPECT_TRUE(spec->pty);
    EXPECT_EQ(spec->config_json,
              R"({"name":"web","cmd":"./web","instance_env":true,"pty":true,"redirect_output":["out"]})");
    // A log target captures stdout too.
    for (const char* target : {R"("stdout_file": "/tmp/x.log")", R"("log_dir": "/tmp")"}) {
        spec = load(std::string(R"({"name": "web", "cmd": "./web", "pty": true, )") + target + "}");
        EXPECT_TRUE(spec) << target;
    }
    // stderr alone is no stdout target.
    spec = load(R"({"name": "web", "cmd": "./web", "pty": true, "stderr_file": "/tmp/e.log"})");
    ASSERT_FALSE(spec);
    EXPECT_EQ(spec.error().context,
              "pty: needs redirect_output, stdout_file or log_dir (something that captures stdout)");
}

TEST(JobJson, ArgsStringIsShellSplit) {
    auto spec = load(R"({"name": "a", "cmd": "echo", "args": "one 'two three' \"f\\\"our\" five\\ six"})");
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_EQ(spec->args, (std::vector<std::string>{"one", "two three", "f\"our", "five six"}));
}

TEST(JobJson, ConfigJsonKeepsOrderAndUnknownMembersButNotStart) {
    auto spec = load(R"({"zeta": 1, "cmd": "x", "start": false, "name": "a", "custom_channels": ["q"],
                         "extra": {"nested": [1, 2]}, "numprocesses": 2})");
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_EQ(spec->config_json, R"({"zeta":1,"cmd":"x","name":"a","extra":{"nested":[1,2]},"numprocesses":2})");
    EXPECT_FALSE(spec->start);
}

TEST(JobJson, NullMeansNotGiven) {
    // The original's own defaults dictionary sends these as null.
    auto spec = load(R"({"name": "a", "cmd": "x", "args": null, "uid": null, "gid": null, "cwd": null,
                         "flapping": null, "env": null, "numprocesses": null, "shell": null})");
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_TRUE(spec->args.empty());
    EXPECT_FALSE(spec->uid.has_value());
    EXPECT_FALSE(spec->flapping.has_value());
    EXPECT_EQ(spec->numprocesses, 1);
}

TEST(JobJson, RedirectOutputKeepsTwoLabels) {
    auto spec = load(R"({"name": "a", "cmd": "x", "redirect_output": ["out", "err", "more"]})");
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_EQ(spec->redirect_output, (std::vector<std::string>{"out", "err"}));
    // The stored config is echoed as given.
    EXPECT_NE(spec->config_json.find("more"), std::string::npos);
}

TEST(JobJson, FlappingMembersDefaultIndividually) {
    auto spec = load(R"({"name": "a", "cmd": "x", "flapping": {"attempts": 7}})");
    ASSERT_TRUE(spec) << spec.error().message();
    ASSERT_TRUE(spec->flapping.has_value());
    model::Flapping want;
    want.attempts = 7;
    EXPECT_EQ(*spec->flapping, want);
    auto empty = load(R"({"name": "a", "cmd": "x", "flapping": {}})");
    ASSERT_TRUE(empty) << empty.error().message();
    EXPECT_EQ(*empty->flapping, model::Flapping{});
}

TEST(JobJson, IdsByNumberAndByName) {
    auto a = load(R"({"name": "a", "cmd": "x", "uid": "root", "gid": 4321})");
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ(a->uid, std::optional<uid_t>(0));
    EXPECT_EQ(a->gid, std::optional<gid_t>(4321));
    auto b = load(R"({"name": "a", "cmd": "x", "uid": "1234", "gid": "0"})");
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->uid, std::optional<uid_t>(1234));
    EXPECT_EQ(b->gid, std::optional<gid_t>(0));
    // The echoed config keeps what was written, the spec the resolved id.
    EXPECT_NE(a->config_json.find(R"("uid":"root")"), std::string::npos);
}

TEST(JobJson, MemorySizes) {
    struct Case {
        const char* value;
        uint64_t bytes;
    } cases[] = {{"1048576", 1048576},   {"\"512K\"", 512ull << 10}, {"\"3m\"", 3ull << 20},
                 {"\"2G\"", 2ull << 30}, {"\"1T\"", 1ull << 40},     {"\"4096\"", 4096}};
    for (const auto& c : cases) {
        auto spec = load(std::string(R"({"name": "a", "cmd": "x", "memory_max": )") + c.value + "}");
        ASSERT_TRUE(spec) << c.value << ": " << spec.error().message();
        EXPECT_EQ(spec->memory_max, std::optional<uint64_t>(c.bytes)) << c.value;
    }
    EXPECT_FALSE(parse_byte_size("").has_value());
    EXPECT_FALSE(parse_byte_size("K").has_value());
    EXPECT_FALSE(parse_byte_size("0").has_value());
    EXPECT_FALSE(parse_byte_size("1.5G").has_value());
    EXPECT_FALSE(parse_byte_size("99999999999T").has_value());
    EXPECT_FALSE(parse_byte_size("18446744073709551616").has_value());
}

TEST(JobJson, UpdateModeNeedsNoName) {
    auto spec = load(R"({"cmd": "x"})", JobJsonMode::kUpdate);
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_EQ(spec->name.session, "sess");
    EXPECT_EQ(spec->name.job, "");
    auto named = load(R"({"cmd": "x", "name": "b"})", JobJsonMode::kUpdate);
    ASSERT_TRUE(named);
    EXPECT_EQ(named->name.job, "b");
    auto no_cmd = load(R"({"name": "b"})", JobJsonMode::kUpdate);
    ASSERT_FALSE(no_cmd);
    EXPECT_EQ(no_cmd.error().context, "cmd: required");
}

TEST(JobJson, ShellCommandIsNotSplit) {
    // With shell the whole cmd is the script: quotes need not balance for our splitter.
    auto spec = load(R"({"name": "a", "cmd": "echo it's fine", "shell": true})");
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_EQ(spec->cmd, "echo it's fine");
}

TEST(JobJson, BadSessionIsReported) {
    auto j = parse_json(R"({"name": "a", "cmd": "x"})");
    std::string member;
    auto spec = job_from_json(j.get(), "a.b", JobJsonMode::kLoad, &member);
    ASSERT_FALSE(spec);
    EXPECT_EQ(member, "session");
    EXPECT_EQ(spec.error().code, EINVAL);
}

TEST(JobJson, NotAnObject) {
    for (const char* text : {"[]", "\"x\"", "3", "null"}) {
        auto spec = load(text);
        ASSERT_FALSE(spec) << text;
        EXPECT_EQ(spec.error().code, EINVAL);
    }
}

TEST(JobJson, NulBytesAreRefused) {
    // jansson keeps NUL bytes inside strings (JSON_ALLOW_NUL); execve cannot pass them.
    for (const char* text : {R"({"name": "a", "cmd": "x\u0000y"})", R"({"name": "a", "cmd": "x", "args": ["\u0000"]})",
                             R"({"name": "a", "cmd": "x", "env": {"A": "b\u0000"}})"}) {
        auto spec = load(text);
        ASSERT_FALSE(spec) << text;
        EXPECT_NE(spec.error().context.find("NUL"), std::string::npos) << spec.error().context;
    }
}

// The one env rule that job configs, the channel's load/update and every commit share.
TEST(JobJson, EnvFromJson) {
    EXPECT_TRUE(env_from_json(nullptr)->empty());
    auto null = parse_json("null");
    EXPECT_TRUE(env_from_json(null.get())->empty());
    auto good = parse_json(R"({"A": "1", "B_2": ""})");
    auto env = env_from_json(good.get());
    ASSERT_TRUE(env) << env.error().message();
    EXPECT_EQ(*env, (model::Env{{"A", "1"}, {"B_2", ""}}));
    for (const char* text : {R"([])", R"("A=1")", R"({"": "x"})", R"({"A=B": "x"})", R"({"A": "x\u0000y"})",
                             R"({"A": 1})", R"({"A": null})"}) {
        auto j = parse_json(text);
        auto e = env_from_json(j.get());
        ASSERT_FALSE(e) << text;
        EXPECT_EQ(e.error().code, EINVAL) << text;
        EXPECT_EQ(e.error().context.rfind("env: ", 0), 0u) << e.error().context;
    }
}

// Table of invalid configs: the member reported and a piece of the message.
struct BadCase {
    const char* json;
    const char* member;
    const char* message;  // substring of Error::context
};

class JobJsonBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(JobJsonBad, IsRefusedWithAClearReason) {
    const BadCase& c = GetParam();
    std::string member = "unset";
    auto spec = load(c.json, JobJsonMode::kLoad, &member);
    ASSERT_FALSE(spec) << c.json;
    EXPECT_EQ(spec.error().code, EINVAL);
    EXPECT_EQ(member, c.member) << spec.error().context;
    EXPECT_NE(spec.error().context.find(c.message), std::string::npos)
        << "message: " << spec.error().context << "\nwanted: " << c.message;
    EXPECT_EQ(spec.error().context.rfind(c.member, 0), 0u) << "message starts with the member";
}

#define CFG(extra) "{\"name\": \"a\", \"cmd\": \"x\", " extra "}"

const BadCase kBadCases[] = {
    {R"({"cmd": "x"})", "name", "name: required"},
    {R"({"name": "", "cmd": "x"})", "name", "must not be empty"},
    {R"({"name": "a.b", "cmd": "x"})", "name", "must not contain '.'"},
    {R"({"name": "a/b", "cmd": "x"})", "name", "must not contain '/'"},
    {R"({"name": "a\nb", "cmd": "x"})", "name", "control characters"},
    {R"({"name": 3, "cmd": "x"})", "name", "must be a string, got 3"},
    {R"({"name": "a"})", "cmd", "cmd: required"},
    {R"({"name": "a", "cmd": ""})", "cmd", "must not be empty"},
    {R"({"name": "a", "cmd": "   "})", "cmd", "must not be empty"},
    {R"({"name": "a", "cmd": ["ls"]})", "cmd", "must be a string"},
    {R"({"name": "a", "cmd": "echo 'oops"})", "cmd", "unterminated single quote"},
    {CFG(R"("args": 3)"), "args", "list of strings or a string"},
    {CFG(R"("args": ["a", 3])"), "args", "list of strings"},
    {CFG(R"("args": "a \"b")"), "args", "unterminated double quote"},
    {CFG(R"("env": ["A=b"])"), "env", "must be an object"},
    {CFG(R"("env": {"A": 1})"), "env", "value of 'A' must be a string"},
    {CFG(R"("env": {"A=B": "c"})"), "env", "contains '='"},
    {CFG(R"("env": {"": "c"})"), "env", "must not be empty"},
    {CFG(R"("numprocesses": -1)"), "numprocesses", "from 0 to 1000000, got -1"},
    {CFG(R"("numprocesses": "2")"), "numprocesses", "must be an integer"},
    {CFG(R"("numprocesses": 1.5)"), "numprocesses", "must be an integer"},
    {CFG(R"("numprocesses": 2.0)"), "numprocesses", "must be an integer"},
    {CFG(R"("numprocesses": 99999999999)"), "numprocesses", "from 0 to 1000000"},
    {CFG(R"("redirect_output": "out")"), "redirect_output", "list of strings"},
    {CFG(R"("redirect_output": ["out", 2])"), "redirect_output", "list of strings"},
    {CFG(R"("redirect_output": ["", "err"])"), "redirect_output", "must not be empty"},
    {CFG(R"("redirect_output": ["../x/y"])"), "redirect_output", "must not contain '/'"},
    {CFG(R"("custom_streams": ["a", "a"])"), "custom_streams", "given twice"},
    {CFG(R"("custom_streams": "a")"), "custom_streams", "list of strings"},
    {CFG(R"("redirect_input": "yes")"), "redirect_input", "must be true or false"},
    {CFG(R"("os_env": 1)"), "os_env", "must be true or false"},
    {CFG(R"("shell": "true")"), "shell", "must be true or false"},
    {CFG(R"("detach": 0)"), "detach", "must be true or false"},
    {CFG(R"("start": "false")"), "start", "must be true or false"},
    {CFG(R"("notify": 1)"), "notify", "must be true or false"},
    {CFG(R"("critical": [])"), "critical", "must be true or false"},
    {CFG(R"("no_new_privs": "no")"), "no_new_privs", "must be true or false"},
    {CFG(R"("instance_env": "yes")"), "instance_env", "must be true or false"},
    {CFG(R"("pty": 1, "redirect_output": ["out"])"), "pty", "must be true or false"},
    {CFG(R"("pty": true)"), "pty", "needs redirect_output, stdout_file or log_dir"},
    {CFG(R"("graceful_timeout": -1)"), "graceful_timeout", "must be a number >= 0"},
    {CFG(R"("graceful_timeout": "10")"), "graceful_timeout", "must be a number"},
    {CFG(R"("graceful_timeout": 1e300)"), "graceful_timeout", "<= 1e+09"},
    {CFG(R"("flapping": [2, 1, 7, 5])"), "flapping", "must be an object"},
    {CFG(R"("flapping": "2 1 7 5")"), "flapping", "must be an object"},
    {CFG(R"("flapping": {"attempts": 2, "windows": 1})"), "flapping", "unknown member 'windows'"},
    {CFG(R"("flapping": {"attempts": 0})"), "flapping", "attempts: must be an integer from 1"},
    {CFG(R"("flapping": {"attempts": 1.5})"), "flapping", "attempts: must be an integer"},
    {CFG(R"("flapping": {"window": -1})"), "flapping", "window: must be a number >= 0"},
    {CFG(R"("flapping": {"retry_in": "7"})"), "flapping", "retry_in: must be a number"},
    {CFG(R"("flapping": {"max_retry": -1})"), "flapping", "max_retry: must be an integer"},
    {CFG(R"("uid": "gaffer-no-such-user-x9")"), "uid", "unknown user 'gaffer-no-such-user-x9'"},
    {CFG(R"("gid": "gaffer-no-such-group-x9")"), "gid", "unknown group 'gaffer-no-such-group-x9'"},
    {CFG(R"("uid": -1)"), "uid", "must be an id from 0 to 4294967294"},
    {CFG(R"("uid": 4294967295)"), "uid", "must be an id"},
    {CFG(R"("uid": 1.5)"), "uid", "must be an id"},
    {CFG(R"("gid": "")"), "gid", "must be an id"},
    {CFG(R"("cwd": 5)"), "cwd", "must be a string"},
    {CFG(R"("priority": "high")"), "priority", "must be an integer"},
    {CFG(R"("priority": 3000000000)"), "priority", "must be an integer from"},
    {CFG(R"("stdout_file": false)"), "stdout_file", "must be a string"},
    {CFG(R"("stderr_file": {})"), "stderr_file", "must be a string"},
    {CFG(R"("log_dir": 1)"), "log_dir", "must be a string"},
    {CFG(R"("log_max_bytes": 0)"), "log_max_bytes", "must be an integer >= 1"},
    {CFG(R"("log_backups": -1)"), "log_backups", "from 0 to 1000"},
    {CFG(R"("memory_max": "12X")"), "memory_max", "K, M, G, T"},
    {CFG(R"("memory_max": 0)"), "memory_max", "must be a number of bytes > 0"},
    {CFG(R"("memory_max": "-5M")"), "memory_max", "must be a number of bytes"},
    {CFG(R"("memory_max": 1.5)"), "memory_max", "must be a number of bytes"},
    {CFG(R"("cpu_max": 0)"), "cpu_max", "must be a number > 0"},
    {CFG(R"("cpu_max": "50%")"), "cpu_max", "must be a number > 0"},
    {CFG(R"("pids_max": 0)"), "pids_max", "must be an integer >= 1"},
    {CFG(R"("ready_timeout": 0)"), "ready_timeout", "must be a number > 0"},
    {CFG(R"("ready_timeout": 5)"), "ready_timeout", "needs notify = true"},
    {CFG(R"("watchdog_sec": 5, "notify": false)"), "watchdog_sec", "needs notify = true"},
    {CFG(R"("capabilities": ["CAP_FOO"])"), "capabilities", "unknown capability 'CAP_FOO'"},
    {CFG(R"("capabilities": ["12"])"), "capabilities", "unknown capability '12'"},
    {CFG(R"("capabilities": ["cap_chown "])"), "capabilities", "unknown capability"},
    {CFG(R"("capabilities": "CAP_CHOWN")"), "capabilities", "list of strings"},
};

INSTANTIATE_TEST_SUITE_P(Members, JobJsonBad, ::testing::ValuesIn(kBadCases));

}  // namespace
}  // namespace gaffer::config
