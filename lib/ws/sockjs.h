// SPDX-License-Identifier: MIT
// SockJS 0.3 server logic (reference §5.2, the sockjs-protocol 0.3.3 test suite), pure:
// URL routing, the static answers (greeting, /info, iframe page, OPTIONS, 405), the
// framing (o, h, a[...], c[code,"reason"]) and its per-transport wrapping, the parsing of
// what clients send, and the Session state machine with its registry. No sockets, no
// timers, no clock: every call that depends on time takes `now`, and the caller asks
// next_deadline() when to call tick() again.
//
// Each transport handler in lib/http stays thin:
//
//   Route r = parse_route("/channel", path);
//   kNotFound -> not_found_reply();  wrong method -> method_not_allowed_reply(r);
//   OPTIONS on a CORS route -> options_reply(r, wall_now)
//   kGreeting / kInfo / kIframe -> greeting_reply() / info_reply(...) / iframe_reply(...)
//   kRawWebsocket -> plain websocket, one application message per text frame
//   kSession, send transports (xhr_send, jsonp_send):
//       Session* s = registry.find(r.session)            -> not_found_reply() if null
//       GAFFER_TRY(msgs, parse_xhr_send(body))           -> error_reply(err) on failure
//       if (s->accepts_messages()) app(msgs);  answer send_ok_reply(r.transport, ...)
//   kSession, receiving transports (xhr, xhr_streaming, eventsource, jsonp, htmlfile):
//       callback = check_callback(c) (jsonp, htmlfile)   -> error_reply(err) on failure
//       head = transport_reply(r.transport, options, cookie)
//       lookup = registry.find_or_create(r.session, now) -> error_reply(err) (503) on failure
//       a = lookup->session->attach(r.transport, callback, now)
//       write a.output.chunks; finish the response if a.output.end, else keep it open
//       (suspended) and, whenever session->has_output(), write pull(a.receiver, now).chunks,
//       finishing when .end; if the client goes away first: detach(a.receiver, true, now).
//   kSession, websocket transport: after the websocket handshake, the connection owns a
//       Session of its own (never in the registry; SockJS allows reusing a session id
//       on websockets): attach(kWebsocket) and send each chunk as a text message; each
//       received text message goes through parse_websocket_message() (on error:
//       close(kBrokenFraming), pull, then close the websocket); on .end close the
//       websocket; when the socket closes, detach().
//   A loop timer at registry.next_deadline() (and each websocket session's) calls tick();
//   the ids tick() returns are sessions that expired: release their application state.
//
// Invariants: a session has at most one receiving connection (a second one gets
// c[2010,"Another connection still open"] and leaves the session alone); its outgoing
// queue never holds more than SessionOptions::max_queue_bytes / max_queue_messages (a
// send() beyond that closes the session: a slow consumer is dropped, never buffered
// without bound); a closed session keeps answering its close frame until it expires,
// disconnect_delay after its last receiver left; the registry holds at most
// max_sessions sessions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/ws/websocket.h"

