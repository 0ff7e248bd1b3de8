// SPDX-License-Identifier: MIT
// Unit tests of lib/http/router with the HEAD routes (reference §1.1 rows 1–25, E1):
// the router is called directly with Request structs over a real Manager on a real Loop.
// Every [BUG] Required line of §3 and §14 items 1–7 and 13 has a test here.
#include "lib/http/router.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "tests/unit/http/router_test_util.h"

namespace gaffer::http {
namespace {

using testing::loopback;
using testing::RouterFixture;
using testing::unix_peer;

class RouterTest : public RouterFixture {};

// ---- common behaviour (§2) ----

TEST_F(RouterTest, RootVersionPing) {
    Response root = call("GET", "/");
    EXPECT_EQ(root.status, 200);
    EXPECT_EQ(root.content_type, "application/json");
    auto j = body(root);
    EXPECT_STREQ(json_string_value(json_object_get(j.get(), "welcome")), "gaffer");
    EXPECT_TRUE(json_is_string(json_object_get(j.get(), "version")));

    Response v = call("GET", "/version");
    EXPECT_EQ(v.status, 200);
    auto vj = body(v);
    EXPECT_STREQ(json_string_value(json_object_get(vj.get(), "name")), "gaffer");
    EXPECT_STREQ(json_string_value(json_object_get(vj.get(), "loop")), loop_->backend_name());
    EXPECT_STREQ(json_string_value(json_object_get(vj.get(), "cgroup")), manager_->cgroup_mode());

    Response p = call("GET", "/ping");
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.body, "OK");
    EXPECT_EQ(p.content_type.rfind("text/plain", 0), 0u);
}

TEST_F(RouterTest, UnknownUrlIs404Json) {
    for (const char* path : {"/nope", "/jobs/a/b/c/d", "/jobs//x", "/abc/stats", "/streams/1/out", "/watch"}) {
        Response r = call("GET", path);
        EXPECT_EQ(r.status, 404) << path;
        EXPECT_EQ(error_name(r), "not_found") << path;
        EXPECT_EQ(int_member(r, "errno"), 404) << path;
    }
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
    Response r = call("PUT", "/sessions");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(error_name(r), "method_not_allowed");
    EXPECT_EQ(r.header("Allow").value_or(""), "GET, OPTIONS");
    Response j = call("PATCH", "/jobs/default/web");
    EXPECT_EQ(j.status, 405);
    EXPECT_EQ(j.header("Allow").value_or(""), "HEAD, GET, PUT, DELETE, OPTIONS");
    EXPECT_EQ(call("GET", "/jobs/default/web/signal").status, 405);
    EXPECT_EQ(call("DELETE", "/ping").status, 405);
}

TEST_F(RouterTest, OptionsIs204OnEveryRoute) {
    for (const char* path : {"/",
                             "/version",
                             "/ping",
                             "/sessions",
                             "/jobs",
                             "/jobs/s",
                             "/jobs/s/j",
                             "/jobs/s/j/stats",
                             "/jobs/s/j/numprocesses",
                             "/jobs/s/j/signal",
                             "/jobs/s/j/state",
                             "/jobs/s/j/pids",
                             "/jobs/s/j/processes",
                             "/jobs/s/j/commit",
                             "/pids",
                             "/1",
                             "/1/signal",
                             "/1/stats",
                             "/processes",
                             "/status/x",
                             "/stats",
                             "/groups"}) {
        Response r = call("OPTIONS", path);
        EXPECT_EQ(r.status, 204) << path;
        EXPECT_TRUE(r.body.empty()) << path;
        EXPECT_TRUE(r.header("Allow")) << path;
    }
}

TEST_F(RouterTest, TrailingSlashIsIgnored) {
    EXPECT_EQ(call("GET", "/sessions/").status, 200);
}

// ---- §3.2, §3.3 ----

TEST_F(RouterTest, LoadListAndInfo) {
    load("default", "web", 2);
    load("myapp", "worker");
    Response s = call("GET", "/sessions");
    EXPECT_EQ(s.status, 200);
    EXPECT_EQ(s.body, R"({"sessions":["default","myapp"]})");
    EXPECT_EQ(call("GET", "/jobs").body, R"({"jobs":["default.web","myapp.worker"]})");
    EXPECT_EQ(call("GET", "/jobs/myapp").body, R"({"sessionid":"myapp","jobs":["myapp.worker"]})");

    Response info = call("GET", "/jobs/default/web");
    ASSERT_EQ(info.status, 200);
    auto j = body(info);
    EXPECT_STREQ(json_string_value(json_object_get(j.get(), "name")), "default.web");
    EXPECT_TRUE(json_is_true(json_object_get(j.get(), "active")));
    EXPECT_EQ(json_integer_value(json_object_get(j.get(), "running")), 2);
    EXPECT_EQ(json_integer_value(json_object_get(j.get(), "running_out")), 0);
    EXPECT_EQ(json_integer_value(json_object_get(j.get(), "max_processes")), 2);
    EXPECT_EQ(json_array_size(json_object_get(j.get(), "processes")), 2u);
    const json_t* cfg = json_object_get(j.get(), "config");
    EXPECT_STREQ(json_string_value(json_object_get(cfg, "name")), "web");
    EXPECT_STREQ(json_string_value(json_object_get(cfg, "cmd")), "sleep");
    EXPECT_EQ(json_object_get(cfg, "start"), nullptr);
}

TEST_F(RouterTest, UnknownSessionIs404) {
    Response r = call("GET", "/jobs/nosuch");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, R"({"error":"not_found","errno":404,"reason":"session 'nosuch' not found"})");
}

