// SPDX-License-Identifier: MIT
// The 0.4 routes (reference §1.2, §4.3) on top of the HEAD model: a template `N` is job
// `default.N`, `G:N` is job `G.N`, a group is a session. Streams (/streams, /wstreams)
// and /watch belong to the streams issue and are not routed here; /stats answers plain
// GET only (no feed= streaming yet).
#include <optional>

#include "lib/base/strutil.h"
#include "lib/config/job_json.h"
#include "lib/http/codec.h"
#include "lib/http/handlers.h"
#include "lib/manager/manager.h"
#include "lib/model/values.h"

namespace gaffer::http::routes {

namespace {

bool truthy(std::optional<std::string_view> v) {
    if (!v)
        return false;
    auto b = parse_bool(*v);
    return b && *b;
}

json::JsonPtr compat_names(const std::vector<std::string>& qualified) {
    json::JsonPtr arr = json::take(json_array());
    for (const auto& q : qualified) {
        json_array_append_new(arr.get(), json::str(compat_name(model::JobName::parse(q))).release());
    }
    return arr;
}

// A copy of a 0.4 template object with `name` set to the HEAD job name.
json::JsonPtr with_job_name(const json_t* obj, const std::string& job) {
    json::JsonPtr copy = json::take(json_deep_copy(obj));
    json::set(copy.get(), "name", json::str(job));
    return copy;
}

// /processes/<x>: a pid (digits) or a template name.
struct Target {
    model::JobName job;
    std::optional<int> pid;
};

// Resolves `x`; nullopt with *ret_error set when the pid is unknown or, rights first
// (Ctx::need_process), when the caller lacks read (`manage`: manage) rights on it.
std::optional<Target> resolve_target(Ctx& c, std::string_view x, bool manage, Response* ret_error) {
    Target t;
    if (is_number_segment(x)) {
        t.pid = pid_from_segment(x);
        model::ProcessInfo info;
        if (auto d = c.need_process(*t.pid, manage, &info)) {
            *ret_error = std::move(*d);
            return std::nullopt;
        }
        t.job = info.job;
        return t;
    }
    t.job = parse_compat_name(x);
    return t;
}

Response method_not_allowed(const char* allow) {
    Response r = error_response(405, "method_not_allowed", "Method Not Allowed");
    r.set_header("Allow", std::string(allow) + ", OPTIONS");
    return r;
}

Response ok_with_count(int n) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "ok", json::take(json_true()));
    json::set(o.get(), "numprocesses", json::take(json_integer(n)));
    return json_response(200, std::move(o));
}

}  // namespace

Response compat_list(Ctx& c) {
    if (auto d = c.need_read_all())
        return *d;
    if (truthy(c.req.query_value("full")))
        return json_response(200, encode_process_list(c.r.manager.all_processes()));
    if (truthy(c.req.query_value("running")))
        return json_response(200, json::ints(c.r.manager.all_pids()));
    return json_response(200, compat_names(c.r.manager.jobs()));
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
    model::JobName job = parse_compat_name(json_string_value(name));
    if (auto d = c.need_manage_session(job.session))
        return *d;
    json::JsonPtr cfg = with_job_name(obj->get(), job.job);
    auto spec = config::job_from_json(cfg.get(), job.session, config::JobJsonMode::kLoad);
    if (!spec)
        return error_response(400, "invalid_process_info", spec.error().context);
    if (auto d = c.admit_spec(*spec))
        return *d;
    Status st = c.r.manager.load(std::move(*spec));
    if (!st) {
        if (st.error().code == EEXIST)
            return error_response(409, "conflict", st.error().context);
        return manager_error(st.error());
    }
    return ok_response(200);
}

Response compat_exists(Ctx& c) {
    Response err;
    auto t = resolve_target(c, c.seg[1], false, &err);
    if (!t)
        return err.status == 404 ? error_response(404, "not_found") : err;
    if (auto d = c.need_read(t->job))
        return *d;
    if (!t->pid && !c.r.manager.has_job(t->job))
        return error_response(404, "not_found");
    return text_response(200, "");
}

