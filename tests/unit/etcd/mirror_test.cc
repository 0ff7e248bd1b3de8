// SPDX-License-Identifier: MIT
// Unit tests of lib/etcd/mirror's MirrorCore against a real lookup::Registry: a node
// written to etcd gives the §13.3 answers and §13.4 events of the same node connected
// directly (checked side by side against a second registry fed the §13.2 messages),
// reconcile() emits only real changes, jobs may come before their node's info, and bad
// keys and values change nothing.
#include "lib/etcd/mirror.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "lib/etcd/codec.h"
#include "lib/json/json.h"
#include "lib/lookup/registry.h"

namespace gaffer::etcd {
namespace {

const NodeInfo kN1{"n1", "http://127.0.0.1:5001", "0.1"};
const NodeInfo kN2{"n2", "http://127.0.0.1:5002", "0.1"};

WatchEvent put(std::string key, std::string value) {
    return WatchEvent{false, KeyValue{std::move(key), std::move(value)}};
}
WatchEvent del(std::string key) {
    return WatchEvent{true, KeyValue{std::move(key), ""}};
}

class MirrorTest : public ::testing::Test {
protected:
    MirrorTest() {
        reg_.set_event_sink([this](json::JsonPtr ev) { events_.push_back(json::dump(ev.get())); });
        direct_.set_event_sink([this](json::JsonPtr ev) { direct_events_.push_back(json::dump(ev.get())); });
    }

