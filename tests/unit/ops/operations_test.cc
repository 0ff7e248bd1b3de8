// SPDX-License-Identifier: MIT
// The operations table (lib/ops/operations.h) called directly over a real Manager on a
// real Loop (cgroups off): every row, every parameter it takes, a bad value of each kind
// and a missing required one are refused with that parameter named and nothing changed;
// rights come before arguments and, for a pid, before existence.
#include "lib/ops/operations.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/events/event_bus.h"
#include "lib/json/json.h"
#include "lib/loop/loop.h"
#include "lib/manager/manager.h"
#include "tests/helpers/test_manager.h"

namespace gaffer::ops {
namespace {

constexpr Op kAllOps[] = {
    Op::kSessions,    Op::kJobs,      Op::kSessionJobs,  Op::kLoad,          Op::kUpdate,      Op::kUnload,
    Op::kJobExists,   Op::kInfo,      Op::kStats,        Op::kNumprocesses,  Op::kScale,       Op::kStartJob,
    Op::kStopJob,     Op::kReloadJob, Op::kStopAll,      Op::kKillAll,       Op::kPids,        Op::kProcesses,
    Op::kCommit,      Op::kAllPids,   Op::kAllProcesses, Op::kProcessExists, Op::kProcessInfo, Op::kProcessStats,
    Op::kStopProcess, Op::kKill,      Op::kSend,
};

constexpr Param kAllParams[] = {kParamSession, kParamJob,   kParamPid,    kParamConfig,          kParamEnv,
                                kParamStart,   kParamScale, kParamSignal, kParamGracefulTimeout, kParamData,
                                kParamStream};

// A value of the wrong kind for each parameter (JSON text).
const std::map<Param, std::vector<const char*>> kBadValues = {
    {kParamSession, {"5", "\"\"", "[]"}},
    {kParamJob, {"5", "\"\"", "{}"}},
    {kParamPid, {"-1", "\"x\"", "1.5", "10000000000"}},
    {kParamConfig, {"5", "\"x\"", "{\"name\": \"x\"}", "{\"name\": \"x\", \"cmd\": 5}"}},
    {kParamEnv, {"5", "{\"\": \"x\"}", "{\"A=B\": \"x\"}", "{\"A\": \"x\\u0000y\"}", "{\"A\": 1}"}},
    {kParamStart, {"5", "\"yes\""}},
    {kParamScale, {"\"x\"", "\"++1\"", "1.5", "[]"}},
    {kParamSignal, {"\"SIGFOO\"", "999", "-1", "[]"}},
    {kParamGracefulTimeout, {"-1", "\"x\"", "1e10", "true"}},
    {kParamData, {"5", "[1]", "{}"}},
    {kParamStream, {"5", "\"\""}},
};

// A good value of each parameter, for the ones a case does not test.
const std::map<Param, const char*> kGoodValues = {
    {kParamSession, "\"default\""},
    {kParamJob, "\"default.web\""},
    {kParamPid, "1"},
    {kParamConfig, "{\"name\": \"web\", \"cmd\": \"sleep\", \"args\": [\"1000\"], \"start\": false}"},
    {kParamEnv, "{\"A\": \"1\"}"},
    {kParamStart, "false"},
    {kParamScale, "\"+0\""},
    {kParamSignal, "0"},
    {kParamGracefulTimeout, "1"},
    {kParamData, "\"\""},
    {kParamStream, "\"stdin\""},
};

Caller admin() {
    Caller c;
    c.perms.admin = true;
    return c;
}

class OperationsTest : public ::testing::Test {
protected:
    void SetUp() override {
        gaffer::testing::make_test_manager(loop_, bus_, manager_);
        ASSERT_TRUE(manager_);
        policy_.daemon_uid = geteuid();
        policy_.daemon_gid = getegid();
        model::JobSpec spec;
        spec.name = {"default", "web"};
        spec.cmd = "sleep";
        spec.args = {"1000"};
        spec.numprocesses = 1;
        ASSERT_TRUE(manager_->load(std::move(spec)));
        pid_ = manager_->pids({"default", "web"}).value().at(0);
    }