namespace gaffer::ws::sockjs {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using WallClock = std::chrono::system_clock;

// ---------------------------------------------------------------------------------------
// Routing

enum class Transport {
    kWebsocket,     // GET + upgrade: SockJS framing inside websocket text messages
    kXhr,           // POST: long polling, newline-terminated frames
    kXhrSend,       // POST: JSON array of strings from the client
    kXhrStreaming,  // POST: streaming, 2 KiB 'h' prelude, newline-terminated frames
    kJsonp,         // GET ?c=cb: long polling, cb("frame");\r\n
    kJsonpSend,     // POST: d=<urlencoded JSON> or a raw JSON body
    kEventsource,   // GET: text/event-stream, "data: frame\r\n\r\n"
    kHtmlfile,      // GET ?c=cb: streaming <script> blocks
};
std::string_view to_string(Transport t);
std::optional<Transport> transport_from(std::string_view name);

enum class RouteKind {
    kNotFound,      // under the prefix but no SockJS URL (or a malformed session URL): 404
    kGreeting,      // <prefix> and <prefix>/
    kInfo,          // <prefix>/info
    kIframe,        // <prefix>/iframe.html, <prefix>/iframe-<version>.html ([0-9a-z._-]*)
    kChunkingTest,  // <prefix>/chunking_test (SockJS 0.1, still listed by reference §5.2)
    kRawWebsocket,  // <prefix>/websocket: raw websocket, no SockJS framing
    kSession,       // <prefix>/<server>/<session>/<transport>
};

struct Route {
    RouteKind kind = RouteKind::kNotFound;
    std::string server;                     // kSession: ignored by the server (load balancer stickiness)
    std::string session;                    // kSession: the session id
    Transport transport = Transport::kXhr;  // kSession
};

// `prefix` has no trailing slash ("/channel"); `path` is the percent-decoded path without
// the query string. A path outside the prefix is kNotFound too. Server and session ids are
// one or more characters other than '/' and '.'.
Route parse_route(std::string_view prefix, std::string_view path);

// The methods a route answers, as an Allow header value ("OPTIONS, POST", "GET", ...).
// HEAD is not among them (SockJS servers do not answer it).
std::string_view allowed_methods(const Route& route);
bool method_allowed(const Route& route, std::string_view method);
// Routes that answer OPTIONS (preflight) and carry CORS headers: info, chunking_test,
// xhr, xhr_send, xhr_streaming.
bool is_cors_route(const Route& route);

// ---------------------------------------------------------------------------------------
// Options

struct SessionOptions {
    std::chrono::milliseconds heartbeat{25000};        // "h" after this long without a frame
    std::chrono::milliseconds disconnect_delay{5000};  // expiry after the last receiver left
    // A streaming response ends after this many bytes of wrapped frames (prelude not counted).
    size_t response_limit = 128 * 1024;
    size_t max_queue_bytes = size_t{1} << 20;  // outgoing messages waiting for a receiver
    size_t max_queue_messages = 4096;
};

struct ServerOptions {
    bool websocket = true;      // /info "websocket"
    bool cookie_needed = true;  // /info "cookie_needed" (true per reference §5.2) and a
                                // JSESSIONID cookie on every session transport answer
    std::string sockjs_url = "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js";
    SessionOptions session;
    size_t max_sessions = 1024;
};

// ---------------------------------------------------------------------------------------
// HTTP answers (everything but the streaming bodies)

// An HTTP answer as plain values. Content-Type is separate (empty = none); `headers` never
// holds CORS headers: when `cors` is set the HTTP layer applies its CORS policy
// (security-defaults.md: only listed origins; SockJS itself would echo any origin) and,
// on preflights, echoes Access-Control-Request-Headers as Access-Control-Allow-Headers.
struct Reply {
    int status = 200;
    std::string content_type;
    HeaderList headers;
    std::string body;
    bool cors = false;
};

inline constexpr std::string_view kNoCache = "no-store, no-cache, must-revalidate, max-age=0";

Reply not_found_reply();
Reply method_not_allowed_reply(const Route& route);  // 405, Allow, no body, no Content-Type
// OPTIONS on a CORS route: 204, Allow-Methods, cacheable for a year.
Reply options_reply(const Route& route, WallClock::time_point now);
Reply greeting_reply();  // "Welcome to SockJS!\n"

// {"websocket":true,"cookie_needed":true,"origins":["*:*"],"entropy":N}
std::string info_body(bool websocket, bool cookie_needed, uint32_t entropy);
// `entropy` comes from random_u32() (lib/ws/random.h); a new value for every request.
Reply info_reply(const ServerOptions& options, uint32_t entropy);

// The hidden iframe page loading `sockjs_url`, and its strong ETag ("\"<sha1 hex>\"").
std::string iframe_page(std::string_view sockjs_url);
std::string iframe_etag(std::string_view page);
// True if an If-None-Match value (a list, W/ prefixes and * allowed) matches `etag`.
bool etag_matches(std::string_view if_none_match, std::string_view etag);
// 200 with the page, or 304 without body and Content-Type when If-None-Match matches.
Reply iframe_reply(const ServerOptions& options, std::optional<std::string_view> if_none_match,
                   WallClock::time_point now);

// RFC 7231 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (locale-independent).
std::string http_date(WallClock::time_point t);

// The chunking_test answer: write each chunk `delay` after the previous one, then end.
struct TimedChunk {
    std::chrono::milliseconds delay;
    std::string chunk;
};
std::vector<TimedChunk> chunking_test_schedule();
Reply chunking_test_reply();  // head only (200, application/javascript, cors)

// The answer head of a session transport (status, Content-Type, Cache-Control: no-cache,
// the JSESSIONID cookie when options.cookie_needed, cors for xhr*). For xhr_send (204) and
// jsonp_send (200 "ok") this is the whole answer.
Reply transport_reply(Transport t, const ServerOptions& options, std::optional<std::string_view> cookie_header);
inline Reply send_ok_reply(Transport t, const ServerOptions& options, std::optional<std::string_view> cookie) {
    return transport_reply(t, options, cookie);
}
// "JSESSIONID=<value>; Path=/": the client's JSESSIONID echoed, else "dummy".
std::string jsessionid_cookie(std::optional<std::string_view> cookie_header);

// The answer to an error of this module: ENOENT -> 404; EAGAIN -> 503; anything else
// (EINVAL, ENODATA: bad payload or callback) -> 500 text/plain with the error's context
// as body, which is the text the SockJS protocol specifies.
Reply error_reply(const Error& error);

// ---------------------------------------------------------------------------------------
// What clients send

// jsonp/htmlfile `c` parameter: required ('"callback" parameter required'), only
// [A-Za-z0-9_.-] ('invalid "callback" parameter'); EINVAL otherwise.
Result<std::string> check_callback(std::optional<std::string_view> c);

// xhr_send body: a JSON array of strings. ENODATA "Payload expected." for an empty body,
// EINVAL "Broken JSON encoding." for anything else that is not such an array.
Result<std::vector<std::string>> parse_xhr_send(std::string_view body);
// jsonp_send body: with Content-Type application/x-www-form-urlencoded the form field `d`
// (missing or empty: "Payload expected."), else the raw body; then as parse_xhr_send.
Result<std::vector<std::string>> parse_jsonp_send(std::string_view body, std::optional<std::string_view> content_type);
// One websocket text message of the websocket transport: empty -> no message (ignored);
// a JSON array of strings or one JSON string; anything else EINVAL "Broken framing."
// (the handler then closes the websocket).
Result<std::vector<std::string>> parse_websocket_message(std::string_view payload);

// ---------------------------------------------------------------------------------------
// Framing

// A JSON string literal the way SockJS servers write it: JSON escapes, plus \uXXXX for
// U+200C-U+200F, U+2028-U+202F, U+2060-U+206F, U+FFF0-U+FFFF and (as UTF-16 surrogate
// pairs) every character above U+FFFF, which browsers or proxies could mangle. Invalid
// UTF-8 bytes become U+FFFD.
std::string quote(std::string_view utf8);

struct CloseReason {
    int code;
    std::string_view reason;
};
inline constexpr CloseReason kGoAway{3000, "Go away!"};
inline constexpr CloseReason kAnotherConnection{2010, "Another connection still open"};
inline constexpr CloseReason kInterrupted{1002, "Connection interrupted"};
inline constexpr CloseReason kQueueOverflow{4000, "Send queue overflow"};
inline constexpr CloseReason kBrokenFraming{3000, "Broken framing."};

std::string open_frame();                                             // o
std::string heartbeat_frame();                                        // h
std::string message_frame(const std::vector<std::string>& messages);  // a["m1","m2"]
std::string message_frame(const std::deque<std::string>& messages);
std::string close_frame(int code, std::string_view reason);  // c[3000,"Go away!"]
inline std::string close_frame(CloseReason c) {
    return close_frame(c.code, c.reason);
}

// A frame as written on transport `t` (`callback` for jsonp and htmlfile). htmlfile
// frames write '<' as \u003c so that no frame can close its <script> element.
std::string wrap(Transport t, std::string_view frame, std::string_view callback = {});
// What a response of transport `t` starts with before any frame (xhr_streaming: 2048 'h'
// and "\n"; eventsource: "\r\n"; htmlfile: the callback page padded past 1 KiB).
std::string prelude(Transport t, std::string_view callback = {});

enum class TransportRole {
    kWebsocket,  // one receiver for the life of the websocket
    kPolling,    // the response ends after the first frames it carries
    kStreaming,  // the response carries frames until response_limit bytes
    kSend,       // client -> server only
};
TransportRole role(Transport t);

// ---------------------------------------------------------------------------------------
// Sessions

enum class SessionState {
    kOpening,  // created, the open frame not delivered yet
    kOpen,
    kClosing,  // closed: the close frame is served to any receiver until expiry
    kClosed,   // expired (registry sessions) or its websocket is gone: forget it
};
std::string_view to_string(SessionState s);

// What a receiving connection writes next.
struct Output {
    std::vector<std::string> chunks;  // wrapped for the receiver's transport (websocket: one text
                                      // message each), in order
    bool end = false;                 // after writing them: end the response / close the websocket. The
                                      // receiver is already detached; do not call detach() for it.
};

class Session {
public:
    Session(std::string id, SessionOptions options, TimePoint now);