TEST_F(RouterTest, LoadConflictIs409) {
    load("default", "web");
    Response r = call("POST", "/jobs/default", R"({"name":"web","cmd":"sleep 1"})");
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(error_name(r), "process_conflict");
    EXPECT_EQ(int_member(r, "errno"), 409);
}

// §14.3: no name → 400, not 500. Bad input never changes anything.
TEST_F(RouterTest, LoadBadBodiesAre400AndStoreNothing) {
    for (const char* b : {"", "not json", "[1]", "3", R"({"cmd":"sleep 1"})", R"({"name":"web"})",
                          R"({"name":"web","cmd":""})", R"({"name":"web","cmd":"x","numprocesses":-1})",
                          R"({"name":"web","cmd":"x","flapping":{"bogus":1}})", R"({"name":"a.b","cmd":"x"})"}) {
        Response r = call("POST", "/jobs/default", b);
        EXPECT_EQ(r.status, 400) << b << " → " << r.body;
        EXPECT_EQ(error_name(r), "bad_request") << b;
    }
    EXPECT_EQ(call("GET", "/jobs").body, R"({"jobs":[]})");
}

TEST_F(RouterTest, LoadWithStartFalseSpawnsNothing) {
    load("default", "web", 2, false);
    EXPECT_EQ(call("GET", "/jobs/default/web/pids").body, R"({"pids":[]})");
    EXPECT_EQ(call("GET", "/jobs/default/web/state").body, "0");
}

TEST_F(RouterTest, HeadJob) {
    load("default", "web");
    Response yes = call("HEAD", "/jobs/default/web");
    EXPECT_EQ(yes.status, 200);
    EXPECT_TRUE(yes.body.empty());
    Response no = call("HEAD", "/jobs/default/nope");
    EXPECT_EQ(no.status, 404);
    EXPECT_TRUE(no.body.empty());
}

TEST_F(RouterTest, UpdateIs201) {
    load("default", "web");
    Response r = call("PUT", "/jobs/default/web", R"({"cmd":"sleep","args":["999"],"numprocesses":2})");
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.body, R"({"ok":true})");
    auto info = body(call("GET", "/jobs/default/web"));
    const json_t* cfg = json_object_get(info.get(), "config");
    EXPECT_EQ(json_integer_value(json_object_get(cfg, "numprocesses")), 2);
    EXPECT_EQ(json_integer_value(json_object_get(info.get(), "max_processes")), 2);
}

TEST_F(RouterTest, UpdateErrors) {
    load("default", "web");
    Response bad = call("PUT", "/jobs/default/web", "{nope");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(error_name(bad), "bad_request");
    EXPECT_FALSE(reason(bad).empty());
    Response nocmd = call("PUT", "/jobs/default/web", R"({"numprocesses":2})");
    EXPECT_EQ(nocmd.status, 400);
    EXPECT_EQ(reason(nocmd), "invalid process config");
    Response conflict = call("PUT", "/jobs/default/web", R"({"name":"other","cmd":"sleep 1"})");
    EXPECT_EQ(conflict.status, 400);
    EXPECT_EQ(reason(conflict), "template name conflict with the path");
    Response unknown = call("PUT", "/jobs/default/nope", R"({"cmd":"sleep 1"})");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(error_name(unknown), "not_found");
    // Nothing changed.
    auto cfg = body(call("GET", "/jobs/default/web"));
    EXPECT_EQ(json_integer_value(json_object_get(json_object_get(cfg.get(), "config"), "numprocesses")), 1);
}

// §3.3 / §14.13: with start true (the default) a stopped job is started by PUT.
TEST_F(RouterTest, UpdateStartsAStoppedJob) {
    load("default", "web");
    ASSERT_EQ(call("POST", "/jobs/default/web/state", "0").status, 202);
    EXPECT_EQ(call("GET", "/jobs/default/web/state").body, "0");
    ASSERT_EQ(call("PUT", "/jobs/default/web", R"({"cmd":"sleep","args":["1000"]})").status, 201);
    EXPECT_EQ(call("GET", "/jobs/default/web/state").body, "1");
    // start: false keeps it stopped.
    ASSERT_EQ(call("POST", "/jobs/default/web/state", "0").status, 202);
    ASSERT_EQ(call("PUT", "/jobs/default/web", R"({"cmd":"sleep","args":["1000"],"start":false})").status, 201);
    EXPECT_EQ(call("GET", "/jobs/default/web/state").body, "0");
}