    // The same node as a directly connected gafferd.
    std::string send(lookup::ConnId id, const std::string& text) {
        return direct_.handle(id, text, lookup::Clock::now());
    }
    lookup::ConnId connect(const NodeInfo& n) {
        auto id = direct_.open(lookup::Clock::now());
        EXPECT_TRUE(id);
        (void)send(*id, R"({"type":"IDENTIFY","name":")" + n.name + R"(","origin":")" + n.origin +
                            R"(","version":"0.1","msgid":"a"})");
        return *id;
    }
    void job(lookup::ConnId id, const char* type, const std::string& name) {
        (void)send(id, std::string(R"({"type":")") + type + R"(","job_name":")" + name + R"(","msgid":"b"})");
    }
    void proc(lookup::ConnId id, const char* type, const std::string& name, int pid) {
        (void)send(id, std::string(R"({"type":")") + type + R"(","job_name":")" + name + R"(","pid":)" +
                           std::to_string(pid) + R"(,"msgid":"c"})");
    }

    // Every query body, for comparing the two registries.
    static std::string queries(const lookup::Registry& r) {
        return json::dump(r.nodes().get()) + json::dump(r.sessions(std::nullopt).get()) +
               json::dump(r.sessions("n1").get()) + json::dump(r.jobs().get()) + json::dump(r.find_job("web.a").get()) +
               json::dump(r.find_session("web").get());
    }
    std::vector<std::string> take() { return std::exchange(events_, {}); }
    std::vector<std::string> take_direct() { return std::exchange(direct_events_, {}); }

    lookup::Registry reg_;
    lookup::Registry direct_;
    std::vector<std::string> events_, direct_events_;
};

TEST_F(MirrorTest, AnEtcdNodeLooksLikeADirectOne) {
    MirrorCore core(reg_);
    core.apply(put(info_key("n1"), info_value(kN1)));
    lookup::ConnId c = connect(kN1);
    EXPECT_EQ(take(), take_direct());

    core.apply(put(job_key("n1", "web.a"), job_value({1, 2})));
    job(c, "REGISTER_JOB", "web.a");
    proc(c, "REGISTER_PROCESS", "web.a", 1);
    proc(c, "REGISTER_PROCESS", "web.a", 2);
    EXPECT_EQ(take(), take_direct());
    EXPECT_EQ(queries(reg_), queries(direct_));

    // Scale: 1 stops, 3 and 4 start.
    core.apply(put(job_key("n1", "web.a"), job_value({2, 3, 4})));
    proc(c, "UNREGISTER_PROCESS", "web.a", 1);
    proc(c, "REGISTER_PROCESS", "web.a", 3);
    proc(c, "REGISTER_PROCESS", "web.a", 4);
    EXPECT_EQ(take(), take_direct());
    EXPECT_EQ(queries(reg_), queries(direct_));

    // The same value again changes nothing.
    core.apply(put(job_key("n1", "web.a"), job_value({2, 3, 4})));
    EXPECT_TRUE(take().empty());

    // Unload.
    core.apply(del(job_key("n1", "web.a")));
    job(c, "UNREGISTER_JOB", "web.a");
    EXPECT_EQ(take(), take_direct());

    // The lease expires: every key goes, the node with it.
    core.apply(put(job_key("n1", "web.b"), job_value({7})));
    job(c, "REGISTER_JOB", "web.b");
    proc(c, "REGISTER_PROCESS", "web.b", 7);
    take(), take_direct();
    core.apply(del(info_key("n1")));
    direct_.close(c);
    EXPECT_EQ(take(), take_direct());
    core.apply(del(job_key("n1", "web.b")));
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(core.nodes(), 0u);
    EXPECT_EQ(reg_.connections(), 0u);
}

TEST_F(MirrorTest, MirroredConnectionsDoNotExpireBySilence) {
    MirrorCore core(reg_);
    core.apply(put(info_key("n1"), info_value(kN1)));
    EXPECT_EQ(reg_.expire(lookup::Clock::now() + std::chrono::hours(1)), std::vector<lookup::ConnId>{});
    EXPECT_EQ(core.connected(), 1u);
}

TEST_F(MirrorTest, JobsBeforeInfoWaitForIt) {
    MirrorCore core(reg_);
    core.apply(put(job_key("n1", "web.a"), job_value({5})));
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(core.nodes(), 1u);
    EXPECT_EQ(core.connected(), 0u);
    core.apply(put(info_key("n1"), info_value(kN1)));
    lookup::ConnId c = connect(kN1);
    job(c, "REGISTER_JOB", "web.a");
    proc(c, "REGISTER_PROCESS", "web.a", 5);
    EXPECT_EQ(take(), take_direct());
    EXPECT_EQ(queries(reg_), queries(direct_));
}

TEST_F(MirrorTest, ReconcileEmitsOnlyTheDifferences) {
    MirrorCore core(reg_);
    core.reconcile({{info_key("n1"), info_value(kN1)},
                    {job_key("n1", "web.a"), job_value({1, 2})},
                    {info_key("n2"), info_value(kN2)},
                    {job_key("n2", "web.a"), job_value({9})}});
    EXPECT_EQ(core.connected(), 2u);
    take();
    // The same snapshot: nothing.
    core.reconcile({{info_key("n1"), info_value(kN1)},
                    {job_key("n1", "web.a"), job_value({1, 2})},
                    {info_key("n2"), info_value(kN2)},
                    {job_key("n2", "web.a"), job_value({9})}});
    EXPECT_TRUE(take().empty());
    // While the watch was broken: n2 died, n1 lost pid 1 and gained a job.
    core.reconcile({{info_key("n1"), info_value(kN1)},
                    {job_key("n1", "web.a"), job_value({2})},
                    {job_key("n1", "web.b"), job_value({3})}});
    std::string n1 = R"("node":{"name":"n1","origin":"http://127.0.0.1:5001","version":"0.1"})";
    std::string n2 = R"("node":{"name":"n2","origin":"http://127.0.0.1:5002","version":"0.1"})";
    EXPECT_EQ(take(), (std::vector<std::string>{
                          R"({"event":"remove_process",)" + n1 + R"(,"job_name":"web.a","pid":1})",
                          R"({"event":"add_job",)" + n1 + R"(,"job_name":"web.b"})",
                          R"({"event":"add_process",)" + n1 + R"(,"job_name":"web.b","pid":3})",
                          R"({"event":"remove_process",)" + n2 + R"(,"job_name":"web.a","pid":9})",
                          R"({"event":"remove_job",)" + n2 + R"(,"job_name":"web.a"})",
                          R"({"event":"remove_node","name":"n2","origin":"http://127.0.0.1:5002","version":"0.1"})",
                      }));
    EXPECT_EQ(core.nodes(), 1u);
    core.reconcile({});
    EXPECT_EQ(reg_.connections(), 0u);
    EXPECT_EQ(core.nodes(), 0u);
}

TEST_F(MirrorTest, ANewOriginReconnectsTheNode) {
    MirrorCore core(reg_);
    core.apply(put(info_key("n1"), info_value(kN1)));
    core.apply(put(job_key("n1", "web.a"), job_value({1})));
    take();
    NodeInfo moved = kN1;
    moved.origin = "http://127.0.0.1:6001";
    core.apply(put(info_key("n1"), info_value(moved)));
    auto ev = take();
    ASSERT_EQ(ev.size(), 7u);  // remove_process, remove_job, remove_node, add_node, identify, add_job, add_process
    EXPECT_NE(ev[2].find("remove_node"), std::string::npos);
    EXPECT_NE(ev[4].find(R"("event":"identify")"), std::string::npos);
    EXPECT_NE(ev[4].find("6001"), std::string::npos);
    EXPECT_EQ(core.connected(), 1u);
}

TEST_F(MirrorTest, BadKeysAndValuesChangeNothing) {
    MirrorCore core(reg_);
    core.apply(put("/gaffer/v1/nodes/n1/other", "x"));
    core.apply(put("/elsewhere", "x"));
    core.apply(put(info_key("n1"), "not json"));
    core.apply(put(info_key("n1"), info_value(kN2)));  // a name that is not its key's
    core.apply(del(job_key("n9", "web.a")));
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(reg_.connections(), 0u);
    core.apply(put(info_key("n1"), info_value(kN1)));
    take();
    core.apply(put(job_key("n1", "web.a"), R"({"pids":["x"]})"));
    EXPECT_TRUE(take().empty());
    // A good value then a bad one: the bad one counts as the key's removal.
    core.apply(put(job_key("n1", "web.a"), job_value({4})));
    EXPECT_EQ(take().size(), 2u);
    core.apply(put(job_key("n1", "web.a"), "garbage"));
    EXPECT_EQ(take().size(), 2u);  // remove_process, remove_job
}

TEST_F(MirrorTest, ADirectNodeWithTheSameIdentityWins) {
    lookup::ConnId c = connect(kN1);
    lookup::Registry& shared = direct_;
    MirrorCore core(shared);
    core.apply(put(info_key("n1"), info_value(kN1)));  // 409 from the registry
    EXPECT_EQ(core.connected(), 0u);
    EXPECT_EQ(shared.connections(), 1u);
    take_direct();
    // Not tried again on each write: no add_node/remove_node churn in the feed.
    core.apply(put(job_key("n1", "web.a"), job_value({1})));
    EXPECT_EQ(shared.connections(), 1u);
    EXPECT_TRUE(take_direct().empty());
    // Once the direct node is gone, the next reconcile brings the etcd one in.
    shared.close(c);
    core.reconcile({{info_key("n1"), info_value(kN1)}, {job_key("n1", "web.a"), job_value({1})}});
    EXPECT_EQ(core.connected(), 1u);
}

TEST_F(MirrorTest, DestroyingTheCoreRemovesItsNodes) {
    {
        MirrorCore core(reg_);
        core.apply(put(info_key("n1"), info_value(kN1)));
        EXPECT_EQ(reg_.connections(), 1u);
    }
    EXPECT_EQ(reg_.connections(), 0u);
}

TEST_F(MirrorTest, NodesAreBounded) {
    MirrorCore core(reg_, 2);
    core.apply(put(info_key("a"), info_value({"a", "http://a:1", "0.1"})));
    core.apply(put(info_key("b"), info_value({"b", "http://b:1", "0.1"})));
    core.apply(put(info_key("c"), info_value({"c", "http://c:1", "0.1"})));
    EXPECT_EQ(core.nodes(), 2u);
    EXPECT_EQ(reg_.connections(), 2u);
}

}  // namespace
}  // namespace gaffer::etcd
