// SPDX-License-Identifier: MIT
// Tests of lib/manager/job_events: event names and messages against the reference's
// tables (§6.2 HEAD catalogue, §6.3 0.4 catalogue), and what JobEvents publishes on a
// real bus (an epoll loop turned without waiting): each HEAD event once, its 0.4 aliases
// only to subscribers that named them.
#include "lib/manager/job_events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/events/event_bus.h"
#include "lib/json/json.h"
#include "lib/loop/loop.h"

namespace gaffer::manager {
namespace {

using model::JobName;
using Strings = std::vector<std::string>;

const JobName kDefaultWeb = JobName::parse("default.web");
const JobName kOpsDb = JobName::parse("ops.db");

// ---------------------------------------------------------------- names

TEST(JobEvents, TemplateNameIsTheJobInTheDefaultSessionElseSessionColonJob) {
    EXPECT_EQ(template_name(kDefaultWeb), "web");
    EXPECT_EQ(template_name(kOpsDb), "ops:db");
}

TEST(JobEvents, TypeNames) {
    EXPECT_EQ(job_event_type(kDefaultWeb, "spawn"), "job.default.web.spawn");
    EXPECT_EQ(job_event_type(kOpsDb, "kill"), "job.ops.db.kill");
    EXPECT_EQ(proc_event_type(12, "exit"), "proc.12.exit");
}

// §6.3: create→load, delete→unload, stop_pid→stop_process,
// proc.<name>.{start,stop,spawn,reap,exit,stop_pid}→job.<sid>.<name>.*.
struct AliasCase {
    const char* type;
    JobName name;
    Strings aliases;
};

class JobEventsAliases : public ::testing::TestWithParam<AliasCase> {};

TEST_P(JobEventsAliases, Table) {
    const auto& c = GetParam();
    EXPECT_EQ(aliases_04(c.type, c.name), c.aliases) << c.type;
}

INSTANTIATE_TEST_SUITE_P(
    Reference, JobEventsAliases,
    ::testing::Values(AliasCase{"load", kDefaultWeb, {"create"}}, AliasCase{"unload", kOpsDb, {"delete"}},
                      AliasCase{"stop_process", kDefaultWeb, {"stop_pid", "proc.web.stop_pid"}},
                      AliasCase{"stop_process", kOpsDb, {"stop_pid", "proc.ops:db.stop_pid"}},
                      AliasCase{"job.default.web.start", kDefaultWeb, {"proc.web.start"}},
                      AliasCase{"job.default.web.stop", kDefaultWeb, {"proc.web.stop"}},
                      AliasCase{"job.default.web.spawn", kDefaultWeb, {"proc.web.spawn"}},
                      AliasCase{"job.default.web.reap", kDefaultWeb, {"proc.web.reap"}},
                      AliasCase{"job.default.web.exit", kDefaultWeb, {"proc.web.exit"}},
                      AliasCase{"job.ops.db.exit", kOpsDb, {"proc.ops:db.exit"}},
                      // The global 0.4 names equal the HEAD ones: no alias, each event once.
                      AliasCase{"start", kDefaultWeb, {}}, AliasCase{"stop", kDefaultWeb, {}},
                      AliasCase{"update", kDefaultWeb, {}}, AliasCase{"spawn", kDefaultWeb, {}},
                      AliasCase{"reap", kDefaultWeb, {}}, AliasCase{"exit", kDefaultWeb, {}},
                      AliasCase{"flap", kDefaultWeb, {}},
                      // HEAD-only events and per-process types have none.
                      AliasCase{"job.default.web.kill", kDefaultWeb, {}}, AliasCase{"proc.3.exit", kDefaultWeb, {}},
                      AliasCase{"proc.3.kill", kDefaultWeb, {}}, AliasCase{"spawn_error", kDefaultWeb, {}},
                      AliasCase{"watchdog", kDefaultWeb, {}}, AliasCase{"ready_timeout", kDefaultWeb, {}},
                      // Another job's type is no alias of this one.
                      AliasCase{"job.default.webapp.exit", kDefaultWeb, {}},
                      AliasCase{"job.default.web.exit.x", kDefaultWeb, {}}));

// ---------------------------------------------------------------- messages

TEST(JobEvents, ExitMessageHasTheMembersOfTheTableInOrder) {
    ExitReport e{3, 4242, 1, 0, false, false};
    EXPECT_EQ(json::dump(exit_message(kDefaultWeb, e).get()),
              R"({"name":"default.web","pid":3,"os_pid":4242,"exit_status":1,"term_signal":0,"once":false})");
    e.once = true;
    e.oom = true;
    e.term_signal = 9;
    EXPECT_EQ(json::dump(exit_message(kOpsDb, e).get()),
              R"({"name":"ops.db","pid":3,"os_pid":4242,"exit_status":1,"term_signal":9,"once":true,"reason":"oom"})");
}

TEST(JobEvents, ProcessAndSpawnErrorMessages) {
    EXPECT_EQ(json::dump(process_message(kDefaultWeb, 1, 100).get()), R"({"name":"default.web","pid":1,"os_pid":100})");
    EXPECT_EQ(json::dump(job_message(kDefaultWeb, "signum", 15).get()), R"({"name":"default.web","signum":15})");
    EXPECT_EQ(json::dump(spawn_error_message(kDefaultWeb, 2, "exec", ENOENT).get()),
              R"({"name":"default.web","pid":2,"stage":"exec","errno":2,"reason":"No such file or directory"})");
}

// ---------------------------------------------------------------- publishing

class JobEventsBus : public ::testing::Test {
protected:
    void SetUp() override {
        auto l = loop::Loop::create(loop::Backend::kEpoll);
        ASSERT_TRUE(l) << l.error().message();
        loop_ = std::move(l).value();
        bus_ = std::make_unique<events::EventBus>(*loop_);
        events_ = std::make_unique<JobEvents>(*bus_);
    }

