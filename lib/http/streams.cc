// SPDX-License-Identifier: MIT
// The Live front (see live.h): request dispatch, StreamBody (suspend/resume streaming
// bodies) and the HTTP feeds: GET /streams/<pid>/<label>, POST /streams/<pid>/stdin
// (reference §4.1), GET /watch[/...] (§4.2) and the feed= variants of /stats (§4.3).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "lib/base/c_handle.h"
#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/events/event_bus.h"
#include "lib/http/handlers.h"
#include "lib/http/live.h"
#include "lib/http/router.h"
#include "lib/http/sockjs_app.h"
#include "lib/http/upgrade.h"
#include "lib/io/stream_format.h"
#include "lib/manager/manager.h"

namespace gaffer::http {

namespace {

// Per-subscriber queue (security-defaults.md "Bounded resources").
constexpr size_t kStreamQueueBytes = 1 << 20;
constexpr size_t kReaderBlock = 64 * 1024;
constexpr auto kStatsPeriod = std::chrono::milliseconds(100);

using MhdResponsePtr = CPtr<MHD_Response, MHD_destroy_response>;

}  // namespace

// ---- helpers ----

std::vector<std::string> live_segments(std::string_view path) {
    std::vector<std::string> segs;
    for (auto& s : split_any(path, "/")) {
        if (!s.empty())
            segs.push_back(std::move(s));
    }
    return segs;
}

std::optional<std::chrono::seconds> parse_heartbeat(std::optional<std::string_view> v) {
    if (!v || *v == "true" || v->empty())
        return std::chrono::seconds(60);
    if (*v == "false")
        return std::chrono::seconds(0);
    auto n = parse_int(*v);
    if (!n || *n < 0 || *n > 86400 * 365)
        return std::nullopt;
    return std::chrono::seconds(*n);
}

// ---- StreamBody ----

StreamBody::StreamBody(LiveBase& live, MHD_Connection* conn, size_t max_bytes,
                       std::function<std::string(uint64_t)> marker)
    : live_(live), conn_(conn), queue_(max_bytes), marker_(std::move(marker)) {
    live_.add_stream(this);
}

StreamBody::~StreamBody() {
    unwatch_peer();
    if (hb_timer_)
        live_.loop().cancel_timer(hb_timer_);
    for (auto& fn : cleanups_) fn();
    live_.remove_stream(this);
}

void StreamBody::push(std::string data) {
    if (finishing_ || aborted_)
        return;
    // Longpoll: one chunk of data, then the end.
    if (longpoll_ && (got_data_ || !queue_.empty()))
        return;
    (void)queue_.push(std::move(data));
    wake();
}

void StreamBody::push_control(std::string data) {
    if (finishing_ || aborted_ || !control_.empty())
        return;
    control_ = std::move(data);
    wake();
}

void StreamBody::finish() {
    finishing_ = true;
    wake();
}

void StreamBody::abort() {
    aborted_ = true;
    wake();
}

void StreamBody::set_heartbeat(std::chrono::seconds period) {
    hb_period_ = period;
    arm_heartbeat();
}

void StreamBody::arm_heartbeat() {
    if (hb_period_.count() <= 0)
        return;
    hb_timer_ = live_.loop().add_timer(hb_period_, [this] {
        hb_timer_ = 0;
        push_control("\n");
        arm_heartbeat();
    });
}

void StreamBody::wake() {
    if (!suspended_)
        return;
    suspended_ = false;
    unwatch_peer();
    MHD_resume_connection(conn_);
    live_.kick(conn_);
}

void StreamBody::watch_peer() {
    if (peer_watch_)
        return;
    const MHD_ConnectionInfo* ci = MHD_get_connection_info(conn_, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    int fd = ci->connect_fd;
    auto w = live_.loop().watch(fd, POLLIN | POLLRDHUP, [this, fd](uint32_t) {
        char c;
        ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            // The client went away: end the body so that MHD closes the connection and
            // frees it (and with it the subscription).
            aborted_ = true;
            wake();
        } else if (n > 0) {
            // Pipelined bytes: MHD reads them later; stop looking (level-triggered).
            unwatch_peer();
        }
    });
    if (w)
        peer_watch_ = *w;
}

void StreamBody::unwatch_peer() {
    if (peer_watch_) {
        live_.loop().unwatch(peer_watch_);
        peer_watch_ = 0;
    }
}

ssize_t StreamBody::read_cb(void* cls, uint64_t, char* buf, size_t max) {
    return static_cast<StreamBody*>(cls)->read(buf, max);
}

void StreamBody::free_cb(void* cls) {
    std::unique_ptr<StreamBody> self(static_cast<StreamBody*>(cls));
}

ssize_t StreamBody::read(char* buf, size_t max) {
    if (aborted_)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    while (cur_off_ >= cur_.size()) {
        cur_.clear();
        cur_off_ = 0;
        if (!control_.empty()) {
            cur_ = std::move(control_);
            control_.clear();
        } else if (uint64_t n = queue_.take_dropped()) {
            cur_ = marker_(n);
        } else if (auto c = queue_.pop()) {
            cur_ = std::move(*c);
            if (longpoll_)
                finishing_ = true;
            got_data_ = true;
        } else if (finishing_) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        } else {
            // Nothing to send: sleep until a push (no busy polling).
            suspended_ = true;
            MHD_suspend_connection(conn_);
            watch_peer();
            return 0;
        }
    }
    size_t n = std::min(max, cur_.size() - cur_off_);
    std::memcpy(buf, cur_.data() + cur_off_, n);
    cur_off_ += n;
    return static_cast<ssize_t>(n);
}

