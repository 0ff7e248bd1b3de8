// SPDX-License-Identifier: MIT
// Tests of lib/stats/proc_stats: parsing /proc/<pid>/stat (comm with spaces and
// parentheses), human-readable sizes and the ctime format of §3.8 (with hours).
#include "lib/stats/proc_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>

#include "lib/base/unique_fd.h"

namespace gaffer::stats {
namespace {

// The fields after comm, as the kernel prints them: state ppid pgrp session tty_nr
// tpgid flags minflt cminflt majflt cmajflt utime(250) stime(50) cutime cstime priority
// nice(5) num_threads itrealvalue starttime vsize(1048576) rss(256) rsslim ...
constexpr const char* kTail =
    " S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 5 1 0 12345 1048576 256 "
    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";

std::string stat_line(const std::string& pid, const std::string& comm) {
    return pid + " (" + comm + ")" + kTail;
}

struct CommCase {
    const char* comm;
};

class ParseProcStat : public ::testing::TestWithParam<CommCase> {};

TEST_P(ParseProcStat, FieldsAfterAnyComm) {
    const std::string comm = GetParam().comm;
    auto st = parse_proc_stat(stat_line("1234", comm));
    ASSERT_TRUE(st) << comm;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    EXPECT_EQ(st->pid, 1234);
    EXPECT_EQ(st->comm, comm);
    EXPECT_EQ(st->state, 'S');
    EXPECT_EQ(st->ppid, 1);
    EXPECT_DOUBLE_EQ(st->utime, 250 / ticks);
    EXPECT_DOUBLE_EQ(st->stime, 50 / ticks);
    EXPECT_EQ(st->nice, 5);
    EXPECT_EQ(st->vsize, 1048576u);
    EXPECT_EQ(st->rss, 256u * page);
}

INSTANTIATE_TEST_SUITE_P(Values, ParseProcStat,
                         ::testing::Values(CommCase{"sleep"}, CommCase{"my prog"}, CommCase{"a) b"}, CommCase{"(x)"},
                                           CommCase{") S 1 2 3 ("}, CommCase{"))"}, CommCase{""},
                                           CommCase{"tab\there"}));

TEST(ParseProcStat, NegativeNiceAndRunningState) {
    std::string line = "42 (worker) R 7 42 42 0 -1 0 0 0 0 0 1 2 0 0 39 -19 1 0 5 4096 3 0";
    auto st = parse_proc_stat(line);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->pid, 42);
    EXPECT_EQ(st->state, 'R');
    EXPECT_EQ(st->ppid, 7);
    EXPECT_EQ(st->nice, -19);
    EXPECT_EQ(st->vsize, 4096u);
}

TEST(ParseProcStat, RejectsMalformedText) {
    for (const std::string& bad : {std::string(""), std::string("1234"), std::string("1234 sleep S 1"),
                                   std::string("1234 (sleep S 1 2 3"),            // no ')'
                                   std::string("1234 sleep) S 1 2 3"),            // no '('
                                   std::string("x (sleep)") + kTail,              // pid not a number
                                   std::string("1234 (sleep) S 1 2 3 4 5 6 7")})  // too few fields
        EXPECT_FALSE(parse_proc_stat(bad)) << "[" << bad << "]";
}

TEST(ParseProcStat, ParsesOurOwnProcEntry) {
    auto text = read_file("/proc/self/stat");
    ASSERT_TRUE(text) << text.error().message();
    auto comm = read_file("/proc/self/comm");
    ASSERT_TRUE(comm);
    auto st = parse_proc_stat(*text);
    ASSERT_TRUE(st) << *text;
    EXPECT_EQ(st->pid, getpid());
    EXPECT_EQ(st->ppid, getppid());
    EXPECT_EQ(st->comm + "\n", *comm);
    EXPECT_EQ(st->state, 'R');  // it is us, reading
    EXPECT_GT(st->vsize, 0u);
    EXPECT_GT(st->rss, 0u);
}

TEST(ProcSampler, SamplesOurselves) {
    ProcSampler sampler;
    auto t0 = std::chrono::steady_clock::now();
    auto s = sampler.sample(getpid(), t0);
    EXPECT_EQ(s.os_pid, getpid());
    ASSERT_TRUE(s.rss);
    EXPECT_GT(*s.rss, 0u);
    ASSERT_TRUE(s.cpu);
    EXPECT_EQ(*s.cpu, 0.0);  // first sample
    ASSERT_TRUE(s.cpu_time);
    EXPECT_GE(*s.cpu_time, 0.0);
    auto s2 = sampler.sample(getpid(), t0 + std::chrono::seconds(1));
    ASSERT_TRUE(s2.cpu);
    EXPECT_GE(*s2.cpu, 0.0);
}

// ---------------------------------------------------------------- human_size

struct SizeCase {
    uint64_t bytes;
    const char* want;
};

class HumanSize : public ::testing::TestWithParam<SizeCase> {};

TEST_P(HumanSize, Table) {
    EXPECT_EQ(human_size(GetParam().bytes), GetParam().want) << GetParam().bytes;
}

INSTANTIATE_TEST_SUITE_P(Values, HumanSize,
                         ::testing::Values(SizeCase{0, "0B"}, SizeCase{1, "1B"}, SizeCase{512, "512B"},
                                           SizeCase{1023, "1023B"}, SizeCase{1024, "1K"}, SizeCase{1536, "1K"},
                                           SizeCase{1024 * 1024 - 1, "1023K"}, SizeCase{1024 * 1024, "1M"},
                                           SizeCase{10 * 1024 * 1024, "10M"}, SizeCase{120 * 1024 * 1024 + 5, "120M"},
                                           SizeCase{1ull << 30, "1G"}, SizeCase{5ull << 40, "5T"},
                                           SizeCase{1ull << 50, "1P"}, SizeCase{1ull << 60, "1E"},
                                           SizeCase{(1ull << 60) - 1, "1023P"},
                                           SizeCase{std::numeric_limits<uint64_t>::max(), "15E"}));

// ---------------------------------------------------------------- format_ctime

struct CtimeCase {
    double seconds;
    const char* want;
};

class FormatCtime : public ::testing::TestWithParam<CtimeCase> {};

TEST_P(FormatCtime, Table) {
    EXPECT_EQ(format_ctime(GetParam().seconds), GetParam().want) << GetParam().seconds;
}

INSTANTIATE_TEST_SUITE_P(Values, FormatCtime,
                         ::testing::Values(CtimeCase{0, "0:00.00"}, CtimeCase{0.12, "0:00.12"},
                                           CtimeCase{1.5, "0:01.50"}, CtimeCase{59.994, "0:59.99"},
                                           CtimeCase{59.999, "1:00.00"}, CtimeCase{62.5, "1:02.50"},
                                           CtimeCase{600, "10:00.00"}, CtimeCase{3599.99, "59:59.99"},
                                           CtimeCase{3600, "1:00:00.00"}, CtimeCase{3723.45, "1:02:03.45"},
                                           CtimeCase{90061.01, "25:01:01.01"}, CtimeCase{-1, "0:00.00"},
                                           CtimeCase{std::numeric_limits<double>::quiet_NaN(), "0:00.00"}));

}  // namespace
}  // namespace gaffer::stats
