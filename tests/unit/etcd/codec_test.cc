// SPDX-License-Identifier: MIT
// Unit tests of lib/etcd/codec: base64 and prefix ranges, endpoint lists, the request
// bodies, the answers as etcd 3.4's gateway really writes them (samples captured from
// Debian's etcd-server 3.4.23), the bounded stream splitter and the key layout.
#include "lib/etcd/codec.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace gaffer::etcd {
namespace {

TEST(EtcdBase64, RoundTripsAndRefusesGarbage) {
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode(std::string("\0\xff", 2)), "AP8=");
    auto d = base64_decode("L2dhZmZlci92MS9ub2Rlcy8=");
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, "/gaffer/v1/nodes/");
    EXPECT_FALSE(base64_decode("Zm9"));       // not a multiple of 4
    EXPECT_FALSE(base64_decode("Zm9v!A=="));  // not the alphabet
}

TEST(EtcdPrefixEnd, IncrementsTheLastByteBelowFF) {
    EXPECT_EQ(prefix_end("/gaffer/"), "/gaffer0");
    EXPECT_EQ(prefix_end("a\xff"), "b");
    EXPECT_EQ(prefix_end("\xff\xff"), std::string(1, '\0'));
    EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

TEST(EtcdEndpoints, ParsesListsAndRefusesBadEntries) {
    auto one = parse_endpoints("etcd://127.0.0.1:2379");
    ASSERT_TRUE(one) << one.error().message();
    EXPECT_EQ(*one, std::vector<std::string>{"http://127.0.0.1:2379"});
    auto many = parse_endpoints("etcd://127.0.0.1:1,localhost:2,[::1]:3,https://h.example:4/");
    ASSERT_TRUE(many) << many.error().message();
    EXPECT_EQ(*many, (std::vector<std::string>{"http://127.0.0.1:1", "http://localhost:2", "http://[::1]:3",
                                               "https://h.example:4"}));
    for (const char* bad : {"", "etcd://", "ftp://h:1", "etcd://h", "etcd://h:0", "etcd://h:65536", "etcd://h:1/x",
                            "etcd://h:1,", "etcd://h:1,,h:2", "h:1:2", "etcd://[::1:5", "etcd://h :1"}) {
        auto r = parse_endpoints(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, EINVAL) << bad;
    }
}

TEST(EtcdRequests, AreTheGatewayJson) {
    EXPECT_EQ(grant_request(std::chrono::seconds(45)), R"({"TTL":"45"})");
    EXPECT_EQ(lease_request(4111120509535884037), R"({"ID":"4111120509535884037"})");
    EXPECT_EQ(put_request("foo", "bar", 7), R"({"key":"Zm9v","value":"YmFy","lease":"7"})");
    EXPECT_EQ(put_request("foo", "bar", 0), R"({"key":"Zm9v","value":"YmFy"})");
    EXPECT_EQ(range_request("foo", "fop"), R"({"key":"Zm9v","range_end":"Zm9w"})");
    EXPECT_EQ(range_request("foo", ""), R"({"key":"Zm9v"})");
    EXPECT_EQ(range_request("foo", "fop", true), R"({"key":"Zm9v","range_end":"Zm9w","keys_only":true})");
    EXPECT_EQ(watch_request("foo", "fop", 12),
              R"({"create_request":{"key":"Zm9v","range_end":"Zm9w","start_revision":"12"}})");
}

TEST(EtcdRequests, TransactionsOfPutsAndDeletes) {
    EXPECT_EQ(txn_request({{"foo", "bar", 7}, {"fop", std::nullopt, 7}, {"x", "", 0}}),
              R"({"success":[{"request_put":{"key":"Zm9v","value":"YmFy","lease":"7"}},)"
              R"({"request_delete_range":{"key":"Zm9w"}},{"request_put":{"key":"eA==","value":""}}]})");
    EXPECT_EQ(txn_request({}), R"({"success":[]})");
}

constexpr const char* kHeader =
    R"("header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"2","raft_term":"2"})";