MHD_Response* StreamBody::make_response() {
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, kReaderBlock, &StreamBody::read_cb, this,
                                             &StreamBody::free_cb);
}

// ---- LiveBase ----

LiveBase::LiveBase(loop::Loop& loop, Router& router, auth::Store* store, bool require_key)
    : loop_(loop), router_(router), store_(store), require_key_(require_key) {
    if (store_) {
        store_watch_ = store_->on_change([this] { arm_expiry(); });
        arm_expiry();
    }
}

void LiveBase::arm_expiry() {
    if (expiry_timer_)
        loop_.cancel_timer(expiry_timer_);
    expiry_timer_ = 0;
    auto next = store_ ? store_->next_expiry() : std::nullopt;
    if (!next || shut_)
        return;
    int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    // Whole seconds (expires_at is in seconds); never less than one, so a clock that
    // disagrees cannot make this spin.
    auto after = std::chrono::seconds(std::max<int64_t>(*next - now, 0) + 1);
    expiry_timer_ = loop_.add_timer(after, [this] {
        expiry_timer_ = 0;
        uint64_t before = store_->generation();
        if (Status st = store_->prune_expired(); !st)
            log_warning("auth: pruning expired keys: %s", st.error().message().c_str());
        if (store_->generation() == before)
            arm_expiry();  // nothing changed, so no callback re-armed it
    });
}

bool LiveBase::reresolve(const Request& req, Rights* out) const {
    return !router_.rights_for(req, out) && out->key;
}

uint64_t LiveBase::on_store_change(std::function<void()> fn) {
    return store_ ? store_->on_change(std::move(fn)) : 0;
}

void LiveBase::cancel_store_change(uint64_t id) {
    if (store_ && id)
        store_->cancel_on_change(id);
}

void LiveBase::end_on_revocation(StreamBody* body, const Request& req, const Rights& rights,
                                 std::function<bool(const Rights&)> allowed) {
    if (!store_ || !rights.key)
        return;
    // The body may outlive Live (MHD frees it), so the callbacks hold the store and the
    // router, which outlive the endpoints (server.cc), not Live.
    auth::Store* store = store_;
    Router* router = &router_;
    auto ended = std::make_shared<bool>(false);
    uint64_t id = store->on_change([body, req, router, allowed, ended] {
        if (*ended)
            return;
        Rights now;
        if (router->rights_for(req, &now) || !now.key || !allowed(now)) {
            *ended = true;
            body->finish();
        }
    });
    body->on_destroy([store, id] { store->cancel_on_change(id); });
}