TEST_F(RouterTest, UnloadThen404) {
    load("default", "web");
    Response r = call("DELETE", "/jobs/default/web");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"ok":true})");
    EXPECT_EQ(call("DELETE", "/jobs/default/web").status, 404);
    EXPECT_EQ(call("GET", "/sessions").body, R"({"sessions":[]})");
}

// ---- §3.5 ----

TEST_F(RouterTest, JobStats) {
    load("default", "web", 2);
    Response r = call("GET", "/jobs/default/web/stats");
    ASSERT_EQ(r.status, 200);
    auto j = body(r);
    EXPECT_STREQ(json_string_value(json_object_get(j.get(), "name")), "default.web");
    const json_t* stats = json_object_get(j.get(), "stats");
    ASSERT_EQ(json_array_size(stats), 2u);
    const json_t* first = json_array_get(stats, 0);
    for (const char* k : {"mem_info1", "mem_info2", "cpu", "mem", "ctime", "pid", "os_pid"}) {
        EXPECT_TRUE(json_object_get(first, k)) << k;
    }
    for (const char* k : {"mem", "max_mem", "min_mem", "cpu", "max_cpu", "min_cpu"}) {
        EXPECT_TRUE(json_object_get(j.get(), k)) << k;
    }
    EXPECT_EQ(call("GET", "/jobs/default/nope/stats").status, 404);
}

// §14.6: no process → every aggregate "N/A".
TEST_F(RouterTest, JobStatsWithoutProcessesAreNA) {
    load("default", "web", 1, false);
    auto j = body(call("GET", "/jobs/default/web/stats"));
    for (const char* k : {"mem", "max_mem", "min_mem", "cpu", "max_cpu", "min_cpu"}) {
        EXPECT_STREQ(json_string_value(json_object_get(j.get(), k)), "N/A") << k;
    }
}

// ---- §3.6 ----

// §14.1: GET numprocesses works.
TEST_F(RouterTest, GetNumprocesses) {
    load("default", "web", 3);
    Response r = call("GET", "/jobs/default/web/numprocesses");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"numprocesses":3})");
    EXPECT_EQ(call("GET", "/jobs/default/nope/numprocesses").status, 404);
}

TEST_F(RouterTest, ScaleForms) {
    load("default", "web", 1, false);
    auto scale = [&](const char* v) { return call("POST", "/jobs/default/web/numprocesses", v); };
    EXPECT_EQ(scale(R"({"scale":2})").body, R"({"numprocesses":3})");
    EXPECT_EQ(scale(R"({"scale":"2"})").body, R"({"numprocesses":5})");  // adds, never sets
    EXPECT_EQ(scale(R"({"scale":"+1"})").body, R"({"numprocesses":6})");
    EXPECT_EQ(scale(R"({"scale":"-2"})").body, R"({"numprocesses":4})");
    EXPECT_EQ(scale(R"({"scale":-1})").body, R"({"numprocesses":3})");
    EXPECT_EQ(scale(R"({"scale":0})").body, R"({"numprocesses":3})");
    EXPECT_EQ(scale(R"({"scale":"=7"})").body, R"({"numprocesses":7})");
    // §14.4: never negative.
    EXPECT_EQ(scale(R"({"scale":"-100"})").body, R"({"numprocesses":0})");
    EXPECT_EQ(call("GET", "/jobs/default/web").status, 200);
    EXPECT_EQ(int_member(call("GET", "/jobs/default/web"), "max_processes"), 0);
}

// §14.4: malformed scale values → 400, never 500, and no change.
TEST_F(RouterTest, ScaleJunkIs400) {
    load("default", "web", 1, false);
    for (const char* b : {"", "nope", "[]", "{}", R"({"scale":"x5"})", R"({"scale":"+"})", R"({"scale":1.5})",
                          R"({"scale":"+a"})", R"({"scale":null})", R"({"scale":true})", R"({"scale":"1.5"})"}) {
        Response r = call("POST", "/jobs/default/web/numprocesses", b);
        EXPECT_EQ(r.status, 400) << b;
        EXPECT_EQ(error_name(r), "bad_request") << b;
    }
    EXPECT_EQ(call("GET", "/jobs/default/web/numprocesses").body, R"({"numprocesses":1})");
    EXPECT_EQ(call("POST", "/jobs/default/nope/numprocesses", R"({"scale":1})").status, 404);
}

TEST_F(RouterTest, ScaleSpawnsOnARunningJob) {
    load("default", "web", 1);
    ASSERT_EQ(call("POST", "/jobs/default/web/numprocesses", R"({"scale":"=3"})").status, 200);
    auto pids = body(call("GET", "/jobs/default/web/pids"));
    EXPECT_EQ(json_array_size(json_object_get(pids.get(), "pids")), 3u);
}