TEST(EtcdAnswers, GrantKeepaliveRevision) {
    auto g = parse_grant(std::string("{") + kHeader + R"(,"ID":"4111120509535884037","TTL":"5"})");
    ASSERT_TRUE(g) << g.error().message();
    EXPECT_EQ(g->id, 4111120509535884037);
    EXPECT_EQ(g->ttl, 5);
    auto alive = parse_keepalive(std::string(R"({"result":{)") + kHeader + R"(,"ID":"41","TTL":"5"}})");
    ASSERT_TRUE(alive);
    EXPECT_EQ(*alive, 5);
    // A lease that expired: the answer has no TTL.
    auto gone = parse_keepalive(std::string(R"({"result":{)") + kHeader + R"(,"ID":"123"}})");
    ASSERT_TRUE(gone);
    EXPECT_EQ(*gone, 0);
    auto rev = parse_revision(std::string("{") + kHeader + "}");
    ASSERT_TRUE(rev);
    EXPECT_EQ(*rev, 2);
}

TEST(EtcdAnswers, ErrorsBecomeErrors) {
    const char* not_found =
        R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})";
    auto r = parse_revision(not_found);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOENT);
    EXPECT_NE(r.error().context.find("requested lease not found"), std::string::npos);
    auto other = parse_grant(R"({"error":"etcdserver: too many requests","code":8})");
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, EIO);
    // On a stream the gateway nests it.
    auto streamed = parse_watch_message(R"({"error":{"grpc_code":14,"http_code":503,"message":"unavailable"}})");
    ASSERT_FALSE(streamed);
    EXPECT_EQ(streamed.error().code, EIO);
    EXPECT_FALSE(parse_grant("not json"));
    EXPECT_FALSE(parse_grant("[1]"));
    EXPECT_FALSE(parse_grant(std::string("{") + kHeader + "}"));  // no lease in it
}

TEST(EtcdAnswers, Range) {
    auto r = parse_range(
        std::string("{") + kHeader +
        R"(,"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy","lease":"9"}],"count":"1"})");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->revision, 2);
    ASSERT_EQ(r->kvs.size(), 1u);
    EXPECT_EQ(r->kvs[0].key, "foo");
    EXPECT_EQ(r->kvs[0].value, "bar");
    EXPECT_EQ(r->kvs[0].lease, 9);
    auto empty = parse_range(std::string("{") + kHeader + "}");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->kvs.empty());
    EXPECT_FALSE(parse_range(std::string("{") + kHeader + R"(,"kvs":[{"key":"!!"}]})"));
    EXPECT_FALSE(parse_range(std::string("{") + kHeader + R"(,"kvs":{}})"));
}

TEST(EtcdAnswers, WatchMessages) {
    auto created = parse_watch_message(std::string(R"({"result":{)") + kHeader + R"(,"created":true}})");
    ASSERT_TRUE(created);
    EXPECT_TRUE(created->created);
    EXPECT_TRUE(created->events.empty());
    auto events = parse_watch_message(
        std::string(R"({"result":{)") + kHeader +
        R"(,"events":[{"kv":{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}},)"
        R"({"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"3"}}]}})");
    ASSERT_TRUE(events) << events.error().message();
    ASSERT_EQ(events->events.size(), 2u);
    EXPECT_FALSE(events->events[0].deleted);
    EXPECT_EQ(events->events[0].kv.value, "bar");
    EXPECT_TRUE(events->events[1].deleted);
    EXPECT_EQ(events->events[1].kv.key, "foo");
    auto compacted =
        parse_watch_message(std::string(R"({"result":{)") + kHeader + R"(,"canceled":true,"compact_revision":"7"}})");
    ASSERT_TRUE(compacted);
    EXPECT_TRUE(compacted->canceled);
    EXPECT_EQ(compacted->compact_revision, 7);
    EXPECT_FALSE(parse_watch_message(R"({"result":{"events":[{"type":"BOGUS","kv":{}}]}})"));
    EXPECT_FALSE(parse_watch_message(R"({"nothing":1})"));
}

TEST(EtcdStreamSplitter, SplitsLinesAcrossChunks) {
    JsonStreamSplitter s(64);
    ASSERT_TRUE(s.feed("{\"a\":1}\n{\"b\""));
    EXPECT_EQ(s.next(), std::optional<std::string>("{\"a\":1}"));
    EXPECT_EQ(s.next(), std::nullopt);
    ASSERT_TRUE(s.feed(":2}\r\n\n  \n{\"c\":3}\n"));
    EXPECT_EQ(s.next(), std::optional<std::string>("{\"b\":2}"));
    EXPECT_EQ(s.next(), std::optional<std::string>("{\"c\":3}"));
    EXPECT_EQ(s.next(), std::nullopt);
    EXPECT_EQ(s.buffered(), 0u);
}

