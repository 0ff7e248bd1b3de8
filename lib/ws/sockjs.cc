// SPDX-License-Identifier: MIT
#include "lib/ws/sockjs.h"

#include <nettle/sha1.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "lib/base/strutil.h"
#include "lib/base/utf8.h"
#include "lib/json/json.h"

namespace gaffer::ws::sockjs {

namespace {

constexpr std::string_view kJavascript = "application/javascript; charset=UTF-8";
constexpr std::string_view kTextPlain = "text/plain; charset=UTF-8";
constexpr std::string_view kTextHtml = "text/html; charset=UTF-8";
constexpr std::string_view kEventStream = "text/event-stream; charset=UTF-8";
constexpr std::string_view kJson = "application/json; charset=UTF-8";
constexpr std::string_view kCacheForever = "public, max-age=31536000";
constexpr std::string_view kOneYearSeconds = "31536000";
constexpr auto kOneYear = std::chrono::hours(24 * 365);

bool valid_id_part(std::string_view s) {
    return !s.empty() && s.find('/') == std::string_view::npos && s.find('.') == std::string_view::npos;
}

// iframe.html, iframe-<anything of [0-9a-z._-]>.html
bool is_iframe(std::string_view s) {
    constexpr std::string_view kHead = "iframe", kTail = ".html";
    if (s.size() < kHead.size() + kTail.size() || s.substr(0, kHead.size()) != kHead ||
        s.substr(s.size() - kTail.size()) != kTail)
        return false;
    std::string_view mid = s.substr(kHead.size(), s.size() - kHead.size() - kTail.size());
    return std::all_of(mid.begin(), mid.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '.' || c == '_';
    });
}

void append_u_escape(std::string* out, uint32_t unit) {
    static constexpr char kHex[] = "0123456789abcdef";
    out->append("\\u");
    out->push_back(kHex[(unit >> 12) & 0xF]);
    out->push_back(kHex[(unit >> 8) & 0xF]);
    out->push_back(kHex[(unit >> 4) & 0xF]);
    out->push_back(kHex[unit & 0xF]);
}

bool sockjs_escapes(uint32_t cp) {
    return (cp >= 0x200C && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x2060 && cp <= 0x206F) ||
           (cp >= 0xFFF0 && cp <= 0xFFFF);
}

// A JSON array of strings -> the strings; `error` is the message for anything else.
Result<std::vector<std::string>> strings_of(const json_t* j, const char* error) {
    if (!json_is_array(j))
        return fail(EINVAL, error);
    std::vector<std::string> out;
    out.reserve(json_array_size(j));
    size_t i;
    json_t* item;
    json_array_foreach(j, i, item) {
        if (!json_is_string(item))
            return fail(EINVAL, error);
        out.emplace_back(json_string_value(item), json_string_length(item));
    }
    return out;
}

// application/x-www-form-urlencoded value decoding: '+' is a space, %XX a byte; a '%'
// without two hex digits stays as it is.
std::string form_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%' && i + 2 < s.size() && hex_digit_value(s[i + 1]) >= 0 && hex_digit_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_digit_value(s[i + 1]) * 16 + hex_digit_value(s[i + 2])));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// The value of field `name` in a urlencoded form; nullopt if absent.
std::optional<std::string> form_field(std::string_view form, std::string_view name) {
    std::optional<std::string> found;
    while (!form.empty()) {
        size_t amp = form.find('&');
        std::string_view pair = form.substr(0, amp);
        size_t eq = pair.find('=');
        std::string_view key = pair.substr(0, eq);
        if (form_decode(key) == name)
            found = eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos)
            break;
        form.remove_prefix(amp + 1);
    }
    return found;
}

bool is_cookie_value_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7F && c != '"' && c != ',' && c != ';' && c != '\\';
}

constexpr std::string_view kIframeTemplate =
    "<!DOCTYPE html>\n"
    "<html>\n"
    "<head>\n"
    "  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
    "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"
    "  <script>\n"
    "    document.domain = document.domain;\n"
    "    _sockjs_onload = function(){SockJS.bootstrap_iframe();};\n"
    "  </script>\n"
    "  <script src=\"{{ sockjs_url }}\"></script>\n"
    "</head>\n"
    "<body>\n"
    "  <h2>Don't panic!</h2>\n"
    "  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>\n"
    "</body>\n"
    "</html>";

