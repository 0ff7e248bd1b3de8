// SPDX-License-Identifier: MIT
// libFuzzer target: a script of operations on lookup::Registry over several connections,
// one per line:
//   open | close <i> | set <i> <name> | tick <seconds> | expire | send <i> <text>
// (<i> picks one of the connections opened so far, modulo their number). Beyond "no
// crash", it checks invariants and aborts when one breaks:
//   * every reply is one JSON object: {"ok": true, "msgid"} or {"errno": int, "reason":
//     string, "msgid"}, msgid being the message's string msgid when the text was within
//     the size bound and parsed as an object with one, else null;
//   * a refused message emits no event;
//   * the events replayed into a shadow state stay consistent (a job or pid is removed only
//     if it was added, a node is removed only once it holds nothing) and the §13.3 bodies
//     agree with that shadow: jobs() lists exactly its (node, job) pairs and pids, each
//     find_job() and find_session() agrees with jobs(), sessions() holds the same jobs,
//     and nodes() counts the identified connections;
//   * the bounds hold: connections, jobs per node, processes per job and per node.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/json/json.h"
#include "lib/lookup/registry.h"

namespace {

using gaffer::lookup::Clock;
using gaffer::lookup::ConnId;
using gaffer::lookup::Registry;
using gaffer::lookup::RegistryLimits;
namespace json = gaffer::json;

void check(bool cond) {
    if (!cond)
        abort();
}

std::string str_member(const json_t* o, const char* key) {
    const json_t* v = json_object_get(o, key);
    check(v && json_is_string(v));
    return std::string(json_string_value(v), json_string_length(v));
}

struct Shadow {
    std::set<std::string> identified;                                          // node_info dumps
    std::map<std::pair<std::string, std::string>, std::set<json_int_t>> jobs;  // (node, job) → pids

