// SPDX-License-Identifier: MIT
// Unit tests of lib/lookup/registry: every row of §13.2's error table, the silent
// unregisters (no event), the events of close() and expire(), the §13.3 bodies and their
// orderings, IDENTIFY bound to a name, and each bound.
#include "lib/lookup/registry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "lib/json/json.h"

namespace gaffer::lookup {
namespace {

using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point() + std::chrono::hours(1);

class RegistryTest : public ::testing::Test {
protected:
    explicit RegistryTest(RegistryLimits limits = {}) : reg_(limits) {
        reg_.set_event_sink([this](json::JsonPtr ev) { events_.push_back(json::dump(ev.get())); });
    }

    ConnId open() {
        auto id = reg_.open(kT0);
        EXPECT_TRUE(id) << id.error().message();
        return id ? *id : 0;
    }
    std::string send(ConnId id, const std::string& text, Clock::time_point now = kT0) {
        return reg_.handle(id, text, now);
    }
    std::string identify(ConnId id, const std::string& name, const std::string& origin = "http://127.0.0.1:5000") {
        return send(id, R"({"type":"IDENTIFY","name":")" + name + R"(","origin":")" + origin +
                            R"(","version":"0.1","msgid":"m1"})");
    }
    std::string job(ConnId id, const char* type, const std::string& name) {
        return send(id, std::string(R"({"type":")") + type + R"(","job_name":")" + name + R"(","msgid":"mj"})");
    }
    std::string proc(ConnId id, const char* type, const std::string& name, int pid) {
        return send(id, std::string(R"({"type":")") + type + R"(","job_name":")" + name + R"(","pid":)" +
                            std::to_string(pid) + R"(,"msgid":"mp"})");
    }
    std::vector<std::string> take_events() { return std::exchange(events_, {}); }
    static std::string dump(const json::JsonPtr& j) { return json::dump(j.get()); }

    Registry reg_;
    std::vector<std::string> events_;
};

constexpr const char* kOk1 = R"({"ok":true,"msgid":"m1"})";
constexpr const char* kOkJ = R"({"ok":true,"msgid":"mj"})";
constexpr const char* kOkP = R"({"ok":true,"msgid":"mp"})";
constexpr const char* kNode = R"({"name":"n1","origin":"http://127.0.0.1:5000","version":"0.1"})";

TEST_F(RegistryTest, OpenEmitsAddNodeWithNullsAndIdentifyNamesIt) {
    ConnId a = open();
    EXPECT_EQ(take_events(),
              std::vector<std::string>{R"({"event":"add_node","name":null,"origin":null,"version":null})"});
    EXPECT_EQ(dump(reg_.nodes()), R"({"nodes":[]})");  // unidentified: not listed
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_EQ(take_events(), std::vector<std::string>{std::string(R"({"event":"identify",)") + (kNode + 1)});
    EXPECT_EQ(dump(reg_.nodes()), std::string(R"({"nodes":[)") + kNode + "]}");
    EXPECT_EQ(send(a, R"({"type":"PING","msgid":"p"})"), R"({"ok":true,"msgid":"p"})");
}

TEST_F(RegistryTest, InvalidJsonIs400InvalidJson) {
    ConnId a = open();
    for (const char* text : {"", "{", "{\"type\":\"PING\",\"msgid\":\"x\"", "nope", "\xff\xfe"})
        EXPECT_EQ(send(a, text), R"({"errno":400,"reason":"invalid_json","msgid":null})") << text;
}

TEST_F(RegistryTest, MissingMsgidTypeOrMemberIs400InvalidMessage) {
    ConnId a = open();
    EXPECT_EQ(send(a, "[1,2]"), R"({"errno":400,"reason":"invalid_message","msgid":null})");
    EXPECT_EQ(send(a, R"({"type":"PING"})"), R"({"errno":400,"reason":"invalid_message","msgid":null})");
    EXPECT_EQ(send(a, R"({"type":"PING","msgid":7})"), R"({"errno":400,"reason":"invalid_message","msgid":null})");
    EXPECT_EQ(send(a, R"({"msgid":"q"})"), R"({"errno":400,"reason":"invalid_message","msgid":"q"})");
    EXPECT_EQ(send(a, R"({"type":3,"msgid":"q"})"), R"({"errno":400,"reason":"invalid_message","msgid":"q"})");
    EXPECT_EQ(send(a, R"({"type":"IDENTIFY","name":"n","version":"0.1","msgid":"q"})"),
              R"({"errno":400,"reason":"invalid_message","msgid":"q"})");
    EXPECT_EQ(identify(a, "n1"), kOk1);
    take_events();
    EXPECT_EQ(send(a, R"({"type":"REGISTER_JOB","msgid":"q"})"),
              R"({"errno":400,"reason":"invalid_message","msgid":"q"})");
    EXPECT_EQ(send(a, R"({"type":"REGISTER_PROCESS","job_name":"s.j","msgid":"q"})"),
              R"({"errno":400,"reason":"invalid_message","msgid":"q"})");
    EXPECT_EQ(send(a, R"({"type":"UNREGISTER_PROCESS","job_name":"s.j","pid":"12","msgid":"q"})"),
              R"({"errno":400,"reason":"invalid_message","msgid":"q"})");
    EXPECT_EQ(send(a, R"({"type":"UNREGISTER_JOB","job_name":5,"msgid":"q"})"),
              R"({"errno":400,"reason":"invalid_message","msgid":"q"})");
    // Values that are present but wrong get a reason of their own.
    EXPECT_EQ(job(a, "REGISTER_JOB", "nodot"),
              R"({"errno":400,"reason":"job_name 'nodot' is not of the form <session>.<job>","msgid":"mj"})");
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 0), R"({"errno":400,"reason":"pid 0 is out of range","msgid":"mp"})");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
}