constexpr std::string_view kHtmlfileTemplate =
    "<!doctype html>\n"
    "<html><head>\n"
    "  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
    "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"
    "</head><body><h2>Don't panic!</h2>\n"
    "  <script>\n"
    "    document.domain = document.domain;\n"
    "    var c = parent.{{ callback }};\n"
    "    c.start();\n"
    "    function p(d) {c.message(d);};\n"
    "    window.onload = function() {c.stop();};\n"
    "  </script>\n";

std::string replace_once(std::string_view tmpl, std::string_view key, std::string_view value) {
    std::string out(tmpl);
    size_t at = out.find(key);
    if (at != std::string::npos)
        out.replace(at, key.size(), value);
    return out;
}

// The iframe page embeds the sockjs_url in an attribute: keep it from closing the quote.
std::string html_attr_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '"':
                out.append("&quot;");
                break;
            case '<':
                out.append("&lt;");
                break;
            case '>':
                out.append("&gt;");
                break;
            case '&':
                out.append("&amp;");
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

Reply head(int status, std::string_view content_type) {
    Reply r;
    r.status = status;
    r.content_type = std::string(content_type);
    return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Routing

std::string_view to_string(Transport t) {
    switch (t) {
        case Transport::kWebsocket:
            return "websocket";
        case Transport::kXhr:
            return "xhr";
        case Transport::kXhrSend:
            return "xhr_send";
        case Transport::kXhrStreaming:
            return "xhr_streaming";
        case Transport::kJsonp:
            return "jsonp";
        case Transport::kJsonpSend:
            return "jsonp_send";
        case Transport::kEventsource:
            return "eventsource";
        case Transport::kHtmlfile:
            return "htmlfile";
    }
    return "xhr";
}

std::optional<Transport> transport_from(std::string_view name) {
    for (Transport t : {Transport::kWebsocket, Transport::kXhr, Transport::kXhrSend, Transport::kXhrStreaming,
                        Transport::kJsonp, Transport::kJsonpSend, Transport::kEventsource, Transport::kHtmlfile})
        if (to_string(t) == name)
            return t;
    return std::nullopt;
}

Route parse_route(std::string_view prefix, std::string_view path) {
    Route r;
    if (path.substr(0, prefix.size()) != prefix)
        return r;
    std::string_view rest = path.substr(prefix.size());
    if (rest.empty() || rest == "/") {
        r.kind = RouteKind::kGreeting;
        return r;
    }
    if (rest[0] != '/')
        return r;
    rest.remove_prefix(1);
    if (rest == "info") {
        r.kind = RouteKind::kInfo;
    } else if (rest == "chunking_test") {
        r.kind = RouteKind::kChunkingTest;
    } else if (rest == "websocket") {
        r.kind = RouteKind::kRawWebsocket;
    } else if (is_iframe(rest)) {
        r.kind = RouteKind::kIframe;
    } else {
        size_t a = rest.find('/');
        if (a == std::string_view::npos)
            return r;
        size_t b = rest.find('/', a + 1);
        if (b == std::string_view::npos)
            return r;
        std::string_view server = rest.substr(0, a), session = rest.substr(a + 1, b - a - 1);
        auto transport = transport_from(rest.substr(b + 1));
        if (!valid_id_part(server) || !valid_id_part(session) || !transport)
            return r;
        r.kind = RouteKind::kSession;
        r.server = std::string(server);
        r.session = std::string(session);
        r.transport = *transport;
    }
    return r;
}

std::string_view allowed_methods(const Route& route) {
    switch (route.kind) {
        case RouteKind::kNotFound:
            return "";
        case RouteKind::kGreeting:
        case RouteKind::kIframe:
        case RouteKind::kRawWebsocket:
            return "GET";
        case RouteKind::kInfo:
            return "OPTIONS, GET";
        case RouteKind::kChunkingTest:
            return "OPTIONS, POST";
        case RouteKind::kSession:
            break;
    }
    switch (route.transport) {
        case Transport::kXhr:
        case Transport::kXhrSend:
        case Transport::kXhrStreaming:
            return "OPTIONS, POST";
        case Transport::kJsonpSend:
            return "POST";
        case Transport::kWebsocket:
        case Transport::kJsonp:
        case Transport::kEventsource:
        case Transport::kHtmlfile:
            return "GET";
    }
    return "";
}

bool method_allowed(const Route& route, std::string_view method) {
    std::string_view list = allowed_methods(route);
    while (!list.empty()) {
        size_t comma = list.find(',');
        if (trim_ows(list.substr(0, comma)) == method)
            return true;
        if (comma == std::string_view::npos)
            break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

bool is_cors_route(const Route& route) {
    switch (route.kind) {
        case RouteKind::kInfo:
        case RouteKind::kChunkingTest:
            return true;
        case RouteKind::kSession:
            return route.transport == Transport::kXhr || route.transport == Transport::kXhrSend ||
                   route.transport == Transport::kXhrStreaming;
        default:
            return false;
    }
}

// ---------------------------------------------------------------------------------------
// Static answers

Reply not_found_reply() {
    Reply r = head(404, kTextPlain);
    r.body = "Not found.\n";
    return r;
}

Reply method_not_allowed_reply(const Route& route) {
    Reply r;
    r.status = 405;
    r.headers.emplace_back("Allow", std::string(allowed_methods(route)));
    r.cors = is_cors_route(route);
    return r;
}

Reply options_reply(const Route& route, WallClock::time_point now) {
    Reply r;
    r.status = 204;
    r.headers.emplace_back("Allow", std::string(allowed_methods(route)));
    r.headers.emplace_back("Cache-Control", std::string(kCacheForever));
    r.headers.emplace_back("Expires", http_date(now + kOneYear));
    r.headers.emplace_back("Access-Control-Max-Age", std::string(kOneYearSeconds));
    r.cors = true;
    return r;
}

Reply greeting_reply() {
    Reply r = head(200, kTextPlain);
    r.body = "Welcome to SockJS!\n";
    return r;
}

std::string info_body(bool websocket, bool cookie_needed, uint32_t entropy) {
    std::string out = "{\"websocket\":";
    out.append(websocket ? "true" : "false");
    out.append(",\"cookie_needed\":");
    out.append(cookie_needed ? "true" : "false");
    out.append(",\"origins\":[\"*:*\"],\"entropy\":");
    out.append(std::to_string(entropy));
    out.push_back('}');
    return out;
}

Reply info_reply(const ServerOptions& options, uint32_t entropy) {
    Reply r = head(200, kJson);
    r.headers.emplace_back("Cache-Control", std::string(kNoCache));
    r.body = info_body(options.websocket, options.cookie_needed, entropy);
    r.cors = true;
    return r;
}

std::string iframe_page(std::string_view sockjs_url) {
    return replace_once(kIframeTemplate, "{{ sockjs_url }}", html_attr_escape(sockjs_url));
}

std::string iframe_etag(std::string_view page) {
    static constexpr char kHex[] = "0123456789abcdef";
    sha1_ctx ctx;
    sha1_init(&ctx);
    sha1_update(&ctx, page.size(), reinterpret_cast<const uint8_t*>(page.data()));
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_digest(&ctx, sizeof digest, digest);
    std::string out = "\"";
    for (uint8_t b : digest) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
    }
    out.push_back('"');
    return out;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    auto strip_weak = [](std::string_view t) { return t.substr(0, 2) == "W/" ? t.substr(2) : t; };
    std::string_view want = strip_weak(etag);
    while (!if_none_match.empty()) {
        size_t comma = if_none_match.find(',');
        std::string_view item = trim_ows(if_none_match.substr(0, comma));
        if (item == "*" || (!item.empty() && strip_weak(item) == want))
            return true;
        if (comma == std::string_view::npos)
            break;
        if_none_match.remove_prefix(comma + 1);
    }
    return false;
}

Reply iframe_reply(const ServerOptions& options, std::optional<std::string_view> if_none_match,
                   WallClock::time_point now) {
    std::string page = iframe_page(options.sockjs_url);
    std::string etag = iframe_etag(page);
    Reply r;
    if (if_none_match && etag_matches(*if_none_match, etag)) {
        r.status = 304;
    } else {
        r = head(200, kTextHtml);
        r.body = std::move(page);
    }
    r.headers.emplace_back("Cache-Control", std::string(kCacheForever));
    r.headers.emplace_back("Expires", http_date(now + kOneYear));
    r.headers.emplace_back("ETag", std::move(etag));
    return r;
}

std::string http_date(WallClock::time_point t) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t secs = WallClock::to_time_t(t);
    struct tm tm {};
    if (!gmtime_r(&secs, &tm))
        return "Thu, 01 Jan 1970 00:00:00 GMT";
    char buf[64];
    snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
             kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::vector<TimedChunk> chunking_test_schedule() {
    using std::chrono::milliseconds;
    return {
        {milliseconds(0), "h\n"},    {milliseconds(1), std::string(2048, ' ') + "h\n"},
        {milliseconds(5), "h\n"},    {milliseconds(25), "h\n"},
        {milliseconds(125), "h\n"},  {milliseconds(625), "h\n"},
        {milliseconds(3125), "h\n"},
    };
}

Reply chunking_test_reply() {
    Reply r = head(200, kJavascript);
    r.headers.emplace_back("Cache-Control", std::string(kNoCache));
    r.cors = true;
    return r;
}

std::string jsessionid_cookie(std::optional<std::string_view> cookie_header) {
    std::string value = "dummy";
    if (cookie_header) {
        std::string_view rest = *cookie_header;
        while (!rest.empty()) {
            size_t semi = rest.find(';');
            std::string_view item = trim_ows(rest.substr(0, semi));
            size_t eq = item.find('=');
            if (eq != std::string_view::npos && trim_ows(item.substr(0, eq)) == "JSESSIONID") {
                std::string_view v = trim_ows(item.substr(eq + 1));
                if (!v.empty() && v.size() <= 256 && std::all_of(v.begin(), v.end(), is_cookie_value_char))
                    value = std::string(v);
                break;
            }
            if (semi == std::string_view::npos)
                break;
            rest.remove_prefix(semi + 1);
        }
    }
    return "JSESSIONID=" + value + "; Path=/";
}

Reply transport_reply(Transport t, const ServerOptions& options, std::optional<std::string_view> cookie_header) {
    Reply r;
    switch (t) {
        case Transport::kXhr:
        case Transport::kXhrStreaming:
        case Transport::kJsonp:
            r = head(200, kJavascript);
            break;
        case Transport::kXhrSend:
            r = head(204, kTextPlain);
            break;
        case Transport::kJsonpSend:
            r = head(200, kTextPlain);
            r.body = "ok";
            break;
        case Transport::kEventsource:
            r = head(200, kEventStream);
            break;
        case Transport::kHtmlfile:
            r = head(200, kTextHtml);
            break;
        case Transport::kWebsocket:
            r.status = 101;
            break;
    }
    if (t != Transport::kWebsocket)
        r.headers.emplace_back("Cache-Control", std::string(kNoCache));
    if (options.cookie_needed && t != Transport::kWebsocket)
        r.headers.emplace_back("Set-Cookie", jsessionid_cookie(cookie_header));
    r.cors = t == Transport::kXhr || t == Transport::kXhrSend || t == Transport::kXhrStreaming;
    return r;
}

Reply error_reply(const Error& error) {
    if (error.code == ENOENT)
        return not_found_reply();
    Reply r = head(error.code == EAGAIN ? 503 : 500, kTextPlain);
    r.body = error.context;
    return r;
}

// ---------------------------------------------------------------------------------------
// What clients send

Result<std::string> check_callback(std::optional<std::string_view> c) {
    if (!c || c->empty())
        return fail(EINVAL, "\"callback\" parameter required");
    bool ok = std::all_of(c->begin(), c->end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
               ch == '.' || ch == '-';
    });
    if (!ok)
        return fail(EINVAL, "invalid \"callback\" parameter");
    return std::string(*c);
}

Result<std::vector<std::string>> parse_xhr_send(std::string_view body) {
    if (body.empty())
        return fail(ENODATA, "Payload expected.");
    auto j = json::parse(body);
    if (!j)
        return fail(EINVAL, "Broken JSON encoding.");
    return strings_of(j->get(), "Broken JSON encoding.");
}

Result<std::vector<std::string>> parse_jsonp_send(std::string_view body, std::optional<std::string_view> content_type) {
    if (content_type && istarts_with(trim_ows(*content_type), "application/x-www-form-urlencoded")) {
        auto d = form_field(body, "d");
        if (!d || d->empty())
            return fail(ENODATA, "Payload expected.");
        return parse_xhr_send(*d);
    }
    return parse_xhr_send(body);
}

Result<std::vector<std::string>> parse_websocket_message(std::string_view payload) {
    if (payload.empty())
        return std::vector<std::string>{};
    auto j = json::parse(payload);
    if (!j)
        return fail(EINVAL, std::string(kBrokenFraming.reason));
    if (json_is_string(j->get()))
        return std::vector<std::string>{std::string(json_string_value(j->get()), json_string_length(j->get()))};
    return strings_of(j->get(), "Broken framing.");
}

// ---------------------------------------------------------------------------------------
// Framing

std::string quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    size_t pos = 0;
    while (pos < s.size()) {
        size_t start = pos;
        // An ill-formed byte is one U+FFFD and the decoding goes on with the next byte.
        utf8::Step step = utf8::decode(s, pos);
        uint32_t cp = step.code_point;
        pos += step.ok ? step.length : 1;
        switch (cp) {
            case '"':
                out.append("\\\"");
                continue;
            case '\\':
                out.append("\\\\");
                continue;
            case '\b':
                out.append("\\b");
                continue;
            case '\f':
                out.append("\\f");
                continue;
            case '\n':
                out.append("\\n");
                continue;
            case '\r':
                out.append("\\r");
                continue;
            case '\t':
                out.append("\\t");
                continue;
            default:
                break;
        }
        if (cp < 0x20 || sockjs_escapes(cp)) {
            append_u_escape(&out, cp);
        } else if (cp > 0xFFFF) {
            uint32_t v = cp - 0x10000;
            append_u_escape(&out, 0xD800 + (v >> 10));
            append_u_escape(&out, 0xDC00 + (v & 0x3FF));
        } else {
            out.append(s.substr(start, pos - start));
        }
    }
    out.push_back('"');
    return out;
}