    void apply(const json_t* ev) {
        std::string kind = str_member(ev, "event");
        if (kind == "add_node")
            return;
        if (kind == "identify" || kind == "remove_node") {
            json::JsonPtr info = json::take(json_deep_copy(ev));
            json_object_del(info.get(), "event");
            std::string key = json::dump(info.get());
            if (json_is_null(json_object_get(ev, "name")))
                return;
            if (kind == "identify") {
                check(identified.insert(key).second);
                return;
            }
            check(identified.erase(key) == 1);
            for (const auto& [k, pids] : jobs) check(k.first != key);
            return;
        }
        std::string node = json::dump(json_object_get(ev, "node"));
        check(identified.count(node) == 1);
        std::pair<std::string, std::string> key{node, str_member(ev, "job_name")};
        if (kind == "add_job") {
            check(jobs.emplace(key, std::set<json_int_t>{}).second);
        } else if (kind == "remove_job") {
            auto it = jobs.find(key);
            check(it != jobs.end() && it->second.empty());
            jobs.erase(it);
        } else {
            const json_t* pid = json_object_get(ev, "pid");
            check(pid && json_is_integer(pid));
            auto it = jobs.find(key);
            check(it != jobs.end());
            if (kind == "add_process")
                check(it->second.insert(json_integer_value(pid)).second);
            else
                check(kind == "remove_process" && it->second.erase(json_integer_value(pid)) == 1);
        }
    }
};

void check_reply(std::string_view text, const std::string& reply, std::size_t max_bytes) {
    auto r = json::parse(reply);
    check(r.has_value() && json_is_object(r->get()));
    const json_t* o = r->get();
    json::JsonPtr expected_msgid;
    if (text.size() <= max_bytes) {
        auto in = json::parse(text);
        if (in && json_is_object(in->get())) {
            const json_t* m = json_object_get(in->get(), "msgid");
            if (m && json_is_string(m))
                expected_msgid = json::ref(const_cast<json_t*>(m));
        }
    }
    const json_t* msgid = json_object_get(o, "msgid");
    check(msgid != nullptr);
    if (expected_msgid)
        check(json_equal(msgid, expected_msgid.get()));
    else
        check(json_is_null(msgid));
    if (json_object_get(o, "ok")) {
        check(json_is_true(json_object_get(o, "ok")) && json_object_size(o) == 2);
    } else {
        const json_t* e = json_object_get(o, "errno");
        check(e && json_is_integer(e) && json_object_size(o) == 3);
        (void)str_member(o, "reason");
    }
}

void check_queries(const Registry& reg, const Shadow& shadow) {
    const RegistryLimits& lim = reg.limits();
    check(reg.connections() <= lim.max_nodes);
    json::JsonPtr nodes = reg.nodes();
    check(json_array_size(json_object_get(nodes.get(), "nodes")) == shadow.identified.size());

    json::JsonPtr jobs = reg.jobs();
    const json_t* list = json_object_get(jobs.get(), "jobs");
    check(json_integer_value(json_object_get(jobs.get(), "nb_jobs")) == static_cast<json_int_t>(json_array_size(list)));
    std::map<std::pair<std::string, std::string>, std::set<json_int_t>> seen;
    std::map<std::string, std::size_t> per_node;
    std::map<std::string, std::size_t> pids_per_node;
    std::map<std::string, std::size_t> per_session;
    size_t i;
    json_t* job;
    json_array_foreach(list, i, job) {
        std::string name = str_member(job, "name");
        const json_t* sources = json_object_get(job, "sources");
        check(json_array_size(sources) > 0);
        json::JsonPtr found = reg.find_job(name);
        check(json_equal(json_object_get(found.get(), "sources"), sources));
        per_session[name.substr(0, name.find('.'))]++;
        size_t k;
        json_t* src;
        json_array_foreach(sources, k, src) {
            const json_t* info = json_object_get(src, "node_info");
            check(str_member(src, "name") == str_member(info, "name"));
            std::string node = json::dump(info);
            const json_t* pids = json_object_get(src, "pids");
            check(json_array_size(pids) <= lim.max_processes_per_job);
            std::set<json_int_t> set;
            size_t p;
            json_t* pid;
            json_array_foreach(pids, p, pid) check(set.insert(json_integer_value(pid)).second);
            pids_per_node[node] += set.size();
            check(pids_per_node[node] <= lim.max_processes_per_node);
            check(seen.emplace(std::make_pair(node, name), std::move(set)).second);
            check(++per_node[node] <= lim.max_jobs_per_node);
        }
    }
    check(seen == shadow.jobs);

    json::JsonPtr sessions = reg.sessions(std::nullopt);
    const json_t* slist = json_object_get(sessions.get(), "sessions");
    check(json_array_size(slist) == per_session.size());
    check(json_integer_value(json_object_get(sessions.get(), "nb_sessions")) ==
          static_cast<json_int_t>(per_session.size()));
    json_t* s;
    json_array_foreach(slist, i, s) {
        std::string sid = str_member(s, "sessionid");
        check(json_object_size(json_object_get(s, "jobs")) == per_session[sid]);
        json::JsonPtr fs = reg.find_session(sid);
        check(json_integer_value(json_object_get(fs.get(), "nb_jobs")) == static_cast<json_int_t>(per_session[sid]));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > (1u << 16))
        return 0;
    RegistryLimits lim;
    lim.max_nodes = 4;
    lim.max_jobs_per_node = 4;
    lim.max_processes_per_job = 4;
    lim.max_processes_per_node = 6;
    lim.max_message_bytes = 512;
    lim.max_name_bytes = 24;
    lim.heartbeat = std::chrono::seconds(1);
    Registry reg(lim);
    Shadow shadow;
    std::size_t events = 0;
    reg.set_event_sink([&](json::JsonPtr ev) {
        check(ev && json_is_object(ev.get()));
        shadow.apply(ev.get());
        events++;
    });
    Clock::time_point now = Clock::time_point() + std::chrono::hours(1);
    std::vector<ConnId> conns;
    auto pick = [&](std::string_view arg) -> ConnId {
        std::size_t n = 0;
        for (char c : arg.substr(0, 4)) n = n * 10 + static_cast<unsigned char>(c) % 10;
        return conns.empty() ? 0 : conns[n % conns.size()];
    };
    std::string_view input(reinterpret_cast<const char*>(data), size);
    while (!input.empty()) {
        std::size_t nl = input.find('\n');
        std::string_view line = input.substr(0, nl);
        input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
        std::size_t sp = line.find(' ');
        std::string_view op = line.substr(0, sp);
        std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        std::size_t sp2 = rest.find(' ');
        std::string_view arg = rest.substr(0, sp2);
        std::string_view tail = sp2 == std::string_view::npos ? std::string_view() : rest.substr(sp2 + 1);
        if (op == "open") {
            std::size_t before = reg.connections();
            auto id = reg.open(now);
            check(id.has_value() == (before < lim.max_nodes));
            if (id)
                conns.push_back(*id);
        } else if (op == "close") {
            reg.close(pick(arg));
        } else if (op == "set") {
            (void)reg.set_required_name(pick(arg), std::string(tail));
        } else if (op == "tick") {
            now += std::chrono::milliseconds(100) * static_cast<int>(arg.size() + (arg.empty() ? 0 : arg[0] % 16));
        } else if (op == "expire") {
            std::size_t before = reg.connections();
            std::vector<ConnId> dead = reg.expire(now);
            check(reg.connections() + dead.size() == before);
            for (ConnId id : dead) {
                std::string reply = reg.handle(id, R"({"type":"PING","msgid":"x"})", now);
                check(reply == R"({"errno":404,"reason":"unknown connection","msgid":null})");
            }
        } else if (op == "send") {
            std::size_t before = events;
            std::string reply = reg.handle(pick(arg), tail, now);
            // A closed (or never opened) connection: refused before the text is read.
            if (reply == R"({"errno":404,"reason":"unknown connection","msgid":null})")
                continue;
            check_reply(tail, reply, lim.max_message_bytes);
            if (reply.find("\"errno\"") != std::string::npos)
                check(events == before);
        }
        check_queries(reg, shadow);
    }
    return 0;
}
