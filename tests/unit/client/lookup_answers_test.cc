// SPDX-License-Identifier: MIT
// ctl/client/lookup_answers.h: merging the §13.3 answers of several lookupds (a node
// once per name and origin, a job once, pids unioned, first-seen order), refusing other
// shapes; and the spanning rows of client::Table that `fleet ps` uses.
#include "ctl/client/lookup_answers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ctl/client/format.h"

namespace gaffer::client {
namespace {

json::JsonPtr j(const char* text) {
    auto r = json::parse(text);
    EXPECT_TRUE(r);
    return std::move(*r);
}

TEST(LookupAnswers, NodesAreMergedByNameAndOrigin) {
    std::vector<LookupNode> nodes;
    ASSERT_TRUE(merge_nodes(j(R"({"nodes":[{"name":"a","origin":"http://1","version":"0.1"},
                                          {"name":"b","origin":"http://2","version":"0.1"}]})")
                                .get(),
                            nodes));
    ASSERT_TRUE(merge_nodes(j(R"({"nodes":[{"name":"a","origin":"http://1","version":"0.1"},
                                          {"name":"a","origin":"http://3","version":"0.1"}]})")
                                .get(),
                            nodes));
    ASSERT_EQ(nodes.size(), 3u);
    EXPECT_EQ(nodes[0].name + nodes[0].origin, "ahttp://1");
    EXPECT_EQ(nodes[1].name + nodes[1].origin, "bhttp://2");
    EXPECT_EQ(nodes[2].name + nodes[2].origin, "ahttp://3");
    EXPECT_EQ(nodes[2].version, "0.1");
}

TEST(LookupAnswers, JobSourcesAreMergedWithTheirPidsUnioned) {
    std::vector<LookupJob> jobs;
    const char* src1 = R"([{"name":"s.w","sources":[{"name":"a","pids":[1,2],
                           "node_info":{"name":"a","origin":"http://1","version":"0.1"}}]}])";
    const char* src2 = R"([{"name":"s.x","sources":[]},{"name":"s.w","sources":[{"name":"a","pids":[2,3],
                           "node_info":{"name":"a","origin":"http://1","version":"0.1"}},{"name":"b","pids":[],
                           "node_info":{"name":"b","origin":"http://2","version":"0.1"}}]}])";
    ASSERT_TRUE(merge_jobs(j(src1).get(), jobs));
    ASSERT_TRUE(merge_jobs(j(src2).get(), jobs));
    ASSERT_EQ(jobs.size(), 2u);
    EXPECT_EQ(jobs[0].name, "s.w");
    ASSERT_EQ(jobs[0].sources.size(), 2u);
    EXPECT_EQ(jobs[0].sources[0].pids, (std::vector<long long>{1, 2, 3}));
    EXPECT_EQ(jobs[0].sources[1].node.name, "b");
    EXPECT_EQ(jobs[1].name, "s.x");
}

TEST(LookupAnswers, SessionsAreMergedById) {
    std::vector<LookupSession> ss;
    ASSERT_TRUE(merge_sessions(j(R"([{"sessionid":"s","jobs":{"s.a":[]}}])").get(), ss));
    ASSERT_TRUE(merge_sessions(j(R"([{"sessionid":"t","jobs":{}},{"sessionid":"s","jobs":{"s.b":[]}}])").get(), ss));
    ASSERT_EQ(ss.size(), 2u);
    ASSERT_EQ(ss[0].jobs.size(), 2u);
    EXPECT_EQ(ss[0].jobs[1].name, "s.b");
}

TEST(LookupAnswers, OtherShapesAreRefused) {
    std::vector<LookupNode> nodes;
    EXPECT_FALSE(merge_nodes(j(R"({"nodes":{}})").get(), nodes));
    EXPECT_FALSE(merge_nodes(j(R"({"nodes":[{"name":1,"origin":"x"}]})").get(), nodes));
    std::vector<LookupSource> sources;
    EXPECT_FALSE(
        merge_sources(j(R"([{"name":"a","pids":["1"],"node_info":{"name":"a","origin":"o"}}])").get(), sources));
    EXPECT_FALSE(merge_sources(nullptr, sources));
    std::vector<LookupJob> jobs;
    EXPECT_FALSE(merge_jobs(j(R"([{"sources":[]}])").get(), jobs));
    std::vector<LookupSession> ss;
    EXPECT_FALSE(merge_sessions(j(R"([{"sessionid":"s","jobs":[]}])").get(), ss));
}

TEST(Table, ASpanningRowDoesNotWidenItsLastColumn) {
    Table t({"NODE", "JOB", "PID", "STATE"});
    t.add_row({"n1", "s.web", "1", "running"});
    t.add_spanning_row({"n2", "-", "unreachable (cannot connect)"});
    EXPECT_EQ(t.render(),
              "NODE  JOB    PID  STATE\n"
              "n1    s.web  1    running\n"
              "n2    -      unreachable (cannot connect)\n");
}

}  // namespace
}  // namespace gaffer::client
