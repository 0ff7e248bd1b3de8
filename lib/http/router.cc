// SPDX-License-Identifier: MIT
// The route table, rights resolution and the answers shared by every handler; see
// router.h for the order of the checks.
#include "lib/http/router.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <utility>

#include "lib/auth/store.h"
#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/http/gate.h"
#include "lib/http/handlers.h"
#include "lib/io/rotating_log.h"
#include "lib/manager/errors.h"
#include "lib/manager/manager.h"
#include "lib/model/values.h"

#if __has_include("gaffer_config.h")
#include "gaffer_config.h"
#endif
#ifndef GAFFER_VERSION
#define GAFFER_VERSION "0.0.0"
#endif

namespace gaffer::http {

namespace {

// gafferd's job routes (they need the manager).
const std::vector<Route>& job_routes() {
    using namespace routes;
    static const std::vector<Route> kRoutes = {
        // HEAD API, rows 1–25 and E1.
        {"", Access::kPublic, {{"GET", root}}},
        {"version", Access::kPublic, {{"GET", version}}},
        {"ping", Access::kPublic, {{"GET", ping}}},
        {"sessions", Access::kKeyed, {{"GET", sessions}}},
        {"jobs", Access::kKeyed, {{"GET", jobs}}},
        {"jobs/*", Access::kKeyed, {{"GET", session_jobs}, {"POST", load_job}}},
        {"jobs/*/*",
         Access::kKeyed,
         {{"HEAD", job_exists}, {"GET", job_info}, {"PUT", update_job}, {"DELETE", unload_job}}},
        {"jobs/*/*/stats", Access::kKeyed, {{"GET", job_stats}}},
        {"jobs/*/*/numprocesses", Access::kKeyed, {{"GET", get_numprocesses}, {"POST", scale}}},
        {"jobs/*/*/signal", Access::kKeyed, {{"POST", signal_job}}},
        {"jobs/*/*/state", Access::kKeyed, {{"GET", get_state}, {"POST", set_state}}},
        {"jobs/*/*/pids", Access::kKeyed, {{"GET", job_pids}}},
        {"jobs/*/*/processes", Access::kKeyed, {{"GET", job_processes}}},
        {"jobs/*/*/commit", Access::kKeyed, {{"POST", commit}}},
        {"pids", Access::kKeyed, {{"GET", all_pids}}},
        {"#", Access::kKeyed, {{"HEAD", pid_exists}, {"GET", pid_info}, {"DELETE", pid_stop}}},
        {"#/signal", Access::kKeyed, {{"POST", pid_signal}}},
        {"#/stats", Access::kKeyed, {{"GET", pid_stats}}},
        // 0.4 compatibility (§4.3).
        {"processes", Access::kKeyed, {{"GET", compat_list}, {"POST", compat_add}}},
        {"processes/*",
         Access::kKeyed,
         {{"HEAD", compat_exists}, {"GET", compat_get}, {"PUT", compat_update}, {"DELETE", compat_delete}}},
        {"processes/*/*", Access::kKeyed, {{"GET", compat_action}, {"POST", compat_action}}},
        {"processes/*/*/*", Access::kKeyed, {{"GET", compat_action}, {"POST", compat_action}}},
        {"status/*", Access::kKeyed, {{"GET", compat_status}}},
        {"stats", Access::kKeyed, {{"GET", compat_stats_all}}},
        {"stats/*", Access::kKeyed, {{"GET", compat_stats_job}}},
        {"stats/*/*", Access::kKeyed, {{"GET", compat_stats_pid}}},
        {"groups", Access::kKeyed, {{"GET", compat_groups}}},
        {"groups/*", Access::kKeyed, {{"GET", compat_group}, {"DELETE", compat_group_delete}}},
        {"groups/*/*", Access::kKeyed, {{"POST", compat_group_action}}},
    };
    return kRoutes;
}

// The key API: every site with a key store serves it.
const std::vector<Route>& key_routes() {
    using namespace routes;
    static const std::vector<Route> kRoutes = {
        // Keys and users, rows 29–35.
        {"auth", Access::kBasic, {{"HEAD", auth}, {"GET", auth}}},
        {"keys", Access::kKeyApi, {{"GET", keys_list}, {"POST", keys_create}}},
        {"keys/*", Access::kKeyApi, {{"HEAD", key_get}, {"GET", key_get}, {"DELETE", key_delete}}},
        {"users", Access::kKeyApi, {{"GET", users_list}, {"POST", users_create}}},
        {"users/*",
         Access::kKeyApi,
         {{"HEAD", user_get},
          {"GET", user_get},
          {"PUT", user_update},
          {"DELETE", user_delete},
          {"POST", users_create}}},
        {"users/*/password", Access::kKeyApi, {{"PUT", user_password}}},
        {"users/*/key", Access::kKeyApi, {{"PUT", user_key}}},
    };
    return kRoutes;
}

// "/a/b/" → {"a","b"}; "/" → {}. nullopt for an empty segment inside the path.
std::optional<std::vector<std::string>> split_path(std::string_view path) {
    std::vector<std::string> segs;
    if (path.empty() || path[0] != '/')
        return std::nullopt;
    path.remove_prefix(1);
    if (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    if (path.empty())
        return segs;
    size_t start = 0;
    while (true) {
        size_t slash = path.find('/', start);
        std::string_view s =
            path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (s.empty())
            return std::nullopt;
        segs.emplace_back(s);
        if (slash == std::string_view::npos)
            break;
        start = slash + 1;
    }
    return segs;
}

bool matches(const std::string& pattern, const std::vector<std::string>& segs) {
    std::vector<std::string> pat = split_any(pattern, "/");
    if (pat.size() != segs.size())
        return false;
    for (size_t i = 0; i < pat.size(); ++i) {
        if (pat[i] == "*")
            continue;
        if (pat[i] == "#") {
            if (!is_number_segment(segs[i]))
                return false;
            continue;
        }
        if (pat[i] != segs[i])
            return false;
    }
    return true;
}

// The original's pid route accepted [0-9^/]+, so "/1/2" reached it and failed to
// convert: 400 bad_value (§3.7).
bool is_bad_pid_path(std::string_view path) {
    if (path.size() < 2)
        return false;
    for (char ch : path.substr(1)) {
        if (!((ch >= '0' && ch <= '9') || ch == '^' || ch == '/'))
            return false;
    }
    return true;
}

std::string allow_header(const std::vector<MethodHandler>& methods) {
    std::string allow;
    for (const auto& m : methods) {
        allow += m.method;
        allow += ", ";
    }
    return allow + "OPTIONS";
}

auth::Permissions read_only() {
    auth::Permissions p;
    p.read.push_back("*");
    return p;
}

// Rights from the endpoint, the peer and X-Api-Key (security-defaults.md "Listening").
// nullopt when rights were found, else the 401/403 answer.
std::optional<Response> resolve_rights(const Router::Impl& r, const Request& req, Rights* out) {
    if (req.peer.kind == EndpointKind::kUnix) {
        out->peer_uid = req.peer.uid;
        out->peer_gid = req.peer.gid;
    }
    auto key_header = req.header("x-api-key");
    auto find = [&](std::string_view secret) -> std::optional<auth::KeyInfo> {
        if (!r.store || secret.empty())
            return std::nullopt;
        return r.store->find_key(secret);
    };
    switch (req.peer.kind) {
        case EndpointKind::kUnix: {
            if (req.peer.uid && (*req.peer.uid == 0 || *req.peer.uid == r.opts.daemon_uid)) {
                out->perms = auth::Permissions::full();
                return std::nullopt;
            }
            if (!key_header) {
                out->perms = read_only();
                return std::nullopt;
            }
            auto key = find(trim(*key_header));
            if (!key)
                return error_response(403, "forbidden", "unknown API key");
            // Other users read everything; a key can only add to that.
            out->perms = key->permissions;
            out->perms.read.push_back("*");
            out->key = std::move(key);
            return std::nullopt;
        }
        case EndpointKind::kTcpLoopback:
            if (!r.opts.require_key) {
                out->perms = auth::Permissions::full();
                return std::nullopt;
            }
            [[fallthrough]];
        case EndpointKind::kTcpRemote: {
            if (!key_header || trim(*key_header).empty()) {
                Response resp = error_response(401, "unauthorized", "an X-Api-Key header is required");
                return resp;
            }
            auto key = find(trim(*key_header));
            if (!key)
                return error_response(403, "forbidden", "unknown API key");
            out->perms = key->permissions;
            out->key = std::move(key);
            return std::nullopt;
        }
    }
    return error_response(403, "forbidden", "unknown endpoint");
}

}  // namespace

// ---- answers ----

Response json_response(int status, json::JsonPtr body) {
    Response r;
    r.status = status;
    r.body = json::dump(body.get());
    r.content_type = "application/json";
    return r;
}

Response text_response(int status, std::string text) {
    Response r;
    r.status = status;
    r.body = std::move(text);
    r.content_type = "text/plain; charset=utf-8";
    return r;
}

namespace {

json::JsonPtr error_body(int status, std::string_view name, std::string_view reason) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "error", json::str(name));
    json::set(o.get(), "errno", json::take(json_integer(status)));
    if (!reason.empty())
        json::set(o.get(), "reason", json::str(reason));
    return o;
}

}  // namespace

