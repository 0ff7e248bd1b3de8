// SPDX-License-Identifier: MIT
// Unit tests of lib/http/router with the 0.4 routes (reference §1.2, §4.3): templates
// `N` = job default.N, `G:N` = job G.N, groups = sessions.
#include <gtest/gtest.h>

#include <string>

#include "lib/http/router.h"
#include "tests/unit/http/router_test_util.h"

namespace gaffer::http {
namespace {

using testing::RouterFixture;

class CompatTest : public RouterFixture {
protected:
    void add(const std::string& name, int n = 1, bool start = true) {
        std::string b = R"({"name":")" + name + R"(","cmd":"sleep","args":["1000"],"numprocesses":)" +
                        std::to_string(n) + (start ? "" : R"(,"start":false)") + "}";
        Response r = call("POST", "/processes", b);
        ASSERT_EQ(r.status, 200) << r.body;
    }
    int first_pid(const std::string& name) {
        auto j = body(call("GET", "/processes/" + name + "/_pids"));
        return static_cast<int>(json_integer_value(json_array_get(json_object_get(j.get(), "pids"), 0)));
    }
};

TEST_F(CompatTest, AddAndList) {
    add("web", 2);
    add("app:worker");
    EXPECT_TRUE(manager_->has_job({"default", "web"}));
    EXPECT_TRUE(manager_->has_job({"app", "worker"}));
    EXPECT_EQ(call("GET", "/processes").body, R"(["web","app:worker"])");
    auto running = body(call("GET", "/processes?running=true"));
    EXPECT_TRUE(json_is_array(running.get()));
    EXPECT_EQ(json_array_size(running.get()), 3u);
    auto full = body(call("GET", "/processes?full=1"));
    const json_t* ps = json_object_get(full.get(), "processes");
    ASSERT_EQ(json_array_size(ps), 3u);
    EXPECT_TRUE(json_object_get(json_array_get(ps, 0), "state"));
}

TEST_F(CompatTest, AddErrors) {
    add("web");
    Response dup = call("POST", "/processes", R"({"name":"web","cmd":"sleep 1"})");
    EXPECT_EQ(dup.status, 409);
    EXPECT_EQ(error_name(dup), "conflict");
    Response bad = call("POST", "/processes", "nope");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(error_name(bad), "invalid_json");
    for (const char* b : {"{}", R"({"name":"x"})", R"({"cmd":"x"})", R"({"name":"x","cmd":"y","numprocesses":"z"})"}) {
        Response r = call("POST", "/processes", b);
        EXPECT_EQ(r.status, 400) << b;
        EXPECT_EQ(error_name(r), "invalid_process_info") << b;
    }
}

TEST_F(CompatTest, GetByNameAndPid) {
    add("app:web");
    Response r = call("GET", "/processes/app:web");
    ASSERT_EQ(r.status, 200);
    auto j = body(r);
    EXPECT_STREQ(json_string_value(json_object_get(j.get(), "name")), "app:web");
    EXPECT_STREQ(json_string_value(json_object_get(j.get(), "cmd")), "sleep");
    int pid = first_pid("app:web");
    Response byp = call("GET", "/processes/" + std::to_string(pid));
    EXPECT_EQ(byp.status, 200);
    EXPECT_EQ(byp.body, r.body);
    EXPECT_EQ(call("HEAD", "/processes/app:web").status, 200);
    EXPECT_EQ(call("HEAD", "/processes/" + std::to_string(pid)).status, 200);
    EXPECT_EQ(call("HEAD", "/processes/nope").status, 404);
    Response missing = call("GET", "/processes/nope");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(error_name(missing), "not_found");
    EXPECT_EQ(call("GET", "/processes/999999").status, 404);
}

TEST_F(CompatTest, UpdateAndDelete) {
    add("web");
    Response u = call("PUT", "/processes/web", R"({"name":"ignored","cmd":"sleep","args":["999"]})");
    EXPECT_EQ(u.status, 200) << u.body;
    EXPECT_EQ(u.body, R"({"ok":true})");
    auto info = body(call("GET", "/jobs/default/web"));
    EXPECT_STREQ(json_string_value(json_array_get(json_object_get(json_object_get(info.get(), "config"), "args"), 0)),
                 "999");
    EXPECT_EQ(call("PUT", "/processes/web", "{}").status, 400);
    EXPECT_EQ(call("PUT", "/processes/nope", R"({"cmd":"x"})").status, 404);
    EXPECT_EQ(call("DELETE", "/processes/web").status, 200);
    EXPECT_FALSE(manager_->has_job({"default", "web"}));
    EXPECT_EQ(call("DELETE", "/processes/web").status, 404);
}

TEST_F(CompatTest, DeletePidStopsThatProcess) {
    add("web");
    int pid = first_pid("web");
    EXPECT_EQ(call("DELETE", "/processes/" + std::to_string(pid)).status, 200);
    EXPECT_TRUE(manager_->has_job({"default", "web"}));
}

TEST_F(CompatTest, TemplateActions) {
    add("web", 1, false);
    EXPECT_EQ(call("GET", "/status/web").body, R"({"active":false,"running":0,"max_processes":1})");
    EXPECT_EQ(call("POST", "/processes/web/_start").body, R"({"ok":true})");
    EXPECT_EQ(call("GET", "/status/web").body, R"({"active":true,"running":1,"max_processes":1})");
    EXPECT_EQ(call("POST", "/processes/web/_add").body, R"({"ok":true,"numprocesses":2})");
    EXPECT_EQ(call("POST", "/processes/web/_add/3").body, R"({"ok":true,"numprocesses":5})");
    EXPECT_EQ(call("POST", "/processes/web/_sub/2").body, R"({"ok":true,"numprocesses":3})");
    EXPECT_EQ(call("POST", "/processes/web/_sub").body, R"({"ok":true,"numprocesses":2})");
    auto pids = body(call("GET", "/processes/web/_pids"));
    EXPECT_TRUE(json_is_true(json_object_get(pids.get(), "ok")));
    EXPECT_EQ(json_array_size(json_object_get(pids.get(), "pids")), 2u);
    EXPECT_EQ(call("POST", "/processes/web/_signal/CONT").status, 200);
    EXPECT_EQ(call("POST", "/processes/web/_signal/18").status, 200);
    EXPECT_EQ(call("POST", "/processes/web/_restart").status, 200);
    EXPECT_EQ(call("POST", "/processes/web/_stop").status, 200);
    EXPECT_EQ(call("GET", "/status/web").body, R"({"active":false,"running":0,"max_processes":0})");
    EXPECT_EQ(call("GET", "/status/nope").status, 404);
}

TEST_F(CompatTest, ActionErrors) {
    add("web");
    Response unknown = call("POST", "/processes/web/_bogus");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(error_name(unknown), "resource_not_found");
    EXPECT_EQ(error_name(call("POST", "/processes/web/_start/3")), "resource_not_found");
    EXPECT_EQ(error_name(call("POST", "/processes/web/_signal")), "resource_not_found");
    EXPECT_EQ(call("POST", "/processes/web/_signal/NOPE").status, 400);
    EXPECT_EQ(error_name(call("POST", "/processes/web/_signal/NOPE")), "bad_signal");
    EXPECT_EQ(error_name(call("POST", "/processes/web/_add/x")), "bad_value");
    EXPECT_EQ(call("GET", "/processes/web/_start").status, 405);
    EXPECT_EQ(call("POST", "/processes/web/_pids").status, 405);
    EXPECT_EQ(call("POST", "/processes/nope/_start").status, 404);
}

TEST_F(CompatTest, PidActions) {
    add("web");
    std::string p = "/processes/" + std::to_string(first_pid("web"));
    EXPECT_EQ(call("POST", p + "/_signal/CONT").status, 200);
    EXPECT_EQ(call("POST", p + "/_stop").status, 200);
    EXPECT_EQ(error_name(call("POST", p + "/_start")), "resource_not_found");
    EXPECT_EQ(call("POST", "/processes/999999/_stop").status, 404);
}

TEST_F(CompatTest, Stats) {
    add("web", 2);
    add("app:worker");
    Response all = call("GET", "/stats");
    ASSERT_EQ(all.status, 200);
    auto aj = body(all);
    ASSERT_TRUE(json_is_array(aj.get()));
    EXPECT_EQ(json_array_size(aj.get()), 2u);

    Response one = call("GET", "/stats/web");
    ASSERT_EQ(one.status, 200);
    auto oj = body(one);
    EXPECT_STREQ(json_string_value(json_object_get(oj.get(), "name")), "web");
    const json_t* entry = json_array_get(json_object_get(oj.get(), "stats"), 0);
    EXPECT_TRUE(json_object_get(entry, "id"));
    EXPECT_TRUE(json_object_get(entry, "pid"));
    EXPECT_TRUE(json_object_get(entry, "cmdline"));
    EXPECT_TRUE(json_object_get(entry, "children"));
    int id = static_cast<int>(json_integer_value(json_object_get(entry, "id")));

    Response proc = call("GET", "/stats/web/" + std::to_string(id));
    ASSERT_EQ(proc.status, 200);
    EXPECT_EQ(int_member(proc, "id"), id);
    EXPECT_EQ(call("GET", "/stats/app:worker/" + std::to_string(id)).status, 404);  // not its job
    EXPECT_EQ(call("GET", "/stats/web/x").status, 400);
    EXPECT_EQ(call("GET", "/stats/nope").status, 404);
    EXPECT_EQ(call("GET", "/stats/app:worker").status, 200);
}

TEST_F(CompatTest, Groups) {
    add("app:web");
    add("app:worker", 1, false);
    add("solo");
    EXPECT_EQ(call("GET", "/groups").body, R"(["app","default"])");
    EXPECT_EQ(call("GET", "/groups/app").body, R"(["app:web","app:worker"])");
    EXPECT_EQ(call("GET", "/groups/nope").status, 404);
    EXPECT_EQ(call("POST", "/groups/app/_start").body, R"({"ok":true})");
    EXPECT_EQ(call("GET", "/status/app:worker").body, R"({"active":true,"running":1,"max_processes":1})");
    EXPECT_EQ(call("POST", "/groups/app/_restart").status, 200);
    EXPECT_EQ(call("POST", "/groups/app/_stop").status, 200);
    EXPECT_EQ(call("GET", "/status/app:web").body, R"({"active":false,"running":0,"max_processes":0})");
    EXPECT_EQ(error_name(call("POST", "/groups/app/_bogus")), "resource_not_found");
    EXPECT_EQ(call("POST", "/groups/nope/_start").status, 404);
    EXPECT_EQ(call("DELETE", "/groups/app").body, R"({"ok":true})");
    EXPECT_FALSE(manager_->has_job({"app", "web"}));
    EXPECT_TRUE(manager_->has_job({"default", "solo"}));
    EXPECT_EQ(call("DELETE", "/groups/app").status, 404);
}

}  // namespace
}  // namespace gaffer::http
