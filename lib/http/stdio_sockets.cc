// SPDX-License-Identifier: MIT
// The process stdio websockets: WS /<pid>/channel[/<stream>][?mode=M] (reference §5.1,
// V1 framing, with the required fixes: permissions checked with and without a stream
// name, the socket closed when the process exits) and the 0.4 WS /wstreams/<pid> (§4.1).
// An unknown pid or stream refuses the handshake with HTTP 404 (allowed by §5.1).
// Output goes out in text frames, so through a Utf8Sanitizer per connection: a
// character split across two reads arrives whole, invalid bytes arrive as U+FFFD.
#include <cerrno>
#include <utility>

#include "lib/base/utf8.h"
#include "lib/events/event_bus.h"
#include "lib/http/handlers.h"
#include "lib/http/live.h"
#include "lib/http/router.h"
#include "lib/http/upgrade.h"
#include "lib/io/stream_format.h"
#include "lib/manager/errors.h"
#include "lib/manager/manager.h"
#include "lib/ws/v1.h"

namespace gaffer::http {

namespace {

// Output waiting in a websocket's buffer past which chunks are dropped and counted (§16).
constexpr size_t kChannelBacklog = 1 << 20;

bool contains(const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v) {
        if (x == s)
            return true;
    }
    return false;
}

// One output stream on its way to a websocket as text: UTF-8 (utf8.h), and chunks that
// find the socket too far behind are dropped and counted (§16).
struct OutputText {
    Utf8Sanitizer utf8;
    uint64_t dropped = 0;

    // The text of `data` (possibly empty: a character is held back), or nullopt when
    // the chunk is dropped; held-back bytes are dropped with it (their end is lost).
    std::optional<std::string> take(const WsConn& ws, std::string_view data) {
        if (ws.outgoing() > kChannelBacklog) {
            dropped += data.size() + utf8.held();
            utf8.reset();
            return std::nullopt;
        }
        return utf8.feed(data);
    }
    // The count to report before the next text (0: nothing dropped); resets it.
    uint64_t take_dropped() { return std::exchange(dropped, 0); }
};

// What both stdio sockets hold while open: the socket, the process, the rights of the key
// that opened it, and the subscriptions that release() gives back.
struct StdioSession {
    Live* live = nullptr;
    WsConn* ws = nullptr;
    int pid = 0;
    std::string job;
    Rights rights;
    bool ended = false;
    uint64_t store_watch = 0;
    manager::Manager::OutputSubId out_sub = 0;
    OutputText out;

    // Gives back the store watch and the output subscription (the socket is closing).
    void release_session() {
        ended = true;
        live->cancel_store_change(store_watch);
        store_watch = 0;
        if (out_sub)
            live->manager().unsubscribe_output(out_sub);
        out_sub = 0;
    }
};

struct ChannelState : StdioSession {
    std::string read_label;    // empty: no reading
    std::string write_stream;  // empty: no writing
    unsigned mode = 3;
    std::optional<ws::v1::ErrorCode> open_error;  // told at begin(), once rights are known
    bool authed = false;
    Request auth_req;  // the request whose X-Api-Key (on the upgrade or from AUTH:) gave `rights`
    events::EventBus::SubId exit_sub = 0;

    // The key re-resolved against the store (live.h): false, and the channel closed, when
    // it is gone or no longer covers the channel's mode.
    bool recheck() {
        if (ended || !rights.key)
            return !ended;
        Rights now;
        if (!live->reresolve(auth_req, &now)) {
            end(ws::v1::ErrorCode::kAuthRequired);
            return false;
        }
        rights = std::move(now);
        if (!covered()) {
            end(ws::v1::ErrorCode::kForbidden);
            return false;
        }
        return true;
    }
    bool covered() const {
        return !(((mode & ws::v1::kModeRead) && !rights.perms.can_read(job)) ||
                 ((mode & ws::v1::kModeWrite) && !rights.perms.can_write(job)));
    }
    void end(ws::v1::ErrorCode code) {
        ended = true;
        send_error(ws::v1::kConnectionErrorId, code);
        ws->close();
    }

    void send_error(std::string_view id, ws::v1::ErrorCode code) {
        (void)ws->send_text(ws::v1::error_message(id, code));
    }

    // `V1 message <fresh id>\0<text>`, after the overflow error if chunks were dropped.
    void send_output(std::string_view text) {
        if (text.empty())
            return;
        auto id = ws::v1::new_id();
        std::string mid = id ? *id : std::string("0");
        if (uint64_t n = out.take_dropped())
            (void)ws->send_text(ws::v1::encode(ws::v1::Type::kError, mid, ws::v1::overflow_body(n)));
        (void)ws->send_text(ws::v1::output_message(mid, text));
    }

