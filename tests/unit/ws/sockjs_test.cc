// SPDX-License-Identifier: MIT
// Tests of lib/ws/sockjs: routing, static answers, framing and escaping, payload parsing
// (the cases of the sockjs-protocol 0.3.3 suite), and the Session state machine and its
// registry on a fake clock.
#include "lib/ws/sockjs.h"

#include <gtest/gtest.h>
#include <jansson.h>

#include <cerrno>
#include <string>
#include <vector>

#include "lib/json/json.h"

namespace gaffer::ws::sockjs {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

constexpr std::string_view kPrefix = "/channel";

Route route(std::string_view path) {
    return parse_route(kPrefix, path);
}

// ---------------------------------------------------------------------------------------
// Routing

TEST(SockJsRoute, StaticUrls) {
    EXPECT_EQ(route("/channel").kind, RouteKind::kGreeting);
    EXPECT_EQ(route("/channel/").kind, RouteKind::kGreeting);
    EXPECT_EQ(route("/channel/info").kind, RouteKind::kInfo);
    EXPECT_EQ(route("/channel/chunking_test").kind, RouteKind::kChunkingTest);
    EXPECT_EQ(route("/channel/websocket").kind, RouteKind::kRawWebsocket);
}

TEST(SockJsRoute, NotFound) {
    for (const char* p :
         {"/channelx", "/other", "/channel/a", "/channel/a.html", "/channel//", "/channel///", "/channel/a/a",
          "/channel/a/a/", "/channel/a/", "/channel/info/", "/channel/a/a/bogus", "/channel/a/a/xhr/"})
        EXPECT_EQ(route(p).kind, RouteKind::kNotFound) << p;
}

TEST(SockJsRoute, IframeVariants) {
    for (const char* p : {"/channel/iframe.html", "/channel/iframe-a.html", "/channel/iframe-.html",
                          "/channel/iframe-0.1.2.html", "/channel/iframe-0.1.2abc-dirty.2144.html"})
        EXPECT_EQ(route(p).kind, RouteKind::kIframe) << p;
    for (const char* p : {"/channel/iframe.htm", "/channel/iframe", "/channel/IFRAME.HTML", "/channel/IFRAME",
                          "/channel/iframe.HTML", "/channel/iframe.xml", "/channel/iframe-/.html"})
        EXPECT_EQ(route(p).kind, RouteKind::kNotFound) << p;
}

TEST(SockJsRoute, SessionUrls) {
    for (const char* s : {"/a/a", "/_/_", "/1/1", "/abcdefgh_i-j%20/abcdefg_i-j%20", "/000/f81d4fae"}) {
        Route r = route("/channel"s + s + "/xhr");
        EXPECT_EQ(r.kind, RouteKind::kSession) << s;
        EXPECT_EQ(r.transport, Transport::kXhr);
    }
    Route r = route("/channel/000/abc/xhr_streaming");
    EXPECT_EQ(r.server, "000");
    EXPECT_EQ(r.session, "abc");
    EXPECT_EQ(r.transport, Transport::kXhrStreaming);
    for (const char* s : {"//", "/a./a", "/a/a.", "/./.", "/", "///"})
        EXPECT_EQ(route("/channel"s + s + "/xhr").kind, RouteKind::kNotFound) << s;
    for (Transport t : {Transport::kWebsocket, Transport::kXhr, Transport::kXhrSend, Transport::kXhrStreaming,
                        Transport::kJsonp, Transport::kJsonpSend, Transport::kEventsource, Transport::kHtmlfile}) {
        Route rt = route("/channel/1/2/"s + std::string(to_string(t)));
        EXPECT_EQ(rt.kind, RouteKind::kSession);
        EXPECT_EQ(rt.transport, t);
    }
}

TEST(SockJsRoute, Methods) {
    EXPECT_EQ(allowed_methods(route("/channel/info")), "OPTIONS, GET");
    EXPECT_EQ(allowed_methods(route("/channel/a/a/xhr")), "OPTIONS, POST");
    EXPECT_EQ(allowed_methods(route("/channel/a/a/xhr_send")), "OPTIONS, POST");
    EXPECT_EQ(allowed_methods(route("/channel/a/a/xhr_streaming")), "OPTIONS, POST");
    EXPECT_EQ(allowed_methods(route("/channel/a/a/websocket")), "GET");
    EXPECT_EQ(allowed_methods(route("/channel/a/a/jsonp_send")), "POST");
    EXPECT_TRUE(method_allowed(route("/channel/a/a/xhr"), "POST"));
    EXPECT_TRUE(method_allowed(route("/channel/a/a/xhr"), "OPTIONS"));
    EXPECT_FALSE(method_allowed(route("/channel/a/a/xhr"), "GET"));
    EXPECT_FALSE(method_allowed(route("/channel/a/a/websocket"), "POST"));
    EXPECT_FALSE(method_allowed(route("/channel/nope"), "GET"));
    EXPECT_TRUE(is_cors_route(route("/channel/info")));
    EXPECT_TRUE(is_cors_route(route("/channel/a/a/xhr_send")));
    EXPECT_FALSE(is_cors_route(route("/channel/a/a/jsonp")));

    Reply r = method_not_allowed_reply(route("/channel/a/a/websocket"));
    EXPECT_EQ(r.status, 405);
    EXPECT_TRUE(r.content_type.empty());
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.headers, (HeaderList{{"Allow", "GET"}}));
}

