// SPDX-License-Identifier: MIT
#include "lib/etcd/mirror.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>
#include <utility>

#include "lib/base/log.h"
#include "lib/etcd/client.h"

namespace gaffer::etcd {

// ---- MirrorCore ----

MirrorCore::~MirrorCore() {
    for (auto& [name, node] : nodes_) close(node);
}

std::size_t MirrorCore::connected() const {
    return static_cast<std::size_t>(
        std::count_if(nodes_.begin(), nodes_.end(), [](const auto& n) { return n.second.conn != 0; }));
}

bool MirrorCore::send(lookup::ConnId conn, json::JsonPtr msg) {
    char id[33];
    std::snprintf(id, sizeof id, "%032" PRIx64, ++msgid_);
    json::set(msg.get(), "msgid", json::str(id));
    std::string reply = registry_.handle(conn, json::dump(msg.get()), lookup::Clock::now());
    auto doc = json::parse(reply);
    bool good = doc && json_is_true(json_object_get(doc->get(), "ok"));
    if (!good)
        log_debug("etcd mirror: the registry refused %s: %s", json::dump(msg.get()).c_str(), reply.c_str());
    return good;
}

namespace {

json::JsonPtr message(const char* type) {
    json::JsonPtr m = json::take(json_object());
    json::set(m.get(), "type", json::str(type));
    return m;
}

json::JsonPtr job_message(const char* type, const std::string& job) {
    json::JsonPtr m = message(type);
    json::set(m.get(), "job_name", json::str(job));
    return m;
}

json::JsonPtr process_message(const char* type, const std::string& job, int pid) {
    json::JsonPtr m = job_message(type, job);
    json::set(m.get(), "pid", json::take(json_integer(pid)));
    return m;
}

}  // namespace

void MirrorCore::close(NodeState& node) {
    if (node.conn != 0)
        registry_.close(node.conn);
    node.conn = 0;
    node.applied_info.reset();
    node.applied_jobs.clear();
}

bool MirrorCore::set(const std::string& key, const std::optional<std::string>& value) {
    auto parsed = parse_key(key);
    if (!parsed)
        return false;
    auto it = nodes_.find(parsed->node);
    if (it == nodes_.end()) {
        if (!value || nodes_.size() >= max_nodes_)
            return false;
        it = nodes_.emplace(parsed->node, NodeState{}).first;
    }
    NodeState& node = it->second;
    if (!parsed->job) {
        node.info.reset();
        if (value)
            if (auto info = parse_info_value(*value); info && info->name == parsed->node)
                node.info = std::move(*info);
    } else {
        node.jobs.erase(*parsed->job);
        if (value)
            if (auto pids = parse_job_value(*value))
                node.jobs[*parsed->job] = std::move(*pids);
    }
    return true;
}

void MirrorCore::sync(Nodes::iterator it) {
    NodeState& node = it->second;
    if (node.conn != 0 && node.applied_info != node.info)
        close(node);
    if (!node.info) {
        if (node.jobs.empty())
            nodes_.erase(it);
        return;
    }
    if (node.conn == 0) {
        if (node.refused == node.info)
            return;
        auto conn = registry_.open(lookup::Clock::now(), /*expires=*/false);
        if (!conn) {
            node.refused = node.info;
            log_debug("etcd mirror: node '%s' not mirrored: %s", it->first.c_str(), conn.error().message().c_str());
            return;
        }
        node.conn = *conn;
        json::JsonPtr id = message("IDENTIFY");
        json::set(id.get(), "name", json::str(node.info->name));
        json::set(id.get(), "origin", json::str(node.info->origin));
        json::set(id.get(), "version", json::str(node.info->version));
        if (!send(node.conn, std::move(id))) {
            close(node);  // e.g. the same name and origin connected directly
            node.refused = node.info;
            return;
        }
        node.applied_info = node.info;
    }
    for (auto a = node.applied_jobs.begin(); a != node.applied_jobs.end();) {
        if (node.jobs.contains(a->first)) {
            ++a;
            continue;
        }
        (void)send(node.conn, job_message("UNREGISTER_JOB", a->first));
        a = node.applied_jobs.erase(a);
    }
    for (const auto& [job, pids] : node.jobs) {
        auto a = node.applied_jobs.find(job);
        if (a == node.applied_jobs.end()) {
            if (!send(node.conn, job_message("REGISTER_JOB", job)))
                continue;
            a = node.applied_jobs.emplace(job, std::vector<int>{}).first;
        }
        std::vector<int>& applied = a->second;
        std::set<int> wanted(pids.begin(), pids.end());
        for (auto p = applied.begin(); p != applied.end();) {
            if (wanted.contains(*p)) {
                ++p;
                continue;
            }
            (void)send(node.conn, process_message("UNREGISTER_PROCESS", job, *p));
            p = applied.erase(p);
        }
        std::set<int> have(applied.begin(), applied.end());
        for (int pid : pids)
            if (!have.contains(pid) && send(node.conn, process_message("REGISTER_PROCESS", job, pid))) {
                applied.push_back(pid);
                have.insert(pid);
            }
    }
}

void MirrorCore::apply(const WatchEvent& event) {
    std::optional<std::string> value;
    if (!event.deleted)
        value = event.kv.value;
    if (!set(event.kv.key, value))
        return;
    auto parsed = parse_key(event.kv.key);
    if (auto it = nodes_.find(parsed->node); it != nodes_.end())
        sync(it);
}

void MirrorCore::reconcile(const std::vector<KeyValue>& kvs) {
    // The desired state is rebuilt from scratch; the applied state stays, so sync()
    // sends only the differences.
    for (auto& [name, node] : nodes_) {
        node.info.reset();
        node.jobs.clear();
        node.refused.reset();
    }
    for (const auto& kv : kvs) (void)set(kv.key, kv.value);
    for (auto it = nodes_.begin(); it != nodes_.end();) {
        auto next = std::next(it);
        sync(it);
        it = next;
    }
}

// ---- EtcdMirror ----

Result<std::unique_ptr<EtcdMirror>> EtcdMirror::create(loop::Loop& loop, lookup::Registry& registry,
                                                       std::vector<std::string> urls,
                                                       std::chrono::milliseconds heartbeat) {
    std::vector<std::string> endpoints;
    for (const auto& url : urls) {
        GAFFER_TRY(std::vector<std::string> some, parse_endpoints(url));
        endpoints.insert(endpoints.end(), some.begin(), some.end());
    }
    GAFFER_TRY(std::unique_ptr<Client> client, Client::create(loop, std::move(endpoints)));
    std::unique_ptr<EtcdMirror> mirror(new EtcdMirror(loop, registry, std::move(client), heartbeat));
    mirror->read();
    return mirror;
}

EtcdMirror::EtcdMirror(loop::Loop& loop, lookup::Registry& registry, std::unique_ptr<Client> client,
                       std::chrono::milliseconds heartbeat)
    : loop_(loop),
      core_(registry, registry.limits().max_nodes),
      client_(std::move(client)),
      heartbeat_(heartbeat),
      rng_(std::random_device{}()) {}

EtcdMirror::~EtcdMirror() {
    if (timer_)
        loop_.cancel_timer(timer_);
    client_.reset();  // abandons the call in flight, no callback
}

void EtcdMirror::read() {
    timer_ = 0;
    std::string prefix(kNodesPrefix);
    call_ = client_->call("/v3/kv/range", range_request(prefix, prefix_end(prefix)), [this](Result<std::string> body) {
        call_ = 0;
        if (!body)
            return retry(body.error());
        auto range = parse_range(*body);
        if (!range)
            return retry(range.error());
        ++stats_.ranges;
        core_.reconcile(range->kvs);
        watch(range->revision + 1);
    });
}

void EtcdMirror::watch(int64_t from) {
    std::string prefix(kNodesPrefix);
    call_ = client_->stream(
        "/v3/watch", watch_request(prefix, prefix_end(prefix), from),
        [this](std::string text) { on_watch_message(text); },
        [this](Status end) {
            call_ = 0;
            watching_ = false;
            retry(end ? Error{EPIPE, "etcd watch: the stream ended"} : end.error());
        });
}

void EtcdMirror::on_watch_message(const std::string& text) {
    auto msg = parse_watch_message(text);
    if (!msg || msg->canceled) {
        client_->cancel(call_);
        call_ = 0;
        watching_ = false;
        return retry(msg ? Error{ECANCELED, "etcd watch: cancelled by the server"} : msg.error());
    }
    if (msg->created) {
        watching_ = true;
        failures_ = 0;
    }
    for (const auto& ev : msg->events) {
        core_.apply(ev);
        ++stats_.events;
    }
}

void EtcdMirror::retry(const Error& why) {
    ++stats_.failures;
    ++failures_;
    auto delay =
        jittered_backoff(failures_, std::max(heartbeat_ / 4, std::chrono::milliseconds(50)), heartbeat_ * 4, rng_);
    log_debug("etcd mirror: %s; reading again in %lld ms", why.message().c_str(),
              static_cast<long long>(delay.count()));
    timer_ = loop_.add_timer(delay, [this] { read(); });
}

}  // namespace gaffer::etcd
