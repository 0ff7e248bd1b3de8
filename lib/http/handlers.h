// SPDX-License-Identifier: MIT
// Internal to lib/http: what the route handlers of routes_jobs.cc, routes_compat.cc and
// routes_auth.cc share with the router. A handler runs after the route matched, the
// method was allowed and the caller's rights were resolved; it checks the route's own
// permission first, validates its input next, and only then calls the manager.
#pragma once

#include <functional>
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
#include "lib/ops/args.h"
#include "lib/ops/operations.h"
#include "lib/ops/policy.h"

namespace gaffer::http {

struct Ctx;

// Who may call a route before its own permission check.
enum class Access {
    kPublic,  // rows 1–3: never a key
    kBasic,   // /auth: Basic credentials, checked by the handler
    kKeyed,   // rows 4–25, E1 and 0.4: rights from the endpoint and X-Api-Key
    kKeyApi,  // /keys*, /users*: as kKeyed, and 404 when the key API is off (§9.4)
};

struct MethodHandler {
    std::string method;
    std::function<Response(Ctx&)> fn;
};

struct Route {
    // Segments: a literal, "*" (any one segment) or "#" (a decimal pid).
    std::string pattern;
    Access access;
    std::vector<MethodHandler> methods;
};

struct Router::Impl {
    loop::Loop& loop;
    manager::Manager* manager;  // null on a router without the job routes
    auth::Store* store;
    RouterOptions opts;
    CorsPolicy cors;
    // Admission of password checks on GET /auth (routes_auth.cc).
    auth::LoginThrottle login_throttle{};

    ops::Policy policy;  // from opts

    bool key_api() const { return opts.require_key && store != nullptr; }
    // The job routes and the channel: only on a router with a manager.
    ops::Context ops_context() { return ops::Context{*manager, policy}; }
    // The route table: the site's routes, then the job routes (with a manager), then the key API.
    std::vector<Route> routes;
};

// Who is calling and what they may do (the operations layer's Caller).
using Rights = ops::Caller;

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
    // The operation `op` (lib/ops/operations.h: rights, arguments, the manager call) for
    // this caller: nullopt on success, else the failure as an HTTP answer (manager_error:
    // the one table); *ret (if given) holds the operation's answer either way.
    std::optional<Response> run(ops::Op op, const ops::Input& in, ops::Answer* ret = nullptr) const;
    // run(), answered: `status` with the operation's result, or its failure.
    Response answer(ops::Op op, const ops::Input& in, int status = 200) const;
};

// ---- answers ---- (json_response, text_response, error_response: router.h)
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
// The argument parsers every front end shares (lib/ops/args.h).
using ops::graceful_timeout_from_json;
using ops::is_number_segment;
using ops::pid_from_json;
using ops::pid_from_segment;
using ops::scale_from_json;
using ops::signal_from_json;
// An HTTP failure of an operation: through the one table (manager_error).
Response op_failure(const ops::Failure& f);

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
