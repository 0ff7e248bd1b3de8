// SPDX-License-Identifier: MIT
// Tests of the pure parsers of lib/cgroup on fixture files captured from a pure v2 host
// and a hybrid host (tests/fixtures/cgroup/{v2,hybrid}/): cpu.stat, memory.stat (v2 and
// v1), flat-keyed files, /proc/self/cgroup, the v1 mounts of mountinfo, and the cpu_max
// quota. No cgroup is touched.
#include "lib/cgroup/cgroup.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "lib/base/unique_fd.h"

namespace gaffer::cgroup {
namespace {

std::string fixture(const std::string& name) {
    auto text = read_file(std::string(GAFFER_CGROUP_FIXTURE_DIR) + "/" + name);
    EXPECT_TRUE(text) << name << ": " << (text ? "" : text.error().message());
    return text ? *text : std::string();
}

// ---- cpu.stat ----

struct CpuStatCase {
    const char* file;
    uint64_t usage_usec;
};
class ParseCpuStat : public ::testing::TestWithParam<CpuStatCase> {};

TEST_P(ParseCpuStat, UsageUsec) {
    auto usec = parse_cpu_stat(fixture(GetParam().file));
    ASSERT_TRUE(usec);
    EXPECT_EQ(*usec, GetParam().usage_usec);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ParseCpuStat,
                         ::testing::Values(CpuStatCase{"v2/cpu.stat", 2417563},       // with the cpu controller
                                           CpuStatCase{"hybrid/cpu.stat", 161878}));  // no trailing newline

TEST(ParseCpuStat, MissingOrGarbage) {
    EXPECT_FALSE(parse_cpu_stat(""));
    EXPECT_FALSE(parse_cpu_stat("user_usec 5\nsystem_usec 6\n"));
    EXPECT_FALSE(parse_cpu_stat("usage_usec lots\n"));
    EXPECT_FALSE(parse_cpu_stat("usage_usec -5\n"));
    EXPECT_EQ(parse_cpu_stat("usage_usec 18446744073709551615\n"), UINT64_MAX);
}

// ---- flat keyed files ----

TEST(ParseFlatKeyed, MemoryEvents) {
    auto clean = parse_flat_keyed(fixture("v2/memory.events"));
    EXPECT_EQ(clean.size(), 6u);
    EXPECT_EQ(clean.at("oom_kill"), 0u);
    auto oom = parse_flat_keyed(fixture("v2/memory.events.oom"));
    EXPECT_EQ(oom.at("oom_kill"), 1u);
    EXPECT_EQ(oom.at("max"), 41u);
    EXPECT_EQ(oom.at("oom_group_kill"), 0u);
}

TEST(ParseFlatKeyed, OomControl) {
    auto clean = parse_flat_keyed(fixture("hybrid/memory.oom_control"));
    EXPECT_EQ(clean.at("oom_kill_disable"), 0u);
    EXPECT_EQ(clean.at("under_oom"), 0u);
    EXPECT_EQ(clean.at("oom_kill"), 0u);
    EXPECT_EQ(parse_flat_keyed(fixture("hybrid/memory.oom_control.oom")).at("oom_kill"), 1u);
}

TEST(ParseFlatKeyed, PidsEvents) {
    EXPECT_EQ(parse_flat_keyed(fixture("v2/pids.events")).at("max"), 40u);
    EXPECT_EQ(parse_flat_keyed(fixture("hybrid/pids.events")).at("max"), 0u);
}

TEST(ParseFlatKeyed, SkipsLinesThatAreNotKeyValue) {
    auto kv = parse_flat_keyed("a 1\n\nb\nc x\n d 2 \ncore_sched.force_idle_usec 7\ne 3 4\n");
    EXPECT_EQ(kv.size(), 3u);
    EXPECT_EQ(kv.at("a"), 1u);
    EXPECT_EQ(kv.at("d"), 2u);
    EXPECT_EQ(kv.at("core_sched.force_idle_usec"), 7u);
}

TEST(ParseFlatKeyed, CpuStatHasEveryField) {
    auto kv = parse_flat_keyed(fixture("v2/cpu.stat"));
    EXPECT_EQ(kv.at("nr_throttled"), 37u);
    EXPECT_EQ(kv.at("throttled_usec"), 1873204u);
    EXPECT_EQ(parse_flat_keyed(fixture("hybrid/cpu.stat")).at("nice_usec"), 0u);
}

// ---- single values, cgroup.procs ----

TEST(ParseSingleValue, Files) {
    EXPECT_EQ(parse_single_value(fixture("v2/memory.current")), 67764224u);
    EXPECT_EQ(parse_single_value(fixture("v2/memory.peak")), 68222976u);
    EXPECT_EQ(parse_single_value(fixture("v2/pids.current")), 10u);
    EXPECT_EQ(parse_single_value(fixture("hybrid/memory.usage_in_bytes")), 74469376u);
    EXPECT_EQ(parse_single_value(fixture("hybrid/memory.max_usage_in_bytes")), 74469376u);
    EXPECT_EQ(parse_single_value(fixture("hybrid/pids.current")), 1u);
    EXPECT_FALSE(parse_single_value(fixture("v2/memory.max")));  // "max": no limit
    EXPECT_FALSE(parse_single_value(""));
    EXPECT_FALSE(parse_single_value("12 34"));
}

TEST(ParseProcs, Fixtures) {
    EXPECT_EQ(parse_procs(fixture("v2/cgroup.procs")), (std::vector<pid_t>{2412, 2415, 2419}));
    EXPECT_EQ(parse_procs(fixture("hybrid/cgroup.procs")), (std::vector<pid_t>{16148, 16150, 16151}));
    EXPECT_TRUE(parse_procs("").empty());
    EXPECT_EQ(parse_procs("0\n7\nx\n99999999999\n8"), (std::vector<pid_t>{7, 8}));
}

// ---- memory.stat ----

TEST(ParseMemoryStat, V2) {
    auto m = parse_memory_stat(fixture("v2/memory.stat"), false);
    EXPECT_EQ(m.anon, 67366912u);
    EXPECT_EQ(m.file, 4096u);
}

TEST(ParseMemoryStat, V1UsesHierarchicalTotals) {
    auto m = parse_memory_stat(fixture("hybrid/memory.stat"), true);
    EXPECT_EQ(m.anon, 74137600u);  // total_rss: 64 MiB touched plus the interpreter
    EXPECT_EQ(m.file, 0u);
    // Without the total_ lines (an old kernel, no hierarchy): the local values.
    auto local = parse_memory_stat("cache 4096\nrss 8192\n", true);
    EXPECT_EQ(local.anon, 8192u);
    EXPECT_EQ(local.file, 4096u);
}

TEST(ParseMemoryStat, WrongFlavourFindsNothing) {
    EXPECT_FALSE(parse_memory_stat(fixture("hybrid/memory.stat"), false).anon);
    EXPECT_FALSE(parse_memory_stat(fixture("v2/memory.stat"), true).anon);
}

// ---- /proc/self/cgroup ----

TEST(ParseProcCgroup, Hybrid) {
    auto pc = parse_proc_cgroup(fixture("hybrid/proc_self_cgroup"));
    ASSERT_TRUE(pc.v2_path);
    EXPECT_EQ(*pc.v2_path, "/");
    EXPECT_EQ(pc.v1.at("memory"), "/process_api/e79832d7fb290c8ad3356fcfa8983474");
    EXPECT_EQ(pc.v1.at("cpu"), "/");
    EXPECT_EQ(pc.v1.at("pids"), "/");
    EXPECT_EQ(pc.v1.at("name=systemd"), "/");
    EXPECT_EQ(pc.v1.size(), 9u);
}

TEST(ParseProcCgroup, HybridSystemdCoMounted) {
    auto pc = parse_proc_cgroup(fixture("hybrid/proc_self_cgroup.systemd"));
    EXPECT_EQ(*pc.v2_path, "/system.slice/gafferd.service");
    EXPECT_EQ(pc.v1.at("cpu"), "/system.slice/gafferd.service");
    EXPECT_EQ(pc.v1.at("cpuacct"), "/system.slice/gafferd.service");
    EXPECT_EQ(pc.v1.at("net_prio"), "/");
    EXPECT_EQ(pc.v1.at("memory"), "/system.slice/gafferd.service");
}

TEST(ParseProcCgroup, PureV2) {
    auto pc = parse_proc_cgroup(fixture("v2/proc_self_cgroup"));
    EXPECT_EQ(*pc.v2_path, "/system.slice/gafferd.service");
    EXPECT_TRUE(pc.v1.empty());
    EXPECT_EQ(*parse_proc_cgroup(fixture("v2/proc_self_cgroup.container")).v2_path, "/");
}

TEST(ParseProcCgroup, OddLines) {
    auto pc = parse_proc_cgroup("garbage\n3:memory:/a:b\n4:pids:\n");
    EXPECT_FALSE(pc.v2_path);
    EXPECT_EQ(pc.v1.at("memory"), "/a:b");  // a cgroup name may contain ':'
    EXPECT_EQ(pc.v1.count("pids"), 0u);
}

// ---- mountinfo ----

TEST(ParseV1Mounts, ThisHybridHost) {
    auto m = parse_v1_mounts(fixture("hybrid/mountinfo"));
    EXPECT_EQ(m.at("memory").mount_point, "/sys/fs/cgroup/memory");
    EXPECT_EQ(m.at("memory").root, "/");
    EXPECT_EQ(m.at("cpu").mount_point, "/sys/fs/cgroup/cpu");
    EXPECT_EQ(m.at("cpuacct").mount_point, "/sys/fs/cgroup/cpuacct");
    EXPECT_EQ(m.at("pids").mount_point, "/sys/fs/cgroup/pids");
    EXPECT_EQ(m.at("name=systemd").mount_point, "/sys/fs/cgroup/systemd");
    EXPECT_EQ(m.count("cgroup2"), 0u);  // the unified mount is not a v1 hierarchy
    EXPECT_EQ(m.count("rw"), 0u);

    auto pc = parse_proc_cgroup(fixture("hybrid/proc_self_cgroup"));
    EXPECT_EQ(v1_dir(m.at("memory"), pc.v1.at("memory")),
              "/sys/fs/cgroup/memory/process_api/e79832d7fb290c8ad3356fcfa8983474");
    EXPECT_EQ(v1_dir(m.at("pids"), pc.v1.at("pids")), "/sys/fs/cgroup/pids");
}

TEST(ParseV1Mounts, SystemdCoMountedAndOptions) {
    auto m = parse_v1_mounts(fixture("hybrid/mountinfo.systemd"));
    EXPECT_EQ(m.at("cpu").mount_point, "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(m.at("cpuacct").mount_point, "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(m.at("cpuset").mount_point, "/sys/fs/cgroup/cpuset");
    EXPECT_EQ(m.count("xattr"), 0u);
    EXPECT_EQ(m.count("clone_children"), 0u);
    EXPECT_EQ(m.at("name=systemd").mount_point, "/sys/fs/cgroup/systemd");
    auto pc = parse_proc_cgroup(fixture("hybrid/proc_self_cgroup.systemd"));
    EXPECT_EQ(v1_dir(m.at("cpu"), pc.v1.at("cpu")), "/sys/fs/cgroup/cpu,cpuacct/system.slice/gafferd.service");
}

TEST(ParseV1Mounts, DockerBindMountedRoots) {
    auto m = parse_v1_mounts(fixture("hybrid/mountinfo.docker"));
    EXPECT_EQ(m.at("memory").root, "/docker/3f1c2a7e9b0d");
    auto pc = parse_proc_cgroup(fixture("hybrid/proc_self_cgroup.docker"));
    EXPECT_EQ(v1_dir(m.at("memory"), pc.v1.at("memory")), "/sys/fs/cgroup/memory");
    EXPECT_EQ(v1_dir(m.at("memory"), "/docker/3f1c2a7e9b0d/sub"), "/sys/fs/cgroup/memory/sub");
    EXPECT_FALSE(v1_dir(m.at("memory"), "/docker/3f1c2a7e9b0dX"));  // a sibling, outside the mount
    EXPECT_FALSE(v1_dir(m.at("memory"), "/"));
    EXPECT_FALSE(v1_dir(m.at("memory"), "relative"));
}

TEST(ParseV1Mounts, PureV2HasNone) {
    EXPECT_TRUE(parse_v1_mounts(fixture("v2/mountinfo")).empty());
}

TEST(ParseV1Mounts, EscapedMountPoint) {
    auto m = parse_v1_mounts("40 31 0:37 / /mnt/my\\040cgroups rw - cgroup cgroup rw,memory\n");
    EXPECT_EQ(m.at("memory").mount_point, "/mnt/my cgroups");
}

// ---- cpu_max ----

TEST(CpuQuota, PercentOfOneCpu) {
    EXPECT_EQ(cpu_quota_usec(100), 100000u);
    EXPECT_EQ(cpu_quota_usec(50), 50000u);
    EXPECT_EQ(cpu_quota_usec(250), 250000u);
    EXPECT_EQ(cpu_quota_usec(12.5), 12500u);
    EXPECT_EQ(cpu_quota_usec(0.1), 1000u);  // the kernel's minimum
    EXPECT_EQ(cpu_quota_usec(20, 50000), 10000u);
    EXPECT_FALSE(cpu_quota_usec(0));
    EXPECT_FALSE(cpu_quota_usec(-5));
    EXPECT_FALSE(cpu_quota_usec(1e9));
    EXPECT_FALSE(cpu_quota_usec(std::numeric_limits<double>::quiet_NaN()));
    EXPECT_FALSE(cpu_quota_usec(std::numeric_limits<double>::infinity()));
}

TEST(Limits, Any) {
    EXPECT_FALSE(Limits{}.any());
    Limits l;
    l.pids_max = 10;
    EXPECT_TRUE(l.any());
}

TEST(Names, ToString) {
    EXPECT_STREQ(to_string(Mode::kHybrid), "hybrid");
    EXPECT_STREQ(to_string(Controller::kPids), "pids");
    EXPECT_STREQ(to_string(Source::kV1), "v1");
}

// A group that never got directories (mode none) has nothing to join or read.
TEST(Group, EmptyHasNoProcsFds) {
    Group g;
    EXPECT_TRUE(g.procs_fds().empty());
    g.close_join_fds();
    EXPECT_TRUE(g.procs_fds().empty());
}

}  // namespace
}  // namespace gaffer::cgroup