std::string open_frame() {
    return "o";
}
std::string heartbeat_frame() {
    return "h";
}

namespace {
template <typename Container>
std::string array_frame(const Container& messages) {
    std::string out = "a[";
    bool first = true;
    for (const auto& m : messages) {
        if (!first)
            out.push_back(',');
        first = false;
        out.append(quote(m));
    }
    out.push_back(']');
    return out;
}
}  // namespace

std::string message_frame(const std::vector<std::string>& messages) {
    return array_frame(messages);
}
std::string message_frame(const std::deque<std::string>& messages) {
    return array_frame(messages);
}

std::string close_frame(int code, std::string_view reason) {
    return "c[" + std::to_string(code) + "," + quote(reason) + "]";
}

std::string wrap(Transport t, std::string_view frame, std::string_view callback) {
    std::string out;
    switch (t) {
        case Transport::kXhr:
        case Transport::kXhrStreaming:
            out.reserve(frame.size() + 1);
            out.append(frame);
            out.push_back('\n');
            return out;
        case Transport::kEventsource:
            out.reserve(frame.size() + 10);
            out.append("data: ");
            out.append(frame);
            out.append("\r\n\r\n");
            return out;
        case Transport::kJsonp:
            out.append(callback);
            out.push_back('(');
            out.append(quote(frame));
            out.append(");\r\n");
            return out;
        case Transport::kHtmlfile:
            out.append("<script>\np(");
            // Inside an HTML <script> element "</script" or "<!--" in the text (a topic
            // or process output the frame echoes) would end or derail the script: every
            // '<' goes as \u003c, which the string literal still decodes to '<'.
            for (char c : quote(frame)) {
                if (c == '<')
                    out.append("\\u003c");
                else
                    out.push_back(c);
            }
            out.append(");\n</script>\r\n");
            return out;
        case Transport::kWebsocket:
        case Transport::kXhrSend:
        case Transport::kJsonpSend:
            break;
    }
    return std::string(frame);
}