    const std::string& id() const { return id_; }
    SessionState state() const { return state_; }
    const SessionOptions& options() const { return options_; }

    // -- Application side.
    // Queues one message. EPIPE once the session is closing; ENOBUFS when the queue is
    // full, which also closes the session with kQueueOverflow (the queue is dropped).
    Status send(std::string message);
    // Closes the session: queued messages are still delivered, then the close frame.
    // Idempotent: the first close (by the application, an overflow or an interrupted
    // receiver) wins.
    void close(int code = kGoAway.code, std::string_view reason = kGoAway.reason);
    // Messages the client sends now are for the application (state kOpening or kOpen).
    bool accepts_messages() const { return state_ == SessionState::kOpening || state_ == SessionState::kOpen; }
    size_t queued_bytes() const { return queue_bytes_; }
    size_t queued_messages() const { return queue_.size(); }

    // -- Transport side.
    struct Attached {
        uint64_t receiver = 0;  // 0: refused (output holds the prelude and a close frame, end)
        Output output;          // the prelude and whatever is ready now
    };
    // A receiving connection arrives (`t` is a receiving transport; a send transport is
    // refused with nothing to write). Refused, with a close frame and the session left
    // alone, when another receiver is attached (2010) or the session is closing (its
    // close frame) or closed (3000 "Go away!").
    Attached attach(Transport t, std::string_view callback, TimePoint now);
    // The current receiver's next output (open frame, queued messages as one a[...],
    // a due heartbeat, the close frame). A stale receiver id gets {{}, end}.
    Output pull(uint64_t receiver, TimePoint now);
    // pull() would return chunks now (or end the receiver).
    bool has_output() const;
    // The receiving connection went away before its output ended. `interrupted` (the
    // client dropped it) closes the session with kInterrupted, as SockJS does; a websocket
    // session is closed either way (kClosed at once). Stale ids are ignored.
    void detach(uint64_t receiver, bool interrupted, TimePoint now);
    bool attached() const { return receiver_ != 0; }