TEST(EtcdStreamSplitter, AnUnfinishedMessagePastTheBoundFailsForGood) {
    JsonStreamSplitter s(16);
    ASSERT_TRUE(s.feed(std::string(16, 'x')));
    auto st = s.feed("y");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, E2BIG);
    EXPECT_EQ(s.buffered(), 0u);  // the memory is given back
    EXPECT_FALSE(s.feed("\n"));
    EXPECT_EQ(s.next(), std::nullopt);
    // Whole messages do not count against the bound, only the unfinished tail.
    JsonStreamSplitter t(8);
    EXPECT_TRUE(t.feed("1234567\n1234567\n1234567\n12345678"));
}

TEST(EtcdKeys, LayoutAndParsing) {
    EXPECT_EQ(info_key("n1"), "/gaffer/v1/nodes/n1/info");
    EXPECT_EQ(job_key("n1", "web.front"), "/gaffer/v1/nodes/n1/jobs/web.front");
    auto info = parse_key("/gaffer/v1/nodes/n1/info");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->node, "n1");
    EXPECT_FALSE(info->job);
    auto job = parse_key("/gaffer/v1/nodes/host.example/jobs/web.front");
    ASSERT_TRUE(job);
    EXPECT_EQ(job->node, "host.example");
    EXPECT_EQ(job->job, std::optional<std::string>("web.front"));
    for (const char* bad :
         {"/gaffer/v1/nodes/", "/gaffer/v1/nodes/n1", "/gaffer/v1/nodes//info", "/gaffer/v1/nodes/n1/x",
          "/gaffer/v1/nodes/n1/jobs/", "/gaffer/v1/nodes/n1/jobs/a/b", "/gaffer/v2/nodes/n1/info", "/other"})
        EXPECT_FALSE(parse_key(bad)) << bad;
    EXPECT_TRUE(valid_node_name("n1.example.org"));
    EXPECT_FALSE(valid_node_name(""));
    EXPECT_FALSE(valid_node_name("a/b"));
    EXPECT_FALSE(valid_node_name("a\nb"));
    EXPECT_FALSE(valid_node_name("a\xff"));
    EXPECT_FALSE(parse_key("/gaffer/v1/nodes/n1/jobs/web.\xff"));
    EXPECT_FALSE(parse_key("/gaffer/v1/nodes/n1/jobs/web.\x01"));
}

TEST(EtcdValues, InfoAndJobs) {
    NodeInfo n{"n1", "http://127.0.0.1:5000", "0.1"};
    EXPECT_EQ(info_value(n), R"({"name":"n1","origin":"http://127.0.0.1:5000","version":"0.1"})");
    auto back = parse_info_value(info_value(n));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, n);
    EXPECT_FALSE(parse_info_value(R"({"name":"n1","origin":5,"version":"0.1"})"));
    EXPECT_EQ(job_value({1, 2, 30}), R"({"pids":[1,2,30]})");
    EXPECT_EQ(job_value({}), R"({"pids":[]})");
    auto pids = parse_job_value(R"({"pids":[3,1]})");
    ASSERT_TRUE(pids);
    EXPECT_EQ(*pids, (std::vector<int>{3, 1}));
    for (const char* bad : {R"({"pids":[0]})", R"({"pids":[-1]})", R"({"pids":["1"]})", R"({"pids":[4294967296]})",
                            R"({"pids":1})", R"([])", "x"})
        EXPECT_FALSE(parse_job_value(bad)) << bad;
}

TEST(EtcdBackoff, DoublesWithJitterWithinTheCap) {
    std::minstd_rand rng(1);
    using std::chrono::milliseconds;
    for (int i = 0; i < 100; ++i) {
        auto first = jittered_backoff(1, milliseconds(200), milliseconds(5000), rng);
        EXPECT_GE(first, milliseconds(100));
        EXPECT_LE(first, milliseconds(200));
        auto late = jittered_backoff(20, milliseconds(200), milliseconds(5000), rng);
        EXPECT_GE(late, milliseconds(2500));
        EXPECT_LE(late, milliseconds(5000));
    }
}

}  // namespace
}  // namespace gaffer::etcd