std::string prelude(Transport t, std::string_view callback) {
    switch (t) {
        case Transport::kXhrStreaming:
            return std::string(2048, 'h') + "\n";
        case Transport::kEventsource:
            return "\r\n";
        case Transport::kHtmlfile: {
            std::string page = replace_once(kHtmlfileTemplate, "{{ callback }}", callback);
            // Safari renders nothing before it has 1 KiB of the document.
            if (page.size() < 1024)
                page.append(1024 - page.size(), ' ');
            page.append("\r\n\r\n");
            return page;
        }
        default:
            return "";
    }
}

TransportRole role(Transport t) {
    switch (t) {
        case Transport::kWebsocket:
            return TransportRole::kWebsocket;
        case Transport::kXhr:
        case Transport::kJsonp:
            return TransportRole::kPolling;
        case Transport::kXhrStreaming:
        case Transport::kEventsource:
        case Transport::kHtmlfile:
            return TransportRole::kStreaming;
        case Transport::kXhrSend:
        case Transport::kJsonpSend:
            return TransportRole::kSend;
    }
    return TransportRole::kSend;
}

// ---------------------------------------------------------------------------------------
// Session

std::string_view to_string(SessionState s) {
    switch (s) {
        case SessionState::kOpening:
            return "opening";
        case SessionState::kOpen:
            return "open";
        case SessionState::kClosing:
            return "closing";
        case SessionState::kClosed:
            return "closed";
    }
    return "closed";
}

