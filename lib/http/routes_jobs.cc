// SPDX-License-Identifier: MIT
// The HEAD routes over jobs and processes (reference §1.1 rows 4–25 and E1, §3.2–§3.7):
// adapters over the operations layer (lib/ops/operations.h). A route names its operation,
// takes its arguments from the path and the JSON body, and answers the operation's result
// with its status; rights, parsing and the manager call are the operation's.
#include <optional>
#include <string>

#include "lib/base/strutil.h"
#include "lib/http/handlers.h"

namespace gaffer::http::routes {

namespace {

using ops::Op;

// The arguments of a route: the session and job of its path, its JSON body's members.
struct Args {
    json::JsonPtr session, job, pid, body;
    ops::Input in;

    const json_t* member(const char* name) const { return body ? json_object_get(body.get(), name) : nullptr; }
};

// /jobs/<sid>[/<job>...]
Args job_args(const Ctx& c) {
    Args a;
    a.session = json::str(c.seg[1]);
    a.in.session = a.session.get();
    if (c.seg.size() > 2) {
        a.job = json::str(c.seg[2]);
        a.in.job = a.job.get();
        a.in.literal_job = true;
    }
    return a;
}

// /<pid>[/...]
Args pid_args(const Ctx& c) {
    Args a;
    a.pid = json::take(json_integer(*pid_from_segment(c.seg[0])));
    a.in.pid = a.pid.get();
    return a;
}

// A JSON object body; when it is not one, the operation fails with the reason (after
// the rights check, as every bad argument).
void read_body(const Ctx& c, Args& a) {
    std::string why;
    if (auto obj = parse_object(c.req.body, &why))
        a.body = std::move(*obj);
    else
        a.in.unreadable = why;
}

}  // namespace

// ---- §3.2 ----

Response sessions(Ctx& c) {
    return c.answer(Op::kSessions, {});
}

Response jobs(Ctx& c) {
    return c.answer(Op::kJobs, {});
}

Response session_jobs(Ctx& c) {
    Args a = job_args(c);
    return c.answer(Op::kSessionJobs, a.in);
}

// ---- §3.3 ----

Response load_job(Ctx& c) {
    Args a = job_args(c);
    read_body(c, a);
    a.in.config = a.body.get();
    return c.answer(Op::kLoad, a.in);
}

Response job_exists(Ctx& c) {
    Args a = job_args(c);
    if (auto failed = c.run(Op::kJobExists, a.in))
        return failed->status == 404 ? error_response(404, "not_found") : std::move(*failed);
    return text_response(200, "");
}

Response job_info(Ctx& c) {
    Args a = job_args(c);
    return c.answer(Op::kInfo, a.in);
}

Response update_job(Ctx& c) {
    Args a = job_args(c);
    // Any JSON value reaches the operation, which says what is wrong with a non-object.
    if (auto parsed = json::parse(c.req.body))
        a.body = std::move(*parsed);
    else
        a.in.unreadable = parsed.error().context;
    a.in.config = a.body.get();
    return c.answer(Op::kUpdate, a.in, 201);
}

Response unload_job(Ctx& c) {
    Args a = job_args(c);
    return c.answer(Op::kUnload, a.in);
}

// ---- §3.5 ----

Response job_stats(Ctx& c) {
    Args a = job_args(c);
    return c.answer(Op::kStats, a.in);
}

// ---- §3.6 ----

Response get_numprocesses(Ctx& c) {
    Args a = job_args(c);
    return c.answer(Op::kNumprocesses, a.in);
}

Response scale(Ctx& c) {
    Args a = job_args(c);
    read_body(c, a);
    a.in.scale = a.member("scale");
    return c.answer(Op::kScale, a.in);
}

Response signal_job(Ctx& c) {
    Args a = job_args(c);
    read_body(c, a);
    a.in.signal = a.member("signal");
    return c.answer(Op::kKillAll, a.in, 202);
}

Response get_state(Ctx& c) {
    Args a = job_args(c);
    ops::Answer info;
    if (auto failed = c.run(Op::kInfo, a.in, &info))
        return std::move(*failed);
    return text_response(200, json_is_true(json_object_get(info.result.get(), "active")) ? "1" : "0");
}

Response set_state(Ctx& c) {
    Args a = job_args(c);
    std::string_view v = trim(c.req.body);
    Op op = v == "1" ? Op::kStartJob : v == "0" ? Op::kStopJob : Op::kReloadJob;
    if (v != "0" && v != "1" && v != "2")
        a.in.unreadable = "the body must be 0 (stop), 1 (start) or 2 (reload)";
    return c.answer(op, a.in, 202);
}

Response job_pids(Ctx& c) {
    Args a = job_args(c);
    return c.answer(Op::kPids, a.in);
}

Response job_processes(Ctx& c) {
    Args a = job_args(c);
    return c.answer(Op::kProcesses, a.in);
}

Response commit(Ctx& c) {
    Args a = job_args(c);
    read_body(c, a);
    a.in.graceful_timeout = a.member("graceful_timeout");
    a.in.env = a.member("env");
    return c.answer(Op::kCommit, a.in);
}

Response all_pids(Ctx& c) {
    return c.answer(Op::kAllPids, {});
}

// ---- §3.7 ----

Response pid_exists(Ctx& c) {
    Args a = pid_args(c);
    if (auto failed = c.run(Op::kProcessExists, a.in))
        return failed->status == 404 ? error_response(404, "not_found") : std::move(*failed);
    return text_response(200, "");
}

Response pid_info(Ctx& c) {
    Args a = pid_args(c);
    return c.answer(Op::kProcessInfo, a.in);
}

Response pid_stop(Ctx& c) {
    Args a = pid_args(c);
    return c.answer(Op::kStopProcess, a.in, 202);
}

Response pid_signal(Ctx& c) {
    Args a = pid_args(c);
    read_body(c, a);
    a.in.signal = a.member("signal");
    ops::Answer done;
    if (auto failed = c.run(Op::kKill, a.in, &done)) {
        // This route's name for a refused signal value (§3.7).
        if (done.failure->param == ops::kParamSignal)
            return error_response(400, "bad_signal", "signal: expected a signal number or name");
        return std::move(*failed);
    }
    return json_response(202, std::move(done.result));
}

Response pid_stats(Ctx& c) {
    Args a = pid_args(c);
    return c.answer(Op::kProcessStats, a.in);
}

}  // namespace gaffer::http::routes