// ---------------------------------------------------------------------------------------
// Static answers

std::string header(const Reply& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name)
            return v;
    return {};
}

TEST(SockJsStatic, Greeting) {
    Reply r = greeting_reply();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "Welcome to SockJS!\n");
    EXPECT_EQ(r.content_type, "text/plain; charset=UTF-8");
}

TEST(SockJsStatic, InfoFollowsTheReference) {
    ServerOptions o;
    Reply r = info_reply(o, 4242);
    EXPECT_EQ(r.body, R"({"websocket":true,"cookie_needed":true,"origins":["*:*"],"entropy":4242})");
    EXPECT_EQ(r.content_type, "application/json; charset=UTF-8");
    EXPECT_EQ(header(r, "Cache-Control"), "no-store, no-cache, must-revalidate, max-age=0");
    EXPECT_TRUE(r.cors);
    EXPECT_EQ(info_body(false, false, 0), R"({"websocket":false,"cookie_needed":false,"origins":["*:*"],"entropy":0})");
    auto j = json::parse(r.body);
    ASSERT_TRUE(j);
    EXPECT_TRUE(json_is_integer(json_object_get(j->get(), "entropy")));
}

TEST(SockJsStatic, Options) {
    WallClock::time_point now = WallClock::from_time_t(784111777);
    Reply r = options_reply(route("/channel/a/a/xhr"), now);
    EXPECT_EQ(r.status, 204);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=31536000");
    EXPECT_EQ(header(r, "Access-Control-Max-Age"), "31536000");
    EXPECT_EQ(header(r, "Allow"), "OPTIONS, POST");
    EXPECT_EQ(header(r, "Expires"), "Mon, 06 Nov 1995 08:49:37 GMT");
    EXPECT_TRUE(r.cors);
}