Session::Session(std::string id, SessionOptions options, TimePoint now)
    : id_(std::move(id)), options_(options), last_write_(now), detached_at_(now) {}

Status Session::send(std::string message) {
    if (!accepts_messages())
        return fail(EPIPE, "SockJS session " + id_ + " is closed");
    if (queue_.size() >= options_.max_queue_messages ||
        message.size() > options_.max_queue_bytes - std::min(queue_bytes_, options_.max_queue_bytes)) {
        close_internal(kQueueOverflow, true);
        return fail(ENOBUFS, "SockJS session " + id_ + ": send queue full");
    }
    queue_bytes_ += message.size();
    queue_.push_back(std::move(message));
    return ok();
}

void Session::close(int code, std::string_view reason) {
    close_internal(CloseReason{code, reason}, false);
}

void Session::close_internal(CloseReason reason, bool drop_queue) {
    if (!accepts_messages())
        return;
    state_ = SessionState::kClosing;
    close_frame_ = close_frame(reason);
    if (drop_queue) {
        queue_.clear();
        queue_bytes_ = 0;
    }
}

Session::Attached Session::attach(Transport t, std::string_view callback, TimePoint now) {
    Attached a;
    if (role(t) == TransportRole::kSend) {
        a.output.end = true;
        return a;
    }
    std::string pre = prelude(t, callback);
    if (!pre.empty())
        a.output.chunks.push_back(std::move(pre));
    std::string refusal;
    if (state_ == SessionState::kClosed)
        refusal = close_frame(kGoAway);
    else if (state_ == SessionState::kClosing && opened_)
        refusal = close_frame_;
    else if (receiver_ != 0)
        refusal = close_frame(kAnotherConnection);
    if (!refusal.empty()) {
        a.output.chunks.push_back(wrap(t, refusal, callback));
        a.output.end = true;
        return a;
    }
    receiver_ = ++next_receiver_;
    transport_ = t;
    callback_ = std::string(callback);
    bytes_sent_ = 0;
    last_write_ = now;
    heartbeat_due_ = false;
    if (t == Transport::kWebsocket)
        bound_ = true;
    a.receiver = receiver_;
    Output more = pull(receiver_, now);
    for (auto& c : more.chunks) a.output.chunks.push_back(std::move(c));
    a.output.end = more.end;
    return a;
}

