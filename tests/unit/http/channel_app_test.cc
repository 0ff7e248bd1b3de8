// SPDX-License-Identifier: MIT
// ChannelApp (lib/http/sockjs_app.h), the /channel protocol of reference §5.2, driven
// through messages only: a fake transport records what it sends, over a real Live,
// Router, Manager and EventBus on a real loop (no process is started). SUB/UNSUB
// reference counting, the invalid_msg replies, the AUTH flow when keys are required,
// and the shape of a command's reply.
#include <gtest/gtest.h>
#include <jansson.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/http/live.h"
#include "lib/http/sockjs_app.h"
#include "tests/unit/http/router_test_util.h"

namespace gaffer::http::testing {
namespace {

using sockjs_app::ChannelApp;
using sockjs_app::ChannelTransport;

class ChannelAppTest : public RouterFixture {
protected:
    void TearDown() override {
        app_.reset();
        live_.reset();
        RouterFixture::TearDown();
    }

    // Opens a channel as a request from `peer` with `headers` would.
    void open(Peer peer = loopback(), Headers headers = {}, bool require_key = false) {
        if (require_key) {
            RouterOptions o;
            o.require_key = true;
            make_router(std::move(o));
        }
        live_ = std::make_unique<Live>(*loop_, *manager_, *bus_, *router_, store_.get(), require_key);
        Request req;
        req.method = "GET";
        req.path = "/channel/websocket";
        req.peer = peer;
        for (auto& [k, v] : headers) req.headers[k] = v;
        ChannelTransport t;
        t.send = [this](std::string m) { sent_.push_back(std::move(m)); };
        t.close = [this] { ++closed_; };
        t.backlog = [] { return size_t{0}; };
        app_ = std::make_unique<ChannelApp>(*live_, req, std::move(t));
    }

    // Sends one message and lets posted work (event deliveries) run; returns the
    // messages sent in reply, parsed.
    std::vector<json::JsonPtr> say(const std::string& text) {
        sent_.clear();
        app_->on_message(text);
        (void)loop_->run_once(std::chrono::milliseconds(0));
        return replies();
    }
    std::vector<json::JsonPtr> replies() {
        std::vector<json::JsonPtr> out;
        for (const std::string& m : sent_) {
            auto j = json::parse(m);
            EXPECT_TRUE(j && json_is_object(j->get())) << m;
            if (j)
                out.push_back(std::move(*j));
        }
        sent_.clear();
        return out;
    }
    // Publishes an event and turns the loop until the bus delivered it.
    std::vector<json::JsonPtr> publish(const std::string& type) {
        sent_.clear();
        json::JsonPtr msg = json::take(json_object());
        json::set(msg.get(), "name", json::str("default.web"));
        bus_->publish(type, std::move(msg));
        for (int i = 0; i < 5; ++i) (void)loop_->run_once(std::chrono::milliseconds(0));
        return replies();
    }

    static std::string s(const json::JsonPtr& j, const char* key) {
        const json_t* v = json_object_get(j.get(), key);
        return json_is_string(v) ? json_string_value(v) : "<none>";
    }
    static std::string d(const json::JsonPtr& j, const char* key) {
        const json_t* v = json_object_get(json_object_get(j.get(), "data"), key);
        return json_is_string(v) ? json_string_value(v) : v ? json::dump(v) : "<none>";
    }