// §14.2: the job signal route works, with numbers and names.
TEST_F(RouterTest, SignalJob) {
    load("default", "web", 2);
    std::vector<std::string> kills;
    bus_->subscribe("job.default.web.kill", [&](const std::string& t, const json_t*) { kills.push_back(t); });
    for (const char* b :
         {R"({"signal":"CONT"})", R"({"signal":"sigcont"})", R"({"signal":18})", R"({"signal":"18"})"}) {
        Response r = call("POST", "/jobs/default/web/signal", b);
        EXPECT_EQ(r.status, 202) << b << " " << r.body;
        EXPECT_EQ(r.body, R"({"ok":true})");
    }
    turn_until([&] { return kills.size() >= 4; }, std::chrono::seconds(2));
    EXPECT_EQ(kills.size(), 4u);
    for (const char* b : {"", "{}", R"({"signal":"NOPE"})", R"({"signal":0})", R"({"signal":999})",
                          R"({"signal":null})", R"({"signal":1.5})"}) {
        Response r = call("POST", "/jobs/default/web/signal", b);
        EXPECT_EQ(r.status, 400) << b;
        EXPECT_EQ(error_name(r), "bad_request") << b;
    }
    EXPECT_EQ(call("POST", "/jobs/default/nope/signal", R"({"signal":"HUP"})").status, 404);
}

TEST_F(RouterTest, State) {
    load("default", "web");
    Response g = call("GET", "/jobs/default/web/state");
    EXPECT_EQ(g.status, 200);
    EXPECT_EQ(g.body, "1");
    EXPECT_EQ(g.content_type.rfind("text/plain", 0), 0u);
    Response stop = call("POST", "/jobs/default/web/state", "0");
    EXPECT_EQ(stop.status, 202);
    EXPECT_EQ(stop.body, R"({"ok":true})");
    EXPECT_EQ(call("GET", "/jobs/default/web/state").body, "0");
    // Surrounding ASCII whitespace is ignored.
    EXPECT_EQ(call("POST", "/jobs/default/web/state", "1\n").status, 202);
    EXPECT_EQ(call("GET", "/jobs/default/web/state").body, "1");
    EXPECT_EQ(call("POST", "/jobs/default/web/state", " 2\r\n").status, 202);
    for (const char* b : {"", "10", "x", "3", "1 1", "true"}) {
        EXPECT_EQ(call("POST", "/jobs/default/web/state", b).status, 400) << b;
    }
    EXPECT_EQ(call("GET", "/jobs/default/nope/state").status, 404);
    EXPECT_EQ(call("POST", "/jobs/default/nope/state", "1").status, 404);
}

TEST_F(RouterTest, PidsAndProcesses) {
    load("default", "web", 2);
    auto pids = body(call("GET", "/jobs/default/web/pids"));
    ASSERT_EQ(json_array_size(json_object_get(pids.get(), "pids")), 2u);
    Response c = call("POST", "/jobs/default/web/commit", "{}");
    ASSERT_EQ(c.status, 200);
    // Committed processes are not in pids (§3.6) but in info.processes, /pids and E1.
    EXPECT_EQ(json_array_size(json_object_get(body(call("GET", "/jobs/default/web/pids")).get(), "pids")), 2u);
    EXPECT_EQ(json_array_size(json_object_get(body(call("GET", "/pids")).get(), "pids")), 3u);
    auto info = body(call("GET", "/jobs/default/web"));
    EXPECT_EQ(json_integer_value(json_object_get(info.get(), "running_out")), 1);

    Response ps = call("GET", "/jobs/default/web/processes");
    ASSERT_EQ(ps.status, 200);
    auto pj = body(ps);
    const json_t* arr = json_object_get(pj.get(), "processes");
    ASSERT_EQ(json_array_size(arr), 3u);
    const json_t* last = json_array_get(arr, 2);
    for (const char* k : {"pid", "os_pid", "name", "state", "create_time", "commited", "restarts"}) {
        EXPECT_TRUE(json_object_get(last, k)) << k;
    }
    EXPECT_TRUE(json_is_true(json_object_get(last, "commited")));
    EXPECT_STREQ(json_string_value(json_object_get(last, "state")), "running");
    EXPECT_EQ(call("GET", "/jobs/default/nope/processes").status, 404);
    EXPECT_EQ(call("GET", "/jobs/default/nope/pids").status, 404);
}

TEST_F(RouterTest, CommitValidation) {
    load("default", "web", 1, false);
    Response ok = call("POST", "/jobs/default/web/commit", R"({"graceful_timeout":1.5,"env":{"A":"b"}})");
    EXPECT_EQ(ok.status, 200) << ok.body;
    int pid = static_cast<int>(int_member(ok, "pid"));
    EXPECT_GT(pid, 0);
    auto p = body(call("GET", "/" + std::to_string(pid)));
    EXPECT_STREQ(json_string_value(json_object_get(json_object_get(p.get(), "env"), "A")), "b");
    EXPECT_TRUE(json_is_true(json_object_get(p.get(), "commited")));
    // The commit env did not leak into the job config (§14.18).
    auto info = body(call("GET", "/jobs/default/web"));
    EXPECT_EQ(json_object_get(json_object_get(info.get(), "config"), "env"), nullptr);
    for (const char* b : {"", "nope", "[]", R"({"graceful_timeout":-1})", R"({"graceful_timeout":"3"})",
                          R"({"env":[]})", R"({"env":{"A":1}})", R"({"env":"A=b"})"}) {
        Response r = call("POST", "/jobs/default/web/commit", b);
        EXPECT_EQ(r.status, 400) << b;
        EXPECT_EQ(error_name(r), "bad_request") << b;
    }
    EXPECT_EQ(call("POST", "/jobs/default/nope/commit", "{}").status, 404);
}

