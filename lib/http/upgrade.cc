// SPDX-License-Identifier: MIT
// libmicrohttpd upgrade glue and WsConn; see upgrade.h and live.h.
#include "lib/http/upgrade.h"

#include <strings.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "lib/base/c_handle.h"
#include "lib/base/log.h"
#include "lib/http/handlers.h"
#include "lib/http/live.h"
#include "lib/http/router.h"

namespace gaffer::http {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Bytes read per readiness callback before giving the loop back.
constexpr size_t kReadBudget = 1 << 20;

using MhdResponsePtr = CPtr<MHD_Response, MHD_destroy_response>;

enum class Io { kMoved, kNotReady, kFailed };

// Runs `op`, a MSG_DONTWAIT recv(2) or send(2), until a signal does not interrupt it:
// kMoved with the byte count in `*n`, kNotReady when the socket would block, kFailed
// when the connection is broken.
template <typename Op>
Io nonblocking(Op op, size_t* n) {
    for (;;) {
        ssize_t r = op();
        if (r >= 0) {
            *n = static_cast<size_t>(r);
            return Io::kMoved;
        }
        if (errno != EINTR)
            return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kNotReady : Io::kFailed;
    }
}

void on_upgraded(void* cls, MHD_Connection* conn, void*, const char* extra_in, size_t extra_in_size, MHD_socket sock,
                 MHD_UpgradeResponseHandle* urh) {
    auto* key = cls;
    auto* pu = static_cast<LiveBase::PendingUpgrade*>(cls);
    LiveBase* live = pu->live;
    std::unique_ptr<LiveBase::PendingUpgrade> ctx = live->take_upgrade(key);
    if (!ctx) {
        (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    auto ws = std::make_unique<WsConn>(*live, urh, sock, std::move(ctx->req));
    WsConn* w = ws.get();
    if (const MHD_ConnectionInfo* ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON))
        w->set_daemon(ci->daemon);
    live->adopt_ws(std::move(ws));
    ctx->open(*w);
    w->start(std::string_view(extra_in ? extra_in : "", extra_in_size));
}

}  // namespace

// ---- LiveBase: upgrade ----

std::unique_ptr<LiveBase::PendingUpgrade> LiveBase::take_upgrade(void* key) {
    auto it = pending_upgrades_.find(key);
    if (it == pending_upgrades_.end())
        return nullptr;
    auto p = std::move(it->second);
    pending_upgrades_.erase(it);
    return p;
}

bool LiveBase::key_authenticated(const Request& req) const {
    Rights probe;
    return req.header("x-api-key").has_value() && !router_.rights_for(req, &probe);
}

bool LiveBase::origin_allowed(const Request& req, bool key_authenticated) const {
    auto origin = req.header("origin");
    if (!origin || key_authenticated)
        return true;
    // The daemon's own origin (that of the endpoint, never taken from Host) or a listed
    // one (lib/http/gate.h). A unix socket is reached by a browser only through a proxy,
    // which names the site in Host.
    if (req.peer.kind == EndpointKind::kUnix) {
        auto host = req.header("host");
        return (host && *origin == "http://" + std::string(*host)) || router_.origin_may_act(req, *origin);
    }
    return router_.origin_may_act(req, *origin);
}

MHD_Result LiveBase::upgrade(MHD_Connection* conn, const Request& req, bool key_authenticated, WsOpen open) {
    ws::UpgradeHeaders h;
    h.upgrade = req.header("upgrade");
    h.connection = req.header("connection");
    h.sec_websocket_key = req.header("sec-websocket-key");
    h.sec_websocket_version = req.header("sec-websocket-version");
    Status st = ws::check_upgrade_request(req.method, h);
    Result<std::string> accept = st ? ws::accept_key(*h.sec_websocket_key) : Result<std::string>(fail(st.error()));
    if (!accept) {
        ws::HandshakeRefusal r = ws::handshake_refusal(accept.error());
        Response resp;
        resp.status = r.status;
        resp.headers = r.headers;
        resp.body = r.body;
        resp.content_type = "text/plain; charset=utf-8";
        return send(conn, req, std::move(resp));
    }
    if (!origin_allowed(req, key_authenticated))
        return send(conn, req, error_response(403, "forbidden", "websocket Origin not allowed"));
    if (shut_)
        return send(conn, req, error_response(503, "unavailable", "shutting down"));
    auto ctx = std::make_unique<PendingUpgrade>(PendingUpgrade{this, req, std::move(open)});
    void* key = ctx.get();
    MhdResponsePtr r(MHD_create_response_for_upgrade(&on_upgraded, key));
    if (!r)
        return MHD_NO;
    for (const auto& [k, v] : ws::handshake_response_headers(*accept)) {
        // MHD writes "Connection: Upgrade" itself.
        if (strcasecmp(k.c_str(), "connection") == 0)
            continue;
        (void)MHD_add_response_header(r.get(), k.c_str(), v.c_str());
    }
    pending_upgrades_.emplace(key, std::move(ctx));
    return MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r.get());
}

