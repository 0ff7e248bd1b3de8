// SPDX-License-Identifier: MIT
#include "lib/lookup/registry.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

namespace gaffer::lookup {

namespace {

constexpr const char* kNeedIdentify = "need to send IDENTIFY message first";
// pid_t is an int; Linux's pid_max is at most 2^22, but any positive int is accepted so
// that a node on another kernel is not refused.
constexpr json_int_t kMaxPid = INT_MAX;

std::string_view session_of(std::string_view job) {
    return job.substr(0, job.find('.'));
}

json::JsonPtr node_info(bool identified, const std::string& name, const std::string& origin,
                        const std::string& version) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "name", identified ? json::str(name) : json::take(json_null()));
    json::set(o.get(), "origin", identified ? json::str(origin) : json::take(json_null()));
    json::set(o.get(), "version", identified ? json::str(version) : json::take(json_null()));
    return o;
}

}  // namespace

// A parsed frame: the members the handlers read, checked for type once.
struct Registry::Message {
    json::JsonPtr root;
    json::JsonPtr msgid;  // the string msgid, or null
    std::string type;
};

namespace {

std::string reply_ok(const json::JsonPtr& msgid) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "ok", json::take(json_true()));
    json::set(o.get(), "msgid", msgid ? json::ref(msgid.get()) : json::take(json_null()));
    return json::dump(o.get());
}

std::string reply_error(int errnum, std::string_view reason, const json::JsonPtr& msgid) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "errno", json::take(json_integer(errnum)));
    json::set(o.get(), "reason", json::str(reason));
    json::set(o.get(), "msgid", msgid ? json::ref(msgid.get()) : json::take(json_null()));
    return json::dump(o.get());
}

// A required string member: its value, or the error reply. Missing or not a string is
// the table's `invalid_message`; NUL bytes and empty names are refused with a reason;
// past max bytes it is 413.
Result<std::string> member(const json_t* root, const char* key, std::size_t max_bytes) {
    const json_t* v = json_object_get(root, key);
    if (!v || !json_is_string(v))
        return fail(400, "invalid_message");
    std::string s(json_string_value(v), json_string_length(v));
    if (s.empty())
        return fail(400, std::string(key) + " must not be empty");
    if (s.find('\0') != std::string::npos)
        return fail(400, std::string(key) + " must not contain a NUL byte");
    if (s.size() > max_bytes)
        return fail(413, std::string(key) + " is longer than " + std::to_string(max_bytes) + " bytes");
    return s;
}

// job_name is "<session>.<job>", both parts non-empty (the sessions group on the part
// before the first dot).
Result<std::string> job_member(const json_t* root, std::size_t max_bytes) {
    GAFFER_TRY(std::string job, member(root, "job_name", max_bytes));
    std::size_t dot = job.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == job.size())
        return fail(400, "job_name '" + job + "' is not of the form <session>.<job>");
    return job;
}

Result<int> pid_member(const json_t* root) {
    const json_t* v = json_object_get(root, "pid");
    if (!v || !json_is_integer(v))
        return fail(400, "invalid_message");
    json_int_t pid = json_integer_value(v);
    if (pid <= 0 || pid > kMaxPid)
        return fail(400, "pid " + std::to_string(pid) + " is out of range");
    return static_cast<int>(pid);
}

}  // namespace

Registry::Registry(RegistryLimits limits) : limits_(limits) {}

void Registry::emit(json::JsonPtr event) const {
    ++generation_;
    if (sink_)
        sink_(std::move(event));
}

json::JsonPtr Registry::node_event(const char* event, const Node& node) const {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "event", json::str(event));
    json::JsonPtr info = node_info(node.identified, node.name, node.origin, node.version);
    json_object_update(o.get(), info.get());
    return o;
}

json::JsonPtr Registry::job_event(const char* event, const Node& node, std::string_view job) const {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "event", json::str(event));
    json::set(o.get(), "node", node_info(node.identified, node.name, node.origin, node.version));
    json::set(o.get(), "job_name", json::str(job));
    return o;
}

json::JsonPtr Registry::process_event(const char* event, const Node& node, std::string_view job, int pid) const {
    json::JsonPtr o = job_event(event, node, job);
    json::set(o.get(), "pid", json::take(json_integer(pid)));
    return o;
}

