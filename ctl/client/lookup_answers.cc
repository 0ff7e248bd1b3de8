// SPDX-License-Identifier: MIT
// Lookupd answers: parsing and merging (see lookup_answers.h).
#include "ctl/client/lookup_answers.h"

#include <algorithm>
#include <cerrno>

#include "ctl/client/answers.h"
#include "ctl/client/format.h"

namespace gaffer::client {
namespace {

Status shape_error(const char* what) {
    return fail(Error::make(EINVAL, "unexpected answer from the lookupd (%s)", what));
}

Result<LookupNode> node_of(const json_t* o) {
    if (!json_is_object(o))
        return fail(Error::make(EINVAL, "unexpected answer from the lookupd (a node is not an object)"));
    const json_t* name = json_object_get(o, "name");
    const json_t* origin = json_object_get(o, "origin");
    if (!json_is_string(name) || !json_is_string(origin))
        return fail(Error::make(EINVAL, "unexpected answer from the lookupd (a node without name or origin)"));
    return LookupNode{json_string_value(name), json_string_value(origin), scalar_text(json_object_get(o, "version"))};
}

bool same_node(const LookupNode& a, const LookupNode& b) {
    return a.name == b.name && a.origin == b.origin;
}

}  // namespace

Status merge_nodes(const json_t* answer, std::vector<LookupNode>& into) {
    const json_t* nodes = json_object_get(answer, "nodes");
    if (!json_is_array(nodes))
        return shape_error("no \"nodes\" list");
    size_t i;
    const json_t* n;
    json_array_foreach(nodes, i, n) {
        auto node = node_of(n);
        if (!node)
            return fail(node.error());
        if (std::none_of(into.begin(), into.end(), [&](const LookupNode& x) { return same_node(x, *node); }))
            into.push_back(std::move(*node));
    }
    return {};
}

Status merge_sources(const json_t* sources, std::vector<LookupSource>& into) {
    if (!json_is_array(sources))
        return shape_error("\"sources\" is not a list");
    size_t i;
    const json_t* s;
    json_array_foreach(sources, i, s) {
        auto node = node_of(json_object_get(s, "node_info"));
        if (!node)
            return fail(node.error());
        auto it =
            std::find_if(into.begin(), into.end(), [&](const LookupSource& x) { return same_node(x.node, *node); });
        if (it == into.end()) {
            into.push_back(LookupSource{std::move(*node), {}});
            it = into.end() - 1;
        }
        size_t k;
        const json_t* pid;
        json_array_foreach(json_object_get(s, "pids"), k, pid) {
            if (!json_is_integer(pid))
                return shape_error("a pid is not an integer");
            long long p = json_integer_value(pid);
            if (std::find(it->pids.begin(), it->pids.end(), p) == it->pids.end())
                it->pids.push_back(p);
        }
    }
    return {};
}

namespace {

Status merge_job(const std::string& name, const json_t* sources, std::vector<LookupJob>& into) {
    auto it = std::find_if(into.begin(), into.end(), [&](const LookupJob& j) { return j.name == name; });
    if (it == into.end()) {
        into.push_back(LookupJob{name, {}});
        it = into.end() - 1;
    }
    return merge_sources(sources, it->sources);
}

}  // namespace

Status merge_jobs(const json_t* jobs, std::vector<LookupJob>& into) {
    if (!json_is_array(jobs))
        return shape_error("\"jobs\" is not a list");
    size_t i;
    const json_t* j;
    json_array_foreach(jobs, i, j) {
        const json_t* name = json_object_get(j, "name");
        if (!json_is_string(name))
            return shape_error("a job without a name");
        GAFFER_RETURN_IF_ERROR(merge_job(json_string_value(name), json_object_get(j, "sources"), into));
    }
    return {};
}

Status merge_sessions(const json_t* sessions, std::vector<LookupSession>& into) {
    if (!json_is_array(sessions))
        return shape_error("\"sessions\" is not a list");
    size_t i;
    const json_t* s;
    json_array_foreach(sessions, i, s) {
        const json_t* sid = json_object_get(s, "sessionid");
        const json_t* jobs = json_object_get(s, "jobs");
        if (!json_is_string(sid) || !json_is_object(jobs))
            return shape_error("a session without an id or jobs");
        std::string id = json_string_value(sid);
        auto it = std::find_if(into.begin(), into.end(), [&](const LookupSession& x) { return x.sessionid == id; });
        if (it == into.end()) {
            into.push_back(LookupSession{id, {}});
            it = into.end() - 1;
        }
        const char* name;
        const json_t* sources;
        json_object_foreach(const_cast<json_t*>(jobs), name, sources) {
            GAFFER_RETURN_IF_ERROR(merge_job(name, sources, it->jobs));
        }
    }
    return {};
}

LookupdAnswers query_lookupds(const std::vector<ClientOptions>& lookupds, const std::string& path,
                              std::chrono::milliseconds timeout) {
    std::vector<GetRequest> requests;
    for (const ClientOptions& o : lookupds) requests.push_back(GetRequest{o, path});
    auto answers = get_all(requests, timeout);
    LookupdAnswers out;
    for (size_t i = 0; i < answers.size(); ++i) {
        const std::string& ep = lookupds[i].endpoint.text;
        if (!answers[i]) {
            out.failures.push_back(answers[i].error().message());
            continue;
        }
        const Response& r = *answers[i];
        if (!r.ok()) {
            out.failures.push_back(ep + ": " + http_error_text(r));
            continue;
        }
        auto j = json::parse(r.body);
        if (!j || !json_is_object(j->get())) {
            out.failures.push_back(ep + ": the answer to GET " + path + " is not a JSON object");
            continue;
        }
        out.bodies.push_back(std::move(*j));
        out.answered.push_back(ep);
    }
    return out;
}

}  // namespace gaffer::client