// ---- §3.7 ----

TEST_F(RouterTest, ProcessByPid) {
    load("default", "web");
    int pid = static_cast<int>(json_integer_value(
        json_array_get(json_object_get(body(call("GET", "/jobs/default/web/pids")).get(), "pids"), 0)));
    std::string p = "/" + std::to_string(pid);
    Response info = call("GET", p);
    ASSERT_EQ(info.status, 200);
    auto j = body(info);
    for (const char* k : {"pid", "name", "cmd", "args", "env", "uid", "gid", "os_pid", "create_time", "commited",
                          "redirect_output", "redirect_input", "custom_streams", "active"}) {
        EXPECT_TRUE(json_object_get(j.get(), k)) << k;
    }
    EXPECT_EQ(json_integer_value(json_object_get(j.get(), "pid")), pid);
    EXPECT_STREQ(json_string_value(json_object_get(j.get(), "name")), "default.web");
    EXPECT_STREQ(json_string_value(json_object_get(j.get(), "cmd")), "sleep");

    EXPECT_EQ(call("HEAD", p).status, 200);
    EXPECT_EQ(call("HEAD", "/999999").status, 404);
    Response missing = call("GET", "/999999");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(error_name(missing), "not_found");
    EXPECT_EQ(int_member(missing, "errno"), 404);

    Response stats = call("GET", p + "/stats");
    ASSERT_EQ(stats.status, 200);
    auto sj = body(stats);
    const json_t* s = json_object_get(sj.get(), "stats");
    for (const char* k : {"mem_info1", "mem_info2", "cpu", "mem", "ctime"}) EXPECT_TRUE(json_object_get(s, k)) << k;
    EXPECT_EQ(call("GET", "/999999/stats").status, 404);
}

TEST_F(RouterTest, SlashInPidIsBadValue) {
    for (const char* path : {"/1/2", "/1/2/3", "/1^2"}) {
        Response r = call("GET", path);
        EXPECT_EQ(r.status, 400) << path;
        EXPECT_EQ(error_name(r), "bad_value") << path;
    }
}

// §14.5: names, numbers; 400 bad_signal on junk; 400 bad_request on a bad body.
TEST_F(RouterTest, SignalProcess) {
    load("default", "web");
    int pid = static_cast<int>(json_integer_value(
        json_array_get(json_object_get(body(call("GET", "/jobs/default/web/pids")).get(), "pids"), 0)));
    std::string p = "/" + std::to_string(pid) + "/signal";
    int kills = 0;
    bus_->subscribe("proc." + std::to_string(pid) + ".kill", [&](const std::string&, const json_t*) { ++kills; });
    for (const char* b : {R"({"signal":"CONT"})", R"({"signal":"sigcont"})", R"({"signal":18})"}) {
        Response r = call("POST", p, b);
        EXPECT_EQ(r.status, 202) << b << " " << r.body;
    }
    turn_until([&] { return kills >= 3; }, std::chrono::seconds(2));
    EXPECT_EQ(kills, 3);
    for (const char* b : {"", "nope", "[]", "3"}) {
        Response r = call("POST", p, b);
        EXPECT_EQ(r.status, 400) << b;
        EXPECT_EQ(error_name(r), "bad_request") << b;
    }
    for (const char* b : {"{}", R"({"signal":null})", R"({"signal":"NOPE"})", R"({"signal":-1})"}) {
        Response r = call("POST", p, b);
        EXPECT_EQ(r.status, 400) << b;
        EXPECT_EQ(error_name(r), "bad_signal") << b;
    }
    EXPECT_EQ(call("POST", "/999999/signal", R"({"signal":"HUP"})").status, 404);
}

TEST_F(RouterTest, StopProcessIsReplaced) {
    load("default", "web");
    auto before = body(call("GET", "/jobs/default/web/pids"));
    int pid = static_cast<int>(json_integer_value(json_array_get(json_object_get(before.get(), "pids"), 0)));
    Response r = call("DELETE", "/" + std::to_string(pid));
    EXPECT_EQ(r.status, 202);
    EXPECT_EQ(r.body, R"({"ok":true})");
    bool replaced = turn_until(
        [&] {
            auto now = body(call("GET", "/jobs/default/web/pids"));
            const json_t* a = json_object_get(now.get(), "pids");
            return json_array_size(a) == 1 && json_integer_value(json_array_get(a, 0)) != pid;
        },
        std::chrono::seconds(15));
    EXPECT_TRUE(replaced);
    EXPECT_EQ(call("DELETE", "/999999").status, 404);
}

TEST_F(RouterTest, AllPids) {
    load("a", "x", 2);
    load("b", "y", 1);
    auto j = body(call("GET", "/pids"));
    EXPECT_EQ(json_array_size(json_object_get(j.get(), "pids")), 3u);
}

// ---- "Jobs created through the API" (security-defaults.md) with full rights ----