bool Session::has_output() const {
    if (receiver_ == 0)
        return false;
    return !opened_ || !queue_.empty() || heartbeat_due_ || state_ == SessionState::kClosing ||
           state_ == SessionState::kClosed;
}

Output Session::pull(uint64_t receiver, TimePoint now) {
    Output out;
    if (receiver == 0 || receiver != receiver_) {
        out.end = true;
        return out;
    }
    std::vector<std::string> frames;
    if (!opened_) {
        frames.push_back(open_frame());
        opened_ = true;
        if (state_ == SessionState::kOpening)
            state_ = SessionState::kOpen;
    }
    if (!queue_.empty()) {
        frames.push_back(message_frame(queue_));
        queue_.clear();
        queue_bytes_ = 0;
    } else if (heartbeat_due_ && frames.empty() && state_ != SessionState::kClosing) {
        frames.push_back(heartbeat_frame());
    }
    heartbeat_due_ = false;
    if (state_ == SessionState::kClosing || state_ == SessionState::kClosed) {
        frames.push_back(state_ == SessionState::kClosing ? close_frame_ : close_frame(kGoAway));
        out.end = true;
    }
    for (auto& f : frames) {
        std::string chunk = wrap(transport_, f, callback_);
        bytes_sent_ += chunk.size();
        out.chunks.push_back(std::move(chunk));
    }
    if (!frames.empty())
        last_write_ = now;
    TransportRole r = role(transport_);
    if (r == TransportRole::kPolling && !frames.empty())
        out.end = true;
    if (r == TransportRole::kStreaming && bytes_sent_ >= options_.response_limit)
        out.end = true;
    if (out.end)
        detach_internal(now);
    return out;
}

