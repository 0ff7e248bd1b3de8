// SPDX-License-Identifier: MIT
// The answers of gaffer_lookupd's query API (reference §13.3) as the command-line tools
// use them: asking several lookupds at once and merging what they say into one view
// (`gaffer lookup:*`, `gafferctl fleet ps`).
//
// Merge rules: a node is the pair (name, origin); the same pair seen twice is one node
// (first seen wins its version). A job is its "sid.job" name; its sources are merged by
// node, their pids unioned (first-seen order). Sessions are merged by id, their jobs as
// above. Order: first seen, walking the lookupds in the order given. Every list is
// bounded by what the lookupds sent, and each answer by ClientOptions::max_body.
#pragma once

#include <jansson.h>

#include <chrono>
#include <string>
#include <vector>

#include "ctl/client/http_client.h"
#include "lib/base/result.h"
#include "lib/json/json.h"

namespace gaffer::client {

struct LookupNode {
    std::string name;
    std::string origin;
    std::string version;
};

struct LookupSource {
    LookupNode node;
    std::vector<long long> pids;
};

struct LookupJob {
    std::string name;  // "sid.job"
    std::vector<LookupSource> sources;
};

struct LookupSession {
    std::string sessionid;
    std::vector<LookupJob> jobs;
};

// {"nodes": [{"name","origin","version"}, ...]} into `into`. EINVAL on another shape.
Status merge_nodes(const json_t* answer, std::vector<LookupNode>& into);
// An array of source objects ({"name","pids","node_info"}).
Status merge_sources(const json_t* sources, std::vector<LookupSource>& into);
// An array of {"name","sources"} (the "jobs" of /jobs and /findSession).
Status merge_jobs(const json_t* jobs, std::vector<LookupJob>& into);
// An array of {"sessionid","jobs":{"sid.job":[sources]}} (the "sessions" of /sessions).
Status merge_sessions(const json_t* sessions, std::vector<LookupSession>& into);

// The answers of several lookupds to one GET, asked in parallel (get_all()).
struct LookupdAnswers {
    std::vector<json::JsonPtr> bodies;  // the JSON objects of the lookupds that answered 2xx
    std::vector<std::string> answered;  // their endpoints, in the same order
    std::vector<std::string> failures;  // "<endpoint>: <why>" for each one that did not
};
LookupdAnswers query_lookupds(const std::vector<ClientOptions>& lookupds, const std::string& path,
                              std::chrono::milliseconds timeout);

}  // namespace gaffer::client
