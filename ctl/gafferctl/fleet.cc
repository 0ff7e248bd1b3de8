// SPDX-License-Identifier: MIT
// `gafferctl fleet ps` (man/gafferctl.1 FLEET): the processes of every gafferd node that
// the lookupds (--lookupd, repeatable; default http://127.0.0.1:5010) know, in one table.
//
// Steps: GET /nodes on every lookupd at once, merged (client/lookup_answers.h); then, on
// every node at once (client::get_all, one curl multi handle), GET /processes?full=1 (the
// processes of every job: pid, name, state) and GET /stats (the 0.4 statistics of every
// job, entries keyed by internal pid `id`): two requests a node, whatever its number of
// jobs. Each node has --node-timeout seconds (default 3) for both. A node that does not
// answer, or answers with an error, is one row saying why; the others are listed.
//
// Fleet commands only read: a mutation is sent to one node with its own endpoint, never
// through the registry (a lookupd's view can be stale and anyone able to register a
// node could otherwise redirect it).
//
// Keys: the lookupds get --api-key; the nodes get --node-key, else --api-key. The lookupds
// have --timeout seconds to answer (default 10).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "ctl/client/answers.h"
#include "ctl/client/format.h"
#include "ctl/client/lookup_answers.h"
#include "ctl/gafferctl/commands.h"
#include "lib/base/strutil.h"
#include "lib/json/json.h"