void Session::detach(uint64_t receiver, bool interrupted, TimePoint now) {
    if (receiver == 0 || receiver != receiver_)
        return;
    if (interrupted)
        close_internal(kInterrupted, true);
    detach_internal(now);
}

void Session::detach_internal(TimePoint now) {
    receiver_ = 0;
    heartbeat_due_ = false;
    detached_at_ = now;
    if (bound_) {
        state_ = SessionState::kClosed;
        queue_.clear();
        queue_bytes_ = 0;
    }
}

std::optional<TimePoint> Session::next_deadline() const {
    if (state_ == SessionState::kClosed)
        return std::nullopt;
    if (receiver_ != 0) {
        if (heartbeat_due_)
            return std::nullopt;
        return last_write_ + options_.heartbeat;
    }
    return detached_at_ + options_.disconnect_delay;
}

void Session::tick(TimePoint now) {
    if (state_ == SessionState::kClosed)
        return;
    if (receiver_ != 0) {
        if (now >= last_write_ + options_.heartbeat)
            heartbeat_due_ = true;
        return;
    }
    if (now >= detached_at_ + options_.disconnect_delay) {
        state_ = SessionState::kClosed;
        queue_.clear();
        queue_bytes_ = 0;
    }
}

// ---------------------------------------------------------------------------------------
// SessionRegistry

SessionRegistry::SessionRegistry(SessionOptions options, size_t max_sessions)
    : options_(options), max_sessions_(max_sessions) {}

Session* SessionRegistry::find(std::string_view id) {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.get();
}

Result<SessionRegistry::Lookup> SessionRegistry::find_or_create(std::string_view id, TimePoint now) {
    if (Session* s = find(id))
        return Lookup{s, false};
    if (sessions_.size() >= max_sessions_)
        return fail(EAGAIN, "Too many SockJS sessions.");
    auto owned = std::make_unique<Session>(std::string(id), options_, now);
    Session* s = owned.get();
    sessions_.emplace(std::string(id), std::move(owned));
    return Lookup{s, true};
}

std::vector<std::string> SessionRegistry::tick(TimePoint now) {
    std::vector<std::string> expired;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        it->second->tick(now);
        if (it->second->state() == SessionState::kClosed) {
            expired.push_back(it->first);
            it = sessions_.erase(it);
        } else {
            ++it;
        }
    }
    return expired;
}

std::optional<TimePoint> SessionRegistry::next_deadline() const {
    std::optional<TimePoint> best;
    for (const auto& [id, s] : sessions_) {
        auto d = s->next_deadline();
        if (d && (!best || *d < *best))
            best = d;
    }
    return best;
}

}  // namespace gaffer::ws::sockjs