Response compat_get(Ctx& c) {
    Response err;
    auto t = resolve_target(c, c.seg[1], false, &err);
    if (!t)
        return err;
    if (auto d = c.need_read(t->job))
        return *d;
    auto info = c.r.manager.info(t->job);
    if (!info)
        return manager_error(info.error());
    json::JsonPtr cfg = encode_config(info->config_json, t->job.job);
    json::set(cfg.get(), "name", json::str(compat_name(t->job)));
    return json_response(200, std::move(cfg));
}

Response compat_update(Ctx& c) {
    model::JobName job = parse_compat_name(c.seg[1]);
    if (auto d = c.need_manage(job))
        return *d;
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "invalid_json", why);
    json::JsonPtr cfg = with_job_name(obj->get(), job.job);
    auto spec = config::job_from_json(cfg.get(), job.session, config::JobJsonMode::kUpdate);
    if (!spec)
        return error_response(400, "invalid_process_info", spec.error().context);
    spec->name = job;
    if (auto d = c.admit_spec(*spec))
        return *d;
    Status st = c.r.manager.update(std::move(*spec));
    if (!st)
        return manager_error(st.error());
    return ok_response(200);
}

Response compat_delete(Ctx& c) {
    Response err;
    auto t = resolve_target(c, c.seg[1], true, &err);
    if (!t)
        return err;
    if (auto d = c.need_manage(t->job))
        return *d;
    Status st = t->pid ? c.r.manager.stop_process(*t->pid) : c.r.manager.unload(t->job);
    if (!st)
        return manager_error(st.error());
    return ok_response(200);
}

Response compat_action(Ctx& c) {
    const std::string& action = c.seg[2];
    std::optional<std::string> arg;
    if (c.seg.size() > 3)
        arg = c.seg[3];
    bool on_pid = is_number_segment(c.seg[1]);
    // Which actions exist, and with which argument and method (§4.3).
    bool known = false, takes_arg = false, needs_arg = false;
    const char* method = "POST";
    if (on_pid) {
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
    if (action == "_pids") {
        if (auto d = c.need_read(t->job))
            return *d;
        auto pids = c.r.manager.pids(t->job);
        if (!pids)
            return manager_error(pids.error());
        json::JsonPtr o = json::take(json_object());
        json::set(o.get(), "ok", json::take(json_true()));
        json::set(o.get(), "pids", json::ints(*pids));
        return json_response(200, std::move(o));
    }
    if (auto d = c.need_manage(t->job))
        return *d;

    if (action == "_signal") {
        auto sig = model::parse_signal(*arg);
        if (!sig)
            return error_response(400, "bad_signal", "'" + *arg + "' is not a signal");
        Status st = t->pid ? c.r.manager.kill(*t->pid, *sig) : c.r.manager.killall(t->job, *sig);
        if (!st && !(t->pid && st.error().code == ESRCH))
            return manager_error(st.error());
        return ok_response(200);
    }
    if (action == "_add" || action == "_sub") {
        int n = 1;
        if (arg) {
            auto v = is_number_segment(*arg) ? parse_int(*arg) : std::nullopt;
            if (!v)
                return error_response(400, "bad_value", "'" + *arg + "' is not a process count");
            n = static_cast<int>(*v);
        }
        model::ScaleOp op{action == "_add" ? model::ScaleOp::Kind::kAdd : model::ScaleOp::Kind::kSub, n};
        auto r = c.r.manager.scale(t->job, op);
        if (!r)
            return manager_error(r.error());
        return ok_with_count(*r);
    }
    Status st;
    if (action == "_stop") {
        st = t->pid ? c.r.manager.stop_process(*t->pid) : c.r.manager.stop_job(t->job);
    } else if (action == "_start") {
        st = c.r.manager.start_job(t->job);
    } else {  // _restart
        st = c.r.manager.reload_job(t->job);
    }
    if (!st)
        return manager_error(st.error());
    return ok_response(200);
}

Response compat_status(Ctx& c) {
    model::JobName job = parse_compat_name(c.seg[1]);
    if (auto d = c.need_read(job))
        return *d;
    auto info = c.r.manager.info(job);
    if (!info)
        return manager_error(info.error());
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "active", json::take(json_boolean(info->active)));
    json::set(o.get(), "running", json::take(json_integer(info->running)));
    json::set(o.get(), "max_processes", json::take(json_integer(info->max_processes)));
    return json_response(200, std::move(o));
}