LiveBase::~LiveBase() {
    LiveBase::shutdown();
    *alive_ = false;
}

void LiveBase::shutdown() {
    if (shut_)
        return;
    shut_ = true;
    cancel_store_change(store_watch_);
    store_watch_ = 0;
    if (expiry_timer_)
        loop_.cancel_timer(expiry_timer_);
    expiry_timer_ = 0;
    // Websockets first: their handlers may hold subscriptions.
    auto ws = std::move(ws_);
    ws_.clear();
    ws.clear();
    // MHD must not stop with suspended connections: resume them; the bodies end.
    std::set<StreamBody*> streams = streams_;
    for (StreamBody* s : streams) s->abort();
}

// ---- Live ----

Live::Live(loop::Loop& loop, manager::Manager& manager, events::EventBus& bus, Router& router, auth::Store* store,
           bool require_key)
    : LiveBase(loop, router, store, require_key), manager_(manager), bus_(bus) {
    sockjs_ = std::make_unique<sockjs_app::SockjsServer>(
        *this, "/channel", [this](const Request& req, sockjs_app::ChannelTransport transport) {
            return std::unique_ptr<sockjs_app::SockjsApp>(
                std::make_unique<sockjs_app::ChannelApp>(*this, req, std::move(transport)));
        });
}

Live::~Live() {
    Live::shutdown();
}

void Live::shutdown() {
    // The SockJS sessions first: their applications hold subscriptions.
    sockjs_.reset();
    LiveBase::shutdown();
}

sockjs_app::SockjsServer& Live::sockjs() {
    return *sockjs_;
}

void LiveBase::adopt_ws(std::unique_ptr<WsConn> ws) {
    WsConn* p = ws.get();
    ws_.emplace(p, std::move(ws));
}

void LiveBase::release_ws(WsConn* ws) {
    std::weak_ptr<bool> alive = alive_;
    loop_.post([this, alive, ws] {
        if (alive.expired())
            return;
        ws_.erase(ws);
    });
}

MHD_Result LiveBase::send(MHD_Connection* conn, const Request& req, Response resp) {
    router_.apply_cors(req, resp);
    if (req.method == "HEAD")
        resp.body.clear();
    MhdResponsePtr r(
        MHD_create_response_from_buffer(resp.body.size(), const_cast<char*>(resp.body.data()), MHD_RESPMEM_MUST_COPY));
    if (!r)
        return MHD_NO;
    for (const auto& [k, v] : resp.headers) (void)MHD_add_response_header(r.get(), k.c_str(), v.c_str());
    if (!resp.content_type.empty())
        (void)MHD_add_response_header(r.get(), MHD_HTTP_HEADER_CONTENT_TYPE, resp.content_type.c_str());
    return MHD_queue_response(conn, static_cast<unsigned>(resp.status), r.get());
}

