// SPDX-License-Identifier: MIT
// Tests of lib/ws/v1: the V1 stdio-channel codec (reference §5.1), split on the first NUL
// only, the ids, the error bodies, AUTH and the mode parameter.
#include "lib/ws/v1.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>

namespace gaffer::ws::v1 {
namespace {

using namespace std::string_literals;

TEST(V1, DecodesAMessage) {
    auto f = decode("V1 message 0123abcd\0hello"s);
    ASSERT_TRUE(f) << f.error().context;
    EXPECT_EQ(*f, (Frame{Type::kMessage, "0123abcd", "hello"}));
    EXPECT_EQ(*decode("V1 response x\0OK"s), (Frame{Type::kResponse, "x", "OK"}));
    EXPECT_EQ(*decode("V1 error gaffer_error\0{}"s), (Frame{Type::kError, "gaffer_error", "{}"}));
}

TEST(V1, SplitsOnTheFirstNulOnly) {
    auto f = decode("V1 message id\0a\0b\0"s);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->body, "a\0b\0"s);
    EXPECT_EQ(f->id, "id");
}

TEST(V1, EmptyBody) {
    auto f = decode("V1 message id\0"s);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->body, "");
}

TEST(V1, RejectsMalformedMessages) {
    for (const std::string& bad :
         {""s, "V1"s, "V1 "s, "V2 message id\0x"s, "v1 message id\0x"s, "V1 message id"s, "V1 message\0x"s,
          "V1 message \0x"s, "V1 bogus id\0x"s, "V1 message a b\0x"s, "V1  message id\0x"s, "V1 MESSAGE id\0x"s}) {
        auto f = decode(bad);
        ASSERT_FALSE(f) << bad;
        EXPECT_EQ(f.error().code, EINVAL);
    }
}

TEST(V1, EncodeRoundTrips) {
    for (Type t : {Type::kMessage, Type::kResponse, Type::kError}) {
        std::string body = "x\0y"s;
        std::string wire = encode(t, "abc", body);
        auto f = decode(wire);
        ASSERT_TRUE(f);
        EXPECT_EQ(*f, (Frame{t, "abc", body}));
    }
    EXPECT_EQ(encode(Type::kMessage, "id", "data"), "V1 message id\0data"s);
}

TEST(V1, EncodeNeverCorruptsTheFraming) {
    EXPECT_EQ(encode(Type::kError, "", "b"), "V1 error gaffer_error\0b"s);
    EXPECT_EQ(encode(Type::kError, "a b\0c"s, "b"), "V1 error a_b_c\0b"s);
}

TEST(V1, Ids) {
    EXPECT_TRUE(is_valid_id("0123456789abcdef0123456789abcdef"));
    EXPECT_TRUE(is_valid_id(kConnectionErrorId));
    EXPECT_FALSE(is_valid_id(""));
    EXPECT_FALSE(is_valid_id("a b"));
    EXPECT_FALSE(is_valid_id("a\0b"s));
    std::set<std::string> seen;
    for (int i = 0; i < 32; ++i) {
        auto id = new_id();
        ASSERT_TRUE(id);
        ASSERT_EQ(id->size(), 32u);
        EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos);
        seen.insert(*id);
    }
    EXPECT_EQ(seen.size(), 32u);
}

TEST(V1, ServerMessages) {
    EXPECT_EQ(output_message("abc", "chunk\n"), "V1 message abc\0chunk\n"s);
    EXPECT_EQ(response_ok("abc"), "V1 response abc\0OK"s);
}

TEST(V1, ErrorBodies) {
    EXPECT_EQ(error_body(ErrorCode::kEperm), R"({"error":"EPERM","errno":403})");
    EXPECT_EQ(error_body(ErrorCode::kEnoent), R"({"error":"ENOENT","errno":404})");
    EXPECT_EQ(error_body(ErrorCode::kEio), R"({"error":"EIO","errno":500})");
    EXPECT_EQ(error_body(ErrorCode::kForbidden), R"({"error":"FORBIDDEN","errno":403})");
    EXPECT_EQ(error_body(ErrorCode::kAuthRequired), R"({"error":"AUTH_REQUIRED","errno":403})");
    EXPECT_EQ(error_body(ErrorCode::kNotFound), R"({"error":"not_found","errno":404})");
    EXPECT_EQ(error_message(kConnectionErrorId, ErrorCode::kNotFound),
              "V1 error gaffer_error\0{\"error\":\"not_found\",\"errno\":404}"s);
    EXPECT_EQ(overflow_body(1234), R"({"error":"EOVERFLOW","dropped":1234})");
}

TEST(V1, AuthKey) {
    EXPECT_EQ(auth_key("AUTH:secret"), std::optional<std::string_view>("secret"));
    EXPECT_EQ(auth_key("AUTH:"), std::optional<std::string_view>(""));
    EXPECT_FALSE(auth_key("auth:secret"));
    EXPECT_FALSE(auth_key("data"));
}

TEST(V1, Mode) {
    EXPECT_EQ(*parse_mode(std::nullopt), 3u);
    EXPECT_EQ(*parse_mode("1"), kModeRead);
    EXPECT_EQ(*parse_mode("2"), kModeWrite);
    EXPECT_EQ(*parse_mode("0"), 0u);
    for (const char* bad : {"", "4", "-1", "x", "11", " 1"}) EXPECT_FALSE(parse_mode(bad)) << bad;
}

}  // namespace
}  // namespace gaffer::ws::v1