Response error_response(int status, std::string_view name, std::string_view reason) {
    return json_response(status, error_body(status, name, reason));
}

void set_error_cause(json_t* body, const Error& e) {
    if (e.stage)
        json::set(body, "stage", json::str(e.stage));
    if (e.cause)
        json::set(body, "os_errno", json::take(json_integer(e.cause)));
}

Response manager_error(const Error& e) {
    const manager::ErrorMapping& m = manager::map_error(e);
    // Client mistakes are answered, not logged; an internal failure is logged once, here
    // (the manager logs the spawn failures it reports).
    if (m.outcome == manager::Outcome::kInternal)
        log_warning("http: %s", e.message().c_str());
    json::JsonPtr o = error_body(m.http_status, m.name, e.context.empty() ? e.message() : e.context);
    set_error_cause(o.get(), e);
    return json_response(m.http_status, std::move(o));
}

Response ok_response(int status) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "ok", json::take(json_true()));
    return json_response(status, std::move(o));
}

Response forbidden(std::string_view reason) {
    return error_response(403, "forbidden", reason);
}

// ---- parsing helpers ----

std::optional<json::JsonPtr> parse_object(const std::string& body, std::string* ret_error) {
    auto parsed = json::parse(body);
    if (!parsed) {
        if (ret_error)
            *ret_error = parsed.error().context;
        return std::nullopt;
    }
    if (!json_is_object(parsed->get())) {
        if (ret_error)
            *ret_error = "the body must be a JSON object";
        return std::nullopt;
    }
    return std::move(*parsed);
}

