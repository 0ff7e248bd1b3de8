// SPDX-License-Identifier: MIT
// Tests of lib/stats/cgroup_stats (CgroupSampler) fed with made-up cgroup Usage values:
// CPU percent from cpu_usec deltas, memory from the group, children from the members,
// and the /proc fallbacks. The only process inspected is the test itself.
#include "lib/stats/cgroup_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "lib/cgroup/cgroup.h"

namespace gaffer::stats {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

cgroup::Usage usage(std::optional<uint64_t> cpu_usec, std::optional<uint64_t> mem, std::vector<pid_t> members) {
    cgroup::Usage u;
    u.cpu_usec = cpu_usec;
    u.memory_bytes = mem;
    u.members = std::move(members);
    return u;
}

TEST(CgroupSampler, CpuPercentFromUsageDeltas) {
    CgroupSampler s;
    auto t0 = Clock::now();
    auto first = s.sample(usage(1'000'000, 64 << 20, {getpid()}), getpid(), t0);
    ASSERT_TRUE(first.cpu);
    EXPECT_EQ(*first.cpu, 0.0);  // nothing to compare with yet
    EXPECT_DOUBLE_EQ(*first.cpu_time, 1.0);

    auto second = s.sample(usage(1'995'000, 64 << 20, {getpid()}), getpid(), t0 + milliseconds(1000));
    EXPECT_DOUBLE_EQ(*second.cpu, 99.5);  // one core, whole tree
    auto third = s.sample(usage(2'995'000, 64 << 20, {getpid()}), getpid(), t0 + milliseconds(1500));
    EXPECT_DOUBLE_EQ(*third.cpu, 200.0);  // two cores for half a second
    auto idle = s.sample(usage(2'995'000, 64 << 20, {getpid()}), getpid(), t0 + milliseconds(2500));
    EXPECT_DOUBLE_EQ(*idle.cpu, 0.0);
}

TEST(CgroupSampler, MemoryFromTheGroup) {
    CgroupSampler s;
    auto st = s.sample(usage(5, uint64_t{64} << 20, {getpid()}), getpid(), Clock::now());
    EXPECT_EQ(st.rss, uint64_t{64} << 20);
    ASSERT_TRUE(st.mem);
    EXPECT_GT(*st.mem, 0.0);
    EXPECT_EQ(st.os_pid, getpid());
    EXPECT_FALSE(st.cmdline.empty());  // from /proc
    ASSERT_TRUE(st.vms);               // from /proc
    EXPECT_GT(*st.vms, 0u);
}

TEST(CgroupSampler, ProcFallbacksWhenCountersAreMissing) {
    CgroupSampler s;
    auto t0 = Clock::now();
    auto st = s.sample(usage(std::nullopt, std::nullopt, {getpid()}), getpid(), t0);
    ASSERT_TRUE(st.rss);  // VmRSS of the leader
    EXPECT_GT(*st.rss, 0u);
    ASSERT_TRUE(st.cpu);
    EXPECT_EQ(*st.cpu, 0.0);
    ASSERT_TRUE(st.cpu_time);  // the leader's utime+stime
    // The cgroup source appearing later restarts the delta: 0.0, not a bogus jump.
    auto later = s.sample(usage(500'000'000, std::nullopt, {getpid()}), getpid(), t0 + milliseconds(100));
    EXPECT_EQ(*later.cpu, 0.0);
}

TEST(CgroupSampler, ChildrenAreTheOtherMembers) {
    CgroupSampler s;
    pid_t parent = getppid();
    auto st = s.sample(usage(1, 1, {parent, getpid()}), getpid(), Clock::now());
    ASSERT_EQ(st.children.size(), 1u);
    EXPECT_EQ(st.children[0].os_pid, parent);
    EXPECT_EQ(*st.children[0].cpu, 0.0);
    EXPECT_TRUE(st.children[0].rss);
}

TEST(CgroupSampler, NoGroupIsProcSampler) {
    CgroupSampler s;
    auto st = s.sample(nullptr, nullptr, getpid(), Clock::now());
    EXPECT_EQ(st.os_pid, getpid());
    EXPECT_TRUE(st.rss);
    EXPECT_EQ(*st.cpu, 0.0);
}

TEST(CgroupSampler, GoneLeaderStillReportsTheGroup) {
    CgroupSampler s;
    // Pid 0x7ffffff0 does not exist: the fields from /proc stay empty, the group's stay.
    auto st = s.sample(usage(7'000'000, 4096, {}), 0x7ffffff0, Clock::now());
    EXPECT_EQ(st.rss, 4096u);
    EXPECT_DOUBLE_EQ(*st.cpu_time, 7.0);
    EXPECT_FALSE(st.vms);
    EXPECT_TRUE(st.children.empty());
}

}  // namespace
}  // namespace gaffer::stats