    // Permission and open-time checks, then the subscriptions.
    void begin() {
        // Rights first: what the process offers is told only to who may use it.
        if (!covered()) {
            send_error(ws::v1::kConnectionErrorId, ws::v1::ErrorCode::kForbidden);
            ws->close();
            return;
        }
        if (open_error) {
            send_error(ws::v1::kConnectionErrorId, *open_error);
            ws->close();
            return;
        }
        store_watch = live->on_store_change([this] { (void)recheck(); });
        manager::Manager& m = live->manager();
        if (!read_label.empty()) {
            auto sub = m.subscribe_output(
                pid, read_label,
                [this](std::string_view data) {
                    if (auto text = out.take(*ws, data))
                        send_output(*text);
                },
                [this] {
                    out_sub = 0;
                    send_output(out.utf8.finish());
                    ws->close();
                });
            if (!sub) {
                // The process went away meanwhile.
                send_error(ws::v1::kConnectionErrorId, ws::v1::ErrorCode::kNotFound);
                ws->close();
                return;
            }
            out_sub = *sub;
        }
        // Closing on exit also for write-only channels.
        exit_sub =
            live->bus().subscribe("proc." + std::to_string(pid) + ".exit", [this](const std::string&, const json_t*) {
                if (read_label.empty())
                    ws->close();
            });
    }

    void on_message(std::string&& text) {
        auto frame = ws::v1::decode(text);
        if (!frame)
            return send_error(ws::v1::kConnectionErrorId, ws::v1::ErrorCode::kEio);
        if (!authed) {
            auto key = ws::v1::auth_key(frame->body);
            Rights r;
            Request req = ws->request();
            if (key)
                req.headers["x-api-key"] = std::string(*key);
            if (!key || live->router().rights_for(req, &r) || !r.key) {
                send_error(frame->id, ws::v1::ErrorCode::kAuthRequired);
                ws->close();
                return;
            }
            rights = std::move(r);
            auth_req = std::move(req);
            authed = true;
            (void)ws->send_text(ws::v1::response_ok(frame->id));
            begin();
            return;
        }
        if (!recheck())
            return;
        if (!(mode & ws::v1::kModeWrite) || write_stream.empty())
            return send_error(frame->id, ws::v1::ErrorCode::kEperm);
        Status st = live->manager().send(pid, frame->body, write_stream);
        if (!st) {
            int e = st.error().code;
            return send_error(frame->id, e == EPERM   ? ws::v1::ErrorCode::kEperm
                                         : e == ENXIO ? ws::v1::ErrorCode::kEnoent
                                                      : ws::v1::ErrorCode::kEio);
        }
        (void)ws->send_text(ws::v1::response_ok(frame->id));
    }

    void release() {
        release_session();
        if (exit_sub)
            live->bus().unsubscribe(exit_sub);
        exit_sub = 0;
    }
};

}  // namespace

std::optional<MHD_Result> Live::handle_channel(MHD_Connection* conn, const Request& req,
                                               const std::vector<std::string>& seg) {
    auto pid = pid_from_segment(seg[0]);
    if (!pid)
        return send(conn, req, error_response(400, "bad_value", "the pid must be a decimal number"));
    auto mode = ws::v1::parse_mode(req.query_value("mode"));
    if (!mode)
        return send(conn, req, error_response(400, "bad_value", "mode must be 0 to 3"));
    Rights rights;
    bool authed = true;
    if (auto e = router().rights_for(req, &rights)) {
        // No key on the upgrade with keys required: AUTH:<key> must come first.
        if (e->status != 401)
            return send(conn, req, std::move(*e));
        authed = false;
    }
    auto info = manager_.process_info(*pid);
    auto st = std::make_shared<ChannelState>();
    st->live = this;
    st->pid = *pid;
    // Rights first (as the HTTP routes): for an unknown pid, rights on every job decide
    // between 403 and 404. Before AUTH: (keys required, none on the upgrade) nothing is
    // told at all; the upgrade goes through and the answer comes after AUTH.
    st->job = info ? info->job.qualified() : "*";
    st->mode = *mode;
    st->authed = authed;
    st->rights = std::move(rights);
    st->auth_req = req;
    if (!info) {
        if (authed) {
            if (!st->covered())
                return send(conn, req, forbidden("permission on the job of process " + seg[1] + " required"));
            return send(conn, req, error_response(404, "not_found"));
        }
        st->open_error = ws::v1::ErrorCode::kNotFound;
    }
    const bool rd = *mode & ws::v1::kModeRead;
    const bool wr = *mode & ws::v1::kModeWrite;
    if (!info) {
        // Answered after AUTH (begin()).
    } else if (seg.size() == 2) {
        if (rd) {
            if (info->redirect_output.empty())
                st->open_error = ws::v1::ErrorCode::kEperm;
            else
                st->read_label = info->redirect_output.front();
        }
        if (wr) {
            if (!info->redirect_input)
                st->open_error = ws::v1::ErrorCode::kEperm;
            else
                st->write_stream = "stdin";
        }
    } else {
        const std::string& s = seg[2];
        if (contains(info->redirect_output, s)) {
            if (rd)
                st->read_label = s;
            if (wr) {
                if (!info->redirect_input)
                    st->open_error = ws::v1::ErrorCode::kEperm;
                else
                    st->write_stream = "stdin";
            }
        } else if (contains(info->custom_streams, s)) {
            if (rd)
                st->read_label = s;
            if (wr)
                st->write_stream = s;
        } else if (authed && st->covered()) {
            return send(conn, req, error_response(404, "ENOENT", "no such stream"));
        } else {
            // Which streams a job has is told only to who may use them (begin()).
            st->open_error = ws::v1::ErrorCode::kEnoent;
        }
    }
    bool keyed = authed && req.header("x-api-key").has_value();
    return upgrade(conn, req, keyed, [st](WsConn& ws) {
        st->ws = &ws;
        ws.on_message = [st](std::string&& text) { st->on_message(std::move(text)); };
        ws.on_close = [st] { st->release(); };
        if (st->authed)
            st->begin();
    });
}

