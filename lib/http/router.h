// SPDX-License-Identifier: MIT
// Router: maps a Request to a Response for every route of the gaffer HTTP API (reference
// §1.1 rows 1–25, 29–35, E1 and the 0.4 routes of §1.2/§4.3 without streams and watch).
// It is the adapter layer of architecture.md: parse, check rights, call the Manager,
// encode. It never touches a process, a socket or a file itself.
//
// Order of the checks for every request (each step can answer and stop):
//   1. route lookup: unknown URL → 404 JSON; a known URL with a wrong method → 405 JSON
//      with an Allow header;
//   2. OPTIONS → 204 with Allow (a preflight never needs a key);
//   3. rights (security-defaults.md): unix-socket peers by uid, loopback TCP without
//      require_key with full rights, otherwise X-Api-Key (missing → 401, unknown → 403);
//   4. the route's permission (§9.5) → 403, before anything is changed;
//   5. body validation → 4xx, before anything is changed;
//   6. the manager call; its errors go through manager::map_error, the one table.
// CORS headers are added to every response, errors included, for a listed Origin.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/http/request.h"
#include "lib/json/json.h"
#include "lib/ops/operations.h"

namespace gaffer::auth {
class Store;
}
namespace gaffer::loop {
class Loop;
}
namespace gaffer::manager {
class Manager;
}
namespace gaffer::model {
struct JobName;
struct JobSpec;
}  // namespace gaffer::model

namespace gaffer::http {

using Rights = ops::Caller;
class RequestGate;

// A route of another site served through the router (gaffer_lookupd's queries): matched,
// answered 405/OPTIONS and given the caller's rights like the router's own routes.
struct SiteRoute {
    std::string pattern;  // segments: a literal or "*" (any one segment); "" is the root
    bool keyed = true;    // false: public, never a key
    std::string method;   // one route per method; rows with the same pattern share the Allow
    std::function<Response(const Request& req, const std::vector<std::string>& seg, const Rights& rights)> fn;
};

// The answers of every site, in the API's shapes.
Response json_response(int status, json::JsonPtr body);
Response text_response(int status, std::string text);
// {"error": name, "errno": status[, "reason": reason]}
Response error_response(int status, std::string_view name, std::string_view reason = {});

struct RouterOptions {
    std::vector<std::string> cors_origins;
    // Keys on every TCP endpoint, and the key API routes (/auth, /keys*, /users*).
    // Without it those routes answer 404 (§9.4).
    bool require_key = false;
    uid_t daemon_uid = 0;
    gid_t daemon_gid = 0;
    // [gaffer] log_root: the directory beneath which callers without full rights may
    // put log files (absolute, no trailing '/'); empty: they may set none.
    std::string log_root;
    // Lifetime of the keys GET /auth mints (security-defaults.md).
    std::chrono::seconds auth_key_ttl = std::chrono::hours(12);
    std::string version;  // empty: GAFFER_VERSION
    // [gaffer] allowed_hosts: further names the Host header may give (lib/http/gate.h).
    std::vector<std::string> allowed_hosts;
    // Routes of the site, matched before the router's own.
    std::vector<SiteRoute> site_routes;
    // The prefixes of the site's SockJS servers (lib/http/gate.h checks 3 and 4).
    std::vector<std::string> sockjs_prefixes = {"/channel"};
};

class Router {
public:
    // `store` may be null (no state directory): keys are then unknown and the key API is
    // absent. The referenced objects must outlive the router.
    Router(loop::Loop& loop, manager::Manager& manager, auth::Store* store, RouterOptions options);
    // A router without gafferd's job routes (another site, gaffer_lookupd): the key API
    // and options.site_routes only.
    Router(loop::Loop& loop, auth::Store* store, RouterOptions options);
    ~Router();
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    Response handle(const Request& req);

    // The checks of lib/http/gate.h on a request's head, before its body is read:
    // nullopt when it may go on, else the refusal (with the CORS headers it earns).
    std::optional<Response> screen(const Request& req) const;
    // Whether a browser page of `origin` may drive the API through `req`'s endpoint
    // (websocket and SockJS commands): the daemon's own origin, or a listed one
    // (gate.h, check 3).
    bool origin_may_act(const Request& req, std::string_view origin) const;

    // An error answer in the API's shape, with the CORS headers `req` earns: for errors
    // the server detects itself (413 body too large).
    Response error(const Request& req, int status, const char* name, const std::string& reason) const;

    bool key_api_enabled() const;

    // For the live routes (lib/http/live.h), which answer outside handle(): step 3 (the
    // caller's rights; nullopt when found, else the 401/403 answer) and the CORS headers
    // `req` earns.
    std::optional<Response> rights_for(const Request& req, Rights* out) const;
    void apply_cors(const Request& req, Response& resp) const;
    // For the channel's commands, which run operations outside handle(): the manager and
    // the rules for jobs of callers without full rights (lib/ops/operations.h).
    ops::Context ops_context() const;

    struct Impl;

private:
    Router(loop::Loop& loop, manager::Manager* manager, auth::Store* store, RouterOptions options);

    std::unique_ptr<Impl> impl_;
    std::unique_ptr<RequestGate> gate_;
};

}  // namespace gaffer::http
