// SPDX-License-Identifier: MIT
// Unit tests of lib/http/codec: the JSON shapes of §3.4, §3.5, §3.7, §3.8 and the 0.4
// names, built from plain model values.
#include "lib/ops/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/json/json.h"

namespace gaffer::ops {
namespace {

std::string dump(const json::JsonPtr& j) {
    return json::dump(j.get());
}

const json_t* member(const json::JsonPtr& j, const char* key) {
    return json_object_get(j.get(), key);
}

std::string str_member(const json::JsonPtr& j, const char* key) {
    const json_t* v = member(j, key);
    return json_is_string(v) ? json_string_value(v) : "<not a string>";
}

TEST(Codec, JsonStringsOfInvalidUtf8KeepTheValidText) {
    // jansson refuses these; the text around them must survive, not become "".
    for (std::string bad : {"a\xED\xA0\x80z", "a\xC0\xAFz", "a\xF4\x90\x80\x80z", "a\xFFz"}) {
        json::JsonPtr j = json::str(bad);
        ASSERT_TRUE(json_is_string(j.get()));
        std::string v = json_string_value(j.get());
        EXPECT_EQ(v.front(), 'a') << v;
        EXPECT_EQ(v.back(), 'z') << v;
        EXPECT_NE(v.find("\xEF\xBF\xBD"), std::string::npos) << v;
    }
}

TEST(Codec, HumanSizeUsesTheLargestUnitAndTheIntegerPart) {
    EXPECT_EQ(human_size(0), "0B");
    EXPECT_EQ(human_size(1023), "1023B");
    EXPECT_EQ(human_size(1024), "1K");
    EXPECT_EQ(human_size(1536), "1K");
    EXPECT_EQ(human_size(10ull << 20), "10M");
    EXPECT_EQ(human_size((120ull << 20) + 5), "120M");
    EXPECT_EQ(human_size(3ull << 30), "3G");
    EXPECT_EQ(human_size(1ull << 40), "1T");
    EXPECT_EQ(human_size(1ull << 50), "1P");
    EXPECT_EQ(human_size(1ull << 60), "1E");
    EXPECT_EQ(human_size(UINT64_MAX), "15E");
}

TEST(Codec, CtimeIsMinutesSecondsHundredths) {
    EXPECT_EQ(format_ctime(0), "0:00.00");
    EXPECT_EQ(format_ctime(0.12), "0:00.12");
    EXPECT_EQ(format_ctime(5.5), "0:05.50");
    EXPECT_EQ(format_ctime(61.239), "1:01.23");
    EXPECT_EQ(format_ctime(59 * 60 + 59.99), "59:59.99");
}

TEST(Codec, CtimeKeepsHoursFromOneHourOn) {
    EXPECT_EQ(format_ctime(3600), "1:00:00.00");
    EXPECT_EQ(format_ctime(2 * 3600 + 3 * 60 + 4.05), "2:03:04.05");
    EXPECT_EQ(format_ctime(100 * 3600), "100:00:00.00");
}

TEST(Codec, CtimeOfJunkIsZero) {
    EXPECT_EQ(format_ctime(-1), "0:00.00");
    EXPECT_EQ(format_ctime(std::nan("")), "0:00.00");
}

TEST(Codec, ConfigAddsTheShortNameAndDropsStart) {
    auto cfg = encode_config(R"({"cmd":"sleep","start":false,"custom_channels":["x"],"zz":1})", "web");
    EXPECT_EQ(dump(cfg), R"({"name":"web","cmd":"sleep","zz":1})");
    auto keep = encode_config(R"({"name":"web","cmd":"x"})", "web");
    EXPECT_EQ(dump(keep), R"({"name":"web","cmd":"x"})");
    auto broken = encode_config("not json", "web");
    EXPECT_EQ(dump(broken), R"({"name":"web"})");
}

TEST(Codec, JobInfoShape) {
    model::JobInfo info;
    info.name = {"default", "web"};
    info.active = true;
    info.running = 3;
    info.running_out = 1;
    info.max_processes = 2;
    info.processes = {3, 4, 7};
    info.config_json = R"({"name":"web","cmd":"python","numprocesses":2})";
    auto j = encode_job_info(info);
    EXPECT_EQ(dump(j), R"({"name":"default.web","active":true,"running":3,"running_out":1,"max_processes":2,)"
                       R"("processes":[3,4,7],"config":{"name":"web","cmd":"python","numprocesses":2}})");
}

TEST(Codec, ProcessInfoShape) {
    model::ProcessInfo p;
    p.pid = 3;
    p.os_pid = 41234;
    p.job = {"default", "web"};
    p.cmd = "python";
    p.args = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"-u", "app.py"});
    p.env = std::make_shared<const model::Env>(model::Env{{"PORT", "8080"}});
    p.create_time = 1380000000.25;
    p.redirect_output = {"out", "err"};
    p.slot = 2;
    auto j = encode_process_info(p);
    EXPECT_EQ(dump(j), R"({"pid":3,"name":"default.web","cmd":"python","args":["-u","app.py"],"env":{"PORT":"8080"},)"
                       R"("uid":null,"gid":null,"os_pid":41234,"create_time":1380000000.25,"commited":false,"slot":2,)"
                       R"("redirect_output":["out","err"],"redirect_input":false,"custom_streams":[],"active":true})");
    p.uid = 1000;
    p.gid = 100;
    auto k = encode_process_info(p);
    EXPECT_EQ(json_integer_value(member(k, "uid")), 1000);
    EXPECT_EQ(json_integer_value(member(k, "gid")), 100);
}

