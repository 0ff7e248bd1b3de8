// SPDX-License-Identifier: MIT
// ctl/client/answers.h: the texts both CLIs print (reference §11.1 fixes some of them).
#include "ctl/client/answers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gaffer::client {
namespace {

Response answer(long status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = "application/json";
    return r;
}

TEST(Answers, HttpErrorTextKeepsTheFixedSentencesOfReference11_1) {
    EXPECT_EQ(http_error_text(answer(401, "{\"error\":\"unauthorized\"}")), "Unauthorized access. You need an API key");
    EXPECT_EQ(http_error_text(answer(403, "{\"error\":\"forbidden\"}")),
              "Forbidden access. API key permissions aren't enough");
    EXPECT_EQ(http_error_text(answer(403, "{\"error\":\"forbidden\",\"reason\":\"manage on 'a' required\"}")),
              "Forbidden access. API key permissions aren't enough (manage on 'a' required)");
    EXPECT_EQ(http_error_text(answer(400, "{\"error\":\"bad_request\",\"reason\":\"cmd missing\"}")),
              "400 bad_request (cmd missing)");
    EXPECT_EQ(http_error_text(answer(404, "{\"error\":\"not_found\"}")), "404 not_found");
    EXPECT_EQ(http_error_text(answer(405, "")), "405 Method Not Allowed");
}

TEST(Answers, PidAndStream) {
    EXPECT_EQ(pid_and_stream("12"), std::make_pair(std::string("12"), std::string()));
    EXPECT_EQ(pid_and_stream("12.err"), std::make_pair(std::string("12"), std::string("err")));
    EXPECT_EQ(pid_and_stream("12.a.b"), std::make_pair(std::string("12"), std::string("a.b")));
    EXPECT_TRUE(is_pid("12"));
    EXPECT_FALSE(is_pid("12345678901"));
    EXPECT_FALSE(is_pid("web"));
    EXPECT_TRUE(is_qualified("app.web"));
    EXPECT_TRUE(is_qualified("app/web"));
    EXPECT_FALSE(is_qualified("web"));
}

TEST(Answers, PermissionsFromWords) {
    auto p = permissions_from_words({"+k", "app+rw", "app.web+m", "uid=www-data"});
    ASSERT_TRUE(p) << p.error().context;
    EXPECT_EQ(json::dump(p->get()),
              "{\"admin\":false,\"create_key\":true,\"create_user\":false,\"manage\":[\"app.web\"],"
              "\"write\":[\"app\"],\"read\":[\"app\"],\"uids\":[\"www-data\"]}");
    auto reg = permissions_from_words({"register=node-a", "register=*"});
    ASSERT_TRUE(reg);
    EXPECT_EQ(json::dump(json_object_get(reg->get(), "register")), "[\"node-a\",\"*\"]");
    auto a = permissions_from_words({"+a"});
    ASSERT_TRUE(a);
    EXPECT_TRUE(json_is_true(json_object_get(a->get(), "admin")));
    for (const char* bad : {"app", "app+x", "+z", "+rw", "register="}) {
        auto r = permissions_from_words({bad});
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, EINVAL);
        EXPECT_NE(r.error().context.find(std::string("'") + bad + "'"), std::string::npos) << r.error().context;
    }
}

TEST(Answers, EventLines) {
    std::string job = event_line("spawn", "{\"name\":\"app.web\",\"pid\":3}", false);
    EXPECT_EQ(job.substr(8), " app.web | spawn process with pid 3\n");
    std::string stop = event_line("stop", "{\"name\":\"app.web\"}", false);
    EXPECT_EQ(stop.substr(8), " app.web | stop app.web\n");
    std::string exit = event_line("exit", "{\"name\":\"a.w\",\"pid\":4,\"exit_status\":2,\"term_signal\":0}", false);
    EXPECT_EQ(exit.substr(8), " a.w | exit process with pid 4 (status 2)\n");
}

}  // namespace
}  // namespace gaffer::client
