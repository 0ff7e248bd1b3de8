// SPDX-License-Identifier: MIT
// The HEAD routes over jobs and processes (reference §1.1 rows 4–25 and E1, §3.2–§3.7):
// parse, check the §9.5 permission, call the manager, encode.
#include <cmath>
#include <cstring>
#include <optional>

#include "lib/base/strutil.h"
#include "lib/config/job_json.h"
#include "lib/http/codec.h"
#include "lib/http/handlers.h"
#include "lib/manager/manager.h"
#include "lib/model/values.h"

namespace gaffer::http::routes {

namespace {

model::JobName job_of(const Ctx& c) {
    return model::JobName{c.seg[1], c.seg[2]};
}

json::JsonPtr object_with(const char* key, json::JsonPtr value) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), key, std::move(value));
    return o;
}

}  // namespace

// ---- §3.2 ----

Response sessions(Ctx& c) {
    if (auto d = c.need_read_all())
        return *d;
    return json_response(200, object_with("sessions", json::strings(c.r.manager.sessions())));
}

Response jobs(Ctx& c) {
    if (auto d = c.need_read_all())
        return *d;
    return json_response(200, object_with("jobs", json::strings(c.r.manager.jobs())));
}

Response session_jobs(Ctx& c) {
    const std::string& sid = c.seg[1];
    if (auto d = c.need_read_session(sid))
        return *d;
    auto list = c.r.manager.jobs(sid);
    if (!list)
        return manager_error(list.error());
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "sessionid", json::str(sid));
    json::set(o.get(), "jobs", json::strings(*list));
    return json_response(200, std::move(o));
}

// ---- §3.3 ----

Response load_job(Ctx& c) {
    const std::string& sid = c.seg[1];
    if (auto d = c.need_manage_session(sid))
        return *d;
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "bad_request", why);
    auto spec = config::job_from_json(obj->get(), sid, config::JobJsonMode::kLoad);
    if (!spec)
        return manager_error(spec.error());
    if (auto d = c.admit_spec(*spec))
        return *d;
    Status st = c.r.manager.load(std::move(*spec));
    if (!st)
        return manager_error(st.error());
    return ok_response(200);
}

Response job_exists(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_read(name))
        return *d;
    if (!c.r.manager.has_job(name))
        return error_response(404, "not_found");
    return text_response(200, "");
}

Response job_info(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_read(name))
        return *d;
    auto info = c.r.manager.info(name);
    if (!info)
        return manager_error(info.error());
    return json_response(200, encode_job_info(*info));
}

Response update_job(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_manage(name))
        return *d;
    auto parsed = json::parse(c.req.body);
    if (!parsed)
        return error_response(400, "bad_request", parsed.error().context);
    if (!json_is_object(parsed->get()))
        return error_response(400, "bad_request", "invalid process config");
    const json_t* given = json_object_get(parsed->get(), "name");
    if (given && !json_is_null(given) &&
        (!json_is_string(given) || std::string_view(json_string_value(given), json_string_length(given)) != name.job)) {
        return error_response(400, "bad_request", "template name conflict with the path");
    }
    std::string member;
    auto spec = config::job_from_json(parsed->get(), name.session, config::JobJsonMode::kUpdate, &member);
    if (!spec) {
        if (member == "cmd")
            return error_response(400, "bad_request", "invalid process config");
        return manager_error(spec.error());
    }
    spec->name = name;
    if (auto d = c.admit_spec(*spec))
        return *d;
    Status st = c.r.manager.update(std::move(*spec));
    if (!st)
        return manager_error(st.error());
    return ok_response(201);
}

Response unload_job(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_manage(name))
        return *d;
    Status st = c.r.manager.unload(name);
    if (!st)
        return manager_error(st.error());
    return ok_response(200);
}

// ---- §3.5 ----

Response job_stats(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_read(name))
        return *d;
    auto stats = c.r.manager.job_stats(name);
    if (!stats)
        return manager_error(stats.error());
    return json_response(200, encode_job_stats(name.qualified(), *stats, StatsFlavor::kHead));
}

// ---- §3.6 ----

Response get_numprocesses(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_read(name))
        return *d;
    auto n = c.r.manager.numprocesses(name);
    if (!n)
        return manager_error(n.error());
    return json_response(200, object_with("numprocesses", json::take(json_integer(*n))));
}

Response scale(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_manage(name))
        return *d;
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "bad_request", why);
    const json_t* v = json_object_get(obj->get(), "scale");
    std::optional<model::ScaleOp> op = scale_from_json(v);
    if (!op) {
        return error_response(400, "bad_request",
                              v ? "scale: expected an integer or \"+n\", \"-n\", \"=n\", \"n\"" : "scale: missing");
    }
    auto n = c.r.manager.scale(name, *op);
    if (!n)
        return manager_error(n.error());
    return json_response(200, object_with("numprocesses", json::take(json_integer(*n))));
}

