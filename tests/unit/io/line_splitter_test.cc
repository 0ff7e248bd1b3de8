// SPDX-License-Identifier: MIT
// Tests of lib/io/line_splitter: lines reassembled across chunks, the bounded partial
// line (overlong lines in pieces, cut on UTF-8 boundaries) and flush at end of stream.
#include "lib/io/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace gaffer::io {
namespace {

std::vector<std::string> feed_all(LineSplitter& s, const std::vector<std::string>& chunks, bool flush = false) {
    std::vector<std::string> out;
    auto sink = [&](std::string_view l) { out.emplace_back(l); };
    for (const auto& c : chunks) s.feed(c, sink);
    if (flush)
        s.flush(sink);
    return out;
}

using Lines = std::vector<std::string>;

TEST(LineSplitter, WholeLinesInOneChunk) {
    LineSplitter s;
    EXPECT_EQ(feed_all(s, {"a\nbb\n\nccc\n"}), (Lines{"a", "bb", "", "ccc"}));
    EXPECT_EQ(s.pending(), 0u);
}

TEST(LineSplitter, LinesAcrossChunks) {
    LineSplitter s;
    EXPECT_EQ(feed_all(s, {"hel", "lo\nwor", "", "ld", "\n", "tail"}), (Lines{"hello", "world"}));
    EXPECT_EQ(s.pending(), 4u);
    EXPECT_EQ(feed_all(s, {}, true), (Lines{"tail"}));
    EXPECT_EQ(s.pending(), 0u);
    EXPECT_EQ(feed_all(s, {}, true), Lines{});
}

TEST(LineSplitter, CarriageReturnIsKept) {
    LineSplitter s;
    EXPECT_EQ(feed_all(s, {"a\r\n"}), (Lines{"a\r"}));
}

TEST(LineSplitter, OverlongLineComesInPieces) {
    LineSplitter s(4);
    EXPECT_EQ(feed_all(s, {"abcdefghij\nxy\n"}), (Lines{"abcd", "efgh", "ij", "xy"}));
    EXPECT_EQ(feed_all(s, {"12", "34", "56", "7\n"}), (Lines{"1234", "567"}));
    EXPECT_LE(s.pending(), 4u);
}

TEST(LineSplitter, LineOfExactlyTheLimitIsWhole) {
    LineSplitter s(4);
    EXPECT_EQ(feed_all(s, {"abcd\n"}), (Lines{"abcd"}));
    EXPECT_EQ(feed_all(s, {"ab", "cd", "\n"}), (Lines{"abcd"}));
}

TEST(LineSplitter, PiecesDoNotSplitUtf8Characters) {
    LineSplitter s(4);
    // "aé€" = 61 | C3 A9 | E2 82 AC: a cut after 4 bytes would split the euro sign.
    const std::string text = "a\xC3\xA9\xE2\x82\xAC\n";
    EXPECT_EQ(feed_all(s, {text}), (Lines{"a\xC3\xA9", "\xE2\x82\xAC"}));
}

TEST(LineSplitter, InvalidUtf8IsCutAtTheLimit) {
    LineSplitter s(4);
    EXPECT_EQ(feed_all(s, {"\x80\x80\x80\x80\x80\x80\n"}), (Lines{"\x80\x80\x80\x80", "\x80\x80"}));
}

TEST(LineSplitter, DefaultLimitIs64KiB) {
    LineSplitter s;
    EXPECT_EQ(s.max_line(), 64u * 1024);
    std::string big(200 * 1024, 'x');
    auto lines = feed_all(s, {big.substr(0, 1000), big.substr(1000), "\n"});
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0].size(), 64u * 1024);
    EXPECT_EQ(lines[3].size(), 200u * 1024 - 3 * 64 * 1024);
    EXPECT_EQ(s.pending(), 0u);
}

TEST(LineSplitter, PendingNeverExceedsTheLimit) {
    LineSplitter s(16);
    size_t total = 0;
    std::string got;
    auto sink = [&](std::string_view l) { got.append(l); };
    for (int i = 0; i < 1000; ++i) {
        std::string chunk(static_cast<size_t>(i % 37), static_cast<char>('a' + i % 26));
        total += chunk.size();
        s.feed(chunk, sink);
        ASSERT_LE(s.pending(), 16u);
    }
    s.flush(sink);
    EXPECT_EQ(got.size(), total);
}

}  // namespace
}  // namespace gaffer::io
