// SPDX-License-Identifier: MIT
// The 0.4 routes (reference §1.2, §4.3) on top of the HEAD model: a template `N` is job
// `default.N`, `G:N` is job `G.N`, a group is a session. Adapters over the operations
// layer (lib/ops/operations.h), as the HEAD routes are; what is theirs is the 0.4 naming,
// error names and result shapes. Streams (/streams, /wstreams) and /watch are in
// streams.cc.
#include <optional>
#include <string>

#include "lib/base/strutil.h"
#include "lib/http/handlers.h"
#include "lib/ops/codec.h"

namespace gaffer::http::routes {

namespace {

using ops::Op;

bool truthy(std::optional<std::string_view> v) {
    if (!v)
        return false;
    auto b = parse_bool(*v);
    return b && *b;
}

json::JsonPtr compat_names(const json_t* qualified) {
    json::JsonPtr arr = json::take(json_array());
    size_t i;
    json_t* q;
    json_array_foreach(qualified, i, q) {
        model::JobName job = model::JobName::parse(json_string_value(q));
        json_array_append_new(arr.get(), json::str(ops::compat_name(job)).release());
    }
    return arr;
}

// The arguments of an operation on a job or a process of the 0.4 naming.
struct Args {
    json::JsonPtr session, job, pid, config, signal, scale;
    ops::Input in;
};

Args on_job(const model::JobName& job) {
    Args a;
    a.session = json::str(job.session);
    a.job = json::str(job.job);
    a.in.session = a.session.get();
    a.in.job = a.job.get();
    a.in.literal_job = true;
    return a;
}

Args on_pid(int pid) {
    Args a;
    a.pid = json::take(json_integer(pid));
    a.in.pid = a.pid.get();
    return a;
}

// /processes/<x>: a pid (digits) or a template name.
struct Target {
    model::JobName job;
    std::optional<int> pid;
};

// Resolves `x`; for a pid, the caller's right on its job comes first (rights before
// existence, lib/ops/operations.h): nullopt with *ret_error set when refused or unknown.
std::optional<Target> resolve_target(Ctx& c, std::string_view x, bool manage, Response* ret_error) {
    Target t;
    if (!is_number_segment(x)) {
        t.job = ops::parse_compat_name(x);
        return t;
    }
    t.pid = pid_from_segment(x);
    Args a = on_pid(*t.pid);
    ops::Answer found;
    ops::Access access{ops::Target::kProcess, manage ? ops::Right::kManage : ops::Right::kRead};
    found = ops::call(c.r.ops_context(), c.rights, Op::kProcessExists, a.in, access);
    if (!found.ok()) {
        *ret_error = op_failure(*found.failure);
        return std::nullopt;
    }
    t.job = *found.job;
    return t;
}

// {"ok": true, ...result}: the 0.4 actions put "ok" first.
json::JsonPtr ok_first(const json_t* result) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "ok", json::take(json_true()));
    json_object_update(o.get(), const_cast<json_t*>(result));
    return o;
}

Response method_not_allowed(const char* allow) {
    Response r = error_response(405, "method_not_allowed", "Method Not Allowed");
    r.set_header("Allow", std::string(allow) + ", OPTIONS");
    return r;
}

// {"ok": true} at 200, as every 0.4 action answers, or the failure.
Response done(Ctx& c, Op op, const ops::Input& in) {
    ops::Answer a;
    if (auto failed = c.run(op, in, &a))
        return std::move(*failed);
    return ok_response(200);
}

// A 0.4 job config: parsed, named `job`; what is wrong with it is `invalid_process_info`.
Response config_answer(Ctx& c, Op op, Args& a) {
    ops::Answer ans;
    auto failed = c.run(op, a.in, &ans);
    if (!failed)
        return ok_response(200);
    const ops::Failure& f = *ans.failure;
    if (f.param == ops::kParamConfig)
        return error_response(400, "invalid_process_info", f.error.context);
    if (f.error.code == EEXIST)
        return error_response(409, "conflict", f.error.context);
    return std::move(*failed);
}

// The body as a 0.4 template object, renamed to the HEAD job name.
std::optional<Response> read_config(Ctx& c, const model::JobName& job, Args& a) {
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "invalid_json", why);
    a.config = json::take(json_deep_copy(obj->get()));
    json::set(a.config.get(), "name", json::str(job.job));
    a.in.config = a.config.get();
    return std::nullopt;
}

}  // namespace

Response compat_list(Ctx& c) {
    ops::Answer a;
    bool full = truthy(c.req.query_value("full"));
    bool running = !full && truthy(c.req.query_value("running"));
    if (auto failed = c.run(full ? Op::kAllProcesses : running ? Op::kAllPids : Op::kJobs, {}, &a))
        return std::move(*failed);
    if (full)
        return json_response(200, std::move(a.result));
    if (running)
        return json_response(200, json::ref(json_object_get(a.result.get(), "pids")));
    return json_response(200, compat_names(json_object_get(a.result.get(), "jobs")));
}