Response signal_job(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_manage(name))
        return *d;
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "bad_request", why);
    auto sig = signal_from_json(json_object_get(obj->get(), "signal"));
    if (!sig)
        return error_response(400, "bad_request", "signal: expected a signal number or name");
    Status st = c.r.manager.killall(name, *sig);
    if (!st)
        return manager_error(st.error());
    return ok_response(202);
}

Response get_state(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_read(name))
        return *d;
    auto info = c.r.manager.info(name);
    if (!info)
        return manager_error(info.error());
    return text_response(200, info->active ? "1" : "0");
}

Response set_state(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_manage(name))
        return *d;
    std::string_view v = trim(c.req.body);
    Status st;
    if (v == "1") {
        st = c.r.manager.start_job(name);
    } else if (v == "0") {
        st = c.r.manager.stop_job(name);
    } else if (v == "2") {
        st = c.r.manager.reload_job(name);
    } else {
        return error_response(400, "bad_request", "the body must be 0 (stop), 1 (start) or 2 (reload)");
    }
    if (!st)
        return manager_error(st.error());
    return ok_response(202);
}

Response job_pids(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_read(name))
        return *d;
    auto pids = c.r.manager.pids(name);
    if (!pids)
        return manager_error(pids.error());
    return json_response(200, object_with("pids", json::ints(*pids)));
}

Response job_processes(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_read(name))
        return *d;
    auto ps = c.r.manager.processes(name);
    if (!ps)
        return manager_error(ps.error());
    return json_response(200, encode_process_list(*ps));
}

Response commit(Ctx& c) {
    model::JobName name = job_of(c);
    if (auto d = c.need_manage_session(name.session))
        return *d;
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "bad_request", why);
    auto graceful = graceful_timeout_from_json(json_object_get(obj->get(), "graceful_timeout"));
    if (!graceful)
        return error_response(400, "bad_request", graceful.error().context);
    auto env = config::env_from_json(json_object_get(obj->get(), "env"));
    if (!env)
        return error_response(400, "bad_request", env.error().context);
    if (!env->empty()) {
        if (auto denied = commit_env_denial(c.r, c.rights, name))
            return forbidden(*denied);
    }
    auto pid = c.r.manager.commit(name, *graceful, *env);
    if (!pid)
        return manager_error(pid.error());
    return json_response(200, object_with("pid", json::take(json_integer(*pid))));
}

Response all_pids(Ctx& c) {
    if (auto d = c.need_read_all())
        return *d;
    return json_response(200, object_with("pids", json::ints(c.r.manager.all_pids())));
}

// ---- §3.7 ----

Response pid_exists(Ctx& c) {
    model::ProcessInfo p;
    if (auto d = c.need_process(*pid_from_segment(c.seg[0]), false, &p))
        return d->status == 404 ? error_response(404, "not_found") : *d;
    return text_response(200, "");
}

Response pid_info(Ctx& c) {
    model::ProcessInfo p;
    if (auto d = c.need_process(*pid_from_segment(c.seg[0]), false, &p))
        return *d;
    return json_response(200, encode_process_info(p));
}

Response pid_stop(Ctx& c) {
    model::ProcessInfo p;
    int pid = *pid_from_segment(c.seg[0]);
    if (auto d = c.need_process(pid, true, &p))
        return *d;
    Status st = c.r.manager.stop_process(pid);
    if (!st)
        return manager_error(st.error());
    return ok_response(202);
}

Response pid_signal(Ctx& c) {
    model::ProcessInfo p;
    int pid = *pid_from_segment(c.seg[0]);
    if (auto d = c.need_process(pid, true, &p))
        return *d;
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "bad_request", why);
    auto sig = signal_from_json(json_object_get(obj->get(), "signal"));
    if (!sig)
        return error_response(400, "bad_signal", "signal: expected a signal number or name");
    Status st = c.r.manager.kill(pid, *sig);
    // Signalling a process that already exited is a silent success (§3.7).
    if (!st && st.error().code != ESRCH)
        return manager_error(st.error());
    return ok_response(202);
}

Response pid_stats(Ctx& c) {
    model::ProcessInfo p;
    int pid = *pid_from_segment(c.seg[0]);
    if (auto d = c.need_process(pid, false, &p))
        return *d;
    auto s = c.r.manager.process_stats(pid);
    if (!s)
        return manager_error(s.error());
    return json_response(200, object_with("stats", encode_process_stats(*s)));
}

}  // namespace gaffer::http::routes