TEST(SockJsStatic, HttpDate) {
    EXPECT_EQ(http_date(WallClock::from_time_t(784111777)), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(http_date(WallClock::from_time_t(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(SockJsStatic, IframePageAndEtag) {
    ServerOptions o;
    o.sockjs_url = "/static/sockjs.min.js";
    WallClock::time_point now = WallClock::from_time_t(0);
    Reply r = iframe_reply(o, std::nullopt, now);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/html; charset=UTF-8");
    EXPECT_EQ(r.body.rfind("<!DOCTYPE html>\n<html>\n<head>\n", 0), 0u);
    EXPECT_NE(r.body.find("<script src=\"/static/sockjs.min.js\"></script>"), std::string::npos);
    EXPECT_NE(r.body.find("_sockjs_onload = function(){SockJS.bootstrap_iframe();};"), std::string::npos);
    EXPECT_EQ(r.body.substr(r.body.size() - 7), "</html>");
    std::string etag = header(r, "ETag");
    EXPECT_EQ(etag.size(), 42u);
    EXPECT_EQ(etag, iframe_etag(r.body));
    EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=31536000");
    EXPECT_FALSE(header(r, "Expires").empty());
    EXPECT_EQ(iframe_reply(o, std::nullopt, now).body, r.body);  // stable

    Reply cached = iframe_reply(o, std::string_view(etag), now);
    EXPECT_EQ(cached.status, 304);
    EXPECT_TRUE(cached.body.empty());
    EXPECT_TRUE(cached.content_type.empty());
    EXPECT_EQ(iframe_reply(o, std::string_view("\"other\""), now).status, 200);

    // The URL cannot break out of its attribute.
    EXPECT_NE(iframe_page("x\"><script>").find("x&quot;&gt;&lt;script&gt;"), std::string::npos);
}

TEST(SockJsStatic, EtagMatching) {
    EXPECT_TRUE(etag_matches("\"a\"", "\"a\""));
    EXPECT_TRUE(etag_matches("\"b\", W/\"a\"", "\"a\""));
    EXPECT_TRUE(etag_matches("*", "\"a\""));
    EXPECT_FALSE(etag_matches("\"b\"", "\"a\""));
    EXPECT_FALSE(etag_matches("", "\"a\""));
}

TEST(SockJsStatic, ChunkingTest) {
    auto s = chunking_test_schedule();
    ASSERT_EQ(s.size(), 7u);
    EXPECT_EQ(s[0].chunk, "h\n");
    EXPECT_EQ(s[1].chunk.size(), 2048u + 2u);
    EXPECT_EQ(s[6].delay, 3125ms);
    EXPECT_EQ(chunking_test_reply().content_type, "application/javascript; charset=UTF-8");
}

TEST(SockJsStatic, TransportReplies) {
    ServerOptions o;
    Reply xhr = transport_reply(Transport::kXhr, o, std::nullopt);
    EXPECT_EQ(xhr.status, 200);
    EXPECT_EQ(xhr.content_type, "application/javascript; charset=UTF-8");
    EXPECT_EQ(header(xhr, "Cache-Control"), std::string(kNoCache));
    EXPECT_EQ(header(xhr, "Set-Cookie"), "JSESSIONID=dummy; Path=/");
    EXPECT_TRUE(xhr.cors);

    Reply send = send_ok_reply(Transport::kXhrSend, o, std::string_view("JSESSIONID=abcdef"));
    EXPECT_EQ(send.status, 204);
    EXPECT_EQ(send.content_type, "text/plain; charset=UTF-8");
    EXPECT_TRUE(send.body.empty());
    EXPECT_EQ(header(send, "Set-Cookie"), "JSESSIONID=abcdef; Path=/");

    Reply jsend = send_ok_reply(Transport::kJsonpSend, o, std::nullopt);
    EXPECT_EQ(jsend.status, 200);
    EXPECT_EQ(jsend.body, "ok");
    EXPECT_FALSE(jsend.cors);

    EXPECT_EQ(transport_reply(Transport::kEventsource, o, std::nullopt).content_type,
              "text/event-stream; charset=UTF-8");
    EXPECT_EQ(transport_reply(Transport::kHtmlfile, o, std::nullopt).content_type, "text/html; charset=UTF-8");

    o.cookie_needed = false;
    EXPECT_EQ(header(transport_reply(Transport::kXhr, o, std::nullopt), "Set-Cookie"), "");
}

TEST(SockJsStatic, JsessionidCookie) {
    EXPECT_EQ(jsessionid_cookie(std::nullopt), "JSESSIONID=dummy; Path=/");
    EXPECT_EQ(jsessionid_cookie("a=b; JSESSIONID=xyz; c=d"), "JSESSIONID=xyz; Path=/");
    EXPECT_EQ(jsessionid_cookie("JSESSIONID=bad\"value"), "JSESSIONID=dummy; Path=/");
    EXPECT_EQ(jsessionid_cookie("JSESSIONID="), "JSESSIONID=dummy; Path=/");
}

TEST(SockJsStatic, ErrorReplies) {
    EXPECT_EQ(error_reply(Error{ENOENT, "x"}).status, 404);
    EXPECT_EQ(error_reply(Error{EAGAIN, "Too many"}).status, 503);
    Reply r = error_reply(Error{ENODATA, "Payload expected."});
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body, "Payload expected.");
    EXPECT_EQ(r.content_type, "text/plain; charset=UTF-8");
}

// ---------------------------------------------------------------------------------------
// Client payloads

TEST(SockJsPayload, XhrSend) {
    EXPECT_EQ(*parse_xhr_send(R"(["a"])"), (std::vector<std::string>{"a"}));
    EXPECT_EQ(*parse_xhr_send(R"(["a","b",""])"), (std::vector<std::string>{"a", "b", ""}));
    EXPECT_EQ(*parse_xhr_send(R"(["  \u0000\n\r "])"), (std::vector<std::string>{"  \0\n\r "s}));
    EXPECT_EQ(*parse_xhr_send("[]"), (std::vector<std::string>{}));

    auto empty = parse_xhr_send("");
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code, ENODATA);
    EXPECT_EQ(empty.error().context, "Payload expected.");
    for (const char* bad : {R"(["x)", "[1]", R"("a")", "{}", "null", R"(["\ud800"])"}) {
        auto r = parse_xhr_send(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, EINVAL);
        EXPECT_EQ(r.error().context, "Broken JSON encoding.");
    }
}

TEST(SockJsPayload, JsonpSend) {
    std::string_view form = "application/x-www-form-urlencoded";
    EXPECT_EQ(*parse_jsonp_send("d=%5B%22x%22%5D", form), (std::vector<std::string>{"x"}));
    EXPECT_EQ(*parse_jsonp_send("a=1&d=%5B%22a+b%22%5D", form), (std::vector<std::string>{"a b"}));
    auto broken = parse_jsonp_send("d=%5B%22x", form);
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().context, "Broken JSON encoding.");
    for (const char* data : {"", "d=", "p=p"}) {
        auto r = parse_jsonp_send(data, form);
        ASSERT_FALSE(r) << data;
        EXPECT_EQ(r.error().context, "Payload expected.");
    }
    // Other content types: the raw body, not URL-decoded.
    EXPECT_EQ(*parse_jsonp_send(R"(["%61bc"])", std::string_view("text/plain")), (std::vector<std::string>{"%61bc"}));
    EXPECT_EQ(*parse_jsonp_send(R"(["x"])", std::nullopt), (std::vector<std::string>{"x"}));
}

TEST(SockJsPayload, WebsocketMessages) {
    EXPECT_EQ(*parse_websocket_message(""), (std::vector<std::string>{}));
    EXPECT_EQ(*parse_websocket_message(R"(["a","b"])"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(*parse_websocket_message(R"("a")"), (std::vector<std::string>{"a"}));
    for (const char* bad : {R"(["a)", "1", "{}", "[1]"}) {
        auto r = parse_websocket_message(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().context, "Broken framing.");
    }
}

TEST(SockJsPayload, Callback) {
    EXPECT_EQ(*check_callback(std::string_view("callback")), "callback");
    EXPECT_EQ(*check_callback(std::string_view("a.b_c-1")), "a.b_c-1");
    auto missing = check_callback(std::nullopt);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().context, "\"callback\" parameter required");
    EXPECT_FALSE(check_callback(std::string_view("")));
    auto bad = check_callback(std::string_view("alert(1)"));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().context, "invalid \"callback\" parameter");
}

// ---------------------------------------------------------------------------------------
// Framing

TEST(SockJsFrame, Frames) {
    EXPECT_EQ(open_frame(), "o");
    EXPECT_EQ(heartbeat_frame(), "h");
    EXPECT_EQ(message_frame(std::vector<std::string>{"a"}), R"(a["a"])");
    EXPECT_EQ(message_frame(std::vector<std::string>{"a", "b\"c"}), R"(a["a","b\"c"])");
    EXPECT_EQ(close_frame(kGoAway), R"(c[3000,"Go away!"])");
    EXPECT_EQ(close_frame(kAnotherConnection), R"(c[2010,"Another connection still open"])");
}

TEST(SockJsFrame, QuoteEscapesLikeSockJsServers) {
    EXPECT_EQ(quote("plain"), R"("plain")");
    EXPECT_EQ(quote("  \0\n\r "s), R"("  \u0000\n\r ")");
    EXPECT_EQ(quote("\"\\/\b\f\t\x01\x1f\x7f"), "\"\\\"\\\\/\\b\\f\\t\\u0001\\u001f\x7f\"");
    EXPECT_EQ(quote("\xc3\xa9"), "\"\xc3\xa9\"");     // é stays as is
    EXPECT_EQ(quote("\xe2\x80\xa8"), R"("\u2028")");  // line separator
    EXPECT_EQ(quote("\xef\xbf\xbf"), R"("\uffff")");
    EXPECT_EQ(quote("\xf0\x9f\x98\x80"), R"("\ud83d\ude00")");  // U+1F600 as a surrogate pair
    EXPECT_EQ(quote("a\xff"
                    "b"),
              R"("a\ufffdb")");                         // invalid UTF-8
    EXPECT_EQ(quote("\xe2\x82"), R"("\ufffd\ufffd")");  // truncated sequence
}

// Every BMP character is escaped exactly when sockjs-protocol's escapable_by_server (or
// plain JSON) says so.
TEST(SockJsFrame, QuoteCoversTheServerEscapableRanges) {
    auto utf8 = [](uint32_t cp) {
        std::string s;
        if (cp < 0x80) {
            s.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        return s;
    };
    for (uint32_t cp = 0x20; cp <= 0xFFFF; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        if (cp == '"' || cp == '\\')
            continue;
        bool want = (cp >= 0x200C && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
                    (cp >= 0x2060 && cp <= 0x206F) || cp >= 0xFFF0;
        std::string q = quote(utf8(cp));
        char esc[16];
        snprintf(esc, sizeof esc, "\"\\u%04x\"", cp);
        if (want)
            ASSERT_EQ(q, esc) << std::hex << cp;
        else
            ASSERT_EQ(q, "\"" + utf8(cp) + "\"") << std::hex << cp;
    }
}

TEST(SockJsFrame, QuotedFramesParseBack) {
    std::string tricky = "x\xe2\x80\xa8y\xf0\x9f\x98\x80\"\\\0z"s;
    auto j = json::parse("[" + quote(tricky) + "]");
    ASSERT_TRUE(j);
    EXPECT_EQ(
        std::string(json_string_value(json_array_get(j->get(), 0)), json_string_length(json_array_get(j->get(), 0))),
        tricky);
}

TEST(SockJsFrame, WrapPerTransport) {
    EXPECT_EQ(wrap(Transport::kXhr, "o"), "o\n");
    EXPECT_EQ(wrap(Transport::kXhrStreaming, R"(a["x"])"), "a[\"x\"]\n");
    EXPECT_EQ(wrap(Transport::kEventsource, "o"), "data: o\r\n\r\n");
    EXPECT_EQ(wrap(Transport::kEventsource, R"(a["  \u0000\n\r "])"), "data: a[\"  \\u0000\\n\\r \"]\r\n\r\n");
    EXPECT_EQ(wrap(Transport::kJsonp, "o", "callback"), "callback(\"o\");\r\n");
    EXPECT_EQ(wrap(Transport::kJsonp, R"(a["x"])", "x"), "x(\"a[\\\"x\\\"]\");\r\n");
    EXPECT_EQ(wrap(Transport::kJsonp, R"(c[3000,"Go away!"])", "x"), "x(\"c[3000,\\\"Go away!\\\"]\");\r\n");
    EXPECT_EQ(wrap(Transport::kHtmlfile, "o", "cb"), "<script>\np(\"o\");\n</script>\r\n");
    EXPECT_EQ(wrap(Transport::kHtmlfile, R"(a["x"])", "cb"), "<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n");
    EXPECT_EQ(wrap(Transport::kHtmlfile, R"(a["</script><!--"])", "cb"),
              "<script>\np(\"a[\\\"\\u003c/script>\\u003c!--\\\"]\");\n</script>\r\n");
    EXPECT_EQ(wrap(Transport::kWebsocket, "o"), "o");
}

TEST(SockJsFrame, Preludes) {
    EXPECT_EQ(prelude(Transport::kXhrStreaming), std::string(2048, 'h') + "\n");
    EXPECT_EQ(prelude(Transport::kEventsource), "\r\n");
    EXPECT_EQ(prelude(Transport::kXhr), "");
    std::string p = prelude(Transport::kHtmlfile, "callback");
    EXPECT_GT(p.size(), 1024u);
    EXPECT_EQ(p.substr(p.size() - 4), "\r\n\r\n");
    EXPECT_NE(p.find("    var c = parent.callback;\n"), std::string::npos);
    EXPECT_EQ(p.rfind("<!doctype html>\n<html><head>\n", 0), 0u);
    // Stripped, it is exactly the page of the protocol suite.
    size_t end = p.find_last_not_of(" \r\n");
    EXPECT_EQ(p.substr(end - 8, 9), "</script>");
}

// ---------------------------------------------------------------------------------------
// Sessions

TimePoint t0() {
    return TimePoint{} + 1000s;
}

SessionOptions small_options() {
    SessionOptions o;
    o.response_limit = 4096;
    return o;
}

TEST(SockJsSession, XhrPollingFlow) {
    Session s("id", {}, t0());
    EXPECT_EQ(s.state(), SessionState::kOpening);
    auto a = s.attach(Transport::kXhr, "", t0());
    EXPECT_NE(a.receiver, 0u);
    EXPECT_EQ(a.output.chunks, (std::vector<std::string>{"o\n"}));
    EXPECT_TRUE(a.output.end);
    EXPECT_FALSE(s.attached());
    EXPECT_EQ(s.state(), SessionState::kOpen);

    ASSERT_TRUE(s.send("a"));
    auto b = s.attach(Transport::kXhr, "", t0() + 1ms);
    EXPECT_EQ(b.output.chunks, (std::vector<std::string>{"a[\"a\"]\n"}));
    EXPECT_TRUE(b.output.end);
}

TEST(SockJsSession, LongPollWaitsForData) {
    Session s("id", {}, t0());
    (void)s.attach(Transport::kXhr, "", t0());
    auto a = s.attach(Transport::kXhr, "", t0());
    EXPECT_TRUE(a.output.chunks.empty());
    EXPECT_FALSE(a.output.end);
    EXPECT_TRUE(s.attached());
    EXPECT_FALSE(s.has_output());
    ASSERT_TRUE(s.send("one"));
    ASSERT_TRUE(s.send("two"));
    EXPECT_TRUE(s.has_output());
    Output out = s.pull(a.receiver, t0() + 1s);
    EXPECT_EQ(out.chunks, (std::vector<std::string>{"a[\"one\",\"two\"]\n"}));
    EXPECT_TRUE(out.end);
    EXPECT_FALSE(s.attached());
    EXPECT_EQ(s.queued_messages(), 0u);
    // A stale receiver gets nothing but "end".
    Output stale = s.pull(a.receiver, t0() + 2s);
    EXPECT_TRUE(stale.chunks.empty());
    EXPECT_TRUE(stale.end);
}

TEST(SockJsSession, OneReceiverAtATime) {
    Session s("id", {}, t0());
    auto first = s.attach(Transport::kXhrStreaming, "", t0());
    ASSERT_NE(first.receiver, 0u);
    EXPECT_EQ(first.output.chunks, (std::vector<std::string>{std::string(2048, 'h') + "\n", "o\n"}));
    EXPECT_FALSE(first.output.end);

    auto second = s.attach(Transport::kXhr, "", t0());
    EXPECT_EQ(second.receiver, 0u);
    EXPECT_EQ(second.output.chunks, (std::vector<std::string>{"c[2010,\"Another connection still open\"]\n"}));
    EXPECT_TRUE(second.output.end);
    auto third = s.attach(Transport::kXhrStreaming, "", t0());
    ASSERT_EQ(third.output.chunks.size(), 2u);  // prelude, then the close frame
    EXPECT_EQ(third.output.chunks[1], "c[2010,\"Another connection still open\"]\n");

    // The first receiver is untouched.
    EXPECT_TRUE(s.attached());
    ASSERT_TRUE(s.send("x"));
    EXPECT_EQ(s.pull(first.receiver, t0()).chunks, (std::vector<std::string>{"a[\"x\"]\n"}));
}

TEST(SockJsSession, ApplicationCloseIsServedUntilExpiry) {
    Session s("id", {}, t0());
    (void)s.attach(Transport::kJsonp, "x", t0());
    s.close();
    EXPECT_EQ(s.state(), SessionState::kClosing);
    EXPECT_FALSE(s.accepts_messages());
    for (int i = 0; i < 2; ++i) {
        auto a = s.attach(Transport::kJsonp, "x", t0() + 1s);
        EXPECT_EQ(a.receiver, 0u);
        EXPECT_EQ(a.output.chunks, (std::vector<std::string>{"x(\"c[3000,\\\"Go away!\\\"]\");\r\n"}));
        EXPECT_TRUE(a.output.end);
    }
    auto sent = s.send("late");
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code, EPIPE);
    s.tick(t0() + 5s);
    EXPECT_EQ(s.state(), SessionState::kClosed);
    auto a = s.attach(Transport::kXhr, "", t0() + 6s);
    EXPECT_EQ(a.output.chunks, (std::vector<std::string>{"c[3000,\"Go away!\"]\n"}));
}

TEST(SockJsSession, CloseWithAReceiverFlushesThenCloses) {
    Session s("id", {}, t0());
    auto a = s.attach(Transport::kEventsource, "", t0());
    EXPECT_EQ(a.output.chunks, (std::vector<std::string>{"\r\n", "data: o\r\n\r\n"}));
    ASSERT_TRUE(s.send("bye"));
    s.close(3001, "done");
    EXPECT_TRUE(s.has_output());
    Output out = s.pull(a.receiver, t0());
    EXPECT_EQ(out.chunks, (std::vector<std::string>{"data: a[\"bye\"]\r\n\r\n", "data: c[3001,\"done\"]\r\n\r\n"}));
    EXPECT_TRUE(out.end);
    EXPECT_FALSE(s.attached());
    s.close();  // the first close wins
    auto again = s.attach(Transport::kXhr, "", t0());
    EXPECT_EQ(again.output.chunks, (std::vector<std::string>{"c[3001,\"done\"]\n"}));
}

TEST(SockJsSession, CloseBeforeTheOpenFrameStillOpensFirst) {
    Session s("id", {}, t0());
    s.close();
    auto a = s.attach(Transport::kXhrStreaming, "", t0());
    ASSERT_EQ(a.output.chunks.size(), 3u);
    EXPECT_EQ(a.output.chunks[1], "o\n");
    EXPECT_EQ(a.output.chunks[2], "c[3000,\"Go away!\"]\n");
    EXPECT_TRUE(a.output.end);
}

TEST(SockJsSession, ExpiresFiveSecondsAfterTheLastReceiver) {
    Session s("id", {}, t0());
    auto a = s.attach(Transport::kXhrStreaming, "", t0());
    EXPECT_EQ(s.next_deadline(), t0() + 25s);  // heartbeat while attached
    s.detach(a.receiver, false, t0() + 2s);
    EXPECT_EQ(s.state(), SessionState::kOpen);
    EXPECT_EQ(s.next_deadline(), t0() + 7s);
    s.tick(t0() + 7s - 1ms);
    EXPECT_EQ(s.state(), SessionState::kOpen);
    s.tick(t0() + 7s);
    EXPECT_EQ(s.state(), SessionState::kClosed);
    EXPECT_EQ(s.next_deadline(), std::nullopt);
}

TEST(SockJsSession, ReattachingKeepsTheSessionAlive) {
    Session s("id", {}, t0());
    (void)s.attach(Transport::kXhr, "", t0());  // "o", detached at t0
    auto a = s.attach(Transport::kXhr, "", t0() + 4s);
    s.tick(t0() + 6s);
    EXPECT_EQ(s.state(), SessionState::kOpen);
    s.detach(a.receiver, false, t0() + 10s);
    s.tick(t0() + 14s);
    EXPECT_EQ(s.state(), SessionState::kOpen);
    s.tick(t0() + 15s);
    EXPECT_EQ(s.state(), SessionState::kClosed);
}

TEST(SockJsSession, HeartbeatEvery25Seconds) {
    Session s("id", {}, t0());
    auto a = s.attach(Transport::kXhrStreaming, "", t0());
    s.tick(t0() + 24s);
    EXPECT_FALSE(s.has_output());
    s.tick(t0() + 25s);
    EXPECT_TRUE(s.has_output());
    EXPECT_EQ(s.next_deadline(), std::nullopt);  // nothing to do until the heartbeat is pulled
    Output out = s.pull(a.receiver, t0() + 25s);
    EXPECT_EQ(out.chunks, (std::vector<std::string>{"h\n"}));
    EXPECT_FALSE(out.end);
    EXPECT_EQ(s.next_deadline(), t0() + 50s);
    // Any frame pushes the next heartbeat back.
    ASSERT_TRUE(s.send("m"));
    (void)s.pull(a.receiver, t0() + 40s);
    EXPECT_EQ(s.next_deadline(), t0() + 65s);
}

TEST(SockJsSession, HeartbeatEndsALongPoll) {
    Session s("id", {}, t0());
    (void)s.attach(Transport::kXhr, "", t0());
    auto a = s.attach(Transport::kXhr, "", t0() + 1s);
    s.tick(t0() + 26s);
    Output out = s.pull(a.receiver, t0() + 26s);
    EXPECT_EQ(out.chunks, (std::vector<std::string>{"h\n"}));
    EXPECT_TRUE(out.end);
}

TEST(SockJsSession, InterruptedReceiverClosesTheSession) {
    Session s("id", {}, t0());
    (void)s.attach(Transport::kXhr, "", t0());
    auto a = s.attach(Transport::kXhr, "", t0());
    ASSERT_TRUE(s.send("lost"));
    s.detach(a.receiver, true, t0() + 1s);
    EXPECT_EQ(s.state(), SessionState::kClosing);
    EXPECT_EQ(s.queued_messages(), 0u);
    auto b = s.attach(Transport::kXhr, "", t0() + 2s);
    EXPECT_EQ(b.output.chunks, (std::vector<std::string>{"c[1002,\"Connection interrupted\"]\n"}));
    s.tick(t0() + 6s);
    EXPECT_EQ(s.state(), SessionState::kClosed);
}

TEST(SockJsSession, StreamingResponseLimit) {
    // The sockjs-protocol suite's XhrStreaming.test_response_limit with a 4096-byte limit.
    Session s("id", small_options(), t0());
    auto a = s.attach(Transport::kXhrStreaming, "", t0());
    std::string msg(128, 'x');
    for (int i = 0; i < 31; ++i) {
        ASSERT_TRUE(s.send(msg));
        Output out = s.pull(a.receiver, t0());
        EXPECT_EQ(out.chunks, (std::vector<std::string>{"a[\"" + msg + "\"]\n"}));
        EXPECT_EQ(out.end, i == 30) << i;
    }
    EXPECT_FALSE(s.attached());
    EXPECT_EQ(s.state(), SessionState::kOpen);
    // The client reconnects and the session goes on.
    auto b = s.attach(Transport::kEventsource, "", t0());
    EXPECT_NE(b.receiver, 0u);
    ASSERT_TRUE(s.send(std::string(4096, 'y')));
    Output big = s.pull(b.receiver, t0());
    EXPECT_TRUE(big.end);
}

TEST(SockJsSession, HtmlfileFlow) {
    Session s("id", {}, t0());
    auto a = s.attach(Transport::kHtmlfile, "callback", t0());
    ASSERT_EQ(a.output.chunks.size(), 2u);
    EXPECT_GT(a.output.chunks[0].size(), 1024u);
    EXPECT_EQ(a.output.chunks[1], "<script>\np(\"o\");\n</script>\r\n");
    ASSERT_TRUE(s.send("x"));
    EXPECT_EQ(s.pull(a.receiver, t0()).chunks,
              (std::vector<std::string>{"<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n"}));
}

TEST(SockJsSession, WebsocketSessionLivesWithItsConnection) {
    Session s("id", {}, t0());
    auto a = s.attach(Transport::kWebsocket, "", t0());
    EXPECT_EQ(a.output.chunks, (std::vector<std::string>{"o"}));
    EXPECT_FALSE(a.output.end);
    ASSERT_TRUE(s.send("x"));
    EXPECT_EQ(s.pull(a.receiver, t0()).chunks, (std::vector<std::string>{"a[\"x\"]"}));
    s.tick(t0() + 25s);
    EXPECT_EQ(s.pull(a.receiver, t0() + 25s).chunks, (std::vector<std::string>{"h"}));
    s.close();
    Output out = s.pull(a.receiver, t0() + 26s);
    EXPECT_EQ(out.chunks, (std::vector<std::string>{"c[3000,\"Go away!\"]"}));
    EXPECT_TRUE(out.end);
    EXPECT_EQ(s.state(), SessionState::kClosed);  // no 5 s linger for websockets
}

TEST(SockJsSession, WebsocketDisconnectClosesAtOnce) {
    Session s("id", {}, t0());
    auto a = s.attach(Transport::kWebsocket, "", t0());
    s.detach(a.receiver, false, t0() + 1s);
    EXPECT_EQ(s.state(), SessionState::kClosed);
    EXPECT_EQ(s.next_deadline(), std::nullopt);
}

TEST(SockJsSession, SendTransportsCannotReceive) {
    Session s("id", {}, t0());
    auto a = s.attach(Transport::kXhrSend, "", t0());
    EXPECT_EQ(a.receiver, 0u);
    EXPECT_TRUE(a.output.chunks.empty());
    EXPECT_TRUE(a.output.end);
    EXPECT_EQ(s.state(), SessionState::kOpening);
}

TEST(SockJsSession, QueueIsBounded) {
    SessionOptions o;
    o.max_queue_messages = 2;
    o.max_queue_bytes = 10;
    Session s("id", o, t0());
    (void)s.attach(Transport::kXhr, "", t0());
    ASSERT_TRUE(s.send("12345"));
    ASSERT_TRUE(s.send("12345"));
    auto r = s.send("1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOBUFS);
    EXPECT_EQ(s.state(), SessionState::kClosing);
    EXPECT_EQ(s.queued_bytes(), 0u);
    auto a = s.attach(Transport::kXhr, "", t0());
    EXPECT_EQ(a.output.chunks, (std::vector<std::string>{"c[4000,\"Send queue overflow\"]\n"}));

    Session bytes("b", o, t0());
    ASSERT_TRUE(bytes.send("1234567890"));
    auto over = bytes.send("x");  // one message, but 11 bytes in all
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().code, ENOBUFS);
}

TEST(SockJsRegistry, CreatesFindsAndExpires) {
    SessionRegistry reg({}, 2);
    auto a = reg.find_or_create("a", t0());
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->created);
    auto again = reg.find_or_create("a", t0());
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->session, a->session);
    EXPECT_EQ(reg.find("a"), a->session);
    EXPECT_EQ(reg.find("zz"), nullptr);

    auto b = reg.find_or_create("b", t0() + 1s);
    ASSERT_TRUE(b);
    auto full = reg.find_or_create("c", t0());
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().code, EAGAIN);
    EXPECT_EQ(error_reply(full.error()).status, 503);

    // Neither was attached: both expire disconnect_delay after their creation.
    EXPECT_EQ(reg.next_deadline(), t0() + 5s);
    EXPECT_EQ(reg.tick(t0() + 5s), (std::vector<std::string>{"a"}));
    EXPECT_EQ(reg.size(), 1u);
    EXPECT_EQ(reg.next_deadline(), t0() + 6s);

    // An attached session only has its heartbeat deadline.
    Session* sb = reg.find("b");
    auto rb = sb->attach(Transport::kXhrStreaming, "", t0() + 5s);
    EXPECT_EQ(reg.next_deadline(), t0() + 30s);
    EXPECT_TRUE(reg.tick(t0() + 30s).empty());
    EXPECT_TRUE(sb->has_output());
    sb->detach(rb.receiver, false, t0() + 31s);
    EXPECT_EQ(reg.tick(t0() + 36s), (std::vector<std::string>{"b"}));
    EXPECT_EQ(reg.size(), 0u);
    EXPECT_EQ(reg.next_deadline(), std::nullopt);
}

}  // namespace
}  // namespace gaffer::ws::sockjs