Response compat_stats_all(Ctx& c) {
    if (auto d = c.need_read_all())
        return *d;
    json::JsonPtr arr = json::take(json_array());
    for (const auto& q : c.r.manager.jobs()) {
        model::JobName job = model::JobName::parse(q);
        auto stats = c.r.manager.job_stats(job);
        if (!stats)
            continue;  // unloaded meanwhile
        json_array_append_new(arr.get(), encode_job_stats(compat_name(job), *stats, StatsFlavor::kCompat04).release());
    }
    return json_response(200, std::move(arr));
}

Response compat_stats_job(Ctx& c) {
    model::JobName job = parse_compat_name(c.seg[1]);
    if (auto d = c.need_read(job))
        return *d;
    auto stats = c.r.manager.job_stats(job);
    if (!stats)
        return manager_error(stats.error());
    return json_response(200, encode_job_stats(compat_name(job), *stats, StatsFlavor::kCompat04));
}

Response compat_stats_pid(Ctx& c) {
    model::JobName job = parse_compat_name(c.seg[1]);
    if (auto d = c.need_read(job))
        return *d;
    auto pid = pid_from_segment(c.seg[2]);
    if (!pid)
        return error_response(400, "bad_value", "the pid must be a decimal number");
    auto info = c.r.manager.process_info(*pid);
    if (!info || !(info->job == job))
        return error_response(404, "not_found");
    auto s = c.r.manager.process_stats(*pid);
    if (!s)
        return manager_error(s.error());
    json::JsonPtr o = encode_process_stats_entry(*s, StatsFlavor::kCompat04);
    json::set(o.get(), "name", json::str(compat_name(job)));
    return json_response(200, std::move(o));
}

Response compat_groups(Ctx& c) {
    if (auto d = c.need_read_all())
        return *d;
    return json_response(200, json::strings(c.r.manager.sessions()));
}

Response compat_group(Ctx& c) {
    const std::string& g = c.seg[1];
    if (auto d = c.need_read_session(g))
        return *d;
    auto jobs = c.r.manager.jobs(g);
    if (!jobs)
        return manager_error(jobs.error());
    return json_response(200, compat_names(*jobs));
}

Response compat_group_action(Ctx& c) {
    const std::string& g = c.seg[1];
    const std::string& action = c.seg[2];
    if (action != "_start" && action != "_stop" && action != "_restart") {
        return error_response(404, "resource_not_found", "unknown action '" + action + "'");
    }
    if (auto d = c.need_manage_session(g))
        return *d;
    auto jobs = c.r.manager.jobs(g);
    if (!jobs)
        return manager_error(jobs.error());
    std::optional<Error> first;
    for (const auto& q : *jobs) {
        model::JobName job = model::JobName::parse(q);
        Status st = action == "_start"  ? c.r.manager.start_job(job)
                    : action == "_stop" ? c.r.manager.stop_job(job)
                                        : c.r.manager.reload_job(job);
        if (!st && !first)
            first = st.error();
    }
    if (first)
        return manager_error(*first);
    return ok_response(200);
}

Response compat_group_delete(Ctx& c) {
    const std::string& g = c.seg[1];
    if (auto d = c.need_manage_session(g))
        return *d;
    auto jobs = c.r.manager.jobs(g);
    if (!jobs)
        return manager_error(jobs.error());
    std::optional<Error> first;
    for (const auto& q : *jobs) {
        Status st = c.r.manager.unload(model::JobName::parse(q));
        if (!st && !first)
            first = st.error();
    }
    if (first)
        return manager_error(*first);
    return ok_response(200);
}

}  // namespace gaffer::http::routes
