// SPDX-License-Identifier: MIT
// Unit tests of lib/http/cors: the allow-list of security-defaults.md "Browsers".
#include "lib/http/cors.h"

#include <gtest/gtest.h>

namespace gaffer::http {
namespace {

Request with_origin(const char* origin) {
    Request r;
    r.method = "GET";
    r.path = "/";
    if (origin)
        r.headers["origin"] = origin;
    return r;
}

TEST(Cors, OffByDefault) {
    CorsPolicy p;
    Response resp;
    p.apply(with_origin("https://a.example"), resp);
    EXPECT_TRUE(resp.headers.empty());
}

TEST(Cors, ListedOriginIsEchoedWithCredentials) {
    CorsPolicy p({"https://a.example", "https://b.example/"});
    Response resp;
    p.apply(with_origin("https://b.example"), resp);
    EXPECT_EQ(resp.header("Access-Control-Allow-Origin").value_or(""), "https://b.example");
    EXPECT_EQ(resp.header("Access-Control-Allow-Credentials").value_or(""), "true");
    EXPECT_EQ(resp.header("Access-Control-Max-Age").value_or(""), "86400");
    std::string headers(resp.header("Access-Control-Allow-Headers").value_or(""));
    EXPECT_NE(headers.find("X-Api-Key"), std::string::npos);
    std::string methods(resp.header("Access-Control-Allow-Methods").value_or(""));
    for (const char* m : {"POST", "GET", "PUT", "DELETE", "OPTIONS"}) EXPECT_NE(methods.find(m), std::string::npos);
    EXPECT_EQ(resp.header("Vary").value_or(""), "Origin");
}

TEST(Cors, UnlistedAndNullOriginsGetNothing) {
    CorsPolicy p({"https://a.example"});
    for (const char* o : {"https://evil.example", "null", "https://a.example.evil", ""}) {
        Response resp;
        p.apply(with_origin(o), resp);
        EXPECT_FALSE(resp.header("Access-Control-Allow-Origin")) << o;
        EXPECT_FALSE(resp.header("Access-Control-Allow-Credentials")) << o;
    }
    Response none;
    p.apply(with_origin(nullptr), none);
    EXPECT_FALSE(none.header("Access-Control-Allow-Origin"));
}

TEST(Cors, StarAnswersStarWithoutCredentials) {
    CorsPolicy p({"*"});
    Response resp;
    p.apply(with_origin("https://any.example"), resp);
    EXPECT_EQ(resp.header("Access-Control-Allow-Origin").value_or(""), "*");
    EXPECT_FALSE(resp.header("Access-Control-Allow-Credentials"));
    Response null_origin;
    p.apply(with_origin("null"), null_origin);
    EXPECT_FALSE(null_origin.header("Access-Control-Allow-Origin"));
}

TEST(Cors, ListedOriginWinsOverStar) {
    CorsPolicy p({"*", "https://a.example"});
    Response resp;
    p.apply(with_origin("https://a.example"), resp);
    EXPECT_EQ(resp.header("Access-Control-Allow-Origin").value_or(""), "https://a.example");
    EXPECT_EQ(resp.header("Access-Control-Allow-Credentials").value_or(""), "true");
}

TEST(Cors, OriginMatchIgnoresCaseOfSchemeAndHost) {
    CorsPolicy p({"https://A.example"});
    Response resp;
    p.apply(with_origin("https://a.EXAMPLE"), resp);
    EXPECT_TRUE(resp.header("Access-Control-Allow-Origin"));
}

}  // namespace
}  // namespace gaffer::http
