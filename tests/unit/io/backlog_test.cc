// SPDX-License-Identifier: MIT
// Tests of lib/io/backlog: the ring keeps the most recent bytes across wrap-around, counts
// everything appended, and tail() starts at a line boundary when it can.
#include "lib/io/backlog.h"

#include <gtest/gtest.h>

#include <string>

namespace gaffer::io {
namespace {

TEST(Backlog, EmptyHasNothing) {
    Backlog b(16);
    EXPECT_EQ(b.tail(100), "");
    EXPECT_EQ(b.total(), 0u);
    EXPECT_EQ(b.size(), 0u);
}

TEST(Backlog, KeepsEverythingBelowCapacity) {
    Backlog b(16);
    b.append("ab\n");
    b.append("cd\n");
    EXPECT_EQ(b.tail(100), "ab\ncd\n");
    EXPECT_EQ(b.total(), 6u);
    EXPECT_EQ(b.size(), 6u);
}

TEST(Backlog, WrapsAroundKeepingTheNewestBytes) {
    Backlog b(8);
    std::string all;
    for (int i = 0; i < 50; ++i) {
        std::string piece = std::to_string(i) + ",";
        b.append(piece);
        all += piece;
        ASSERT_EQ(b.size(), std::min<size_t>(all.size(), 8));
        // No '\n' anywhere: nothing to align to, so tail() is the raw window.
        ASSERT_EQ(b.tail(8), all.substr(all.size() - b.size())) << i;
    }
    EXPECT_EQ(b.total(), all.size());
    EXPECT_EQ(b.tail(3), all.substr(all.size() - 3));
}

TEST(Backlog, ByteAtATimeMatchesBulk) {
    const std::string text = "line one\nline two\nthree\nfour four four\nfive\n";
    for (size_t cap = 1; cap <= text.size() + 2; ++cap) {
        Backlog bytewise(cap), bulk(cap);
        for (char c : text) bytewise.append(std::string_view(&c, 1));
        bulk.append(text);
        for (size_t max = 0; max <= cap + 1; ++max) ASSERT_EQ(bytewise.tail(max), bulk.tail(max)) << cap << " " << max;
    }
}

TEST(Backlog, ChunkLargerThanCapacityKeepsItsEnd) {
    Backlog b(5);
    b.append("xy");
    b.append("0123456789");
    EXPECT_EQ(b.size(), 5u);
    EXPECT_EQ(b.tail(5), "56789");
    EXPECT_EQ(b.total(), 12u);
}

TEST(Backlog, TailStartsAtALineBoundary) {
    Backlog b(12);
    b.append("aaaa\nbbbb\ncccc\n");  // keeps "a\nbbbb\ncccc\n"
    EXPECT_EQ(b.tail(100), "bbbb\ncccc\n");
    EXPECT_EQ(b.tail(7), "cccc\n");  // window "b\ncccc\n"
    EXPECT_EQ(b.tail(5), "cccc\n");  // window begins right after a '\n'
}

TEST(Backlog, TailKeepsAPartialLineWhenThatIsAllThereIs) {
    Backlog b(6);
    b.append("0123456789");  // no line end at all
    EXPECT_EQ(b.tail(4), "6789");
    b.append("ab\n");  // window "789ab\n": the only '\n' ends it
    EXPECT_EQ(b.tail(6), "789ab\n");
}

TEST(Backlog, DroppedBytesEndingALineMakeTheOldestByteALineStart) {
    Backlog b(4);
    b.append("xx\nabcd");  // kept "abcd", the byte before it is '\n'
    b.append("");
    EXPECT_EQ(b.tail(4), "abcd");
    Backlog c(4);
    c.append("xx\nabcde\nf");  // kept "de\nf", mid-line
    EXPECT_EQ(c.tail(4), "f");
}

TEST(Backlog, ZeroCapacityOnlyCounts) {
    Backlog b(0);
    b.append("hello\n");
    EXPECT_EQ(b.total(), 6u);
    EXPECT_EQ(b.tail(10), "");
}

TEST(Backlog, ClearForgetsTheBytesButNotTheTotal) {
    Backlog b(8);
    b.append("abc\ndef");
    b.clear();
    EXPECT_EQ(b.tail(8), "");
    b.append("gh\n");
    EXPECT_EQ(b.tail(8), "gh\n");
    EXPECT_EQ(b.total(), 10u);
}

}  // namespace
}  // namespace gaffer::io