// ---- permission checks ----

namespace {

std::optional<Response> need(const Rights& rights, ops::Right right, ops::Target target, std::string_view what) {
    if (auto f = ops::check_right(rights, right, target, what))
        return op_failure(*f);
    return std::nullopt;
}

}  // namespace

std::optional<Response> Ctx::need_read(const model::JobName& job) const {
    return need(rights, ops::Right::kRead, ops::Target::kJob, job.qualified());
}

std::optional<Response> Ctx::need_manage(const model::JobName& job) const {
    return need(rights, ops::Right::kManage, ops::Target::kJob, job.qualified());
}

std::optional<Response> Ctx::need_manage_session(std::string_view session) const {
    return need(rights, ops::Right::kManage, ops::Target::kSession, session);
}

std::optional<Response> Ctx::need_manage_all() const {
    return need(rights, ops::Right::kManage, ops::Target::kAll, "*");
}

std::optional<Response> Ctx::need_admin() const {
    return need(rights, ops::Right::kAdmin, ops::Target::kAll, "*");
}

std::optional<Response> Ctx::need_read_session(std::string_view session) const {
    return need(rights, ops::Right::kRead, ops::Target::kSession, session);
}

std::optional<Response> Ctx::need_read_all() const {
    return need(rights, ops::Right::kRead, ops::Target::kAll, "*");
}