TEST_F(RegistryTest, UnknownTypeIs400InvalidMessageTypeWithMsgidEchoed) {
    ConnId a = open();
    EXPECT_EQ(send(a, R"({"type":"HELLO","msgid":"abc"})"),
              R"({"errno":400,"reason":"invalid_message_type","msgid":"abc"})");
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_EQ(send(a, R"({"type":"ping","msgid":"abc"})"),
              R"({"errno":400,"reason":"invalid_message_type","msgid":"abc"})");
}

TEST_F(RegistryTest, MessagesBeforeIdentifyAre404ExceptPing) {
    ConnId a = open();
    const char* need = R"({"errno":404,"reason":"need to send IDENTIFY message first","msgid":"mj"})";
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.j"), need);
    EXPECT_EQ(job(a, "UNREGISTER_JOB", "s.j"), need);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 1),
              R"({"errno":404,"reason":"need to send IDENTIFY message first","msgid":"mp"})");
    EXPECT_EQ(proc(a, "UNREGISTER_PROCESS", "s.j", 1),
              R"({"errno":404,"reason":"need to send IDENTIFY message first","msgid":"mp"})");
    EXPECT_EQ(send(a, R"({"type":"PING","msgid":"p"})"), R"({"ok":true,"msgid":"p"})");
    EXPECT_EQ(dump(reg_.jobs()), R"({"nb_jobs":0,"jobs":[]})");
}

TEST_F(RegistryTest, ProcessOfUnregisteredJobIs404Empty) {
    ConnId a = open();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    take_events();
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 10), R"({"errno":404,"reason":"","msgid":"mp"})");
    EXPECT_EQ(proc(a, "UNREGISTER_PROCESS", "s.j", 10), R"({"errno":404,"reason":"","msgid":"mp"})");
    // Registered by another node is not registered on this one.
    ConnId b = open();
    EXPECT_EQ(identify(b, "n2"), kOk1);
    EXPECT_EQ(job(b, "REGISTER_JOB", "s.j"), kOkJ);
    take_events();
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 10), R"({"errno":404,"reason":"","msgid":"mp"})");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
}

