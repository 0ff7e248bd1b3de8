// SPDX-License-Identifier: MIT
// The gaffer_lookupd site; see site.h.
#include "lib/lookupd/site.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lib/auth/store.h"
#include "lib/base/log.h"
#include "lib/http/live.h"
#include "lib/http/router.h"
#include "lib/http/server.h"
#include "lib/http/sockjs_app.h"
#include "lib/http/upgrade.h"
#include "lib/loop/loop.h"
#include "lib/ws/websocket.h"

#if __has_include("gaffer_config.h")
#include "gaffer_config.h"
#endif
#ifndef GAFFER_VERSION
#define GAFFER_VERSION "0.0.0"
#endif

namespace gaffer::lookupd {

namespace {

using http::Request;
using http::Response;
using http::Rights;
using http::sockjs_app::ChannelTransport;

// The shortest expiry period, so that a tiny heartbeat cannot make the timer spin.
constexpr auto kMinExpiryPeriod = std::chrono::milliseconds(50);

class LookupLive;

// One subscriber of the event feed (a SockJS session or a raw /lookup/websocket).
class FeedApp : public http::sockjs_app::SockjsApp {
public:
    // `req`: the opening request; a session opened with a key ends when the key no
    // longer resolves (revoked, expired, deleted).
    FeedApp(LookupLive& live, const Request& req, ChannelTransport transport);
    ~FeedApp() override;
    FeedApp(const FeedApp&) = delete;
    FeedApp& operator=(const FeedApp&) = delete;

    void on_message(std::string_view) override {}  // client messages are ignored (§13.4)
    // Sends `message`, or cuts the subscriber off when its backlog would pass `limit`.
    void deliver(const std::string& message, std::size_t limit);

private:
    LookupLive& live_;
    Request req_;
    ChannelTransport transport_;
    bool cut_ = false;
    uint64_t store_watch_ = 0;
};

class LookupLive : public http::LiveBase {
public:
    LookupLive(loop::Loop& loop, http::Router& router, auth::Store* store, bool require_key, lookup::Registry& registry,
               SiteOptions opts)
        : LiveBase(loop, router, store, require_key), registry_(registry), opts_(std::move(opts)) {
        sockjs_ = std::make_unique<http::sockjs_app::SockjsServer>(
            *this, "/lookup", [this](const Request& req, ChannelTransport transport) {
                return std::unique_ptr<http::sockjs_app::SockjsApp>(
                    std::make_unique<FeedApp>(*this, req, std::move(transport)));
            });
        registry_.set_event_sink([this](json::JsonPtr event) { publish(event.get()); });
        arm_expiry();
    }

    ~LookupLive() override {
        LookupLive::shutdown();
        registry_.set_event_sink(nullptr);
    }

    std::optional<MHD_Result> handle(MHD_Connection* conn, const Request& req) override {
        if (shut())
            return std::nullopt;
        std::vector<std::string> seg = http::live_segments(req.path);
        if (seg.size() == 1 && seg[0] == "ws")
            return handle_ws(conn, req);
        if (!seg.empty() && seg[0] == "lookup") {
            // The feed shows every node: any valid key when require_key (a preflight
            // never needs one).
            Rights rights;
            if (req.method != "OPTIONS") {
                if (auto refused = router().rights_for(req, &rights))
                    return send(conn, req, std::move(*refused));
            }
            return sockjs_->handle(conn, req);
        }
        return std::nullopt;
    }

    void shutdown() override {
        if (shut())
            return;
        stopping_ = true;
        if (expiry_timer_)
            loop().cancel_timer(expiry_timer_);
        expiry_timer_ = 0;
        sockjs_.reset();
        LiveBase::shutdown();  // closes the node websockets: their on_close unregisters them
    }

    void add_feed(FeedApp* f) { feeds_.insert(f); }
    void remove_feed(FeedApp* f) { feeds_.erase(f); }

private:
    std::optional<MHD_Result> handle_ws(MHD_Connection* conn, const Request& req) {
        Rights rights;
        if (auto refused = router().rights_for(req, &rights))
            return send(conn, req, std::move(*refused));
        if (!rights.perms.may_register())
            return send(conn, req, http::error_response(403, "forbidden", "the key has no register right"));
        if (registry_.connections() >= registry_.limits().max_nodes) {
            return send(conn, req,
                        http::error_response(429, "too_many_nodes",
                                             "the lookupd has " + std::to_string(registry_.limits().max_nodes) +
                                                 " node connections open"));
        }
        bool keyed = rights.key.has_value();
        return upgrade(
            conn, req, key_authenticated(req),
            [this, names = allowed_names(rights.perms), keyed](http::WsConn& ws) { open_node(ws, names, keyed); });
    }