namespace gaffer::ctl {
namespace {

using client::ClientOptions;
using client::LookupNode;
using json::JsonPtr;

constexpr const char* kDefaultLookupd = "http://127.0.0.1:5010";
constexpr auto kLookupdTimeout = std::chrono::milliseconds(10000);

// What one node said: its processes and their stats by internal pid, or why not.
struct NodeView {
    LookupNode node;
    JsonPtr processes;  // the "processes" array
    JsonPtr stats;      // internal pid (text) -> the stats entry
    std::string error;  // "unreachable (...)" or "error (...)" when the node gave nothing
};

// The "processes" array of GET /processes?full=1 and the pid -> stats object of GET /stats;
// an empty error when both are usable.
std::string read_node(NodeView& v, const Result<client::Response>& procs, const Result<client::Response>& stats) {
    for (const auto* r : {&procs, &stats}) {
        if (!*r)
            return "unreachable (" + r->error().message() + ")";
        if (!(*r)->ok())
            return "error (" + client::http_error_text(**r) + ")";
    }
    auto p = json::parse(procs->body);
    json_t* list = p && json_is_object(p->get()) ? json_object_get(p->get(), "processes") : nullptr;
    auto st = json::parse(stats->body);
    if (!json_is_array(list) || !st || !json_is_array(st->get()))
        return "error (unexpected answer from the node)";
    v.processes = json::ref(list);
    v.stats = json::take(json_object());
    size_t i, k;
    json_t *job, *one;
    json_array_foreach(st->get(), i, job) {
        json_array_foreach(json_object_get(job, "stats"), k, one) {
            json_t* id = json_object_get(one, "id");
            if (json_is_integer(id))
                json_object_set(v.stats.get(), std::to_string(json_integer_value(id)).c_str(), one);
        }
    }
    return {};
}

ClientOptions lookupd_options(const ClientOptions& base, client::Endpoint ep) {
    ClientOptions o = base;
    o.endpoint = std::move(ep);
    o.timeout = std::chrono::milliseconds(0);
    return o;
}

int fleet_ps(Context& ctx, const Command& cmd, const Invocation& inv) {
    std::chrono::milliseconds node_timeout(3000);
    if (auto t = inv.get("node-timeout")) {
        auto d = parse_double(*t);
        if (!d || *d <= 0 || *d > 3600)
            return usage_error(ctx, cmd, "--node-timeout takes seconds, > 0 and at most 3600");
        node_timeout = std::chrono::milliseconds(static_cast<long long>(*d * 1000));
    }
    const ClientOptions& base = ctx.http->options();
    std::vector<std::string> texts = ctx.lookupds;
    if (texts.empty())
        texts.emplace_back(kDefaultLookupd);
    std::vector<ClientOptions> lookupds;
    for (const auto& t : texts) {
        auto ep = client::Endpoint::parse(t);
        if (!ep)
            return usage_error(ctx, cmd, "invalid lookupd address: " + ep.error().message());
        if (std::none_of(lookupds.begin(), lookupds.end(), [&](const ClientOptions& o) {
                return o.endpoint.base_url == ep->base_url && o.endpoint.socket_path == ep->socket_path;
            }))
            lookupds.push_back(lookupd_options(base, std::move(*ep)));
    }

    // --timeout bounds the lookupds' answers when given.
    auto answers =
        client::query_lookupds(lookupds, "/nodes", base.timeout.count() > 0 ? base.timeout : kLookupdTimeout);
    for (const auto& f : answers.failures) fprintf(ctx.err, "gafferctl: fleet ps: lookupd %s\n", f.c_str());
    std::vector<LookupNode> nodes;
    bool any = false;
    for (size_t i = 0; i < answers.bodies.size(); ++i) {
        if (Status st = client::merge_nodes(answers.bodies[i].get(), nodes); !st) {
            fprintf(ctx.err, "gafferctl: fleet ps: lookupd %s: %s\n", answers.answered[i].c_str(),
                    st.error().message().c_str());
            continue;
        }
        any = true;
    }
    if (!any) {
        fprintf(ctx.err, "gafferctl: fleet ps: no lookupd answered\n");
        return kExitFailure;
    }

    // Two requests per node with a usable origin, all at once.
    std::vector<NodeView> views(nodes.size());
    std::vector<client::GetRequest> requests;
    std::vector<size_t> owner;  // requests[2*k], [2*k+1] belong to views[owner[k]]
    for (size_t i = 0; i < nodes.size(); ++i) {
        views[i].node = nodes[i];
        auto ep = client::Endpoint::parse(nodes[i].origin);
        // An origin comes from the registry: only http(s) URLs are followed, never a local
        // socket path.
        if (!ep || ep->kind == client::Endpoint::Kind::kUnix ||
            !(starts_with(nodes[i].origin, "http://") || starts_with(nodes[i].origin, "https://"))) {
            views[i].error = "unreachable (invalid origin '" + nodes[i].origin + "')";
            continue;
        }
        ClientOptions o = base;
        o.endpoint = std::move(*ep);
        if (auto k = inv.get("node-key"))
            o.api_key = *k;
        requests.push_back({o, "/processes?full=1"});
        requests.push_back({std::move(o), "/stats"});
        owner.push_back(i);
    }
    auto results = client::get_all(requests, node_timeout);
    for (size_t k = 0; k < owner.size(); ++k) {
        NodeView& v = views[owner[k]];
        v.error = read_node(v, results[2 * k], results[2 * k + 1]);
    }

    if (ctx.json) {
        JsonPtr out = json::take(json_object());
        JsonPtr list = json::take(json_array());
        for (NodeView& v : views) {
            JsonPtr n = json::take(json_object());
            json::set(n.get(), "name", json::str(v.node.name));
            json::set(n.get(), "origin", json::str(v.node.origin));
            json::set(n.get(), "version", json::str(v.node.version));
            if (!v.error.empty()) {
                json::set(n.get(), "error", json::str(v.error));
            } else {
                // Each process object with its "stats" entry (null when the node had none).
                JsonPtr procs = json::take(json_array());
                size_t i;
                json_t* p;
                json_array_foreach(v.processes.get(), i, p) {
                    JsonPtr copy = json::take(json_deep_copy(p));
                    json_t* pid = json_object_get(p, "pid");
                    json_t* st = json_is_integer(pid)
                                     ? json_object_get(v.stats.get(), std::to_string(json_integer_value(pid)).c_str())
                                     : nullptr;
                    json::set(copy.get(), "stats", st ? json::ref(st) : json::take(json_null()));
                    json_array_append(procs.get(), copy.get());
                }
                json::set(n.get(), "processes", std::move(procs));
            }
            json_array_append(list.get(), n.get());
        }
        json::set(out.get(), "nodes", std::move(list));
        std::string text = json::dump(out.get());
        fprintf(ctx.out, "%s\n", text.c_str());
        return kExitOk;
    }

    client::Table t({"NODE", "JOB", "PID", "STATE", "CPU", "MEM"});
    for (NodeView& v : views) {
        if (!v.error.empty()) {
            t.add_spanning_row({v.node.name, "-", v.error});
            continue;
        }
        if (json_array_size(v.processes.get()) == 0) {
            t.add_spanning_row({v.node.name, "-", "(no processes)"});
            continue;
        }
        size_t i;
        json_t* p;
        json_array_foreach(v.processes.get(), i, p) {
            json_t* pid = json_object_get(p, "pid");
            json_t* st = json_is_integer(pid)
                             ? json_object_get(v.stats.get(), std::to_string(json_integer_value(pid)).c_str())
                             : nullptr;
            auto f = [&](const char* key) {
                return st ? client::scalar_text(json_object_get(st, key)) : std::string("-");
            };
            json_t* state = json_object_get(p, "state");
            t.add_row({v.node.name, client::scalar_text(json_object_get(p, "name")), client::scalar_text(pid),
                       state ? client::scalar_text(state) : "running", f("cpu"), f("mem")});
        }
    }
    fputs(t.render().c_str(), ctx.out);
    return kExitOk;
}

}  // namespace

int cmd_fleet(Context& ctx, const Command& cmd, const Invocation& inv) {
    if (inv.args[0] == "ps")
        return fleet_ps(ctx, cmd, inv);
    return usage_error(ctx, cmd, "unknown fleet command '" + inv.args[0] + "' (fleet has: ps)");
}

}  // namespace gaffer::ctl