Response compat_add(Ctx& c) {
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "invalid_json", why);
    const json_t* name = json_object_get(obj->get(), "name");
    if (!json_is_string(name) || json_string_length(name) == 0) {
        return error_response(400, "invalid_process_info", "name: a template name is required");
    }
    model::JobName job = ops::parse_compat_name(json_string_value(name));
    Args a = on_job(job);
    a.in.job = nullptr;  // load takes the job from the config
    if (auto bad = read_config(c, job, a))
        return std::move(*bad);
    return config_answer(c, Op::kLoad, a);
}

Response compat_exists(Ctx& c) {
    Response err;
    auto t = resolve_target(c, c.seg[1], false, &err);
    if (!t)
        return err.status == 404 ? error_response(404, "not_found") : err;
    Args a = on_job(t->job);
    if (auto failed = c.run(Op::kJobExists, a.in))
        return t->pid || failed->status != 404 ? std::move(*failed) : error_response(404, "not_found");
    return text_response(200, "");
}

Response compat_get(Ctx& c) {
    Response err;
    auto t = resolve_target(c, c.seg[1], false, &err);
    if (!t)
        return err;
    Args a = on_job(t->job);
    ops::Answer info;
    if (auto failed = c.run(Op::kInfo, a.in, &info))
        return std::move(*failed);
    json::JsonPtr cfg = json::ref(json_object_get(info.result.get(), "config"));
    json::set(cfg.get(), "name", json::str(ops::compat_name(t->job)));
    return json_response(200, std::move(cfg));
}

Response compat_update(Ctx& c) {
    model::JobName job = ops::parse_compat_name(c.seg[1]);
    Args a = on_job(job);
    if (auto d = c.need_manage(job))  // before the body is read, as every route
        return *d;
    if (auto bad = read_config(c, job, a))
        return std::move(*bad);
    return config_answer(c, Op::kUpdate, a);
}

Response compat_delete(Ctx& c) {
    Response err;
    auto t = resolve_target(c, c.seg[1], true, &err);
    if (!t)
        return err;
    if (t->pid)
        return done(c, Op::kStopProcess, on_pid(*t->pid).in);
    return done(c, Op::kUnload, on_job(t->job).in);
}

Response compat_action(Ctx& c) {
    const std::string& action = c.seg[2];
    std::optional<std::string> arg;
    if (c.seg.size() > 3)
        arg = c.seg[3];
    bool on_a_pid = is_number_segment(c.seg[1]);
    // Which actions exist, and with which argument and method (§4.3).
    bool known = false, takes_arg = false, needs_arg = false;
    const char* method = "POST";
    if (on_a_pid) {
        known = action == "_stop" || action == "_signal";
    } else {
        known = action == "_start" || action == "_stop" || action == "_restart" || action == "_add" ||
                action == "_sub" || action == "_signal" || action == "_pids";
    }
    if (action == "_add" || action == "_sub")
        takes_arg = true;
    if (action == "_signal")
        takes_arg = needs_arg = true;
    if (action == "_pids")
        method = "GET";
    if (!known || (arg && !takes_arg) || (!arg && needs_arg)) {
        return error_response(404, "resource_not_found", "unknown action '" + action + "'");
    }
    if (c.req.method != method)
        return method_not_allowed(method);

    Response err;
    // _pids takes a template name only, so a pid here always wants manage rights.
    auto t = resolve_target(c, c.seg[1], action != "_pids", &err);
    if (!t)
        return err;
    Args a = t->pid ? on_pid(*t->pid) : on_job(t->job);
    if (action == "_pids") {
        ops::Answer pids;
        if (auto failed = c.run(Op::kPids, a.in, &pids))
            return std::move(*failed);
        return json_response(200, ok_first(pids.result.get()));
    }
    if (action == "_signal") {
        a.signal = json::str(*arg);
        a.in.signal = a.signal.get();
        ops::Answer sent;
        if (auto failed = c.run(t->pid ? Op::kKill : Op::kKillAll, a.in, &sent)) {
            if (sent.failure->param == ops::kParamSignal)
                return error_response(400, "bad_signal", "'" + *arg + "' is not a signal");
            return std::move(*failed);
        }
        return ok_response(200);
    }
    if (action == "_add" || action == "_sub") {
        // "+n" / "-n": a count of processes to add or remove (1 without one).
        if (arg && !is_number_segment(*arg))
            a.in.unreadable = "'" + *arg + "' is not a process count";
        a.scale = json::str((action == "_add" ? "+" : "-") + arg.value_or("1"));
        a.in.scale = a.scale.get();
        ops::Answer scaled;
        if (auto failed = c.run(Op::kScale, a.in, &scaled)) {
            if (scaled.failure->error.code == EINVAL && !scaled.failure->param)
                return error_response(400, "bad_value", scaled.failure->error.context);
            return std::move(*failed);
        }
        return json_response(200, ok_first(scaled.result.get()));
    }
    if (action == "_stop")
        return done(c, t->pid ? Op::kStopProcess : Op::kStopJob, a.in);
    return done(c, action == "_start" ? Op::kStartJob : Op::kReloadJob, a.in);
}