    // -- Time.
    // When tick() has work: the next heartbeat while a receiver is attached, else the
    // expiry. nullopt when closed or when a heartbeat is already waiting to be pulled.
    std::optional<TimePoint> next_deadline() const;
    // Marks a due heartbeat (then has_output() is true) and expires the session
    // (kClosed) disconnect_delay after its last receiver left.
    void tick(TimePoint now);

private:
    void close_internal(CloseReason reason, bool drop_queue);
    void detach_internal(TimePoint now);

    std::string id_;
    SessionOptions options_;
    SessionState state_ = SessionState::kOpening;
    bool opened_ = false;  // the open frame has been handed to a receiver
    bool bound_ = false;   // a websocket session: it lives as long as its one receiver

    std::deque<std::string> queue_;
    size_t queue_bytes_ = 0;
    std::string close_frame_;

    uint64_t receiver_ = 0;
    uint64_t next_receiver_ = 0;
    Transport transport_ = Transport::kXhr;
    std::string callback_;
    size_t bytes_sent_ = 0;  // by the current receiver (response_limit)
    TimePoint last_write_{};
    TimePoint detached_at_{};
    bool heartbeat_due_ = false;
};

// The sessions of the HTTP transports, by id. Not for websocket sessions.
class SessionRegistry {
public:
    explicit SessionRegistry(SessionOptions options = {}, size_t max_sessions = 1024);

    Session* find(std::string_view id);
    struct Lookup {
        Session* session = nullptr;
        bool created = false;  // a new session: tell the application it opened
    };
    // The session `id`, created if unknown. EAGAIN when max_sessions are open.
    Result<Lookup> find_or_create(std::string_view id, TimePoint now);
    // Ticks every session, removes the expired ones and returns their ids.
    std::vector<std::string> tick(TimePoint now);
    std::optional<TimePoint> next_deadline() const;
    size_t size() const { return sessions_.size(); }

private:
    SessionOptions options_;
    size_t max_sessions_;
    std::map<std::string, std::unique_ptr<Session>, std::less<>> sessions_;
};

}  // namespace gaffer::ws::sockjs