    std::unique_ptr<Live> live_;
    std::unique_ptr<ChannelApp> app_;
    std::vector<std::string> sent_;
    int closed_ = 0;
};

TEST_F(ChannelAppTest, MalformedMessagesGetOneInvalidMsgEach) {
    open();
    const std::pair<const char*, const char*> cases[] = {
        {"not json", "invalid_json"},
        {"[]", "invalid_json"},
        {"{}", "event_missing"},
        {R"({"event":"SUB"})", "data_missing"},
        {R"({"event":"UNSUB","data":{}})", "topic_missing"},
        {R"({"event":"CMD","data":"x"})", "data_missing"},
        {R"({"event":"CMD","data":{"identity":1}})", "cmd_name_mssing"},
        {R"({"event":"CMD","data":{"name":"jobs"}})", "cmd_identity_missing"},
        {R"({"event":"PING"})", "unknown_cmd"},
    };
    for (const auto& [text, reason] : cases) {
        SCOPED_TRACE(text);
        auto r = say(text);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(s(r[0], "event"), "gaffer:error");
        EXPECT_EQ(d(r[0], "error"), "invalid_msg");
        EXPECT_EQ(d(r[0], "reason"), reason);
    }
    EXPECT_TRUE(say(R"({"event":"nop"})").empty());
    EXPECT_EQ(closed_, 0);
}

TEST_F(ChannelAppTest, SubscriptionsAreCountedAndDeliveredOnce) {
    open();
    for (int i = 0; i < 2; ++i) {
        auto r = say(R"({"event":"SUB","data":{"topic":"EVENTS"}})");
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(s(r[0], "event"), "gaffer:subscription_success");
        EXPECT_EQ(s(r[0], "topic"), "EVENTS");
    }
    auto ev = publish("load");
    ASSERT_EQ(ev.size(), 1u) << "a topic subscribed twice is delivered once";
    EXPECT_EQ(s(ev[0], "event"), "gaffer:event");
    EXPECT_EQ(d(ev[0], "event"), "load");
    EXPECT_EQ(d(ev[0], "topic"), "EVENTS");
    EXPECT_EQ(d(ev[0], "name"), "default.web");

    auto r = say(R"({"event":"UNSUB","data":{"topic":"EVENTS"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:subscription_success");
    EXPECT_EQ(publish("load").size(), 1u) << "one reference is left";

    ASSERT_EQ(say(R"({"event":"UNSUB","data":{"topic":"EVENTS"}})").size(), 1u);
    EXPECT_TRUE(publish("load").empty()) << "released after the second UNSUB";
    // An UNSUB of a topic never subscribed is answered, and changes nothing.
    ASSERT_EQ(say(R"({"event":"UNSUB","data":{"topic":"EVENTS"}})").size(), 1u);
    EXPECT_TRUE(publish("load").empty());
}

TEST_F(ChannelAppTest, RefusedSubscriptionsNameTheirTopic) {
    load("default", "web", 1, /*start=*/false);
    open();
    auto r = say(R"({"event":"SUB","data":{"topic":"JOB:default.nope"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:subscription_error");
    EXPECT_EQ(s(r[0], "topic"), "JOB:default.nope");
    EXPECT_EQ(d(r[0], "reason"), "invalid_process");
    r = say(R"({"event":"SUB","data":{"topic":"PROCESS:x"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(d(r[0], "reason"), "invalid_topic");
    r = say(R"({"event":"sub","data":{"topic":"job:default.web"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:subscription_success");
}

TEST_F(ChannelAppTest, WithoutAKeyTheFirstMessageMustBeAuth) {
    open(loopback(), {}, /*require_key=*/true);
    auto r = say(R"({"event":"SUB","data":{"topic":"EVENTS"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:error");
    EXPECT_EQ(d(r[0], "error"), "AUTH_REQUIRED");
    EXPECT_EQ(closed_, 1);
    // The channel is dead: nothing more is answered, not even a valid AUTH.
    EXPECT_TRUE(say("AUTH:" + make_key(R"({"admin":true})")).empty());
    EXPECT_TRUE(say(R"({"event":"CMD","data":{"identity":1,"name":"sessions"}})").empty());
}

TEST_F(ChannelAppTest, AWrongKeyEndsTheChannel) {
    open(loopback(), {}, /*require_key=*/true);
    auto r = say("AUTH:not-a-key");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(d(r[0], "error"), "AUTH_REQUIRED");
    EXPECT_EQ(closed_, 1);
}

TEST_F(ChannelAppTest, AuthGivesTheKeysRightsAndNoMore) {
    std::string reader = make_key(R"({"read":["*"]})");
    open(loopback(), {}, /*require_key=*/true);
    EXPECT_TRUE(say("AUTH:" + reader).empty()) << "a good AUTH: is not answered (no bogus invalid_msg)";
    auto r = say(R"({"event":"SUB","data":{"topic":"EVENTS"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:subscription_error");
    EXPECT_EQ(d(r[0], "reason"), "forbidden");
    r = say(R"({"event":"CMD","data":{"identity":7,"name":"sessions"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:command_success");
    r = say(R"({"event":"CMD","data":{"identity":8,"name":"stopall"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:command_error");
    EXPECT_EQ(closed_, 0);

    // The key revoked: the next message ends the channel.
    ASSERT_TRUE(store_->delete_key(reader));
    (void)loop_->run_once(std::chrono::milliseconds(0));
    say(R"({"event":"NOP"})");
    EXPECT_EQ(closed_, 1);
}

TEST_F(ChannelAppTest, CommandRepliesEchoTheIdentity) {
    open();
    auto r = say(R"({"event":"CMD","data":{"identity":{"n":[1,"a"]},"name":"sessions"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:command_success");
    EXPECT_EQ(d(r[0], "id"), R"({"n":[1,"a"]})");
    const json_t* result = json_object_get(json_object_get(r[0].get(), "data"), "result");
    EXPECT_TRUE(json_is_object(result));

    r = say(R"({"event":"CMD","data":{"identity":"i-2","name":"no_such_command"}})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(s(r[0], "event"), "gaffer:command_error");
    EXPECT_EQ(d(r[0], "id"), "i-2");
    const json_t* err = json_object_get(json_object_get(r[0].get(), "data"), "error");
    ASSERT_TRUE(json_is_object(err));
    EXPECT_TRUE(json_is_integer(json_object_get(err, "errno")));
    EXPECT_TRUE(json_is_string(json_object_get(err, "reason")));
}

}  // namespace
}  // namespace gaffer::http::testing