MHD_Result LiveBase::send_stream(MHD_Connection* conn, const Request& req, int status, const std::string& content_type,
                                 std::unique_ptr<StreamBody> body) {
    return send_stream_head(conn, req, status, content_type, {{MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache"}},
                            std::move(body));
}

MHD_Result LiveBase::send_stream_head(MHD_Connection* conn, const Request& req, int status,
                                      const std::string& content_type,
                                      const std::vector<std::pair<std::string, std::string>>& headers,
                                      std::unique_ptr<StreamBody> body) {
    MhdResponsePtr r(body->make_response());
    if (!r)
        return MHD_NO;
    (void)body.release();  // MHD's free callback owns it now
    Response head;
    router_.apply_cors(req, head);
    for (const auto& [k, v] : head.headers) (void)MHD_add_response_header(r.get(), k.c_str(), v.c_str());
    if (!content_type.empty())
        (void)MHD_add_response_header(r.get(), MHD_HTTP_HEADER_CONTENT_TYPE, content_type.c_str());
    for (const auto& [k, v] : headers) (void)MHD_add_response_header(r.get(), k.c_str(), v.c_str());
    return MHD_queue_response(conn, static_cast<unsigned>(status), r.get());
}

std::optional<MHD_Result> Live::handle(MHD_Connection* conn, const Request& req) {
    if (shut())
        return std::nullopt;
    std::vector<std::string> seg = live_segments(req.path);
    if (seg.empty())
        return std::nullopt;
    if (seg[0] == "streams" && seg.size() == 3)
        return handle_streams(conn, req, seg);
    if (seg[0] == "watch" && seg.size() <= 4)
        return handle_watch(conn, req, seg);
    if (seg[0] == "stats" && seg.size() <= 3 && req.method == "GET") {
        auto feed = req.query_value("feed");
        if (feed && (*feed == "longpoll" || *feed == "eventsource" || *feed == "continuous"))
            return handle_stats_feed(conn, req);
        return std::nullopt;
    }
    if (seg.size() >= 2 && seg.size() <= 3 && seg[1] == "channel" && is_number_segment(seg[0]))
        return handle_channel(conn, req, seg);
    if (seg[0] == "wstreams" && seg.size() == 2)
        return handle_wstreams(conn, req, seg);
    if (seg[0] == "channel")
        return handle_sockjs(conn, req);
    return std::nullopt;
}

std::optional<MHD_Result> Live::handle_streams(MHD_Connection* conn, const Request& req,
                                               const std::vector<std::string>& seg) {
    const bool is_stdin = seg[2] == "stdin";
    const char* allow = is_stdin ? "GET, POST, OPTIONS" : "GET, OPTIONS";
    if (req.method == "OPTIONS") {
        Response r;
        r.status = 204;
        r.set_header("Allow", allow);
        return send(conn, req, std::move(r));
    }
    if (req.method != "GET" && !(req.method == "POST" && is_stdin)) {
        Response r = error_response(405, "method_not_allowed", "Method Not Allowed");
        r.set_header("Allow", allow);
        return send(conn, req, std::move(r));
    }
    Rights rights;
    if (auto e = router().rights_for(req, &rights))
        return send(conn, req, std::move(*e));
    auto pid = pid_from_segment(seg[1]);
    if (!pid)
        return send(conn, req, error_response(400, "bad_value", "the pid must be a decimal number"));

    if (req.method == "POST") {
        // The body's bytes, as they are, to the process's stdin (the `send` operation).
        json::JsonPtr pid_j = json::take(json_integer(*pid));
        json::JsonPtr data = json::take(json_stringn_nocheck(req.body.data(), req.body.size()));
        ops::Input in;
        in.pid = pid_j.get();
        in.data = data.get();
        ops::Answer a = ops::call(router().ops_context(), rights, ops::Op::kSend, in);
        if (a.ok())
            return send(conn, req, ok_response(200));
        if (a.failure->ran && a.failure->error.code == EPERM)
            return send(conn, req, error_response(403, "forbidden_write", "stdin is not redirected"));
        if (a.failure->error.code == ENOENT)
            return send(conn, req, error_response(404, "not_found"));
        return send(conn, req, op_failure(*a.failure));
    }

    auto info = manager_.process_info(*pid);
    if (!info) {
        // Rights first: without rights on every job, an unknown pid is a 403 like a pid of
        // someone else's job, so a caller learns nothing of which pids exist.
        if (!rights.perms.can_read("*"))
            return send(conn, req, forbidden("permission on the job of process " + seg[1] + " required"));
        return send(conn, req, error_response(404, "not_found"));
    }
    const std::string job = info->job.qualified();

    if (!rights.perms.can_read(job))
        return send(conn, req, forbidden("read permission on '" + job + "' required"));
    std::string feed(req.query_value("feed").value_or("longpoll"));
    auto hb = parse_heartbeat(req.query_value("heartbeat"));
    if (!hb)
        return send(conn, req, error_response(400, "bad_value", "heartbeat must be true, false or a number"));
    // gafferd extension: backlog=<bytes> sends up to that many of the most recent bytes
    // first (each stream keeps 64 KiB). With the longpoll feed the answer is then that
    // snapshot alone (possibly empty) and ends at once.
    std::optional<size_t> backlog;
    if (auto v = req.query_value("backlog")) {
        if (v->empty() || v->size() > 12 || v->find_first_not_of("0123456789") != std::string_view::npos)
            return send(conn, req, error_response(400, "bad_value", "backlog must be a number of bytes"));
        auto n = parse_int(*v);
        if (!n)
            return send(conn, req, error_response(400, "bad_value", "backlog must be a number of bytes"));
        backlog = static_cast<size_t>(std::min<int64_t>(*n, static_cast<int64_t>(kStreamQueueBytes)));
    }
    const bool sse = feed == "eventsource";
    const bool continuous = sse || feed == "continuous";
    const std::string label = seg[2];
    auto body = std::make_unique<StreamBody>(*this, conn, kStreamQueueBytes,
                                             sse ? std::function<std::string(uint64_t)>(&io::sse_dropped)
                                                 : std::function<std::string(uint64_t)>(&io::dropped_line));
    if (!continuous)
        body->end_after_first_data();
    StreamBody* b = body.get();
    if (backlog && !continuous) {
        auto snap = manager_.stream_backlog(*pid, label, *backlog);
        if (!snap)
            return send(conn, req, manager_error(snap.error()));
        if (!snap->empty())
            b->push(std::move(*snap));
        b->finish();
        return send_stream(conn, req, 200, "application/octet-stream", std::move(body));
    }
    auto sub = manager_.subscribe_output(
        *pid, label,
        [b, sse, label](std::string_view data) {
            if (sse)
                b->push(io::sse_event(label, data));
            else
                b->push(std::string(data));
        },
        [b] { b->finish(); });
    if (!sub)
        return send(conn, req, manager_error(sub.error()));
    manager::Manager::OutputSubId id = *sub;
    manager::Manager* m = &manager_;
    b->on_destroy([m, id] { m->unsubscribe_output(id); });
    end_on_revocation(b, req, rights, [job](const Rights& r) { return r.perms.can_read(job); });
    if (backlog) {
        // Same loop turn as the subscription: no chunk can arrive in between, so the
        // backlog and the live data neither overlap nor leave a gap.
        auto past = manager_.stream_backlog(*pid, label, *backlog);
        if (!past)
            return send(conn, req, manager_error(past.error()));
        if (!past->empty())
            b->push(sse ? io::sse_event(label, *past) : std::move(*past));
    }
    b->set_heartbeat(*hb);
    return send_stream(conn, req, 200, sse ? "text/event-stream" : "application/octet-stream", std::move(body));
}

std::optional<MHD_Result> Live::handle_watch(MHD_Connection* conn, const Request& req,
                                             const std::vector<std::string>& seg) {
    if (req.method != "GET") {
        Response r = error_response(405, "method_not_allowed", "Method Not Allowed");
        r.set_header("Allow", "GET");
        return send(conn, req, std::move(r));
    }
    Rights rights;
    if (auto e = router().rights_for(req, &rights))
        return send(conn, req, std::move(*e));
    if (!rights.perms.manage_all())
        return send(conn, req, forbidden("manage permission on every job required"));
    auto hb = parse_heartbeat(req.query_value("heartbeat"));
    if (!hb)
        return send(conn, req, error_response(400, "bad_value", "heartbeat must be true, false or a number"));
    // The segments joined with '.', or "." (every event) without any.
    std::string pattern(1, '.');
    if (seg.size() > 1) {
        pattern = seg[1];
        for (size_t i = 2; i < seg.size(); ++i) pattern.append(1, '.').append(seg[i]);
    }
    const bool sse = req.query_value("feed").value_or("") == "eventsource";
    auto body = std::make_unique<StreamBody>(*this, conn, kStreamQueueBytes,
                                             sse ? std::function<std::string(uint64_t)>(&io::sse_dropped)
                                                 : std::function<std::string(uint64_t)>(&io::dropped_line));
    if (!sse)
        body->end_after_first_data();
    StreamBody* b = body.get();
    events::EventBus::SubId id = bus_.subscribe(pattern, [b, sse](const std::string& type, const json_t* msg) {
        std::string text = msg ? json::dump(msg) : "{}";
        if (sse)
            b->push(io::sse_event(type, text));
        else
            b->push(text + "\r\n");
    });
    events::EventBus* bus = &bus_;
    b->on_destroy([bus, id] { bus->unsubscribe(id); });
    end_on_revocation(b, req, rights, [](const Rights& r) { return r.perms.manage_all(); });
    b->set_heartbeat(*hb);
    return send_stream(conn, req, 200, sse ? "text/event-stream" : "application/json", std::move(body));
}

std::optional<MHD_Result> Live::handle_stats_feed(MHD_Connection* conn, const Request& req) {
    // The plain answer first: permissions, unknown names and pids answer as without feed=.
    Response first = router().handle(req);
    if (first.status != 200)
        return send(conn, req, std::move(first));
    auto hb = parse_heartbeat(req.query_value("heartbeat"));
    if (!hb)
        return send(conn, req, error_response(400, "bad_value", "heartbeat must be true, false or a number"));
    const std::string_view feed = req.query_value("feed").value_or("");
    const bool sse = feed == "eventsource";
    auto body = std::make_unique<StreamBody>(*this, conn, kStreamQueueBytes,
                                             sse ? std::function<std::string(uint64_t)>(&io::sse_dropped)
                                                 : std::function<std::string(uint64_t)>(&io::dropped_line));
    StreamBody* b = body.get();
    if (!sse && feed != "continuous") {
        body->end_after_first_data();
        b->push(first.body + "\r\n");
        return send_stream(conn, req, 200, "application/json", std::move(body));
    }
    // eventsource: one `stat` event per period; continuous: one JSON document per period,
    // each followed by CRLF (no SSE framing).
    auto frame = [sse](const std::string& doc) { return sse ? io::sse_event("stat", doc) : doc + "\r\n"; };
    b->push(frame(first.body));
    // A timer only while this client is connected: the state lives with the body.
    struct Ticker {
        Live* live;
        Request req;
        StreamBody* body;
        std::function<std::string(const std::string&)> frame;
        loop::Loop::TimerId timer = 0;
        void arm() {
            timer = live->loop().add_timer(kStatsPeriod, [this] {
                timer = 0;
                Response r = live->router().handle(req);
                if (r.status != 200) {
                    body->finish();
                    return;
                }
                body->push(frame(r.body));
                arm();
            });
        }
    };
    auto ticker = std::make_shared<Ticker>(Ticker{this, req, b, frame, 0});
    ticker->arm();
    loop::Loop* lp = &loop();
    b->on_destroy([ticker, lp] {
        if (ticker->timer)
            lp->cancel_timer(ticker->timer);
    });
    // Every tick asks the router again; a revoked key ends the feed at once as well.
    Rights rights;
    (void)router().rights_for(req, &rights);
    end_on_revocation(b, req, rights, [](const Rights&) { return true; });
    b->set_heartbeat(*hb);
    return send_stream(conn, req, 200, sse ? "text/event-stream" : "application/json", std::move(body));
}

}  // namespace gaffer::http