TEST_F(RegistryTest, JobRegisteredTwiceIs409) {
    ConnId a = open();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.j"), kOkJ);
    take_events();
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.j"),
              R"({"errno":409,"reason":"job 's.j' is already registered","msgid":"mj"})");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
}

TEST_F(RegistryTest, SecondIdentifyIs409AndChangesNothing) {
    ConnId a = open();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    take_events();
    EXPECT_EQ(identify(a, "other"), R"({"errno":409,"reason":"","msgid":"m1"})");
    EXPECT_EQ(identify(a, "n1"), R"({"errno":409,"reason":"","msgid":"m1"})");
    EXPECT_EQ(dump(reg_.nodes()), std::string(R"({"nodes":[)") + kNode + "]}");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
}

TEST_F(RegistryTest, SameNameAndOriginOnAnotherConnectionIs409) {
    ConnId a = open();
    ConnId b = open();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_EQ(identify(b, "n1"), R"({"errno":409,"reason":"","msgid":"m1"})");
    // Same name, another origin: a different node.
    EXPECT_EQ(identify(b, "n1", "http://127.0.0.1:5001"), kOk1);
    reg_.close(a);
    ConnId c = open();
    EXPECT_EQ(identify(c, "n1"), kOk1);  // the name is free again once its connection closed
}

TEST_F(RegistryTest, RequiredNameRefusesImpersonation) {
    ConnId a = open();
    ConnId b = open();
    ASSERT_TRUE(reg_.set_required_name(a, "n1"));
    ASSERT_TRUE(reg_.set_required_name(b, "n2"));
    EXPECT_EQ(identify(a, "n1"), kOk1);
    take_events();
    EXPECT_EQ(identify(b, "n1", "http://127.0.0.1:6000"), R"({"errno":403,"reason":"forbidden","msgid":"m1"})");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
    // b cannot unregister a's jobs: it is not identified, and a's jobs are a's.
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.j"), kOkJ);
    EXPECT_EQ(job(b, "UNREGISTER_JOB", "s.j"),
              R"({"errno":404,"reason":"need to send IDENTIFY message first","msgid":"mj"})");
    EXPECT_EQ(identify(b, "n2"), kOk1);
    EXPECT_EQ(job(b, "UNREGISTER_JOB", "s.j"), kOkJ);
    EXPECT_EQ(dump(reg_.find_job("s.j")),
              std::string(R"({"sources":[{"name":"n1","pids":[],"node_info":)") + kNode + "}]}");
    EXPECT_FALSE(reg_.set_required_name(a, "n3"));  // already identified as n1
    EXPECT_TRUE(reg_.set_required_name(a, "n1"));
    EXPECT_FALSE(reg_.set_required_name(999, "n1"));
}

TEST_F(RegistryTest, AllowedNamesRefuseOthers) {
    ConnId a = open();
    ConnId b = open();
    ASSERT_TRUE(reg_.set_allowed_names(a, {"n1", "n2"}));
    ASSERT_TRUE(reg_.set_allowed_names(b, {}));
    take_events();
    EXPECT_EQ(identify(a, "n3"), R"({"errno":403,"reason":"forbidden","msgid":"m1"})");
    EXPECT_EQ(identify(b, "n1"), R"({"errno":403,"reason":"forbidden","msgid":"m1"})");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
    EXPECT_EQ(identify(a, "n2"), kOk1);
    EXPECT_TRUE(reg_.set_allowed_names(a, {"n2"}));
    EXPECT_FALSE(reg_.set_allowed_names(a, {"n1"}));  // already identified as n2
    EXPECT_FALSE(reg_.set_allowed_names(999, {"n1"}));
}