Response compat_status(Ctx& c) {
    Args a = on_job(ops::parse_compat_name(c.seg[1]));
    ops::Answer info;
    if (auto failed = c.run(Op::kInfo, a.in, &info))
        return std::move(*failed);
    json::JsonPtr o = json::take(json_object());
    for (const char* k : {"active", "running", "max_processes"})
        json::set(o.get(), k, json::ref(json_object_get(info.result.get(), k)));
    return json_response(200, std::move(o));
}

Response compat_stats_all(Ctx& c) {
    ops::Answer jobs;
    if (auto failed = c.run(Op::kJobs, {}, &jobs))
        return std::move(*failed);
    json::JsonPtr arr = json::take(json_array());
    size_t i;
    json_t* q;
    json_array_foreach(json_object_get(jobs.result.get(), "jobs"), i, q) {
        Args a = on_job(model::JobName::parse(json_string_value(q)));
        a.in.compat04 = true;
        ops::Answer stats;
        if (c.run(Op::kStats, a.in, &stats))
            continue;  // unloaded meanwhile
        json_array_append_new(arr.get(), stats.result.release());
    }
    return json_response(200, std::move(arr));
}

Response compat_stats_job(Ctx& c) {
    Args a = on_job(ops::parse_compat_name(c.seg[1]));
    a.in.compat04 = true;
    return c.answer(Op::kStats, a.in);
}

Response compat_stats_pid(Ctx& c) {
    model::JobName job = ops::parse_compat_name(c.seg[1]);
    if (auto d = c.need_read(job))
        return *d;
    auto pid = pid_from_segment(c.seg[2]);
    if (!pid)
        return error_response(400, "bad_value", "the pid must be a decimal number");
    Args a = on_pid(*pid);
    a.in.compat04 = true;
    ops::Answer stats;
    auto failed = c.run(Op::kProcessStats, a.in, &stats);
    // A process of another job is not found here, whatever the caller may see of it.
    if ((failed && (failed->status == 404 || failed->status == 403)) || (!failed && !(*stats.job == job)))
        return error_response(404, "not_found");
    if (failed)
        return std::move(*failed);
    return json_response(200, std::move(stats.result));
}

Response compat_groups(Ctx& c) {
    ops::Answer a;
    if (auto failed = c.run(Op::kSessions, {}, &a))
        return std::move(*failed);
    return json_response(200, json::ref(json_object_get(a.result.get(), "sessions")));
}

Response compat_group(Ctx& c) {
    Args a = on_job({c.seg[1], ""});
    a.in.job = nullptr;
    ops::Answer jobs;
    if (auto failed = c.run(Op::kSessionJobs, a.in, &jobs))
        return std::move(*failed);
    return json_response(200, compat_names(json_object_get(jobs.result.get(), "jobs")));
}

namespace {

// `op` on every job of the group seg[1], after the right on the group; the first failure,
// if any, once every job was tried.
Response on_group(Ctx& c, Op op) {
    const std::string& g = c.seg[1];
    if (auto d = c.need_manage_session(g))
        return *d;
    Args s = on_job({g, ""});
    s.in.job = nullptr;
    ops::Answer jobs;
    if (auto failed = c.run(Op::kSessionJobs, s.in, &jobs))
        return std::move(*failed);
    std::optional<Response> first;
    size_t i;
    json_t* q;
    json_array_foreach(json_object_get(jobs.result.get(), "jobs"), i, q) {
        Args a = on_job(model::JobName::parse(json_string_value(q)));
        if (auto failed = c.run(op, a.in); failed && !first)
            first = std::move(failed);
    }
    return first ? std::move(*first) : ok_response(200);
}

}  // namespace

Response compat_group_action(Ctx& c) {
    const std::string& action = c.seg[2];
    if (action != "_start" && action != "_stop" && action != "_restart") {
        return error_response(404, "resource_not_found", "unknown action '" + action + "'");
    }
    return on_group(c, action == "_start" ? Op::kStartJob : action == "_stop" ? Op::kStopJob : Op::kReloadJob);
}

Response compat_group_delete(Ctx& c) {
    return on_group(c, Op::kUnload);
}

}  // namespace gaffer::http::routes