    void TearDown() override {
        bool done = false;
        manager_->shutdown([&] { done = true; });
        EXPECT_TRUE(loop_->run_until([&] { return done; }, std::chrono::seconds(20))) << "processes left behind";
    }

    Answer call(const Caller& who, Op op, const std::map<Param, std::string>& values) {
        Input in;
        held_.clear();
        for (const auto& [p, text] : values) {
            auto v = json::parse(text);
            EXPECT_TRUE(v) << text;
            if (!v)
                continue;
            held_.push_back(std::move(*v));
            in.at(p) = held_.back().get();
        }
        return ops::call(Context{*manager_, policy_}, who, op, in);
    }

    // What a refused operation must leave as it was.
    std::string state() {
        std::string s;
        for (const auto& j : manager_->jobs()) s += j + ";";
        for (int p : manager_->all_pids()) s += std::to_string(p) + ",";
        return s + std::to_string(manager_->numprocesses({"default", "web"}).value());
    }

    // Good values for every parameter of `row` but `except`.
    std::map<Param, std::string> good_values(const Operation& row, Param except) {
        std::map<Param, std::string> v;
        for (Param p : kAllParams) {
            if ((row.params & p) && p != except)
                v[p] = p == kParamPid ? std::to_string(pid_) : kGoodValues.at(p);
        }
        return v;
    }

    std::unique_ptr<loop::Loop> loop_;
    std::unique_ptr<events::EventBus> bus_;
    std::unique_ptr<manager::Manager> manager_;
    Policy policy_;
    int pid_ = 0;
    std::vector<json::JsonPtr> held_;
};

TEST(OperationTable, OneRowPerOperationWithItsOwnName) {
    std::map<std::string, int> names;
    for (Op op : kAllOps) {
        const Operation& row = operation(op);
        EXPECT_EQ(row.op, op);
        EXPECT_EQ(find_operation(row.name), &row) << row.name;
        EXPECT_EQ(row.required & ~row.params, 0u) << row.name << ": requires a parameter it does not take";
        ++names[row.name];
    }
    for (const auto& [name, n] : names) EXPECT_EQ(n, 1) << name;
    EXPECT_EQ(find_operation("nope"), nullptr);
}

TEST(OperationTable, AuthorizeListingChecksTheRowsRightOnListingsOnly) {
    Caller reader, nobody;
    reader.perms.read = {"*"};
    EXPECT_FALSE(authorize_listing(reader, Op::kAllProcesses).has_value());
    auto refused = authorize_listing(nobody, Op::kAllProcesses);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->error.code, EPERM);
    EXPECT_TRUE(refused->access);
    auto not_listing = authorize_listing(admin(), Op::kScale);
    ASSERT_TRUE(not_listing.has_value());
    EXPECT_EQ(not_listing->error.code, EINVAL);
}

TEST_F(OperationsTest, EveryBadValueOfEveryParameterIsRefusedNamingIt) {
    std::string before = state();
    int cases = 0;
    for (Op op : kAllOps) {
        const Operation& row = operation(op);
        for (Param p : kAllParams) {
            if (!(row.params & p) || p == kParamSession)
                continue;
            for (const char* bad : kBadValues.at(p)) {
                auto values = good_values(row, p);
                values[p] = bad;
                Answer a = call(admin(), op, values);
                ASSERT_FALSE(a.ok()) << row.name << " " << param_name(p) << "=" << bad;
                // A job config's own errors may name their member: still the config.
                EXPECT_EQ(a.failure->error.code, EINVAL)
                    << row.name << " " << param_name(p) << "=" << bad << ": " << a.failure->error.message();
                EXPECT_EQ(a.failure->param, p) << row.name << " " << param_name(p) << "=" << bad;
                EXPECT_FALSE(a.failure->missing);
                EXPECT_EQ(state(), before) << row.name << " " << param_name(p) << "=" << bad << " changed something";
                ++cases;
            }
        }
    }
    EXPECT_GT(cases, 60);
}

TEST_F(OperationsTest, EveryMissingRequiredParameterIsNamed) {
    for (Op op : kAllOps) {
        const Operation& row = operation(op);
        for (Param p : kAllParams) {
            if (!(row.required & p) || p == kParamSession)
                continue;
            Answer a = call(admin(), op, good_values(row, p));
            ASSERT_FALSE(a.ok()) << row.name << " without " << param_name(p);
            EXPECT_EQ(a.failure->error.code, EINVAL) << row.name << " without " << param_name(p);
            // An update without a job names the job its config gives: the config is then
            // the one at fault when it is missing too.
            if (!(op == Op::kUpdate && p == kParamJob)) {
                EXPECT_EQ(a.failure->param, p) << row.name << " without " << param_name(p);
                EXPECT_TRUE(a.failure->missing) << row.name << " without " << param_name(p);
            }
        }
    }
}

TEST_F(OperationsTest, RightsComeBeforeArgumentsAndBeforeExistence) {
    Caller reader;
    reader.perms.read = {"*"};
    std::string before = state();
    for (Op op : kAllOps) {
        const Operation& row = operation(op);
        if (row.access.right == Right::kRead)
            continue;
        // Every argument bad: the refusal is still about the right.
        std::map<Param, std::string> values;
        for (Param p : kAllParams) {
            if ((row.params & p) && p != kParamPid && p != kParamJob && p != kParamSession)
                values[p] = kBadValues.at(p)[0];
        }
        if (row.params & kParamJob)
            values[kParamJob] = "\"default.web\"";
        if (row.params & kParamPid)
            values[kParamPid] = std::to_string(pid_);
        Answer a = call(reader, op, values);
        ASSERT_FALSE(a.ok()) << row.name;
        EXPECT_EQ(a.failure->error.code, EPERM) << row.name << ": " << a.failure->error.message();
    }
    EXPECT_EQ(state(), before);

    // A pid that does not exist: refused as one of a job the caller may not manage, unless
    // the caller may manage every job (then: not found).
    Caller web_only;
    web_only.perms.manage = {"default.web"};
    Answer a = call(web_only, Op::kStopProcess, {{kParamPid, "999999"}});
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.failure->error.code, EPERM);
    a = call(admin(), Op::kStopProcess, {{kParamPid, "999999"}});
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.failure->error.code, ENOENT);
    // Its own job's process: allowed.
    a = call(web_only, Op::kProcessInfo, {{kParamPid, std::to_string(pid_)}});
    EXPECT_TRUE(a.ok());
    ASSERT_TRUE(a.job.has_value());
    EXPECT_EQ(a.job->qualified(), "default.web");
}

