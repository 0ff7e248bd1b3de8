// SPDX-License-Identifier: MIT
#include "lib/announce/registration.h"

#include <jansson.h>

#include <algorithm>
#include <cerrno>

#include "lib/json/json.h"
#include "lib/webhook/retry.h"

namespace gaffer::announce {

using namespace std::chrono_literals;

const char* op_name(OpType type) {
    switch (type) {
        case OpType::kIdentify:
            return "IDENTIFY";
        case OpType::kPing:
            return "PING";
        case OpType::kRegisterJob:
            return "REGISTER_JOB";
        case OpType::kUnregisterJob:
            return "UNREGISTER_JOB";
        case OpType::kRegisterProcess:
            return "REGISTER_PROCESS";
        case OpType::kUnregisterProcess:
            return "UNREGISTER_PROCESS";
    }
    return "PING";
}

std::string encode(const Op& op, const Identity& identity, std::string_view msgid) {
    json::JsonPtr obj = json::take(json_object());
    json::set(obj.get(), "type", json::str(op_name(op.type)));
    switch (op.type) {
        case OpType::kIdentify:
            json::set(obj.get(), "name", json::str(identity.name));
            json::set(obj.get(), "origin", json::str(identity.origin));
            json::set(obj.get(), "version", json::str(kProtocolVersion));
            break;
        case OpType::kPing:
            break;
        case OpType::kRegisterJob:
        case OpType::kUnregisterJob:
            json::set(obj.get(), "job_name", json::str(op.job));
            break;
        case OpType::kRegisterProcess:
        case OpType::kUnregisterProcess:
            json::set(obj.get(), "job_name", json::str(op.job));
            json::set(obj.get(), "pid", json::take(json_integer(op.pid)));
            break;
    }
    json::set(obj.get(), "msgid", json::str(msgid));
    return json::dump(obj.get());
}

std::vector<Op> Registration::sync(const Snapshot& want) {
    std::vector<Op> ops;
    std::set<std::string> wanted_jobs;
    for (const auto& [job, pids] : want) wanted_jobs.insert(job);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
        if (!wanted_jobs.count(it->first)) {
            ops.push_back({OpType::kUnregisterJob, it->first, 0});
            it = jobs_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [job, pids] : want) {
        auto [it, added] = jobs_.try_emplace(job);
        if (added)
            ops.push_back({OpType::kRegisterJob, job, 0});
        std::set<int> wanted_pids(pids.begin(), pids.end());
        for (auto p = it->second.begin(); p != it->second.end();) {
            if (!wanted_pids.count(*p)) {
                ops.push_back({OpType::kUnregisterProcess, job, *p});
                p = it->second.erase(p);
            } else {
                ++p;
            }
        }
        for (int pid : pids)
            if (it->second.insert(pid).second)
                ops.push_back({OpType::kRegisterProcess, job, pid});
    }
    return ops;
}

std::vector<Op> Registration::load(const std::string& job) {
    if (!jobs_.try_emplace(job).second)
        return {};
    return {{OpType::kRegisterJob, job, 0}};
}

std::vector<Op> Registration::unload(const std::string& job) {
    if (!jobs_.erase(job))
        return {};
    return {{OpType::kUnregisterJob, job, 0}};
}

std::vector<Op> Registration::spawn(const std::string& job, int pid) {
    std::vector<Op> ops = load(job);
    if (jobs_[job].insert(pid).second)
        ops.push_back({OpType::kRegisterProcess, job, pid});
    return ops;
}

std::vector<Op> Registration::exit(const std::string& job, int pid) {
    auto it = jobs_.find(job);
    if (it == jobs_.end() || !it->second.erase(pid))
        return {};
    return {{OpType::kUnregisterProcess, job, pid}};
}

Result<Reply> parse_reply(std::string_view text) {
    auto parsed = json::parse(text);
    if (!parsed || !json_is_object(parsed->get()))
        return fail(EPROTO, "lookupd reply is not a JSON object");
    const json_t* obj = parsed->get();
    Reply r;
    if (const json_t* m = json_object_get(obj, "msgid"); json_is_string(m))
        r.msgid = json_string_value(m);
    const json_t* ok = json_object_get(obj, "ok");
    const json_t* err = json_object_get(obj, "errno");
    if (json_is_true(ok)) {
        r.ok = true;
        return r;
    }
    if (!json_is_integer(err))
        return fail(EPROTO, "lookupd reply has neither \"ok\": true nor an errno");
    r.error = static_cast<int>(json_integer_value(err));
    if (const json_t* reason = json_object_get(obj, "reason"); json_is_string(reason))
        r.reason = json_string_value(reason);
    return r;
}

std::chrono::milliseconds reconnect_delay(int failures, uint32_t random) {
    auto base = webhook::backoff(std::max(failures, 1), 500ms, 30000ms);
    // random / 2^32 in [0, 1) -> factor in [0.75, 1.25).
    double factor = 0.75 + 0.5 * (static_cast<double>(random) / 4294967296.0);
    return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(base.count()) * factor));
}

}  // namespace gaffer::announce