// ---- operations (lib/ops/operations.h) ----

Response op_failure(const ops::Failure& f) {
    return manager_error(f.error);
}

std::optional<Response> Ctx::run(ops::Op op, const ops::Input& in, ops::Answer* ret) const {
    ops::Answer a = ops::call(r.ops_context(), rights, op, in);
    std::optional<Response> failed;
    if (!a.ok())
        failed = op_failure(*a.failure);
    if (ret)
        *ret = std::move(a);
    return failed;
}

Response Ctx::answer(ops::Op op, const ops::Input& in, int status) const {
    ops::Answer a;
    if (auto failed = run(op, in, &a))
        return std::move(*failed);
    return json_response(status, std::move(a.result));
}

// ---- rows 1–3 ----

namespace routes {

Response root(Ctx& c) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "welcome", json::str("gaffer"));
    json::set(o.get(), "version", json::str(c.r.opts.version));
    return json_response(200, std::move(o));
}

Response version(Ctx& c) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "name", json::str("gaffer"));
    json::set(o.get(), "version", json::str(c.r.opts.version));
    json::set(o.get(), "loop", json::str(c.r.loop.backend_name()));
    json::set(o.get(), "cgroup", json::str(c.r.manager->cgroup_mode()));
    return json_response(200, std::move(o));
}

Response ping(Ctx&) {
    return text_response(200, "OK");
}

}  // namespace routes

// ---- Router ----

Router::Router(loop::Loop& loop, manager::Manager& manager, auth::Store* store, RouterOptions options)
    : Router(loop, &manager, store, std::move(options)) {}

Router::Router(loop::Loop& loop, auth::Store* store, RouterOptions options)
    : Router(loop, nullptr, store, std::move(options)) {}

Router::Router(loop::Loop& loop, manager::Manager* manager, auth::Store* store, RouterOptions options)
    : impl_(std::make_unique<Impl>(Impl{loop, manager, store, std::move(options), CorsPolicy()})) {
    // The site's routes first, a pattern's methods in one row.
    for (auto& sr : impl_->opts.site_routes) {
        auto row = std::find_if(impl_->routes.begin(), impl_->routes.end(),
                                [&](const Route& r) { return r.pattern == sr.pattern; });
        if (row == impl_->routes.end()) {
            impl_->routes.push_back(Route{sr.pattern, sr.keyed ? Access::kKeyed : Access::kPublic, {}});
            row = impl_->routes.end() - 1;
        }
        auto fn = sr.fn;
        row->methods.push_back(MethodHandler{sr.method, [fn](Ctx& c) { return fn(c.req, c.seg, c.rights); }});
    }
    if (manager) {
        const auto& jobs = job_routes();
        impl_->routes.insert(impl_->routes.end(), jobs.begin(), jobs.end());
    }
    const auto& keys = key_routes();
    impl_->routes.insert(impl_->routes.end(), keys.begin(), keys.end());
    impl_->cors = CorsPolicy(impl_->opts.cors_origins);
    impl_->policy = ops::Policy{impl_->opts.daemon_uid, impl_->opts.daemon_gid, impl_->opts.log_root};
    if (impl_->opts.version.empty())
        impl_->opts.version = GAFFER_VERSION;
    gate_ = std::make_unique<RequestGate>(
        GateOptions{impl_->opts.allowed_hosts, impl_->opts.require_key, impl_->opts.sockjs_prefixes}, impl_->cors);
}

