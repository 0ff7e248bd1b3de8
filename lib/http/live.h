// SPDX-License-Identifier: MIT
// Live: the routes that do not fit one request → one response (reference §4.1 streams,
// §4.2 watch, §4.3 /stats feed=, §5.1 V1 channel, §4.1 /wstreams, §5.2 SockJS /channel).
// Files: streams.cc (streams, watch, feeds), stdio_sockets.cc (the per-process stdio
// websockets: V1 /<pid>/channel and /wstreams), sockjs_routes.cc (SockJS /channel).
// Internal to lib/http and the sites built on it (LiveBase, lib/lookupd). The server
// (server.cc) offers every complete request to the site's live handler before the
// router (site.h); Live answers gafferd's live routes and leaves the rest.
//
// Two kinds of long-lived connections, both driven by the loop (no threads, no polling):
// - StreamBody: a streaming HTTP body (MHD_create_response_from_callback). When it has
//   nothing to send the MHD connection is suspended; a push resumes it. While suspended
//   the socket is watched for EOF so that a client that goes away releases its
//   subscription at once (MHD does not notice disconnects of suspended connections).
//   Owned by its MHD response (freed by MHD's free callback).
// - WsConn (upgrade.h): the raw socket MHD hands over after a 101, owned by Live.
//
// Rights of long-lived sessions (issue 11 §3): a session opened or authenticated with a
// key re-resolves that key against the current store (Router::rights_for: one SHA-256 and
// a hash probe) before every command, and at every change of the store (Store::on_change,
// no polling): a revoked, expired or deleted key ends the session, and subscriptions the
// new rights no longer cover end. Live prunes expired keys when the store's next expiry
// passes (one timer), so an expiry is a change like a revocation.
//
// Invariants: every queue a client can fill is bounded (StreamBody: a BoundedQueue with
// the §16 dropped marker; WsConn: an outgoing cap past which the connection is closed);
// every subscription (manager output, event bus, timers) is released by the destructor of
// the object that made it; Live::shutdown() resumes every suspended connection and closes
// every upgraded one before the MHD daemons stop (an MHD requirement).
#pragma once

#include <microhttpd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/http/request.h"
#include "lib/io/bounded_queue.h"
#include "lib/loop/loop.h"

namespace gaffer::auth {
class Store;
}
namespace gaffer::events {
class EventBus;
}
namespace gaffer::manager {
class Manager;
}

namespace gaffer::ops {
struct Caller;
}

namespace gaffer::http {

using Rights = ops::Caller;
class Router;
class LiveBase;
class Live;
class WsConn;
namespace sockjs_app {
class SockjsServer;
}

// A streaming response body fed from the loop (see the banner).
class StreamBody {
public:
    // `max_bytes`: the subscriber's queue. `marker(n)`: the §16 text for n dropped bytes.
    StreamBody(LiveBase& live, MHD_Connection* conn, size_t max_bytes, std::function<std::string(uint64_t)> marker);
    ~StreamBody();
    StreamBody(const StreamBody&) = delete;
    StreamBody& operator=(const StreamBody&) = delete;

    // Queues formatted data (bounded: dropped and counted when full).
    void push(std::string data);
    // Small control bytes (heartbeats) that bypass the queue; at most one pending.
    void push_control(std::string data);
    // The body ends once everything queued was sent. With `after_first_data` (longpoll),
    // it ends right after the next data chunk instead.
    void finish();
    void end_after_first_data() { longpoll_ = true; }
    // Sends a heartbeat "\n" every `period` (0: none).
    void set_heartbeat(std::chrono::seconds period);
    // Runs on destruction (to unsubscribe).
    void on_destroy(std::function<void()> fn) { cleanups_.push_back(std::move(fn)); }
    // Forgets the on_destroy functions (their owner went away first).
    void on_destroy_clear() { cleanups_.clear(); }
    // Live::shutdown: end now.
    void abort();

    // The MHD response (owns this object). Null if MHD refused.
    MHD_Response* make_response();

private:
    static ssize_t read_cb(void* cls, uint64_t pos, char* buf, size_t max);
    static void free_cb(void* cls);
    ssize_t read(char* buf, size_t max);
    void wake();
    void watch_peer();
    void unwatch_peer();
    void arm_heartbeat();

    LiveBase& live_;
    MHD_Connection* conn_;
    io::BoundedQueue queue_;
    std::function<std::string(uint64_t)> marker_;
    std::string control_;
    std::string cur_;
    size_t cur_off_ = 0;
    bool finishing_ = false;
    bool longpoll_ = false;
    bool got_data_ = false;
    bool aborted_ = false;
    bool suspended_ = false;
    loop::Loop::WatchId peer_watch_ = 0;
    loop::Loop::TimerId hb_timer_ = 0;
    std::chrono::seconds hb_period_{0};
    std::vector<std::function<void()>> cleanups_;
};

// LiveBase: what every site's live routes share (server.cc offers each complete request to
// a site's live handler before its router): sending plain and streaming answers with the
// router's CORS headers, websocket upgrades and the connections they hand over, the
// registry of streams, and the key store's change and expiry watch. gafferd's Live (below)
// and gaffer_lookupd's site (lib/lookupd) derive from it.
class LiveBase {
public:
    LiveBase(loop::Loop& loop, Router& router, auth::Store* store, bool require_key);
    virtual ~LiveBase();
    LiveBase(const LiveBase&) = delete;
    LiveBase& operator=(const LiveBase&) = delete;