TEST_F(RouterTest, FullRightsMayUseShell) {
    Response r = call("POST", "/jobs/default", R"({"name":"sh","cmd":"sleep 1000","shell":true})");
    EXPECT_EQ(r.status, 200) << r.body;
}

// ---- issue 11 §3: a caller without full rights gets nothing it could not do itself ----
// The router is told that gafferd runs as root (daemon_uid 0), as under the systemd unit;
// every test is the attack, as the exact request, by a key that may manage session "app".

class JobRuleTest : public RouterFixture {
protected:
    void SetUp() override {
        RouterFixture::SetUp();
        log_root_ = dir_ / "logs";
        ASSERT_EQ(::mkdir(log_root_.c_str(), 0755), 0);
        RouterOptions o;
        o.require_key = true;
        o.daemon_uid = 0;
        o.daemon_gid = 0;
        o.log_root = log_root_;
        make_router(o);
        admin_ = make_key(R"({"admin":true})");
        load_headers_ = key(admin_);
        session_ = make_key(R"({"manage":["app"]})");
        uids_ = make_key(R"({"manage":["app"],"uids":[4242]})");
    }
    testing::Headers key(const std::string& k) { return {{"X-Api-Key", k}}; }
    // POST /jobs/app with `members` added to a stopped job "a" (nothing is spawned).
    Response load_as(const std::string& k, const std::string& members) {
        return call("POST", "/jobs/app", R"({"name":"a","cmd":"sleep","args":["1000"],"start":false)" + members + "}",
                    loopback(), key(k));
    }
    // 403 for the reason named by `because` (a substring of the answer's reason), and
    // nothing stored.
    void expect_refused(const Response& r, const std::string& what, const std::string& because = "") {
        EXPECT_EQ(r.status, 403) << what << ": " << r.body;
        EXPECT_EQ(error_name(r), "forbidden") << what;
        EXPECT_NE(reason(r).find(because), std::string::npos) << what << ": " << r.body;
        EXPECT_FALSE(manager_->has_job({"app", "a"})) << what;
    }
    std::string log_root_, admin_, session_, uids_;
};

TEST_F(JobRuleTest, JobWithoutUidWouldRunAsRoot) {
    expect_refused(load_as(session_, ""), "no uid, daemon root");
    expect_refused(load_as(uids_, ""), "no uid, key with uids");
    EXPECT_NE(reason(load_as(session_, "")).find("uid"), std::string::npos);
}

TEST_F(JobRuleTest, UidZeroOrUnlistedIsRefused) {
    expect_refused(load_as(session_, R"(,"uid":0)"), "uid 0");
    expect_refused(load_as(uids_, R"(,"uid":0)"), "uid 0 with uids");
    expect_refused(load_as(uids_, R"(,"uid":"root")"), "uid root by name");
    expect_refused(load_as(session_, R"(,"uid":4242)"), "uid of no list");
    expect_refused(load_as(uids_, R"(,"uid":4343)"), "unlisted uid");
}

TEST_F(JobRuleTest, ListedUidIsAllowed) {
    Response r = load_as(uids_, R"(,"uid":4242)");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(manager_->has_job({"app", "a"}));
}

TEST_F(JobRuleTest, ListedUserNameIsAllowed) {
    struct passwd* pw = ::getpwnam("nobody");
    if (!pw)
        GTEST_SKIP() << "no user 'nobody' on this machine";
    std::string k = make_key(R"({"manage":["app"],"uids":["nobody"]})");
    Response r = load_as(k, ",\"uid\":" + std::to_string(pw->pw_uid));
    EXPECT_EQ(r.status, 200) << r.body;
    Response root =
        call("POST", "/jobs/app", R"({"name":"b","cmd":"sleep","start":false,"uid":0})", loopback(), key(k));
    EXPECT_EQ(root.status, 403) << root.body;
}

TEST_F(JobRuleTest, GidOtherThanTheCallersIsRefused) {
    expect_refused(load_as(uids_, R"(,"uid":4242,"gid":0)"), "gid 0", "gid 0");
}

TEST_F(JobRuleTest, OsEnvNeedsFullRights) {
    expect_refused(load_as(uids_, R"(,"uid":4242,"os_env":true)"), "os_env", "os_env");
    EXPECT_EQ(load_as(admin_, R"(,"os_env":true)").status, 200);
}

// A critical job that gives up stops gafferd and every job of every session.
TEST_F(JobRuleTest, CriticalNeedsFullRights) {
    expect_refused(load_as(uids_, R"(,"uid":4242,"critical":true,"flapping":{"attempts":1,"window":1})"), "critical",
                   "critical");
}

TEST_F(JobRuleTest, LogFilesOutsideLogRootAreRefused) {
    ASSERT_EQ(::mkdir((log_root_ + "/sub").c_str(), 0755), 0);
    const std::pair<std::string, std::string> cases[] = {
        {"stdout_file", "/etc/x"},
        {"stderr_file", "/etc/x"},
        {"stdout_file", log_root_ + "/../x"},
        {"stdout_file", log_root_ + "/sub/../../x"},
        {"stdout_file", log_root_ + "/sub/../x"},  // no ".." at all
        {"stdout_file", log_root_},                // the directory itself
        {"stdout_file", log_root_ + "x/out.log"},  // a sibling sharing the prefix
        {"stdout_file", "relative.log"},           // the daemon's cwd is elsewhere
        {"log_dir", "/etc"},
        {"log_dir", log_root_ + "/.."},
    };
    for (const auto& [option, path] : cases) {
        expect_refused(load_as(uids_, R"(,"uid":4242,")" + option + R"(":")" + path + R"(")"), option + "=" + path,
                       option + ":");
    }
}