TEST_F(RegistryTest, UnknownUnregistersSucceedSilently) {
    ConnId a = open();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.j"), kOkJ);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 42), kOkP);
    take_events();
    EXPECT_EQ(job(a, "UNREGISTER_JOB", "s.unknown"), kOkJ);
    EXPECT_EQ(proc(a, "UNREGISTER_PROCESS", "s.j", 43), kOkP);
    EXPECT_EQ(take_events(), std::vector<std::string>{});
    EXPECT_EQ(proc(a, "UNREGISTER_PROCESS", "s.j", 42), kOkP);
    EXPECT_EQ(proc(a, "UNREGISTER_PROCESS", "s.j", 42), kOkP);  // twice: the second is silent
    EXPECT_EQ(take_events(), std::vector<std::string>{std::string(R"({"event":"remove_process","node":)") + kNode +
                                                      R"(,"job_name":"s.j","pid":42})"});
}

TEST_F(RegistryTest, JobAndProcessEvents) {
    ConnId a = open();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    take_events();
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.j"), kOkJ);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 7), kOkP);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 7), kOkP);  // listed once, no second event
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 8), kOkP);
    EXPECT_EQ(job(a, "UNREGISTER_JOB", "s.j"), kOkJ);
    std::string n = std::string(R"("node":)") + kNode;
    EXPECT_EQ(take_events(), (std::vector<std::string>{
                                 R"({"event":"add_job",)" + n + R"(,"job_name":"s.j"})",
                                 R"({"event":"add_process",)" + n + R"(,"job_name":"s.j","pid":7})",
                                 R"({"event":"add_process",)" + n + R"(,"job_name":"s.j","pid":8})",
                                 R"({"event":"remove_process",)" + n + R"(,"job_name":"s.j","pid":7})",
                                 R"({"event":"remove_process",)" + n + R"(,"job_name":"s.j","pid":8})",
                                 R"({"event":"remove_job",)" + n + R"(,"job_name":"s.j"})",
                             }));
    EXPECT_EQ(dump(reg_.jobs()), R"({"nb_jobs":0,"jobs":[]})");
    EXPECT_EQ(dump(reg_.sessions(std::nullopt)), R"({"nb_sessions":0,"sessions":[]})");
}

TEST_F(RegistryTest, CloseRemovesEverythingInOrder) {
    ConnId a = open();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.z"), kOkJ);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.a"), kOkJ);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.z", 3), kOkP);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.a", 2), kOkP);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.a", 1), kOkP);
    take_events();
    reg_.close(a);
    std::string n = std::string(R"("node":)") + kNode;
    EXPECT_EQ(take_events(), (std::vector<std::string>{
                                 R"({"event":"remove_process",)" + n + R"(,"job_name":"s.z","pid":3})",
                                 R"({"event":"remove_job",)" + n + R"(,"job_name":"s.z"})",
                                 R"({"event":"remove_process",)" + n + R"(,"job_name":"s.a","pid":2})",
                                 R"({"event":"remove_process",)" + n + R"(,"job_name":"s.a","pid":1})",
                                 R"({"event":"remove_job",)" + n + R"(,"job_name":"s.a"})",
                                 std::string(R"({"event":"remove_node",)") + (kNode + 1),
                             }));
    EXPECT_EQ(reg_.connections(), 0u);
    EXPECT_EQ(dump(reg_.nodes()), R"({"nodes":[]})");
    EXPECT_EQ(dump(reg_.jobs()), R"({"nb_jobs":0,"jobs":[]})");
    EXPECT_EQ(send(a, R"({"type":"PING","msgid":"p"})"), R"({"errno":404,"reason":"unknown connection","msgid":null})");
    reg_.close(a);  // twice: nothing
    EXPECT_EQ(take_events(), std::vector<std::string>{});
    // An unidentified connection's remove_node has null fields.
    ConnId b = open();
    take_events();
    reg_.close(b);
    EXPECT_EQ(take_events(),
              std::vector<std::string>{R"({"event":"remove_node","name":null,"origin":null,"version":null})"});
}