// ---- WsConn ----

WsConn::WsConn(LiveBase& live, MHD_UpgradeResponseHandle* urh, int fd, Request req)
    : live_(live), urh_(urh), fd_(fd), req_(std::move(req)) {}

WsConn::~WsConn() {
    if (watch_)
        live_.loop().unwatch(watch_);
    watch_ = 0;
    closed_ = true;
    auto cb = std::move(on_close);
    on_close = nullptr;
    if (cb)
        cb();
    if (urh_)
        (void)MHD_upgrade_action(urh_, MHD_UPGRADE_ACTION_CLOSE);
}

void WsConn::start(std::string_view extra) {
    if (closed_)
        return;  // the protocol handler refused the connection at once: the socket is gone
    auto w = live_.loop().watch(fd_, POLLIN, [this](uint32_t revents) { on_ready(revents); });
    if (!w) {
        teardown();
        return;
    }
    watch_ = *w;
    if (!extra.empty())
        feed(extra);
    if (!closed_)
        flush();
}

bool WsConn::send_text(std::string_view text) {
    if (closed_ || closing_after_flush_)
        return false;
    if (outgoing() + text.size() > kMaxOutgoing) {
        // Too far behind: drop the peer rather than grow (security-defaults.md).
        log_debug("http: websocket peer too slow, closing");
        teardown();
        return false;
    }
    out_ += ws::encode_text(text);
    flush();
    return !closed_;
}

void WsConn::close(uint16_t code, std::string_view reason) {
    if (closed_ || closing_after_flush_)
        return;
    out_ += ws::encode_close(code, reason);
    closing_after_flush_ = true;
    flush();
}

void WsConn::on_ready(uint32_t revents) {
    if (closed_)
        return;
    if (revents & POLLOUT)
        flush();
    if (closed_)
        return;
    if (!(revents & (POLLIN | POLLERR | POLLHUP)))
        return;
    char buf[kReadChunk];
    size_t budget = kReadBudget;
    while (budget > 0 && !closed_) {
        size_t n = 0;
        Io io = nonblocking([&] { return ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT); }, &n);
        if (io == Io::kNotReady)
            break;
        if (io == Io::kFailed || n == 0) {
            teardown();
            return;
        }
        budget -= std::min(budget, n);
        if (closing_after_flush_ || decoder_.finished())
            continue;  // discard what comes after our close
        feed(std::string_view(buf, n));
        if (closed_)
            return;
        flush();
    }
}

void WsConn::feed(std::string_view bytes) {
    decoder_.feed(bytes, [this](ws::Event&& ev) {
        if (closed_)
            return;
        if (auto* m = std::get_if<ws::Message>(&ev)) {
            if (closing_after_flush_)
                return;
            if (m->opcode == ws::Opcode::kBinary && on_binary)
                on_binary(std::move(m->payload));
            else if (on_message)
                on_message(std::move(m->payload));
        } else if (auto* p = std::get_if<ws::Ping>(&ev)) {
            out_ += ws::encode_pong(p->payload);
        } else if (auto* c = std::get_if<ws::Close>(&ev)) {
            if (!closing_after_flush_) {
                out_ += ws::close_reply(*c);
                closing_after_flush_ = true;
            }
        } else if (auto* e = std::get_if<ws::ProtocolError>(&ev)) {
            if (!closing_after_flush_) {
                out_ += ws::encode_close(e->close_code, e->why);
                closing_after_flush_ = true;
            }
        }
    });
}

void WsConn::flush() {
    while (!closed_ && out_off_ < out_.size()) {
        size_t n = 0;
        Io io = nonblocking(
            [&] { return ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT); },
            &n);
        if (io == Io::kNotReady)
            break;
        if (io == Io::kFailed) {
            teardown();
            return;
        }
        out_off_ += n;
    }
    if (closed_)
        return;
    if (out_off_ >= out_.size()) {
        out_.clear();
        out_off_ = 0;
    } else if (out_off_ > (1 << 16) && out_off_ * 2 > out_.size()) {
        out_.erase(0, out_off_);
        out_off_ = 0;
    }
    bool pending = out_off_ < out_.size();
    if (!pending && closing_after_flush_) {
        ::shutdown(fd_, SHUT_WR);
        teardown();
        return;
    }
    if (watch_ && pending != want_write_) {
        want_write_ = pending;
        (void)live_.loop().modify(watch_, pending ? (POLLIN | POLLOUT) : POLLIN);
    }
}

void WsConn::teardown() {
    if (closed_)
        return;
    closed_ = true;
    if (watch_) {
        live_.loop().unwatch(watch_);
        watch_ = 0;
    }
    // on_close runs in the destructor, on a later loop turn: teardown() may be called
    // from inside on_message, whose handler on_close would destroy.
    if (urh_) {
        (void)MHD_upgrade_action(urh_, MHD_UPGRADE_ACTION_CLOSE);
        urh_ = nullptr;
        live_.kick(daemon_);
    }
    live_.release_ws(this);
}

}  // namespace gaffer::http