TEST_F(JobRuleTest, SymlinksBeneathLogRootAreRefused) {
    ASSERT_EQ(::symlink("/etc", (log_root_ + "/etc").c_str()), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (log_root_ + "/out.log").c_str()), 0);
    ASSERT_EQ(::mkdir((log_root_ + "/d").c_str(), 0755), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (log_root_ + "/d/app.a.stdout.log").c_str()), 0);
    const std::pair<std::string, std::string> cases[] = {
        {"stdout_file", log_root_ + "/etc/x"},
        {"stdout_file", log_root_ + "/out.log"},
        {"log_dir", log_root_ + "/etc"},
        {"log_dir", log_root_ + "/d"},
    };
    for (const auto& [option, path] : cases) {
        expect_refused(load_as(uids_, R"(,"uid":4242,")" + option + R"(":")" + path + R"(")"), option + "=" + path,
                       "symbolic link");
    }
}

TEST_F(JobRuleTest, LogFilesBeneathLogRootAreAllowed) {
    Response r =
        load_as(uids_, R"(,"uid":4242,"stdout_file":")" + log_root_ + R"(/./a.out","log_dir":")" + log_root_ + R"(")");
    EXPECT_EQ(r.status, 200) << r.body;
    // Admitted, the job's files are opened beneath log_root only (io::RotatingLog).
    auto spec = manager_->spec({"app", "a"});
    ASSERT_TRUE(spec);
    EXPECT_EQ(spec->log_beneath, log_root_);
}

TEST_F(JobRuleTest, WithoutLogRootNoLogFiles) {
    RouterOptions o;
    o.require_key = true;
    make_router(o);
    expect_refused(load_as(uids_, R"(,"uid":4242,"stdout_file":")" + log_root_ + R"(/a.out")"), "no log_root",
                   "no log_root is configured");
}

TEST_F(JobRuleTest, EveryPathThatTakesASpec) {
    ASSERT_EQ(load_as(uids_, R"(,"uid":4242)").status, 200);
    // PUT /jobs/<sid>/<job>: the job would become root's.
    Response put =
        call("PUT", "/jobs/app/a", R"({"cmd":"sleep","args":["1000"],"start":false})", loopback(), key(uids_));
    EXPECT_EQ(put.status, 403) << put.body;
    // 0.4 routes.
    Response add =
        call("POST", "/processes", R"({"name":"app:b","cmd":"sleep","start":false})", loopback(), key(uids_));
    EXPECT_EQ(add.status, 403) << add.body;
    EXPECT_FALSE(manager_->has_job({"app", "b"}));
    Response upd = call("PUT", "/processes/app:a", R"({"cmd":"sleep","start":false,"uid":0})", loopback(), key(uids_));
    EXPECT_EQ(upd.status, 403) << upd.body;
    auto spec = manager_->spec({"app", "a"});
    ASSERT_TRUE(spec);
    EXPECT_EQ(spec->uid, std::optional<uid_t>(4242));
    EXPECT_EQ(
        call("PUT", "/processes/app:a", R"({"cmd":"sleep","start":false,"uid":4242})", loopback(), key(uids_)).status,
        200);
}

TEST_F(JobRuleTest, CommitWithEnvIntoARootJob) {
    load("app", "root", 1, false);  // by the admin, without uid: runs as root
    Response r =
        call("POST", "/jobs/app/root/commit", R"({"env":{"LD_PRELOAD":"/tmp/evil.so"}})", loopback(), key(uids_));
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(json_array_size(json_object_get(
                  body(call("GET", "/jobs/app/root/processes", "", loopback(), key(admin_))).get(), "processes")),
              0u);
}

TEST_F(JobRuleTest, UnixPeerMayUseItsOwnUid) {
    std::string k = make_key(R"({"manage":["app"]})");
    auto peer = unix_peer(4242, 4242);
    Response none = call("POST", "/jobs/app", R"({"name":"a","cmd":"sleep","start":false})", peer, key(k));
    EXPECT_EQ(none.status, 403) << none.body;
    Response other = call("POST", "/jobs/app", R"({"name":"a","cmd":"sleep","start":false,"uid":4343})", peer, key(k));
    EXPECT_EQ(other.status, 403) << other.body;
    Response own =
        call("POST", "/jobs/app", R"({"name":"a","cmd":"sleep","start":false,"uid":4242,"gid":4242})", peer, key(k));
    EXPECT_EQ(own.status, 200) << own.body;
}

