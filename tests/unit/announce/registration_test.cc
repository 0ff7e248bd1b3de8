// SPDX-License-Identifier: MIT
// Tests of lib/announce/registration: the shadow of one lookupd's state (a full sync, the
// difference after lost events, events that change nothing give no message), the message
// texts of §13.2, the reply parser and the reconnect back-off bounds.
#include "lib/announce/registration.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

namespace gaffer::announce {
namespace {

using namespace std::chrono_literals;

Op job_op(OpType t, const std::string& job) {
    return {t, job, 0};
}
Op pid_op(OpType t, const std::string& job, int pid) {
    return {t, job, pid};
}

TEST(Registration, FirstSyncRegistersEveryJobThenItsProcessesInLoadOrder) {
    Registration r;
    auto ops = r.sync({{"default.web", {3, 1}}, {"app.worker", {}}});
    std::vector<Op> want = {
        job_op(OpType::kRegisterJob, "default.web"), pid_op(OpType::kRegisterProcess, "default.web", 3),
        pid_op(OpType::kRegisterProcess, "default.web", 1), job_op(OpType::kRegisterJob, "app.worker")};
    EXPECT_EQ(ops, want);
    EXPECT_TRUE(r.sync({{"default.web", {1, 3}}, {"app.worker", {}}}).empty());  // nothing changed
}

TEST(Registration, SyncSendsOnlyTheDifferenceRemovalsFirst) {
    Registration r;
    (void)r.sync({{"a.x", {1, 2}}, {"a.y", {3}}});
    auto ops = r.sync({{"a.x", {2, 4}}, {"b.z", {5}}});
    std::vector<Op> want = {job_op(OpType::kUnregisterJob, "a.y"), pid_op(OpType::kUnregisterProcess, "a.x", 1),
                            pid_op(OpType::kRegisterProcess, "a.x", 4), job_op(OpType::kRegisterJob, "b.z"),
                            pid_op(OpType::kRegisterProcess, "b.z", 5)};
    EXPECT_EQ(ops, want);
}

TEST(Registration, EventsThatChangeNothingSendNothing) {
    Registration r;
    (void)r.sync({{"a.x", {1}}});
    // Published before the snapshot, delivered after it.
    EXPECT_TRUE(r.load("a.x").empty());
    EXPECT_TRUE(r.spawn("a.x", 1).empty());
    EXPECT_TRUE(r.unload("a.gone").empty());
    EXPECT_TRUE(r.exit("a.x", 99).empty());
    // stop_process then exit of the same process: one UNREGISTER_PROCESS.
    EXPECT_EQ(r.exit("a.x", 1), std::vector<Op>{pid_op(OpType::kUnregisterProcess, "a.x", 1)});
    EXPECT_TRUE(r.exit("a.x", 1).empty());
    EXPECT_EQ(r.unload("a.x"), std::vector<Op>{job_op(OpType::kUnregisterJob, "a.x")});
    EXPECT_EQ(r.job_count(), 0u);
}

TEST(Registration, SpawnOfAnUnknownJobRegistersItFirst) {
    Registration r;
    std::vector<Op> want = {job_op(OpType::kRegisterJob, "a.x"), pid_op(OpType::kRegisterProcess, "a.x", 7)};
    EXPECT_EQ(r.spawn("a.x", 7), want);
    EXPECT_TRUE(r.has("a.x"));
    r.clear();
    EXPECT_FALSE(r.has("a.x"));
    EXPECT_EQ(r.load("a.x"), std::vector<Op>{job_op(OpType::kRegisterJob, "a.x")});
}

TEST(Encode, TheMessagesOfTheReference) {
    Identity id{"node1.example", "http://node1.example:5000"};
    EXPECT_EQ(
        encode({OpType::kIdentify, {}, 0}, id, "m1"),
        R"({"type":"IDENTIFY","name":"node1.example","origin":"http://node1.example:5000","version":"0.1","msgid":"m1"})");
    EXPECT_EQ(encode({OpType::kPing, {}, 0}, id, "m2"), R"({"type":"PING","msgid":"m2"})");
    EXPECT_EQ(encode(job_op(OpType::kRegisterJob, "s.j"), id, "m3"),
              R"({"type":"REGISTER_JOB","job_name":"s.j","msgid":"m3"})");
    EXPECT_EQ(encode(job_op(OpType::kUnregisterJob, "s.j"), id, "m4"),
              R"({"type":"UNREGISTER_JOB","job_name":"s.j","msgid":"m4"})");
    EXPECT_EQ(encode(pid_op(OpType::kRegisterProcess, "s.j", 12), id, "m5"),
              R"({"type":"REGISTER_PROCESS","job_name":"s.j","pid":12,"msgid":"m5"})");
    EXPECT_EQ(encode(pid_op(OpType::kUnregisterProcess, "s.j", 12), id, "m6"),
              R"({"type":"UNREGISTER_PROCESS","job_name":"s.j","pid":12,"msgid":"m6"})");
    // A name with quotes stays one JSON string.
    EXPECT_EQ(encode({OpType::kIdentify, {}, 0}, {"a\"b", "http://x"}, "m"),
              R"({"type":"IDENTIFY","name":"a\"b","origin":"http://x","version":"0.1","msgid":"m"})");
}

TEST(ParseReply, OkErrorAndJunk) {
    auto ok = parse_reply(R"({"ok": true, "msgid": "abc"})");
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->ok);
    EXPECT_EQ(ok->msgid, "abc");
    auto err = parse_reply(R"({"errno": 409, "reason": "job 'a.b' is already registered", "msgid": "m"})");
    ASSERT_TRUE(err);
    EXPECT_FALSE(err->ok);
    EXPECT_EQ(err->error, 409);
    EXPECT_EQ(err->reason, "job 'a.b' is already registered");
    auto null_id = parse_reply(R"({"errno": 400, "reason": "invalid_message_type", "msgid": null})");
    ASSERT_TRUE(null_id);
    EXPECT_EQ(null_id->msgid, "");
    for (const char* junk : {"", "[]", "nope", R"({"ok": false})", R"({"msgid": "m"})", R"({"errno": "x"})"})
        EXPECT_EQ(parse_reply(junk).error().code, EPROTO) << junk;
}

TEST(ReconnectDelay, DoublesFromHalfASecondToThirtyWithinAQuarter) {
    for (int failures = 1; failures <= 12; ++failures) {
        auto base = std::min(500ms * (1 << (failures - 1)), std::chrono::milliseconds(30000));
        auto low = reconnect_delay(failures, 0);
        auto mid = reconnect_delay(failures, 0x80000000u);
        auto high = reconnect_delay(failures, 0xFFFFFFFFu);
        EXPECT_EQ(low, base * 3 / 4) << failures;
        EXPECT_EQ(mid, base) << failures;
        EXPECT_GE(high, base * 5 / 4 - 1ms) << failures;
        EXPECT_LE(high, base * 5 / 4) << failures;
    }
    EXPECT_EQ(reconnect_delay(0, 0x80000000u), 500ms);
    EXPECT_EQ(reconnect_delay(1000, 0x80000000u), 30000ms);
}

}  // namespace
}  // namespace gaffer::announce