TEST_F(RegistryTest, ExpireDropsNodesSilentForThreeHeartbeats) {
    ConnId a = open();  // at kT0
    ConnId b = open();
    ConnId c = open();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.j"), kOkJ);
    take_events();
    EXPECT_EQ(reg_.expire(kT0 + seconds(44)), std::vector<ConnId>{});
    // b keeps alive with PINGs, c with anything at all (even invalid JSON).
    EXPECT_EQ(send(b, R"({"type":"PING","msgid":"p"})", kT0 + seconds(30)), R"({"ok":true,"msgid":"p"})");
    (void)send(c, "garbage", kT0 + seconds(40));
    EXPECT_EQ(reg_.expire(kT0 + seconds(45)), std::vector<ConnId>{a});
    std::string n = std::string(R"("node":)") + kNode;
    EXPECT_EQ(take_events(), (std::vector<std::string>{
                                 R"({"event":"remove_job",)" + n + R"(,"job_name":"s.j"})",
                                 std::string(R"({"event":"remove_node",)") + (kNode + 1),
                             }));
    EXPECT_EQ(reg_.expire(kT0 + seconds(75)), std::vector<ConnId>{b});
    EXPECT_EQ(reg_.expire(kT0 + seconds(85)), std::vector<ConnId>{c});
    EXPECT_EQ(reg_.connections(), 0u);
}

TEST(RegistryOptions, HeartbeatIsAnOption) {
    RegistryLimits limits;
    limits.heartbeat = std::chrono::milliseconds(100);
    Registry reg(limits);
    auto a = reg.open(kT0);
    ASSERT_TRUE(a);
    EXPECT_EQ(reg.expire(kT0 + std::chrono::milliseconds(299)), std::vector<ConnId>{});
    EXPECT_EQ(reg.expire(kT0 + std::chrono::milliseconds(300)), std::vector<ConnId>{*a});
}

TEST_F(RegistryTest, ConnectionsOpenedWithoutExpiryNeverExpire) {
    auto kept = reg_.open(kT0, /*expires=*/false);
    ASSERT_TRUE(kept);
    ConnId silent = open();
    EXPECT_EQ(identify(*kept, "etcd-node"), kOk1);
    EXPECT_EQ(reg_.expire(kT0 + seconds(45)), std::vector<ConnId>{silent});
    EXPECT_EQ(reg_.expire(kT0 + std::chrono::hours(24)), std::vector<ConnId>{});
    EXPECT_EQ(reg_.connections(), 1u);
    reg_.close(*kept);  // close() still ends it
    EXPECT_EQ(reg_.connections(), 0u);
}

