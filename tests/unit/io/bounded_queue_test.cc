// SPDX-License-Identifier: MIT
// Tests of lib/io/bounded_queue: byte and item caps, whole-chunk drops, and the dropped
// count kept at the position of the gap (§16 "Dropped output").
#include "lib/io/bounded_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace gaffer::io {
namespace {

TEST(BoundedQueue, FifoWithinCaps) {
    BoundedQueue q(10);
    EXPECT_TRUE(q.empty());
    EXPECT_TRUE(q.push("abc"));
    EXPECT_TRUE(q.push("defg"));
    EXPECT_EQ(q.bytes(), 7u);
    EXPECT_EQ(q.items(), 2u);
    EXPECT_EQ(q.pop(), "abc");
    EXPECT_EQ(q.pop(), "defg");
    EXPECT_EQ(q.pop(), std::nullopt);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(q.take_dropped(), 0u);
}

TEST(BoundedQueue, ByteCapIsExact) {
    BoundedQueue q(10);
    EXPECT_TRUE(q.push("12345"));
    EXPECT_TRUE(q.push("67890"));  // exactly full
    EXPECT_FALSE(q.push("x"));
    EXPECT_EQ(q.bytes(), 10u);
    EXPECT_EQ(q.dropped_pending(), 1u);
}

TEST(BoundedQueue, ChunkLargerThanTheCapIsDroppedWhole) {
    BoundedQueue q(4);
    EXPECT_FALSE(q.push("12345"));
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.take_dropped(), 5u);
    EXPECT_EQ(q.take_dropped(), 0u);  // reset
}

TEST(BoundedQueue, ItemCap) {
    BoundedQueue q(1000, 2);
    EXPECT_TRUE(q.push("a"));
    EXPECT_TRUE(q.push(""));
    EXPECT_FALSE(q.push("bc"));
    EXPECT_FALSE(q.push(""));  // an empty chunk that does not fit drops nothing
    EXPECT_EQ(q.items(), 2u);
    EXPECT_EQ(q.dropped_pending(), 2u);
}

TEST(BoundedQueue, DroppedCountComesBeforeTheDataAfterTheGap) {
    BoundedQueue q(6);
    ASSERT_TRUE(q.push("AAA"));
    ASSERT_TRUE(q.push("BBB"));
    EXPECT_FALSE(q.push("cc"));   // lost
    EXPECT_FALSE(q.push("ddd"));  // lost
    // The consumer protocol: marker (if any) before each chunk.
    std::string out;
    auto drain_one = [&] {
        if (uint64_t n = q.take_dropped())
            out += "[" + std::to_string(n) + "]";
        if (auto c = q.pop())
            out += *c;
    };
    drain_one();                 // AAA: no gap before it
    ASSERT_TRUE(q.push("EEE"));  // gap of 5 between BBB and EEE
    drain_one();
    drain_one();
    EXPECT_EQ(out, "AAABBB[5]EEE");
    EXPECT_EQ(q.dropped_pending(), 0u);
    EXPECT_EQ(q.dropped_total(), 5u);
}

TEST(BoundedQueue, GapAfterTheLastChunkIsReportedWhenEmpty) {
    BoundedQueue q(3);
    ASSERT_TRUE(q.push("abc"));
    EXPECT_FALSE(q.push("de"));
    EXPECT_EQ(q.take_dropped(), 0u);  // the gap is after "abc"
    EXPECT_EQ(q.pop(), "abc");
    EXPECT_EQ(q.take_dropped(), 2u);
    EXPECT_EQ(q.take_dropped(), 0u);
}

TEST(BoundedQueue, UntakenGapMovesForward) {
    BoundedQueue q(3);
    ASSERT_TRUE(q.push("ab"));
    EXPECT_FALSE(q.push("cd"));
    EXPECT_EQ(q.pop(), "ab");
    ASSERT_TRUE(q.push("e"));  // gap of 2 before "e"
    ASSERT_TRUE(q.push("f"));
    EXPECT_EQ(q.pop(), "e");  // consumer skipped take_dropped()
    EXPECT_EQ(q.dropped_pending(), 2u);
    EXPECT_EQ(q.take_dropped(), 2u);  // still reported, before "f"
    EXPECT_EQ(q.pop(), "f");
}

TEST(BoundedQueue, SeveralGapsStaySeparate) {
    BoundedQueue q(2);
    ASSERT_TRUE(q.push("a"));
    ASSERT_TRUE(q.push("b"));
    EXPECT_FALSE(q.push("123"));
    EXPECT_EQ(q.pop(), "a");
    ASSERT_TRUE(q.push("c"));
    EXPECT_FALSE(q.push("4567"));
    EXPECT_EQ(q.take_dropped(), 0u);
    EXPECT_EQ(q.pop(), "b");
    EXPECT_EQ(q.take_dropped(), 3u);
    EXPECT_EQ(q.pop(), "c");
    EXPECT_EQ(q.take_dropped(), 4u);
    EXPECT_EQ(q.dropped_total(), 7u);
}

TEST(BoundedQueue, MemoryStaysFlatUnderAFlood) {
    BoundedQueue q(64 * 1024, 16);
    uint64_t pushed = 0, accepted = 0;
    for (int i = 0; i < 100000; ++i) {
        std::string chunk(1 + i % 9000, 'x');
        pushed += chunk.size();
        size_t n = chunk.size();
        if (q.push(std::move(chunk)))
            accepted += n;
        ASSERT_LE(q.bytes(), 64u * 1024);
        ASSERT_LE(q.items(), 16u);
    }
    EXPECT_EQ(accepted + q.dropped_total(), pushed);
}

TEST(BoundedQueue, ClearEmptiesWithoutCounting) {
    BoundedQueue q(2);
    ASSERT_TRUE(q.push("ab"));
    EXPECT_FALSE(q.push("c"));
    q.clear();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(q.take_dropped(), 0u);
    EXPECT_TRUE(q.push("de"));
}

}  // namespace
}  // namespace gaffer::io