    // The names a connection with `perms` may IDENTIFY as; nullopt: any (admin or "*").
    static std::optional<std::vector<std::string>> allowed_names(const auth::Permissions& perms) {
        const auto& reg = perms.register_names;
        if (perms.admin || std::find(reg.begin(), reg.end(), "*") != reg.end())
            return std::nullopt;
        return reg;
    }

    // A node registered with a key, after a change of the key store: the key must still
    // resolve and allow the node's name, else the connection ends (1008).
    void recheck_node(lookup::ConnId cid, http::WsConn* w) {
        Rights now;
        if (!reresolve(w->request(), &now) || !now.perms.may_register()) {
            w->close(ws::kClosePolicyViolation, "API key revoked");
            return;
        }
        if (auto names = allowed_names(now.perms); names && !registry_.set_allowed_names(cid, *names))
            w->close(ws::kClosePolicyViolation, "API key no longer allows this node");
    }

    void open_node(http::WsConn& ws, const std::optional<std::vector<std::string>>& names, bool keyed) {
        auto id = registry_.open(lookup::Clock::now());
        if (!id) {
            // Another connection took the last place between the check and the hand-over.
            ws.close(1013, "too many nodes");
            return;
        }
        lookup::ConnId cid = *id;
        if (names)
            (void)registry_.set_allowed_names(cid, *names);
        nodes_[cid] = &ws;
        http::WsConn* w = &ws;
        ws.on_message = [this, cid, w](std::string&& text) {
            std::string reply = registry_.handle(cid, text, lookup::Clock::now());
            (void)w->send_text(reply);
        };
        ws.on_binary = [w](std::string&&) { w->close(ws::kCloseUnsupportedData, "binary frames are not accepted"); };
        uint64_t watch = keyed ? on_store_change([this, cid, w] { recheck_node(cid, w); }) : 0;
        ws.on_close = [this, cid, watch] {
            cancel_store_change(watch);
            nodes_.erase(cid);
            registry_.close(cid);  // ignored when expire() already removed it
        };
    }

    void publish(const json_t* event) {
        if (stopping_ || feeds_.empty())
            return;
        std::string message = json::dump(event);
        // A copy: a subscriber cut off may leave the set.
        std::vector<FeedApp*> feeds(feeds_.begin(), feeds_.end());
        for (FeedApp* f : feeds) {
            if (feeds_.count(f))
                f->deliver(message, opts_.feed_backlog);
        }
    }

    void arm_expiry() {
        auto period = std::max<std::chrono::milliseconds>(registry_.limits().heartbeat / 2, kMinExpiryPeriod);
        expiry_timer_ = loop().add_timer(period, [this] {
            expiry_timer_ = 0;
            for (lookup::ConnId id : registry_.expire(lookup::Clock::now())) {
                auto it = nodes_.find(id);
                if (it == nodes_.end())
                    continue;
                http::WsConn* w = it->second;
                nodes_.erase(it);
                log_info("lookupd: node connection %llu expired", static_cast<unsigned long long>(id));
                w->close(ws::kCloseGoingAway, "expired");
            }
            arm_expiry();
        });
    }

