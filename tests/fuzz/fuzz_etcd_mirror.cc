// SPDX-License-Identifier: MIT
// libFuzzer target: lib/etcd's gateway parsers and the mirror core over a real
// lookup::Registry. The input is a script, one operation per line:
//   put <key> <value> | del <key> | watch <json> | range <json> | sync
// (a key starting with '@' stands for "/gaffer/v1/nodes/" + the rest; `watch` and `range`
// parse a gateway answer with parse_watch_message/parse_range and apply what it holds;
// `sync` reconciles with every key seen so far). The whole input is also fed, in pieces,
// to a bounded JsonStreamSplitter whose messages go through parse_watch_message. Beyond
// "no crash", it checks invariants and aborts when one breaks:
//   * the registry holds exactly the connections the core says it has open;
//   * the splitter never holds more than its bound, and fails for good past it;
//   * a reconcile with the keys the core already follows emits no event, except the
//     add_node/remove_node pair of a node the registry refuses again (null fields);
//   * a fresh registry and core reconciled once with the final keys give the same
//     nodes(), jobs() and sessions() (arrays as sets, objects in name order) as the one fed
//     step by step.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/etcd/codec.h"
#include "lib/etcd/mirror.h"
#include "lib/json/json.h"
#include "lib/lookup/registry.h"

namespace {

namespace etcd = gaffer::etcd;
namespace json = gaffer::json;
namespace lookup = gaffer::lookup;

void check(bool cond) {
    if (!cond)
        abort();
}

std::string key_of(std::string_view k) {
    if (k.starts_with('@'))
        return std::string(etcd::kNodesPrefix) + std::string(k.substr(1));
    return std::string(k);
}

// A canonical text of a JSON value, arrays sorted: the orders of two registries fed the
// same state by different paths may differ, their content may not.
std::string canon(const json_t* j) {
    if (json_is_array(j)) {
        std::vector<std::string> items;
        size_t i;
        const json_t* v;
        json_array_foreach(j, i, v) items.push_back(canon(v));
        std::sort(items.begin(), items.end());
        std::string out = "[";
        for (const auto& s : items) out += s + ",";
        return out + "]";
    }
    if (json_is_object(j)) {
        // Members in name order: an object keyed by job name (sessions()) lists them in
        // registration order.
        std::map<std::string, std::string> members;
        const char* k;
        const json_t* v;
        json_object_foreach(const_cast<json_t*>(j), k, v) members[k] = canon(v);
        std::string out = "{";
        for (const auto& [name, value] : members) out += name + ":" + value + ",";
        return out + "}";
    }
    return json::dump(j);
}

std::string state(const lookup::Registry& r) {
    return canon(r.nodes().get()) + canon(r.jobs().get()) + canon(r.sessions(std::nullopt).get());
}

struct Harness {
    lookup::Registry registry;
    std::vector<std::string> events;
    etcd::MirrorCore core{registry};
    std::map<std::string, std::string> keys;  // what etcd holds, as the script wrote it

    Harness() {
        registry.set_event_sink([this](json::JsonPtr ev) { events.push_back(json::dump(ev.get())); });
    }
    void invariant() const { check(registry.connections() == core.connected()); }
    void apply(const etcd::WatchEvent& ev) {
        if (ev.deleted)
            keys.erase(ev.kv.key);
        else
            keys[ev.kv.key] = ev.kv.value;
        core.apply(ev);
    }
    std::vector<etcd::KeyValue> snapshot() const {
        std::vector<etcd::KeyValue> kvs;
        for (const auto& [k, v] : keys) kvs.push_back({k, v});
        return kvs;
    }
    // The only events an in-sync reconcile may emit: a refused node tried again.
    void sync_in_step() {
        events.clear();
        core.reconcile(snapshot());
        for (const auto& e : events)
            check(e == R"({"event":"add_node","name":null,"origin":null,"version":null})" ||
                  e == R"({"event":"remove_node","name":null,"origin":null,"version":null})");
        invariant();
    }
};

void splitter_pass(const uint8_t* data, size_t size) {
    constexpr size_t kBound = 256;
    etcd::JsonStreamSplitter splitter(kBound);
    bool failed = false;
    size_t pos = 0, step = 1;
    while (pos < size) {
        size_t n = std::min(step, size - pos);
        auto st = splitter.feed(std::string_view(reinterpret_cast<const char*>(data) + pos, n));
        pos += n;
        step = step * 3 % 97 + 1;
        if (!st) {
            failed = true;
            check(splitter.buffered() == 0);
            continue;
        }
        check(!failed);  // once failed, never again ok
        while (auto msg = splitter.next()) {
            check(msg->find('\n') == std::string::npos);
            (void)etcd::parse_watch_message(*msg);
        }
        check(splitter.buffered() <= kBound);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 64 * 1024)
        return 0;
    splitter_pass(data, size);

    Harness h;
    std::string_view script(reinterpret_cast<const char*>(data), size);
    while (!script.empty()) {
        size_t nl = script.find('\n');
        std::string_view line = script.substr(0, nl);
        script = nl == std::string_view::npos ? std::string_view() : script.substr(nl + 1);
        size_t sp = line.find(' ');
        std::string_view op = line.substr(0, sp);
        std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        if (op == "put") {
            size_t sp2 = rest.find(' ');
            std::string value(sp2 == std::string_view::npos ? std::string_view() : rest.substr(sp2 + 1));
            h.apply({false, {key_of(rest.substr(0, sp2)), value}});
        } else if (op == "del") {
            h.apply({true, {key_of(rest), ""}});
        } else if (op == "watch") {
            if (auto msg = etcd::parse_watch_message(rest))
                for (const auto& ev : msg->events) h.apply(ev);
        } else if (op == "range") {
            if (auto r = etcd::parse_range(rest)) {
                h.keys.clear();
                for (const auto& kv : r->kvs) h.keys[kv.key] = kv.value;
                h.core.reconcile(r->kvs);
            }
        } else if (op == "sync") {
            h.sync_in_step();
        }
        h.invariant();
    }
    h.sync_in_step();

    Harness fresh;
    fresh.keys = h.keys;
    fresh.core.reconcile(fresh.snapshot());
    fresh.invariant();
    check(state(fresh.registry) == state(h.registry));
    return 0;
}