TEST_F(RegistryTest, QueryBodiesAndOrderings) {
    ConnId a = open();
    ConnId b = open();
    EXPECT_EQ(identify(b, "n2", "http://127.0.0.1:5002"), kOk1);  // identified first, connected second
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_EQ(job(b, "REGISTER_JOB", "web.front"), kOkJ);
    EXPECT_EQ(job(a, "REGISTER_JOB", "db.main"), kOkJ);
    EXPECT_EQ(job(a, "REGISTER_JOB", "web.front"), kOkJ);
    EXPECT_EQ(job(a, "REGISTER_JOB", "web.back"), kOkJ);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "web.front", 20), kOkP);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "web.front", 10), kOkP);
    EXPECT_EQ(proc(b, "REGISTER_PROCESS", "web.front", 5), kOkP);
    const std::string n1 = kNode;
    const std::string n2 = R"({"name":"n2","origin":"http://127.0.0.1:5002","version":"0.1"})";
    const std::string s1front = R"({"name":"n1","pids":[20,10],"node_info":)" + n1 + "}";
    const std::string s2front = R"({"name":"n2","pids":[5],"node_info":)" + n2 + "}";
    const std::string s1db = R"({"name":"n1","pids":[],"node_info":)" + n1 + "}";
    const std::string s1back = R"({"name":"n1","pids":[],"node_info":)" + n1 + "}";
    EXPECT_EQ(dump(reg_.nodes()), R"({"nodes":[)" + n1 + "," + n2 + "]}");
    EXPECT_EQ(dump(reg_.jobs()), R"({"nb_jobs":3,"jobs":[{"name":"web.front","sources":[)" + s1front + "," + s2front +
                                     R"(]},{"name":"db.main","sources":[)" + s1db +
                                     R"(]},{"name":"web.back","sources":[)" + s1back + "]}]}");
    EXPECT_EQ(dump(reg_.find_job("web.front")), R"({"sources":[)" + s1front + "," + s2front + "]}");
    EXPECT_EQ(dump(reg_.find_job("nope.x")), R"({"sources":[]})");
    EXPECT_EQ(dump(reg_.find_session("web")), R"({"nb_jobs":2,"jobs":[{"name":"web.front","sources":[)" + s1front +
                                                  "," + s2front + R"(]},{"name":"web.back","sources":[)" + s1back +
                                                  "]}]}");
    EXPECT_EQ(dump(reg_.find_session("nope")), R"({"nb_jobs":0,"jobs":[]})");
    EXPECT_EQ(dump(reg_.sessions(std::nullopt)),
              R"({"nb_sessions":2,"sessions":[{"sessionid":"web","jobs":{"web.front":[)" + s1front + "," + s2front +
                  R"(],"web.back":[)" + s1back + R"(]}},{"sessionid":"db","jobs":{"db.main":[)" + s1db + "]}}]}");
    EXPECT_EQ(dump(reg_.sessions("n2")),
              R"({"nb_sessions":1,"sessions":[{"sessionid":"web","jobs":{"web.front":[)" + s2front + "]}}]}");
    EXPECT_EQ(dump(reg_.sessions("nobody")), R"({"nb_sessions":0,"sessions":[]})");
    // A job no node holds any more loses its place; registered again, it comes last.
    EXPECT_EQ(job(a, "UNREGISTER_JOB", "web.front"), kOkJ);
    EXPECT_EQ(job(b, "UNREGISTER_JOB", "web.front"), kOkJ);
    EXPECT_EQ(job(b, "REGISTER_JOB", "web.front"), kOkJ);
    EXPECT_EQ(dump(reg_.find_session("web")),
              R"({"nb_jobs":2,"jobs":[{"name":"web.back","sources":[)" + s1back +
                  R"(]},{"name":"web.front","sources":[{"name":"n2","pids":[],"node_info":)" + n2 + "}]}]}");
}

class RegistryBoundsTest : public RegistryTest {
protected:
    static RegistryLimits small() {
        RegistryLimits l;
        l.max_nodes = 2;
        l.max_jobs_per_node = 2;
        l.max_processes_per_job = 2;
        l.max_processes_per_node = 3;
        l.max_message_bytes = 200;
        l.max_name_bytes = 8;
        return l;
    }
    RegistryBoundsTest() : RegistryTest(small()) {}
};

TEST_F(RegistryBoundsTest, Nodes) {
    ConnId a = open();
    open();
    take_events();
    auto c = reg_.open(kT0);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, EAGAIN);
    EXPECT_EQ(c.error().context, "too many nodes (limit 2)");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
    reg_.close(a);
    EXPECT_TRUE(reg_.open(kT0));
}

TEST_F(RegistryBoundsTest, JobsPerNodeAndProcessesPerJob) {
    ConnId a = open();
    EXPECT_EQ(identify(a, "n1", "o"), kOk1);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.a"), kOkJ);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.b"), kOkJ);
    take_events();
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.c"),
              R"x({"errno":429,"reason":"too many jobs on this node (limit 2)","msgid":"mj"})x");
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.a", 1), kOkP);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.a", 2), kOkP);
    take_events();
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.a", 3),
              R"x({"errno":429,"reason":"too many processes in job 's.a' (limit 2)","msgid":"mp"})x");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
    EXPECT_EQ(dump(reg_.find_job("s.c")), R"({"sources":[]})");
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.b", 4), kOkP);
    take_events();
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.b", 5),
              R"x({"errno":429,"reason":"too many processes on this node (limit 3)","msgid":"mp"})x");
    EXPECT_EQ(take_events(), std::vector<std::string>{});
    EXPECT_EQ(job(a, "UNREGISTER_JOB", "s.a"), kOkJ);  // its 2 pids go with it
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.b", 5), kOkP);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.b", 6),
              R"x({"errno":429,"reason":"too many processes in job 's.b' (limit 2)","msgid":"mp"})x");
    EXPECT_EQ(job(a, "UNREGISTER_JOB", "s.b"), kOkJ);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.c"), kOkJ);  // room again
}