    lookup::Registry& registry_;
    SiteOptions opts_;
    std::unique_ptr<http::sockjs_app::SockjsServer> sockjs_;
    std::map<lookup::ConnId, http::WsConn*> nodes_;
    std::set<FeedApp*> feeds_;
    loop::Loop::TimerId expiry_timer_ = 0;
    bool stopping_ = false;
};

FeedApp::FeedApp(LookupLive& live, const Request& req, ChannelTransport transport)
    : live_(live), req_(req), transport_(std::move(transport)) {
    live_.add_feed(this);
    Rights rights;
    if (!live_.router().rights_for(req_, &rights) && rights.key) {
        store_watch_ = live_.on_store_change([this] {
            Rights now;
            if (!cut_ && !live_.reresolve(req_, &now)) {
                cut_ = true;
                live_.remove_feed(this);
                transport_.close();
            }
        });
    }
}

FeedApp::~FeedApp() {
    live_.cancel_store_change(store_watch_);
    live_.remove_feed(this);
}

void FeedApp::deliver(const std::string& message, std::size_t limit) {
    if (cut_)
        return;
    if (transport_.backlog() + message.size() > limit) {
        // Too far behind: cut off, never buffered without end.
        cut_ = true;
        live_.remove_feed(this);
        log_info("lookupd: event feed subscriber too slow, closing");
        transport_.close();
        return;
    }
    transport_.send(message);
}

// ---- the query routes (§13.3) ----

std::vector<http::SiteRoute> routes(lookup::Registry& reg, std::string version) {
    auto ok = [](json::JsonPtr body) { return http::json_response(200, std::move(body)); };
    std::vector<http::SiteRoute> r;
    r.push_back({"", false, "GET", [version](const Request&, const std::vector<std::string>&, const Rights&) {
                     json::JsonPtr o = json::take(json_object());
                     json::set(o.get(), "welcome", json::str("gaffer-lookupd"));
                     json::set(o.get(), "version", json::str(version));
                     return http::json_response(200, std::move(o));
                 }});
    r.push_back({"ping", false, "GET", [](const Request&, const std::vector<std::string>&, const Rights&) {
                     return http::text_response(200, "OK");
                 }});
    r.push_back({"version", false, "GET", [version](const Request&, const std::vector<std::string>&, const Rights&) {
                     json::JsonPtr o = json::take(json_object());
                     json::set(o.get(), "version", json::str(version));
                     return http::json_response(200, std::move(o));
                 }});
    lookup::Registry* g = &reg;
    // The listings of a whole fleet are large (1000 jobs: 165 KB, ~10 ms to build and dump,
    // mostly malloc) and change far less often than clients ask: each is kept as text
    // until the registry's generation moves on.
    struct Cached {
        std::uint64_t generation = 0;
        std::optional<std::string> body;
    };
    auto cached = [g](std::shared_ptr<Cached> c, std::function<json::JsonPtr()> build) {
        return [g, c, build = std::move(build)](const Request&, const std::vector<std::string>&, const Rights&) {
            if (!c->body || c->generation != g->generation()) {
                c->body = json::dump(build().get());
                c->generation = g->generation();
            }
            Response resp;
            resp.status = 200;
            resp.body = *c->body;
            resp.content_type = "application/json";
            return resp;
        };
    };
    r.push_back({"nodes", true, "GET", cached(std::make_shared<Cached>(), [g] { return g->nodes(); })});
    r.push_back(
        {"sessions", true, "GET", cached(std::make_shared<Cached>(), [g] { return g->sessions(std::nullopt); })});
    r.push_back(
        {"sessions/*", true, "GET", [g, ok](const Request&, const std::vector<std::string>& seg, const Rights&) {
             return ok(g->sessions(std::string_view(seg[1])));
         }});
    r.push_back({"jobs", true, "GET", cached(std::make_shared<Cached>(), [g] { return g->jobs(); })});
    r.push_back({"findJob", true, "GET", [g, ok](const Request& req, const std::vector<std::string>&, const Rights&) {
                     auto name = req.query_value("name");
                     if (!name)
                         return http::error_response(400, "bad_request", "the 'name' query parameter is required");
                     return ok(g->find_job(*name));
                 }});
    r.push_back(
        {"findSession", true, "GET", [g, ok](const Request& req, const std::vector<std::string>&, const Rights&) {
             auto sid = req.query_value("sessionid");
             if (!sid)
                 return http::error_response(400, "bad_request", "the 'sessionid' query parameter is required");
             return ok(g->find_session(*sid));
         }});
    return r;
}

class LookupSite : public http::RouterSite {
public:
    LookupSite(const http::SiteEnv& env, lookup::Registry& registry, SiteOptions opts) {
        http::RouterOptions ropts = http::router_options(env.opts);
        ropts.version = opts.version.empty() ? std::string(GAFFER_VERSION) : opts.version;
        ropts.site_routes = routes(registry, ropts.version);
        ropts.sockjs_prefixes = {"/lookup"};
        router_ = std::make_unique<http::Router>(env.loop, env.store, std::move(ropts));
        auto live = std::make_unique<LookupLive>(env.loop, *router_, env.store, env.opts.require_key, registry,
                                                 std::move(opts));
        live->set_kick(env.kick);
        live_ = std::move(live);
    }
};

}  // namespace

http::SiteFactory site_factory(lookup::Registry& registry, SiteOptions options) {
    lookup::Registry* reg = &registry;
    return [reg, options](const http::SiteEnv& env) -> Result<std::unique_ptr<http::Site>> {
        return std::unique_ptr<http::Site>(std::make_unique<LookupSite>(env, *reg, options));
    };
}

}  // namespace gaffer::lookupd