Router::~Router() = default;

bool Router::key_api_enabled() const {
    return impl_->key_api();
}

Response Router::error(const Request& req, int status, const char* name, const std::string& reason) const {
    Response resp = error_response(status, name, reason);
    impl_->cors.apply(req, resp);
    return resp;
}

namespace {

Response dispatch(Router::Impl& impl, const Request& req) {
    auto segs = split_path(req.path);
    const Route* route = nullptr;
    if (segs) {
        for (const auto& r : impl.routes) {
            if (matches(r.pattern, *segs)) {
                route = &r;
                break;
            }
        }
    }
    if (!route) {
        if (segs && impl.manager && is_bad_pid_path(req.path)) {
            static const std::vector<MethodHandler> kPidMethods = {
                {"HEAD", nullptr}, {"GET", nullptr}, {"DELETE", nullptr}};
            if (req.method == "OPTIONS") {
                Response resp;
                resp.status = 204;
                resp.set_header("Allow", allow_header(kPidMethods));
                return resp;
            }
            if (req.method != "GET" && req.method != "HEAD" && req.method != "DELETE") {
                Response resp = error_response(405, "method_not_allowed", "Method Not Allowed");
                resp.set_header("Allow", allow_header(kPidMethods));
                return resp;
            }
            Rights rights;
            if (auto err = resolve_rights(impl, req, &rights))
                return *err;
            return error_response(400, "bad_value", "the pid must be a decimal number");
        }
        return error_response(404, "not_found", "no such resource");
    }
    if (route->access == Access::kBasic || route->access == Access::kKeyApi) {
        if (!impl.key_api())
            return error_response(404, "not_found", "the key API is disabled (require_key is off)");
    }
    if (req.method == "OPTIONS") {
        Response resp;
        resp.status = 204;
        resp.set_header("Allow", allow_header(route->methods));
        return resp;
    }
    const std::function<Response(Ctx&)>* fn = nullptr;
    for (const auto& m : route->methods) {
        if (req.method == m.method)
            fn = &m.fn;
    }
    if (!fn) {
        Response resp = error_response(405, "method_not_allowed", "Method Not Allowed");
        resp.set_header("Allow", allow_header(route->methods));
        return resp;
    }
    Ctx ctx{impl, req, *segs, Rights{}};
    if (route->access == Access::kKeyed || route->access == Access::kKeyApi) {
        if (auto err = resolve_rights(impl, req, &ctx.rights)) {
            // HEAD /users/<u>: callers without rights learn nothing, not even that the user
            // exists (§9.3).
            if (req.method == "HEAD" && segs->size() == 2 && (*segs)[0] == "users") {
                return error_response(404, "not_found");
            }
            return *err;
        }
    }
    return (*fn)(ctx);
}

}  // namespace

Response Router::handle(const Request& req) {
    Response resp = dispatch(*impl_, req);
    if (resp.status == 204 || resp.status == 304) {
        resp.body.clear();
        resp.content_type.clear();
    }
    if (resp.status == 401 && (req.path == "/auth" || req.path == "/auth/")) {
        resp.set_header("WWW-Authenticate", "Basic realm=\"gaffer\"");
    }
    if (req.method == "HEAD")
        resp.body.clear();
    impl_->cors.apply(req, resp);
    return resp;
}

std::optional<Response> Router::rights_for(const Request& req, Rights* out) const {
    return resolve_rights(*impl_, req, out);
}

void Router::apply_cors(const Request& req, Response& resp) const {
    impl_->cors.apply(req, resp);
}

ops::Context Router::ops_context() const {
    return impl_->ops_context();
}

std::optional<Response> Router::screen(const Request& req) const {
    auto refused = gate_->screen(req);
    if (refused)
        impl_->cors.apply(req, *refused);
    return refused;
}

bool Router::origin_may_act(const Request& req, std::string_view origin) const {
    return gate_->origin_may_act(req, origin);
}

}  // namespace gaffer::http