TEST(Codec, ProcessEntryShape) {
    model::ProcessInfo p;
    p.pid = 3;
    p.os_pid = 41234;
    p.job = {"default", "web"};
    p.create_time = 1380000000.25;
    p.state = model::ProcState::kStopping;
    p.restarts = 2;
    p.slot = 1;
    auto list = encode_process_list({p});
    EXPECT_EQ(dump(list), R"({"processes":[{"pid":3,"os_pid":41234,"name":"default.web","state":"stopping",)"
                          R"("create_time":1380000000.25,"commited":false,"restarts":2,"slot":1}]})");
}

model::ProcessStats sample(int pid, double cpu, double mem) {
    model::ProcessStats s;
    s.pid = pid;
    s.os_pid = 1000 + pid;
    s.rss = 10ull << 20;
    s.vms = 120ull << 20;
    s.cpu = cpu;
    s.mem = mem;
    s.cpu_time = 0.12;
    s.username = "alice";
    s.nice = 5;
    s.cmdline = "python";
    return s;
}

TEST(Codec, ProcessStatsFields) {
    auto s = sample(3, 1.25, 0.44);
    model::ProcessStats child = sample(0, 0, 0);
    child.os_pid = 999;
    s.children.push_back(child);
    auto j = encode_process_stats(s);
    EXPECT_EQ(str_member(j, "mem_info1"), "10M");
    EXPECT_EQ(str_member(j, "mem_info2"), "120M");
    EXPECT_DOUBLE_EQ(json_number_value(member(j, "cpu")), 1.3);
    EXPECT_DOUBLE_EQ(json_number_value(member(j, "mem")), 0.4);
    EXPECT_EQ(str_member(j, "ctime"), "0:00.12");
    EXPECT_EQ(str_member(j, "username"), "alice");
    EXPECT_EQ(json_integer_value(member(j, "nice")), 5);
    EXPECT_EQ(str_member(j, "cmdline"), "python");
    EXPECT_EQ(member(j, "pid"), nullptr);  // HEAD /<pid>/stats: no identity members
    const json_t* children = member(j, "children");
    ASSERT_EQ(json_array_size(children), 1u);
    EXPECT_EQ(json_integer_value(json_object_get(json_array_get(children, 0), "pid")), 999);
}

TEST(Codec, MissingStatsAreNA) {
    model::ProcessStats s;
    auto j = encode_process_stats(s);
    for (const char* k : {"mem_info1", "mem_info2", "cpu", "mem", "ctime"}) EXPECT_EQ(str_member(j, k), "N/A") << k;
}

TEST(Codec, StatsEntryIdentityPerFlavor) {
    auto s = sample(3, 0, 0);
    auto head = encode_process_stats_entry(s, StatsFlavor::kHead);
    EXPECT_EQ(json_integer_value(member(head, "pid")), 3);
    EXPECT_EQ(json_integer_value(member(head, "os_pid")), 1003);
    EXPECT_EQ(member(head, "id"), nullptr);
    auto old = encode_process_stats_entry(s, StatsFlavor::kCompat04);
    EXPECT_EQ(json_integer_value(member(old, "id")), 3);
    EXPECT_EQ(json_integer_value(member(old, "pid")), 1003);
    EXPECT_EQ(member(old, "os_pid"), nullptr);
}

TEST(Codec, JobStatsAggregates) {
    auto j = encode_job_stats("default.web", {sample(1, 1.0, 0.4), sample(2, 3.0, 0.2)}, StatsFlavor::kHead);
    EXPECT_EQ(str_member(j, "name"), "default.web");
    EXPECT_EQ(json_array_size(member(j, "stats")), 2u);
    EXPECT_DOUBLE_EQ(json_number_value(member(j, "mem")), 0.6);
    EXPECT_DOUBLE_EQ(json_number_value(member(j, "max_mem")), 0.4);
    EXPECT_DOUBLE_EQ(json_number_value(member(j, "min_mem")), 0.2);
    EXPECT_DOUBLE_EQ(json_number_value(member(j, "cpu")), 4.0);
    EXPECT_DOUBLE_EQ(json_number_value(member(j, "max_cpu")), 3.0);
    EXPECT_DOUBLE_EQ(json_number_value(member(j, "min_cpu")), 1.0);
}

// §3.5 [BUG] Required: "N/A", never "N", "/", "A".
TEST(Codec, JobStatsWithoutProcessesAreNA) {
    auto j = encode_job_stats("default.web", {}, StatsFlavor::kHead);
    for (const char* k : {"mem", "max_mem", "min_mem", "cpu", "max_cpu", "min_cpu"}) {
        EXPECT_EQ(str_member(j, k), "N/A") << k;
    }
    EXPECT_EQ(json_array_size(member(j, "stats")), 0u);
}

TEST(Codec, JobStatsWithOneNAProcessAreNA) {
    model::ProcessStats gone;
    gone.pid = 2;
    auto j = encode_job_stats("default.web", {sample(1, 1.0, 0.4), gone}, StatsFlavor::kHead);
    for (const char* k : {"mem", "max_mem", "min_mem", "cpu", "max_cpu", "min_cpu"}) {
        EXPECT_EQ(str_member(j, k), "N/A") << k;
    }
}

TEST(Codec, CompatNames) {
    EXPECT_EQ(compat_name({"default", "web"}), "web");
    EXPECT_EQ(compat_name({"app", "web"}), "app:web");
    EXPECT_EQ(parse_compat_name("web"), (model::JobName{"default", "web"}));
    EXPECT_EQ(parse_compat_name("app:web"), (model::JobName{"app", "web"}));
    EXPECT_EQ(parse_compat_name("app.web"), (model::JobName{"app", "web"}));
}

}  // namespace
}  // namespace gaffer::ops
