// SPDX-License-Identifier: MIT
// Internal to lib/http: what the route handlers of routes_jobs.cc, routes_compat.cc and
// routes_auth.cc share with the router. A handler runs after the route matched, the
// method was allowed and the caller's rights were resolved; it checks the route's own
// permission first, validates its input next, and only then calls the manager.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/auth/login_throttle.h"
#include "lib/auth/store.h"
#include "lib/http/cors.h"
#include "lib/http/request.h"
#include "lib/http/router.h"
#include "lib/json/json.h"
#include "lib/model/job_spec.h"
#include "lib/model/values.h"

namespace gaffer::http {

struct Router::Impl {
    loop::Loop& loop;
    manager::Manager& manager;
    auth::Store* store;
    RouterOptions opts;
    CorsPolicy cors;
    // Admission of password checks on GET /auth (routes_auth.cc).
    auth::LoginThrottle login_throttle{};

    bool key_api() const { return opts.require_key && store != nullptr; }
};

// Who is calling and what they may do.
struct Rights {
    auth::Permissions perms;
    // The key that authenticated the request, if one did.
    std::optional<auth::KeyInfo> key;
    // The peer's uid/gid on the unix socket (SO_PEERCRED); nullopt on TCP. A job "of the
    // caller" may run as them (security-defaults.md "Jobs created through the API").
    std::optional<uid_t> peer_uid;
    std::optional<gid_t> peer_gid;
};

// The rule of security-defaults.md "Jobs created through the API" for a caller without
// full (admin) rights: nothing it could not do itself. Each returns nullopt when allowed,
// else the reason of the 403. admit_job_spec() also confines an admitted job's log files
// to log_root (JobSpec::log_beneath), so that what the kernel opens later is what was
// checked now.
// - A job runs as its `uid`, else as the daemon's user. The caller may use its own uid on
//   the unix socket, the uids its key lists (auth::Permissions::uids), and, when the
//   daemon is not root, the daemon's uid (no job of such a daemon can run as anyone else).
//   A `gid` may be given only when it is the caller's own gid (the peer's; the daemon's
//   when the daemon is not root); without one the uid's primary group applies.
// - shell, capabilities, os_env (the daemon's environment) and critical (which stops
//   the daemon, every other session's jobs with it) need full rights.
// - Log files (stdout_file, stderr_file, log_dir and the files it would hold) must lie
//   beneath the configured log_root after normalisation (relative paths are taken from
//   the daemon's working directory, as the manager opens them): no ".." component, no
//   symbolic link beneath log_root, an existing file must be a regular file with one
//   link. Without a log_root a caller without full rights can set no log file.
std::optional<std::string> admit_job_spec(const Router::Impl& r, const Rights& rights, model::JobSpec& spec);
// `POST .../commit` with an environment puts caller-chosen variables (LD_PRELOAD...) in a
// process of an existing job: allowed only when the caller may use that job's uid.
std::optional<std::string> commit_env_denial(const Router::Impl& r, const Rights& rights, const model::JobName& job);

struct Ctx {
    Router::Impl& r;
    const Request& req;
    const std::vector<std::string>& seg;  // path segments
    Rights rights;

