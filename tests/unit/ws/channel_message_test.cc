// SPDX-License-Identifier: MIT
// Tests of lib/ws/channel_message: every client message of reference §5.2 and every
// invalid_msg reason, table-driven, plus the fields a command carries.
#include "lib/ws/channel_message.h"

#include <gtest/gtest.h>
#include <jansson.h>

#include <string>
#include <vector>

namespace gaffer::ws::channel {
namespace {

using namespace std::string_literals;

struct Case {
    std::string text;
    MessageKind kind;
    std::string_view reason;  // kInvalid
    std::string field;        // kAuth: key; kSub/kUnsub: topic; kCmd: name
};

std::string field_of(const ChannelMessage& m) {
    switch (m.kind) {
        case MessageKind::kAuth:
            return m.key;
        case MessageKind::kSub:
        case MessageKind::kUnsub:
            return m.topic;
        case MessageKind::kCmd:
            return m.name;
        default:
            return {};
    }
}

TEST(ChannelMessage, Table) {
    const std::vector<Case> cases = {
        // AUTH:<key> is text, not JSON; the key is everything after the prefix, verbatim.
        {"AUTH:abc", MessageKind::kAuth, {}, "abc"},
        {"AUTH:", MessageKind::kAuth, {}, ""},
        {"AUTH: spaced key ", MessageKind::kAuth, {}, " spaced key "},
        {"AUTH:{\"event\":\"NOP\"}", MessageKind::kAuth, {}, "{\"event\":\"NOP\"}"},
        {"AUTH:a\0b"s, MessageKind::kAuth, {}, "a\0b"s},
        {"auth:abc", MessageKind::kInvalid, kInvalidJson, {}},
        {" AUTH:abc", MessageKind::kInvalid, kInvalidJson, {}},
        // Not a JSON object.
        {"", MessageKind::kInvalid, kInvalidJson, {}},
        {"{", MessageKind::kInvalid, kInvalidJson, {}},
        {"[]", MessageKind::kInvalid, kInvalidJson, {}},
        {"\"NOP\"", MessageKind::kInvalid, kInvalidJson, {}},
        {"null", MessageKind::kInvalid, kInvalidJson, {}},
        {"42", MessageKind::kInvalid, kInvalidJson, {}},
        {"{\"event\":\"NOP\"} trailing", MessageKind::kInvalid, kInvalidJson, {}},
        {"{\"event\":\"NOP\"}\xff", MessageKind::kInvalid, kInvalidJson, {}},
        {"{\"event\":\"\xff\"}", MessageKind::kInvalid, kInvalidJson, {}},
        // The event.
        {"{}", MessageKind::kInvalid, kEventMissing, {}},
        {"{\"data\":{}}", MessageKind::kInvalid, kEventMissing, {}},
        {"{\"event\":null}", MessageKind::kInvalid, kEventMissing, {}},
        {"{\"event\":1}", MessageKind::kInvalid, kEventMissing, {}},
        {"{\"event\":[\"NOP\"]}", MessageKind::kInvalid, kEventMissing, {}},
        {"{\"event\":\"NOP\"}", MessageKind::kNop, {}, {}},
        {"{\"event\":\"nop\",\"data\":5}", MessageKind::kNop, {}, {}},
        {"{\"event\":\"\"}", MessageKind::kInvalid, kUnknownCmd, {}},
        {"{\"event\":\"PING\"}", MessageKind::kInvalid, kUnknownCmd, {}},
        {"{\"event\":\"NOP \"}", MessageKind::kInvalid, kUnknownCmd, {}},
        {"{\"event\":\"NOP\\u0000\"}", MessageKind::kInvalid, kUnknownCmd, {}},
        {"{\"event\":\"SUBS\",\"data\":{\"topic\":\"EVENTS\"}}", MessageKind::kInvalid, kUnknownCmd, {}},
        // SUB and UNSUB.
        {"{\"event\":\"SUB\",\"data\":{\"topic\":\"EVENTS\"}}", MessageKind::kSub, {}, "EVENTS"},
        {"{\"event\":\"sub\",\"data\":{\"topic\":\"job:default.web\"}}", MessageKind::kSub, {}, "job:default.web"},
        {"{\"event\":\"UnSub\",\"data\":{\"topic\":\"EVENTS\"}}", MessageKind::kUnsub, {}, "EVENTS"},
        {"{\"event\":\"SUB\",\"data\":{\"topic\":\"\"}}", MessageKind::kSub, {}, ""},
        {"{\"event\":\"SUB\",\"data\":{\"topic\":\"a\\u0000b\"}}", MessageKind::kSub, {}, "a\0b"s},
        {"{\"event\":\"SUB\",\"data\":{\"topic\":\"\\u00e9\"}}", MessageKind::kSub, {}, "\xc3\xa9"},
        {"{\"event\":\"SUB\"}", MessageKind::kInvalid, kDataMissing, {}},
        {"{\"event\":\"SUB\",\"data\":null}", MessageKind::kInvalid, kDataMissing, {}},
        {"{\"event\":\"UNSUB\",\"data\":\"EVENTS\"}", MessageKind::kInvalid, kDataMissing, {}},
        {"{\"event\":\"SUB\",\"data\":[{\"topic\":\"EVENTS\"}]}", MessageKind::kInvalid, kDataMissing, {}},
        {"{\"event\":\"SUB\",\"data\":{}}", MessageKind::kInvalid, kTopicMissing, {}},
        {"{\"event\":\"UNSUB\",\"data\":{\"topic\":7}}", MessageKind::kInvalid, kTopicMissing, {}},
        {"{\"event\":\"SUB\",\"data\":{\"topic\":null}}", MessageKind::kInvalid, kTopicMissing, {}},
        // CMD.
        {"{\"event\":\"CMD\",\"data\":{\"identity\":1,\"name\":\"jobs\"}}", MessageKind::kCmd, {}, "jobs"},
        {"{\"event\":\"cmd\",\"data\":{\"identity\":\"x\",\"name\":\"\"}}", MessageKind::kCmd, {}, ""},
        {"{\"event\":\"CMD\",\"data\":{\"identity\":false,\"name\":\"n\"}}", MessageKind::kCmd, {}, "n"},
        {"{\"event\":\"CMD\"}", MessageKind::kInvalid, kDataMissing, {}},
        {"{\"event\":\"CMD\",\"data\":true}", MessageKind::kInvalid, kDataMissing, {}},
        {"{\"event\":\"CMD\",\"data\":{}}", MessageKind::kInvalid, kCmdNameMissing, {}},
        {"{\"event\":\"CMD\",\"data\":{\"identity\":1}}", MessageKind::kInvalid, kCmdNameMissing, {}},
        {"{\"event\":\"CMD\",\"data\":{\"identity\":1,\"name\":3}}", MessageKind::kInvalid, kCmdNameMissing, {}},
        {"{\"event\":\"CMD\",\"data\":{\"name\":\"jobs\"}}", MessageKind::kInvalid, kCmdIdentityMissing, {}},
        {"{\"event\":\"CMD\",\"data\":{\"name\":\"jobs\",\"identity\":null}}",
         MessageKind::kInvalid,
         kCmdIdentityMissing,
         {}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        ChannelMessage m = parse_channel_message(c.text);
        EXPECT_EQ(to_string(m.kind), to_string(c.kind));
        EXPECT_EQ(m.reason, c.reason);
        EXPECT_EQ(field_of(m), c.field);
    }
}

TEST(ChannelMessage, ReasonsAreTheWireNames) {
    // The reference's table, including its misspelling.
    EXPECT_EQ(kCmdNameMissing, "cmd_name_mssing");
    for (std::string_view r : {kInvalidJson, kEventMissing, kDataMissing, kTopicMissing, kCmdNameMissing,
                               kCmdIdentityMissing, kUnknownCmd}) {
        EXPECT_FALSE(r.empty());
    }
}

TEST(ChannelMessage, CommandFields) {
    ChannelMessage m = parse_channel_message(
        R"({"event":"CMD","data":{"identity":{"n":7},"name":"scale","args":["web",2],"kwargs":{"sessionid":"s"}}})");
    ASSERT_EQ(m.kind, MessageKind::kCmd);
    EXPECT_EQ(m.name, "scale");
    ASSERT_TRUE(m.identity);
    EXPECT_EQ(json::dump(m.identity.get()), R"({"n":7})");
    ASSERT_TRUE(m.args);
    EXPECT_EQ(json::dump(m.args.get()), R"(["web",2])");
    ASSERT_TRUE(m.kwargs);
    EXPECT_EQ(json::dump(m.kwargs.get()), R"({"sessionid":"s"})");
    ASSERT_TRUE(m.data);
    EXPECT_EQ(json_object_get(m.data.get(), "args"), m.args.get());
    EXPECT_TRUE(m.reason.empty());
}

TEST(ChannelMessage, CommandArgsOfAnotherTypeAreIgnored) {
    ChannelMessage m =
        parse_channel_message(R"({"event":"CMD","data":{"identity":"i","name":"jobs","args":{},"kwargs":[]}})");
    ASSERT_EQ(m.kind, MessageKind::kCmd);
    EXPECT_FALSE(m.args);
    EXPECT_FALSE(m.kwargs);
    ChannelMessage bare = parse_channel_message(R"({"event":"CMD","data":{"identity":"i","name":"jobs"}})");
    ASSERT_EQ(bare.kind, MessageKind::kCmd);
    EXPECT_FALSE(bare.args);
    EXPECT_FALSE(bare.kwargs);
    EXPECT_EQ(json::dump(bare.identity.get()), "\"i\"");
}

TEST(ChannelMessage, CommandOutlivesItsText) {
    // The JSON values are owned references: the parsed tree lives as long as the message.
    ChannelMessage m;
    {
        std::string text = R"({"event":"CMD","data":{"identity":[1,2],"name":"pids","args":["a.b"]}})";
        m = parse_channel_message(text);
        text.assign(text.size(), 'x');
    }
    ASSERT_EQ(m.kind, MessageKind::kCmd);
    EXPECT_EQ(json::dump(m.identity.get()), "[1,2]");
    EXPECT_EQ(json::dump(m.args.get()), R"(["a.b"])");
}

TEST(ChannelMessage, DeepNestingIsInvalidJsonNotACrash) {
    std::string deep = R"({"event":"CMD","data":{"identity":1,"name":"x","args":)";
    deep += std::string(100000, '[');
    deep += std::string(100000, ']');
    deep += "}}";
    ChannelMessage m = parse_channel_message(deep);
    EXPECT_EQ(m.kind, MessageKind::kInvalid);
    EXPECT_EQ(m.reason, kInvalidJson);
}

TEST(ChannelMessage, DuplicateKeysTakeTheLast) {
    // jansson keeps the last value of a repeated key; the parser must see one message.
    ChannelMessage m = parse_channel_message(R"({"event":"CMD","event":"SUB","data":{"topic":"EVENTS"}})");
    EXPECT_EQ(m.kind, MessageKind::kSub);
    EXPECT_EQ(m.topic, "EVENTS");
}

}  // namespace
}  // namespace gaffer::ws::channel