Result<ConnId> Registry::open(Clock::time_point now, bool expires) {
    if (nodes_.size() >= limits_.max_nodes)
        return fail(Error::make(EAGAIN, "too many nodes (limit %zu)", limits_.max_nodes));
    ConnId id = next_id_++;
    Node& node = nodes_[id];
    node.last_seen = now;
    node.expires = expires;
    emit(node_event("add_node", node));
    return id;
}

Status Registry::set_required_name(ConnId id, std::string name) {
    return set_allowed_names(id, {std::move(name)});
}

Status Registry::set_allowed_names(ConnId id, std::vector<std::string> names) {
    auto it = nodes_.find(id);
    if (it == nodes_.end())
        return fail(Error::make(ENOENT, "no connection %llu", static_cast<unsigned long long>(id)));
    if (it->second.identified && std::find(names.begin(), names.end(), it->second.name) == names.end())
        return fail(Error::make(EINVAL, "connection %llu is already identified as '%s'",
                                static_cast<unsigned long long>(id), it->second.name.c_str()));
    it->second.allowed_names = std::move(names);
    return ok();
}

std::string Registry::handle(ConnId id, std::string_view text, Clock::time_point now) {
    auto it = nodes_.find(id);
    if (it == nodes_.end())
        return reply_error(404, "unknown connection", nullptr);
    Node& node = it->second;
    node.last_seen = std::max(node.last_seen, now);
    if (text.size() > limits_.max_message_bytes)
        return reply_error(413,
                           "message is " + std::to_string(text.size()) + " bytes, longer than the limit of " +
                               std::to_string(limits_.max_message_bytes),
                           nullptr);
    auto parsed = json::parse(text);
    if (!parsed)
        return reply_error(400, "invalid_json", nullptr);
    Message m;
    m.root = std::move(*parsed);
    if (!json_is_object(m.root.get()))
        return reply_error(400, "invalid_message", nullptr);
    const json_t* msgid = json_object_get(m.root.get(), "msgid");
    if (msgid && json_is_string(msgid))
        m.msgid = json::ref(const_cast<json_t*>(msgid));
    const json_t* type = json_object_get(m.root.get(), "type");
    if (!m.msgid || !type || !json_is_string(type))
        return reply_error(400, "invalid_message", m.msgid);
    m.type.assign(json_string_value(type), json_string_length(type));
    return dispatch(node, m);
}

std::string Registry::dispatch(Node& node, const Message& m) {
    if (m.type == "PING")
        return reply_ok(m.msgid);
    if (m.type == "IDENTIFY")
        return identify(node, m);
    using Handler = std::string (Registry::*)(Node&, const Message&);
    static const std::pair<std::string_view, Handler> kHandlers[] = {
        {"REGISTER_JOB", &Registry::register_job},
        {"UNREGISTER_JOB", &Registry::unregister_job},
        {"REGISTER_PROCESS", &Registry::register_process},
        {"UNREGISTER_PROCESS", &Registry::unregister_process},
    };
    for (const auto& [name, handler] : kHandlers) {
        if (m.type != name)
            continue;
        if (!node.identified)
            return reply_error(404, kNeedIdentify, m.msgid);
        return (this->*handler)(node, m);
    }
    return reply_error(400, "invalid_message_type", m.msgid);
}

std::string Registry::identify(Node& node, const Message& m) {
    const json_t* root = m.root.get();
    auto name = member(root, "name", limits_.max_name_bytes);
    auto origin = member(root, "origin", limits_.max_name_bytes);
    auto version = member(root, "version", limits_.max_name_bytes);
    for (const auto* r : {&name, &origin, &version})
        if (!*r)
            return reply_error(r->error().code, r->error().context, m.msgid);
    if (node.identified)
        return reply_error(409, "", m.msgid);
    if (node.allowed_names &&
        std::find(node.allowed_names->begin(), node.allowed_names->end(), *name) == node.allowed_names->end())
        return reply_error(403, "forbidden", m.msgid);
    for (const auto& [other_id, other] : nodes_)
        if (other.identified && other.name == *name && other.origin == *origin)
            return reply_error(409, "", m.msgid);
    node.identified = true;
    node.name = std::move(*name);
    node.origin = std::move(*origin);
    node.version = std::move(*version);
    emit(node_event("identify", node));
    return reply_ok(m.msgid);
}