    // Answers `req` if it is a live route (the MHD result of queueing the answer);
    // nullopt for every other route.
    virtual std::optional<MHD_Result> handle(MHD_Connection* conn, const Request& req) = 0;
    // Before the MHD daemons stop: closes every websocket and ends every stream. A derived
    // class releases its own connections first, then calls this.
    virtual void shutdown();
    // How to make the server run an MHD daemon soon (server.cc), and the call itself.
    void set_kick(std::function<void(MHD_Daemon*)> kick) { kick_ = std::move(kick); }
    void kick(MHD_Daemon* d) {
        if (kick_ && d)
            kick_(d);
    }
    void kick(MHD_Connection* c) {
        const MHD_ConnectionInfo* ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
        if (ci)
            kick(ci->daemon);
    }

    loop::Loop& loop() { return loop_; }
    Router& router() { return router_; }
    auth::Store* store() { return store_; }
    bool require_key() const { return require_key_; }
    bool shut() const { return shut_; }

    // Queues a plain answer (CORS applied).
    MHD_Result send(MHD_Connection* conn, const Request& req, Response resp);
    // Queues a streaming answer; the body is owned by MHD from now on.
    MHD_Result send_stream(MHD_Connection* conn, const Request& req, int status, const std::string& content_type,
                           std::unique_ptr<StreamBody> body);
    // The same with the given extra headers instead of Cache-Control: no-cache.
    MHD_Result send_stream_head(MHD_Connection* conn, const Request& req, int status, const std::string& content_type,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::unique_ptr<StreamBody> body);

    // Websocket upgrade (upgrade.cc): validates the handshake and the Origin, queues the
    // 101 and, once MHD hands over the socket, calls `open(conn)` to attach the protocol
    // handler. A refused handshake is answered with its HTTP error.
    using WsOpen = std::function<void(WsConn& ws)>;
    MHD_Result upgrade(MHD_Connection* conn, const Request& req, bool key_authenticated, WsOpen open);
    // Origin policy of security-defaults.md "Browsers".
    bool origin_allowed(const Request& req, bool key_authenticated) const;
    // Whether `req` carries an X-Api-Key that resolves (the Origin check then passes).
    bool key_authenticated(const Request& req) const;

    // For a session authenticated by a key: its rights looked up again (live.h banner);
    // false when the key of `req` no longer resolves.
    bool reresolve(const Request& req, Rights* out) const;
    // Runs `fn` after every change of the key store (0 and nothing without a store).
    uint64_t on_store_change(std::function<void()> fn);
    void cancel_store_change(uint64_t id);
    // Finishes `body` when the key of `req` (if it had one: `rights.key`) no longer
    // resolves, or its new rights fail `allowed`.
    void end_on_revocation(StreamBody* body, const Request& req, const Rights& rights,
                           std::function<bool(const Rights&)> allowed);

    // Registries.
    void add_stream(StreamBody* s) { streams_.insert(s); }
    void remove_stream(StreamBody* s) { streams_.erase(s); }
    void adopt_ws(std::unique_ptr<WsConn> ws);
    // Destroys the connection on the next loop turn (safe inside its own callbacks).
    void release_ws(WsConn* ws);
    size_t ws_count() const { return ws_.size(); }

    struct PendingUpgrade {
        LiveBase* live;
        Request req;
        WsOpen open;
    };
    std::unique_ptr<PendingUpgrade> take_upgrade(void* key);

private:
    // Prunes expired keys when the store's next expiry passes.
    void arm_expiry();

    loop::Loop& loop_;
    Router& router_;
    auth::Store* store_;
    bool require_key_;
    std::set<StreamBody*> streams_;
    std::map<WsConn*, std::unique_ptr<WsConn>> ws_;
    // Upgrade contexts between the 101 being queued and MHD handing over the socket
    // (MHD has no free callback for upgrade responses; left-overs go at shutdown).
    std::map<void*, std::unique_ptr<PendingUpgrade>> pending_upgrades_;
    bool shut_ = false;
    uint64_t store_watch_ = 0;
    loop::Loop::TimerId expiry_timer_ = 0;
    std::function<void(MHD_Daemon*)> kick_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// gafferd's live routes (see the banner).
class Live : public LiveBase {
public:
    Live(loop::Loop& loop, manager::Manager& manager, events::EventBus& bus, Router& router, auth::Store* store,
         bool require_key);
    ~Live() override;

    std::optional<MHD_Result> handle(MHD_Connection* conn, const Request& req) override;
    void shutdown() override;

    manager::Manager& manager() { return manager_; }
    events::EventBus& bus() { return bus_; }
    sockjs_app::SockjsServer& sockjs();

private:
    std::optional<MHD_Result> handle_streams(MHD_Connection* conn, const Request& req,
                                             const std::vector<std::string>& seg);
    std::optional<MHD_Result> handle_watch(MHD_Connection* conn, const Request& req,
                                           const std::vector<std::string>& seg);
    std::optional<MHD_Result> handle_stats_feed(MHD_Connection* conn, const Request& req);
    std::optional<MHD_Result> handle_channel(MHD_Connection* conn, const Request& req,
                                             const std::vector<std::string>& seg);
    std::optional<MHD_Result> handle_wstreams(MHD_Connection* conn, const Request& req,
                                              const std::vector<std::string>& seg);
    std::optional<MHD_Result> handle_sockjs(MHD_Connection* conn, const Request& req);

    manager::Manager& manager_;
    events::EventBus& bus_;
    std::unique_ptr<sockjs_app::SockjsServer> sockjs_;
};

// Path segments of a request ("/a/b/" → {"a","b"}).
std::vector<std::string> live_segments(std::string_view path);
// The heartbeat query value: absent or "true" → 60 s, "false"/"0" → none, N → N s;
// nullopt when not a number (400).
std::optional<std::chrono::seconds> parse_heartbeat(std::optional<std::string_view> v);

}  // namespace gaffer::http
