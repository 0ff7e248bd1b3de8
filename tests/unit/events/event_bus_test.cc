// SPDX-License-Identifier: MIT
// Tests of lib/events/event_bus: pattern semantics of §6.1 (whole-segment prefixes,
// trailing '.', '.' for everything, exactly-once delivery), asynchronous delivery on the
// next loop turn in publish order, unsubscribing during delivery and the bounded queue.
// The loop is a real one (epoll: no kernel feature needed) but nothing waits on time:
// turns are run with a zero timeout.
#include "lib/events/event_bus.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "lib/json/json.h"
#include "lib/loop/loop.h"

namespace gaffer::events {
namespace {

// ---------------------------------------------------------------- matches()

struct MatchCase {
    const char* pattern;
    const char* type;
    bool want;
};

class EventBusMatches : public ::testing::TestWithParam<MatchCase> {};

TEST_P(EventBusMatches, Table) {
    const auto& c = GetParam();
    EXPECT_EQ(EventBus::matches(c.pattern, c.type), c.want) << "pattern '" << c.pattern << "' type '" << c.type << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Values, EventBusMatches,
    ::testing::Values(
        // exact and whole-segment prefixes, any depth
        MatchCase{"spawn", "spawn", true}, MatchCase{"job", "job", true},
        MatchCase{"job", "job.default.web.exit", true}, MatchCase{"job.default", "job.default.web.spawn", true},
        MatchCase{"job.default.web", "job.default.web.exit", true},
        MatchCase{"job.default.web.exit", "job.default.web.exit", true}, MatchCase{"proc.12", "proc.12.exit", true},
        // not on a segment boundary, or longer than the type
        MatchCase{"job", "jobs", false}, MatchCase{"job", "jo", false}, MatchCase{"spawn", "spawn_error", false},
        MatchCase{"proc.1", "proc.12.exit", false}, MatchCase{"job.default.web", "job.default.webapp.exit", false},
        MatchCase{"job.default.web.exit", "job.default.web", false},
        MatchCase{"exit", "job.default.web.exit", false},  // prefix only
        MatchCase{"default", "job.default.web.exit", false},
        // a trailing '.' is ignored
        MatchCase{"job.", "job", true}, MatchCase{"job.", "job.default.web.exit", true},
        MatchCase{"job.", "jobs", false}, MatchCase{"proc.12.", "proc.12.kill", true},
        MatchCase{"proc.12.", "proc.123.kill", false},
        // '.' (and the empty pattern) deliver everything
        MatchCase{".", "load", true}, MatchCase{".", "job.default.web.exit", true}, MatchCase{"", "load", true}));

// ---------------------------------------------------------------- delivery

class EventBusTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto l = loop::Loop::create(loop::Backend::kEpoll);
        ASSERT_TRUE(l) << l.error().message();
        loop_ = std::move(l).value();
        bus_ = std::make_unique<EventBus>(*loop_);
    }

    // One loop turn that does not wait.
    void turn() { ASSERT_TRUE(loop_->run_once(std::chrono::milliseconds(0))); }

    static json::JsonPtr msg_with(const char* key, int value) {
        json::JsonPtr m(json_object());
        json_object_set_new(m.get(), key, json_integer(value));
        return m;
    }

    // Subscribes and records "type" for every delivery.
    EventBus::SubId record(const char* pattern, std::vector<std::string>* out) {
        return bus_->subscribe(pattern, [out](const std::string& type, const json_t* msg) {
            EXPECT_NE(msg, nullptr);
            out->push_back(type);
        });
    }

    std::unique_ptr<loop::Loop> loop_;
    std::unique_ptr<EventBus> bus_;
};

TEST_F(EventBusTest, DeliversOnTheNextLoopTurnNotDuringPublish) {
    std::vector<std::string> got;
    record("load", &got);
    bus_->publish("load", nullptr);
    EXPECT_TRUE(got.empty());  // asynchronous
    EXPECT_EQ(bus_->pending(), 1u);
    turn();
    EXPECT_EQ(got, std::vector<std::string>{"load"});
    EXPECT_EQ(bus_->pending(), 0u);
    turn();
    EXPECT_EQ(got.size(), 1u);  // once
}

