// SPDX-License-Identifier: MIT
// ctl/client/sockjs_client.h: the xhr_streaming frames a lookupd feed sends, split across
// reads anywhere, and the session paths a client makes up.
#include "ctl/client/sockjs_client.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace gaffer::client {
namespace {

struct Seen {
    int opens = 0;
    std::vector<std::string> messages;
    std::vector<std::string> closes;
    std::vector<std::string> errors;
};

SockJsParser parser(Seen& s) {
    SockJsParser::Handlers h;
    h.on_open = [&s] { ++s.opens; };
    h.on_message = [&s](std::string_view m) { s.messages.emplace_back(m); };
    h.on_close = [&s](long code, std::string_view reason) {
        s.closes.push_back(std::to_string(code) + " " + std::string(reason));
    };
    h.on_error = [&s](std::string_view w) { s.errors.emplace_back(w); };
    return SockJsParser(std::move(h));
}

const std::string kBody =
    std::string(2048, 'h') + "\no\nh\na[\"{\\\"event\\\":\\\"add_node\\\"}\",\"x\"]\n" + "c[3000,\"Go away!\"]\n";

TEST(SockJsParser, ReadsEveryFrameOfAStream) {
    Seen s;
    auto p = parser(s);
    p.feed(kBody);
    EXPECT_EQ(s.opens, 1);
    EXPECT_EQ(s.messages, (std::vector<std::string>{"{\"event\":\"add_node\"}", "x"}));
    EXPECT_EQ(s.closes, (std::vector<std::string>{"3000 Go away!"}));
    EXPECT_TRUE(s.errors.empty());
    EXPECT_EQ(p.frames(), 5u);  // prelude, o, h, a, c
}

TEST(SockJsParser, FramesSplitAtEveryByteGiveTheSameResult) {
    Seen s;
    auto p = parser(s);
    for (char c : kBody) p.feed(std::string_view(&c, 1));
    EXPECT_EQ(s.opens, 1);
    EXPECT_EQ(s.messages.size(), 2u);
    EXPECT_EQ(s.closes.size(), 1u);
    EXPECT_TRUE(s.errors.empty());
}

TEST(SockJsParser, MalformedFramesAreReportedAndSkipped) {
    Seen s;
    auto p = parser(s);
    p.feed("zzz\na{}\na[1,\"ok\"]\nc[\nhello\n");
    EXPECT_EQ(s.messages, (std::vector<std::string>{"ok"}));
    EXPECT_EQ(s.errors.size(), 5u);
    EXPECT_TRUE(s.closes.empty());
}

TEST(SockJsParser, AnOverlongLineIsDroppedWhole) {
    Seen s;
    auto p = parser(s);
    std::string big = "a[\"" + std::string(SockJsParser::kMaxLine, 'x') + "\"]\n";
    for (size_t i = 0; i < big.size(); i += 65536) p.feed(std::string_view(big).substr(i, 65536));
    p.feed("a[\"after\"]\n");
    EXPECT_EQ(s.errors.size(), 1u);
    EXPECT_EQ(s.messages, (std::vector<std::string>{"after"}));
}

TEST(SockJsParser, SessionPathsAreWellFormedAndDistinct) {
    std::string a = sockjs_xhr_streaming_path("lookup"), b = sockjs_xhr_streaming_path("lookup");
    EXPECT_TRUE(std::regex_match(a, std::regex("/lookup/[0-9]{3}/[a-z0-9]{16}/xhr_streaming"))) << a;
    EXPECT_NE(a, b);
}

TEST(LineSplitter, KeepsPartialLinesAndDropsOverlongOnes) {
    LineSplitter ls(4);
    std::vector<std::string> lines;
    int overlong = 0;
    auto on_line = [&](std::string_view l) { lines.emplace_back(l); };
    auto on_over = [&] { ++overlong; };
    ls.feed("ab", on_line, on_over);
    ls.feed("cd\nabcde", on_line, on_over);
    ls.feed("f\nxy\n", on_line, on_over);
    ls.feed("abc", on_line, on_over);
    ls.feed("de\nz\n", on_line, on_over);
    EXPECT_EQ(lines, (std::vector<std::string>{"abcd", "xy", "z"}));
    EXPECT_EQ(overlong, 2);
}

}  // namespace
}  // namespace gaffer::client