    bool is_head() const { return req.method == "HEAD"; }
    // nullopt when allowed, else the 403 answer.
    std::optional<Response> need_read(const model::JobName& job) const;
    std::optional<Response> need_read_session(std::string_view session) const;
    // Read rights on every job: the listings (/sessions, /jobs, /pids, ...).
    std::optional<Response> need_read_all() const;
    std::optional<Response> need_manage(const model::JobName& job) const;
    std::optional<Response> need_manage_session(std::string_view session) const;
    std::optional<Response> need_manage_all() const;
    std::optional<Response> need_admin() const;
    // 403 (admit_job_spec) when the caller may not have a job with `spec`; else the spec
    // is admitted (its log files confined to log_root for a caller without full rights).
    std::optional<Response> admit_spec(model::JobSpec& spec) const;
    // The process `pid` for a route that needs read (else manage) rights on its job. The
    // rights come first: a caller without the right on every job gets 403 for an unknown
    // pid as for a pid of a job it may not see, so it learns nothing; else 404.
    std::optional<Response> need_process(int pid, bool manage, model::ProcessInfo* ret_info) const;
};

// ---- answers ----
Response json_response(int status, json::JsonPtr body);
Response text_response(int status, std::string text);
// {"error": name, "errno": status[, "reason": reason]}
Response error_response(int status, std::string_view name, std::string_view reason = {});
// Through manager::map_error (the one table); the reason is the error's message, plus
// set_error_cause's members.
Response manager_error(const Error& e);
// For an error a lower layer caused (a spawn failure): "stage" and "os_errno" (that
// layer's errno) in an error body, as both front ends answer them.
void set_error_cause(json_t* body, const Error& e);
// {"ok": true}
Response ok_response(int status = 200);
Response forbidden(std::string_view reason);

// ---- body parsing ----
// The body as a JSON object; nullopt (and *ret_error set) when it is not one.
std::optional<json::JsonPtr> parse_object(const std::string& body, std::string* ret_error);
// A signal given as a JSON integer or string (name or number); nullopt on junk.
std::optional<int> signal_from_json(const json_t* v);
// A scale as a JSON integer or a string ("+n", "-n", "=n", "n"); nullopt on junk.
std::optional<model::ScaleOp> scale_from_json(const json_t* v);
// A graceful_timeout: absent or null is "not given" (nullopt); else a number of seconds in
// 0..1e9 (as job configs allow), otherwise Error{EINVAL}.
Result<std::optional<double>> graceful_timeout_from_json(const json_t* v);
bool is_number_segment(std::string_view s);
std::optional<int> pid_from_segment(std::string_view s);
// A pid as a JSON integer or a decimal string, in the range of pid_from_segment (never
// truncated to int); nullopt otherwise.
std::optional<int> pid_from_json(const json_t* v);

// ---- route handlers (one per method and route) ----
namespace routes {
// rows 1–3
Response root(Ctx& c);
Response version(Ctx& c);
Response ping(Ctx& c);
// rows 4–20, E1
Response sessions(Ctx& c);
Response jobs(Ctx& c);
Response session_jobs(Ctx& c);
Response load_job(Ctx& c);
Response job_exists(Ctx& c);
Response job_info(Ctx& c);
Response update_job(Ctx& c);
Response unload_job(Ctx& c);
Response job_stats(Ctx& c);
Response get_numprocesses(Ctx& c);
Response scale(Ctx& c);
Response signal_job(Ctx& c);
Response get_state(Ctx& c);
Response set_state(Ctx& c);
Response job_pids(Ctx& c);
Response job_processes(Ctx& c);
Response commit(Ctx& c);
Response all_pids(Ctx& c);
// rows 21–25
Response pid_exists(Ctx& c);
Response pid_info(Ctx& c);
Response pid_stop(Ctx& c);
Response pid_signal(Ctx& c);
Response pid_stats(Ctx& c);
// 0.4 (§4.3)
Response compat_list(Ctx& c);
Response compat_add(Ctx& c);
Response compat_exists(Ctx& c);
Response compat_get(Ctx& c);
Response compat_update(Ctx& c);
Response compat_delete(Ctx& c);
Response compat_action(Ctx& c);
Response compat_status(Ctx& c);
Response compat_stats_all(Ctx& c);
Response compat_stats_job(Ctx& c);
Response compat_stats_pid(Ctx& c);
Response compat_groups(Ctx& c);
Response compat_group(Ctx& c);
Response compat_group_action(Ctx& c);
Response compat_group_delete(Ctx& c);
// rows 29–35
Response auth(Ctx& c);
Response keys_list(Ctx& c);
Response keys_create(Ctx& c);
Response key_get(Ctx& c);
Response key_delete(Ctx& c);
Response users_list(Ctx& c);
Response users_create(Ctx& c);
Response user_get(Ctx& c);
Response user_update(Ctx& c);
Response user_delete(Ctx& c);
Response user_password(Ctx& c);
Response user_key(Ctx& c);
}  // namespace routes

}  // namespace gaffer::http