std::string Registry::register_job(Node& node, const Message& m) {
    auto job = job_member(m.root.get(), limits_.max_name_bytes);
    if (!job)
        return reply_error(job.error().code, job.error().context, m.msgid);
    if (node.jobs.count(*job))
        return reply_error(409, "job '" + *job + "' is already registered", m.msgid);
    if (node.jobs.size() >= limits_.max_jobs_per_node)
        return reply_error(429, "too many jobs on this node (limit " + std::to_string(limits_.max_jobs_per_node) + ")",
                           m.msgid);
    std::uint64_t seq = next_seq_++;
    node.jobs[*job].seq = seq;
    Global& g = jobs_[*job];
    if (g.holders++ == 0) {
        g.seq = seq;
        Global& s = sessions_[std::string(session_of(*job))];
        if (s.holders++ == 0)
            s.seq = seq;
    }
    emit(job_event("add_job", node, *job));
    return reply_ok(m.msgid);
}

void Registry::drop_job(Node& node, JobIter it) {
    const std::string& job = it->first;
    for (int pid : it->second.pids) emit(process_event("remove_process", node, job, pid));
    emit(job_event("remove_job", node, job));
    node.processes -= it->second.pids.size();
    auto g = jobs_.find(job);
    if (g != jobs_.end() && --g->second.holders == 0) {
        jobs_.erase(g);
        auto s = sessions_.find(session_of(job));
        if (s != sessions_.end() && --s->second.holders == 0)
            sessions_.erase(s);
    }
    node.jobs.erase(it);
}

std::string Registry::unregister_job(Node& node, const Message& m) {
    auto job = job_member(m.root.get(), limits_.max_name_bytes);
    if (!job)
        return reply_error(job.error().code, job.error().context, m.msgid);
    auto it = node.jobs.find(*job);
    // An unknown job succeeds silently, without an event (§13.2's required fix).
    if (it != node.jobs.end())
        drop_job(node, it);
    return reply_ok(m.msgid);
}

Result<Registry::ProcessTarget> Registry::process_target(Node& node, const Message& m) {
    GAFFER_TRY(std::string job, job_member(m.root.get(), limits_.max_name_bytes));
    GAFFER_TRY(int pid, pid_member(m.root.get()));
    auto it = node.jobs.find(job);
    if (it == node.jobs.end())
        return fail(404, "");
    return ProcessTarget{it, pid};
}

std::string Registry::register_process(Node& node, const Message& m) {
    auto t = process_target(node, m);
    if (!t)
        return reply_error(t.error().code, t.error().context, m.msgid);
    std::vector<int>& pids = t->job->second.pids;
    // A pid registered twice is listed once: the second REGISTER_PROCESS is a no-op.
    if (std::find(pids.begin(), pids.end(), t->pid) != pids.end())
        return reply_ok(m.msgid);
    if (pids.size() >= limits_.max_processes_per_job)
        return reply_error(429,
                           "too many processes in job '" + t->job->first + "' (limit " +
                               std::to_string(limits_.max_processes_per_job) + ")",
                           m.msgid);
    if (node.processes >= limits_.max_processes_per_node)
        return reply_error(
            429, "too many processes on this node (limit " + std::to_string(limits_.max_processes_per_node) + ")",
            m.msgid);
    pids.push_back(t->pid);
    node.processes++;
    emit(process_event("add_process", node, t->job->first, t->pid));
    return reply_ok(m.msgid);
}

std::string Registry::unregister_process(Node& node, const Message& m) {
    auto t = process_target(node, m);
    if (!t)
        return reply_error(t.error().code, t.error().context, m.msgid);
    std::vector<int>& pids = t->job->second.pids;
    auto p = std::find(pids.begin(), pids.end(), t->pid);
    // An unknown pid succeeds silently: remove_process only for a registered pid.
    if (p != pids.end()) {
        pids.erase(p);
        node.processes--;
        emit(process_event("remove_process", node, t->job->first, t->pid));
    }
    return reply_ok(m.msgid);
}

void Registry::close(ConnId id) {
    auto it = nodes_.find(id);
    if (it == nodes_.end())
        return;
    Node& node = it->second;
    std::vector<std::pair<std::uint64_t, std::string>> order;
    order.reserve(node.jobs.size());
    for (const auto& [job, reg] : node.jobs) order.emplace_back(reg.seq, job);
    std::sort(order.begin(), order.end());
    for (const auto& [seq, job] : order) drop_job(node, node.jobs.find(job));
    json::JsonPtr ev = node_event("remove_node", node);
    nodes_.erase(it);
    emit(std::move(ev));
}