namespace {

struct WstreamState : StdioSession {
    Request req;  // the upgrade, with its X-Api-Key

    // As ChannelState::recheck: the key must still resolve and cover read and write.
    bool recheck() {
        if (ended || !rights.key)
            return !ended;
        Rights now;
        if (!live->reresolve(req, &now) || !now.perms.can_read(job) || !now.perms.can_write(job)) {
            ended = true;
            fail("forbidden");
            return false;
        }
        rights = std::move(now);
        return true;
    }

    void fail(const char* error) {
        (void)ws->send_text(std::string("{\"error\":\"") + error + "\"}");
        ws->close();
    }
    // One text message per chunk, after the §16 marker if chunks were dropped.
    void send_output(std::string_view text) {
        if (text.empty())
            return;
        if (uint64_t n = out.take_dropped())
            (void)ws->send_text(io::dropped_line(n));
        (void)ws->send_text(text);
    }
    void release() { release_session(); }
};

}  // namespace

std::optional<MHD_Result> Live::handle_wstreams(MHD_Connection* conn, const Request& req,
                                                const std::vector<std::string>& seg) {
    Rights rights;
    if (auto e = router().rights_for(req, &rights))
        return send(conn, req, std::move(*e));
    auto st = std::make_shared<WstreamState>();
    st->live = this;
    auto pid = pid_from_segment(seg[1]);
    const char* error = nullptr;
    std::optional<model::ProcessInfo> info;
    if (!pid) {
        error = "bad_value";
    } else {
        auto i = manager_.process_info(*pid);
        if (!i) {
            // Rights first: without rights on every job an unknown pid is "forbidden" too.
            error = rights.perms.can_read("*") && rights.perms.can_write("*") ? "not_found" : "forbidden";
        } else {
            info = std::move(*i);
            st->job = info->job.qualified();
            if (!rights.perms.can_read(st->job) || !rights.perms.can_write(st->job))
                error = "forbidden";
        }
    }
    if (pid)
        st->pid = *pid;
    st->req = req;
    st->rights = std::move(rights);
    bool keyed = req.header("x-api-key").has_value();
    return upgrade(conn, req, keyed, [st, error, info](WsConn& ws) {
        st->ws = &ws;
        ws.on_close = [st] { st->release(); };
        if (error)
            return st->fail(error);
        WstreamState* self = st.get();
        st->store_watch = st->live->on_store_change([self] { (void)self->recheck(); });
        if (!info->redirect_output.empty()) {
            WstreamState* s = st.get();
            auto sub = s->live->manager().subscribe_output(
                s->pid, info->redirect_output.front(),
                [s](std::string_view data) {
                    if (auto text = s->out.take(*s->ws, data))
                        s->send_output(*text);
                },
                [s] {
                    s->out_sub = 0;
                    s->send_output(s->out.utf8.finish());
                    s->ws->close();
                });
            if (sub)
                s->out_sub = *sub;
        }
        ws.on_message = [st](std::string&& text) {
            if (!st->recheck())
                return;
            Status r = st->live->manager().send(st->pid, text);
            if (!r)
                st->fail(r.error().code == EPERM ? "forbidden_write" : manager::map_error(r.error()).name);
        };
    });
}

}  // namespace gaffer::http