TEST_F(EventBusTest, MessageCarriesTheEventMember) {
    std::string event, extra;
    json_int_t value = 0;
    bus_->subscribe("spawn", [&](const std::string&, const json_t* msg) {
        event = json_string_value(json_object_get(msg, "event"));
        value = json_integer_value(json_object_get(msg, "pid"));
    });
    bus_->subscribe("stop", [&](const std::string&, const json_t* msg) {
        extra = json_string_value(json_object_get(msg, "event"));
    });
    bus_->publish("spawn", msg_with("pid", 7));
    bus_->publish("stop", nullptr);  // a null message gets an object with "event"
    turn();
    EXPECT_EQ(event, "spawn");
    EXPECT_EQ(value, 7);
    EXPECT_EQ(extra, "stop");
}

TEST_F(EventBusTest, DeliversInPublishOrder) {
    std::vector<std::string> got;
    std::vector<json_int_t> seq;
    bus_->subscribe(".", [&](const std::string& type, const json_t* msg) {
        got.push_back(type);
        seq.push_back(json_integer_value(json_object_get(msg, "n")));
    });
    const std::vector<std::string> types = {"load",  "start", "job.default.web.start", "spawn", "job.default.web.spawn",
                                            "spawn", "exit"};
    for (size_t i = 0; i < types.size(); ++i) bus_->publish(types[i], msg_with("n", static_cast<int>(i)));
    turn();
    EXPECT_EQ(got, types);
    for (size_t i = 0; i < seq.size(); ++i) EXPECT_EQ(seq[i], static_cast<json_int_t>(i));
}

TEST_F(EventBusTest, SingleSegmentPrefixIsDeliveredExactlyOnce) {
    // The original queued a one-segment prefix twice and delivered twice (§6.1 [BUG]).
    std::vector<std::string> job, proc, all, trailing;
    record("job", &job);
    record("proc", &proc);
    record(".", &all);
    record("job.", &trailing);
    bus_->publish("job.default.web.exit", nullptr);
    bus_->publish("proc.3.exit", nullptr);
    bus_->publish("exit", nullptr);
    turn();
    EXPECT_EQ(job, std::vector<std::string>{"job.default.web.exit"});
    EXPECT_EQ(trailing, std::vector<std::string>{"job.default.web.exit"});
    EXPECT_EQ(proc, std::vector<std::string>{"proc.3.exit"});
    EXPECT_EQ(all, (std::vector<std::string>{"job.default.web.exit", "proc.3.exit", "exit"}));
}

TEST_F(EventBusTest, SubscribersOfOnePatternAreCalledInSubscriptionOrder) {
    std::vector<int> calls;
    bus_->subscribe("x", [&](const std::string&, const json_t*) { calls.push_back(1); });
    bus_->subscribe("x", [&](const std::string&, const json_t*) { calls.push_back(2); });
    bus_->subscribe("x", [&](const std::string&, const json_t*) { calls.push_back(3); });
    bus_->publish("x", nullptr);
    bus_->publish("x.y", nullptr);
    turn();
    EXPECT_EQ(calls, (std::vector<int>{1, 2, 3, 1, 2, 3}));
}

TEST_F(EventBusTest, UnsubscribeDuringDelivery) {
    std::vector<std::string> a, b, c;
    EventBus::SubId id_b = 0, id_c = 0;
    EventBus::SubId id_a = bus_->subscribe(".", [&](const std::string& type, const json_t*) {
        a.push_back(type);
        if (type == "first")
            bus_->unsubscribe(id_b);  // a later subscriber of the same event
    });
    id_b = record(".", &b);
    id_c = bus_->subscribe(".", [&](const std::string& type, const json_t*) {
        c.push_back(type);
        bus_->unsubscribe(id_c);  // itself
    });
    bus_->publish("first", nullptr);
    bus_->publish("second", nullptr);
    turn();
    EXPECT_EQ(a, (std::vector<std::string>{"first", "second"}));
    EXPECT_TRUE(b.empty());                           // gone before its turn came
    EXPECT_EQ(c, std::vector<std::string>{"first"});  // once, then gone
    EXPECT_EQ(bus_->subscriber_count(), 1u);
    bus_->unsubscribe(id_a);
    bus_->unsubscribe(id_a);  // twice is harmless
    EXPECT_EQ(bus_->subscriber_count(), 0u);
    bus_->publish("third", nullptr);
    turn();
    EXPECT_EQ(a.size(), 2u);
}