std::vector<ConnId> Registry::expire(Clock::time_point now) {
    std::vector<ConnId> dead;
    for (const auto& [id, node] : nodes_)
        if (node.expires && now - node.last_seen >= 3 * limits_.heartbeat)
            dead.push_back(id);
    for (ConnId id : dead) close(id);
    return dead;
}

json::JsonPtr Registry::sources(std::string_view job, const std::string* only_node) const {
    json::JsonPtr list = json::take(json_array());
    for (const auto& [id, node] : nodes_) {
        if (only_node && node.name != *only_node)
            continue;
        auto it = node.jobs.find(job);
        if (it == node.jobs.end())
            continue;
        json::JsonPtr src = json::take(json_object());
        json::set(src.get(), "name", json::str(node.name));
        json::set(src.get(), "pids", json::ints(it->second.pids));
        json::set(src.get(), "node_info", node_info(true, node.name, node.origin, node.version));
        json_array_append_new(list.get(), src.release());
    }
    return list;
}

std::vector<std::string> Registry::ordered(const std::map<std::string, Global, std::less<>>& index,
                                           std::string_view session_prefix) const {
    std::vector<std::pair<std::uint64_t, const std::string*>> order;
    for (const auto& [name, g] : index)
        if (session_prefix.empty() || session_of(name) == session_prefix)
            order.emplace_back(g.seq, &name);
    std::sort(order.begin(), order.end());
    std::vector<std::string> names;
    names.reserve(order.size());
    for (const auto& [seq, name] : order) names.push_back(*name);
    return names;
}

json::JsonPtr Registry::nodes() const {
    json::JsonPtr list = json::take(json_array());
    for (const auto& [id, node] : nodes_)
        if (node.identified)
            json_array_append_new(list.get(), node_info(true, node.name, node.origin, node.version).release());
    json::JsonPtr body = json::take(json_object());
    json::set(body.get(), "nodes", std::move(list));
    return body;
}

json::JsonPtr Registry::jobs_body(std::optional<std::string_view> session) const {
    json::JsonPtr list = json::take(json_array());
    // A session id is never empty and has no dot (it is a job_name's part before the first).
    bool any = !session || (!session->empty() && session->find('.') == std::string_view::npos);
    for (const std::string& job : any ? ordered(jobs_, session.value_or("")) : std::vector<std::string>{}) {
        json::JsonPtr o = json::take(json_object());
        json::set(o.get(), "name", json::str(job));
        json::set(o.get(), "sources", sources(job, nullptr));
        json_array_append_new(list.get(), o.release());
    }
    json::JsonPtr body = json::take(json_object());
    json::set(body.get(), "nb_jobs", json::take(json_integer(static_cast<json_int_t>(json_array_size(list.get())))));
    json::set(body.get(), "jobs", std::move(list));
    return body;
}

json::JsonPtr Registry::jobs() const {
    return jobs_body(std::nullopt);
}

json::JsonPtr Registry::find_job(std::string_view name) const {
    json::JsonPtr body = json::take(json_object());
    json::set(body.get(), "sources", sources(name, nullptr));
    return body;
}

json::JsonPtr Registry::find_session(std::string_view sessionid) const {
    return jobs_body(sessionid);
}

json::JsonPtr Registry::sessions(std::optional<std::string_view> node) const {
    std::string only = node ? std::string(*node) : std::string();
    const std::string* filter = node ? &only : nullptr;
    json::JsonPtr list = json::take(json_array());
    for (const std::string& sid : ordered(sessions_, {})) {
        json::JsonPtr jobs = json::take(json_object());
        for (const std::string& job : ordered(jobs_, sid)) {
            json::JsonPtr srcs = sources(job, filter);
            if (json_array_size(srcs.get()) > 0)
                json::set(jobs.get(), job.c_str(), std::move(srcs));
        }
        if (json_object_size(jobs.get()) == 0)
            continue;
        json::JsonPtr o = json::take(json_object());
        json::set(o.get(), "sessionid", json::str(sid));
        json::set(o.get(), "jobs", std::move(jobs));
        json_array_append_new(list.get(), o.release());
    }
    json::JsonPtr body = json::take(json_object());
    json::set(body.get(), "nb_sessions",
              json::take(json_integer(static_cast<json_int_t>(json_array_size(list.get())))));
    json::set(body.get(), "sessions", std::move(list));
    return body;
}

}  // namespace gaffer::lookup