TEST_F(OperationsTest, JobsOfCallersWithoutFullRightsAreAdmittedByThePolicy) {
    Caller manager_of_default;
    manager_of_default.perms.manage = {"default"};
    std::string before = state();
    Answer a = call(manager_of_default, Op::kLoad,
                    {{kParamSession, "\"default\""},
                     {kParamConfig, "{\"name\": \"sh\", \"cmd\": \"true\", \"shell\": true, \"start\": false}"}});
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.failure->error.code, EPERM);
    EXPECT_NE(a.failure->error.context.find("shell"), std::string::npos) << a.failure->error.context;
    EXPECT_EQ(state(), before);
}

TEST_F(OperationsTest, ResultShapes) {
    Answer a = call(admin(), Op::kScale, {{kParamJob, "\"web\""}, {kParamScale, "\"+1\""}});
    ASSERT_TRUE(a.ok()) << a.failure->error.message();
    EXPECT_EQ(json::dump(a.result.get()), R"({"numprocesses":2})");
    a = call(admin(), Op::kPids, {{kParamJob, "\"default.web\""}});
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(json_array_size(json_object_get(a.result.get(), "pids")), 2u);
    a = call(admin(), Op::kSessionJobs, {{kParamSession, "\"default\""}});
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(json::dump(a.result.get()), R"({"sessionid":"default","jobs":["default.web"]})");
    a = call(admin(), Op::kJobExists, {{kParamJob, "\"nope\""}});
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.failure->error.code, ENOENT);
}

}  // namespace
}  // namespace gaffer::ops