TEST_F(JobRuleTest, KeysGrantOnlyUidsTheyHave) {
    std::string creator = make_key(R"({"create_key":true,"manage":["app"],"uids":[4242]})");
    Response more = call("POST", "/keys", R"({"permissions":{"manage":["app"],"uids":[0]}})", loopback(), key(creator));
    EXPECT_EQ(more.status, 403) << more.body;
    Response same =
        call("POST", "/keys", R"({"permissions":{"manage":["app"],"uids":[4242]}})", loopback(), key(creator));
    EXPECT_EQ(same.status, 200) << same.body;
}

// When gafferd is not root, a job without uid runs as gafferd's user: every job it can
// run at all, so a key that may manage the session may load it.
TEST_F(JobRuleTest, DaemonNotRootRunsJobsAsItself) {
    RouterOptions o;
    o.require_key = true;
    o.daemon_uid = 4321;
    o.daemon_gid = 4321;
    make_router(o);
    EXPECT_EQ(load_as(session_, "").status, 200);
    EXPECT_EQ(call("POST", "/jobs/app", R"({"name":"c","cmd":"sleep","start":false,"uid":4321,"gid":4321})", loopback(),
                   key(session_))
                  .status,
              200);
    EXPECT_EQ(
        call("POST", "/jobs/app", R"({"name":"b","cmd":"sleep","start":false,"uid":0})", loopback(), key(session_))
            .status,
        403);
    EXPECT_EQ(call("POST", "/jobs/app", R"({"name":"b","cmd":"sleep","start":false,"os_env":true})", loopback(),
                   key(session_))
                  .status,
              403);
}

// ---- issue 11 "also noticed": reads for read-only callers, rights before existence ----

TEST_F(RouterTest, UnixNonOwnerMayReadTheListings) {
    load("app", "web");
    auto peer = unix_peer(testing::other_uid());
    for (const char* p :
         {"/jobs", "/pids", "/sessions", "/jobs/app", "/processes", "/groups", "/groups/app", "/stats"}) {
        Response r = call("GET", p, "", peer);
        EXPECT_EQ(r.status, 200) << p << " " << r.body;
    }
    EXPECT_EQ(call("POST", "/jobs/app", R"({"name":"x","cmd":"sleep 1"})", peer).status, 403);
    EXPECT_EQ(call("POST", "/processes", R"({"name":"app:x","cmd":"sleep 1"})", peer).status, 403);
}

class PidProbeTest : public RouterFixture {
protected:
    void SetUp() override {
        RouterFixture::SetUp();
        RouterOptions o;
        o.require_key = true;
        make_router(o);
        admin_ = make_key(R"({"admin":true})");
        load_headers_ = {{"X-Api-Key", admin_}};
        reader_ = make_key(R"({"read":["app"],"manage":["app"]})");
        reads_all_ = make_key(R"({"read":["*"]})");
    }
    int status(const std::string& k, const char* method, const std::string& path, const char* b = "") {
        return call(method, path, b, loopback(), {{"X-Api-Key", k}}).status;
    }
    std::string admin_, reader_, reads_all_;
};

TEST_F(PidProbeTest, UnknownPidIs403WithoutRightsOnEveryJob) {
    load("other", "job");
    int pid = static_cast<int>(json_integer_value(json_array_get(
        json_object_get(body(call("GET", "/jobs/other/job/pids", "", loopback(), load_headers_)).get(), "pids"), 0)));
    const std::string known = std::to_string(pid), unknown = "987654";
    for (const std::string& id : {known, unknown}) {
        // Both answers are the same: the caller cannot tell a pid of another session
        // from one that does not exist.
        EXPECT_EQ(status(reader_, "HEAD", "/" + id), 403) << id;
        EXPECT_EQ(status(reader_, "GET", "/" + id), 403) << id;
        EXPECT_EQ(status(reader_, "GET", "/" + id + "/stats"), 403) << id;
        EXPECT_EQ(status(reader_, "DELETE", "/" + id), 403) << id;
        EXPECT_EQ(status(reader_, "POST", "/" + id + "/signal", R"({"signal":"CONT"})"), 403) << id;
        EXPECT_EQ(status(reader_, "HEAD", "/processes/" + id), 403) << id;
        EXPECT_EQ(status(reader_, "GET", "/processes/" + id), 403) << id;
        EXPECT_EQ(status(reader_, "DELETE", "/processes/" + id), 403) << id;
        EXPECT_EQ(status(reader_, "POST", "/processes/" + id + "/_stop"), 403) << id;
        EXPECT_EQ(status(reader_, "POST", "/processes/" + id + "/_signal/CONT"), 403) << id;
    }
    // Callers with the right on every job learn that it does not exist, as before.
    EXPECT_EQ(status(admin_, "GET", "/" + unknown), 404);
    EXPECT_EQ(status(admin_, "DELETE", "/" + unknown), 404);
    EXPECT_EQ(status(admin_, "POST", "/processes/" + unknown + "/_stop"), 404);
    EXPECT_EQ(status(reads_all_, "GET", "/" + unknown), 404);
    EXPECT_EQ(status(reads_all_, "HEAD", "/" + unknown), 404);
    EXPECT_EQ(status(reads_all_, "DELETE", "/" + unknown), 403);
}

}  // namespace
}  // namespace gaffer::http