    // Records "type" (and the whole message for `messages`) for every delivery.
    void record(const char* pattern, Strings* types, Strings* messages = nullptr) {
        bus_->subscribe(pattern, [types, messages](const std::string& type, const json_t* msg) {
            types->push_back(type);
            if (messages)
                messages->push_back(json::dump(msg));
        });
    }
    void turn() { ASSERT_TRUE(loop_->run_once(std::chrono::milliseconds(0))); }

    std::unique_ptr<loop::Loop> loop_;
    std::unique_ptr<events::EventBus> bus_;
    std::unique_ptr<JobEvents> events_;
};

TEST_F(JobEventsBus, EverythingSubscriberGetsHeadNamesOnlyInTheDocumentedSequence) {
    Strings all;
    record(".", &all);
    Strings named;
    record("proc.web", &named);  // someone wants the 0.4 aliases
    events_->job("load", kDefaultWeb);
    events_->job_pair("start", kDefaultWeb);
    events_->spawned(kDefaultWeb, 1, 100, false);
    events_->spawned(kDefaultWeb, 2, 101, true);  // committed: no job.<>.spawn
    events_->reaped(kDefaultWeb, 1, 100);
    events_->exited(kDefaultWeb, {1, 100, 0, 15, false, false});
    events_->stopping(kDefaultWeb, 2);
    events_->job_killed(kDefaultWeb, 15);
    events_->process_killed(kDefaultWeb, 2);
    events_->job("unload", kDefaultWeb);
    turn();
    EXPECT_EQ(all, (Strings{"load", "start", "job.default.web.start", "spawn", "job.default.web.spawn", "spawn", "reap",
                            "job.default.web.reap", "proc.1.reap", "exit", "job.default.web.exit", "proc.1.exit",
                            "stop_process", "job.default.web.kill", "proc.2.kill", "unload"}));
    EXPECT_EQ(named,
              (Strings{"proc.web.start", "proc.web.spawn", "proc.web.reap", "proc.web.exit", "proc.web.stop_pid"}));
}

TEST_F(JobEventsBus, AliasesCarryTheSameMembersUnderTheirOwnEventName) {
    Strings types, messages;
    record("create", &types, &messages);
    record("stop_pid", &types, &messages);
    record("proc.ops:db.stop", &types, &messages);
    events_->job("load", kOpsDb);
    events_->stopping(kOpsDb, 7);
    events_->job_pair("stop", kOpsDb, "flapping");
    turn();
    EXPECT_EQ(types, (Strings{"create", "stop_pid", "proc.ops:db.stop"}));
    EXPECT_EQ(messages,
              (Strings{R"({"name":"ops.db","event":"create"})", R"({"name":"ops.db","pid":7,"event":"stop_pid"})",
                       R"({"name":"ops.db","reason":"flapping","event":"proc.ops:db.stop"})"}));
}

TEST_F(JobEventsBus, NoAliasIsBuiltWhenNobodyNamedIt) {
    Strings all;
    record(".", &all);
    events_->job("load", kDefaultWeb);
    events_->stopping(kDefaultWeb, 1);
    EXPECT_EQ(bus_->pending(), 2u);  // the HEAD events only
    turn();
    EXPECT_EQ(all, (Strings{"load", "stop_process"}));
}

}  // namespace
}  // namespace gaffer::manager