TEST_F(RegistryBoundsTest, MessageSize) {
    ConnId a = open();
    std::string big = R"({"type":"PING","msgid":")" + std::string(200, 'a') + R"("})";
    EXPECT_EQ(send(a, big),
              R"({"errno":413,"reason":"message is 226 bytes, longer than the limit of 200","msgid":null})");
    EXPECT_EQ(send(a, R"({"type":"PING","msgid":")" + std::string(170, 'a') + R"("})").substr(0, 11), R"({"ok":true,)");
}

TEST_F(RegistryBoundsTest, NameLengths) {
    ConnId a = open();
    EXPECT_EQ(identify(a, "123456789", "o"), R"({"errno":413,"reason":"name is longer than 8 bytes","msgid":"m1"})");
    EXPECT_EQ(identify(a, "n1", "http://long"),
              R"({"errno":413,"reason":"origin is longer than 8 bytes","msgid":"m1"})");
    EXPECT_EQ(identify(a, "n1", "o"), kOk1);
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.1234567"),
              R"({"errno":413,"reason":"job_name is longer than 8 bytes","msgid":"mj"})");
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.123456"), kOkJ);
}

TEST_F(RegistryTest, EmptyOrNulNamesAreRefused) {
    ConnId a = open();
    EXPECT_EQ(identify(a, ""), R"({"errno":400,"reason":"name must not be empty","msgid":"m1"})");
    EXPECT_EQ(identify(a, "a\\u0000b"), R"({"errno":400,"reason":"name must not contain a NUL byte","msgid":"m1"})");
    EXPECT_EQ(dump(reg_.nodes()), R"({"nodes":[]})");
}

// The front end keeps listings while the generation stays: it must move with every change
// a body can show, and only then.
TEST_F(RegistryTest, GenerationMovesWithEveryVisibleChangeOnly) {
    ConnId a = open();
    auto g = reg_.generation();
    EXPECT_EQ(identify(a, "n1"), kOk1);
    EXPECT_GT(reg_.generation(), g);
    g = reg_.generation();
    std::string jobs = dump(reg_.jobs());
    EXPECT_EQ(job(a, "REGISTER_JOB", "s.j"), kOkJ);
    EXPECT_GT(reg_.generation(), g);
    EXPECT_NE(dump(reg_.jobs()), jobs);
    g = reg_.generation();
    jobs = dump(reg_.jobs());
    // Refused and silent messages change nothing, the generation neither.
    EXPECT_EQ(job(a, "UNREGISTER_JOB", "s.unknown"), kOkJ);
    EXPECT_NE(job(a, "REGISTER_JOB", "s.j"), kOkJ);
    send(a, R"({"type":"PING","msgid":"m2"})");
    EXPECT_EQ(reg_.generation(), g);
    EXPECT_EQ(dump(reg_.jobs()), jobs);
    EXPECT_EQ(proc(a, "REGISTER_PROCESS", "s.j", 7), kOkP);
    EXPECT_GT(reg_.generation(), g);
    g = reg_.generation();
    reg_.close(a);
    EXPECT_GT(reg_.generation(), g);
    EXPECT_EQ(dump(reg_.jobs()), R"({"nb_jobs":0,"jobs":[]})");
}

}  // namespace
}  // namespace gaffer::lookup