TEST_F(EventBusTest, SubscribeDuringDeliverySeesOnlyLaterEvents) {
    std::vector<std::string> late;
    bool added = false;
    bus_->subscribe("a", [&](const std::string&, const json_t*) {
        if (!added)
            record(".", &late);
        added = true;
    });
    bus_->publish("a", nullptr);
    turn();
    EXPECT_TRUE(late.empty());
    bus_->publish("b", nullptr);
    turn();
    EXPECT_EQ(late, std::vector<std::string>{"b"});
}

TEST_F(EventBusTest, EventsPublishedByASubscriberFollowTheQueuedOnes) {
    std::vector<std::string> got;
    bus_->subscribe(".", [&](const std::string& type, const json_t*) {
        got.push_back(type);
        if (type == "exit")
            bus_->publish("spawn", nullptr);
    });
    bus_->publish("exit", nullptr);
    bus_->publish("update", nullptr);
    turn();
    EXPECT_EQ(got, (std::vector<std::string>{"exit", "update", "spawn"}));
}

TEST_F(EventBusTest, QueueIsBoundedAndCountsDrops) {
    std::vector<json_int_t> seen;
    bus_->subscribe("e", [&](const std::string&, const json_t* msg) {
        seen.push_back(json_integer_value(json_object_get(msg, "n")));
    });
    const size_t extra = 5;
    const size_t total = EventBus::kMaxPending + extra;
    for (size_t i = 0; i < total; ++i) bus_->publish("e", msg_with("n", static_cast<int>(i)));
    EXPECT_EQ(bus_->pending(), EventBus::kMaxPending);
    EXPECT_EQ(bus_->dropped(), extra);
    turn();
    ASSERT_EQ(seen.size(), EventBus::kMaxPending);
    EXPECT_EQ(seen.front(), static_cast<json_int_t>(extra));  // the oldest were dropped
    EXPECT_EQ(seen.back(), static_cast<json_int_t>(total - 1));
    EXPECT_EQ(bus_->pending(), 0u);
}

TEST_F(EventBusTest, WantedFollowsTheSubscriptions) {
    EXPECT_FALSE(bus_->wanted("create"));
    auto id = bus_->subscribe("proc.web", [](const std::string&, const json_t*) {});
    EXPECT_TRUE(bus_->wanted("proc.web.exit"));
    EXPECT_FALSE(bus_->wanted("proc.webapp.exit"));
    EXPECT_FALSE(bus_->wanted("create"));
    auto all = bus_->subscribe(".", [](const std::string&, const json_t*) {});
    EXPECT_TRUE(bus_->wanted("create"));
    bus_->unsubscribe(all);
    bus_->unsubscribe(id);
    EXPECT_FALSE(bus_->wanted("proc.web.exit"));
}

TEST_F(EventBusTest, NamedOnlyEventsSkipEverythingSubscribers) {
    std::vector<std::string> all, empty, named, other;
    record(".", &all);
    record("", &empty);
    record("proc", &named);
    record("create", &other);
    EXPECT_TRUE(bus_->wanted("proc.web.exit", true));
    EXPECT_FALSE(bus_->wanted("delete", true));
    EXPECT_TRUE(bus_->wanted("delete"));  // "." and "" take everything
    bus_->publish("proc.3.exit", nullptr);
    bus_->publish_to_named("proc.web.exit", nullptr);
    bus_->publish_to_named("create", nullptr);
    turn();
    EXPECT_EQ(all, std::vector<std::string>{"proc.3.exit"});
    EXPECT_EQ(empty, std::vector<std::string>{"proc.3.exit"});
    EXPECT_EQ(named, (std::vector<std::string>{"proc.3.exit", "proc.web.exit"}));
    EXPECT_EQ(other, std::vector<std::string>{"create"});
}

TEST_F(EventBusTest, FlushDeliversAtOnceAndTheScheduledTurnIsHarmless) {
    std::vector<std::string> got;
    record(".", &got);
    bus_->publish("x", nullptr);
    bus_->flush();
    EXPECT_EQ(got, std::vector<std::string>{"x"});
    turn();
    EXPECT_EQ(got.size(), 1u);
}

TEST_F(EventBusTest, DestroyingTheBusWithEventsQueuedIsSafe) {
    std::vector<std::string> got;
    record(".", &got);
    bus_->publish("x", nullptr);
    bus_.reset();  // the posted delivery must notice the bus is gone
    turn();
    EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace gaffer::events
