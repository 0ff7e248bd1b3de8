// SPDX-License-Identifier: MIT
// Unit tests of lib/http/gate: the checks every request passes before routing (issue 11
// §1 cross-site requests, §2 DNS rebinding, §7 framing), as pure functions of a Request.
// The attacks themselves, over real sockets, are in tests/integration/test_security_gate.py.
#include "lib/http/gate.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace gaffer::http {
namespace {

Request tcp(const char* method, const char* path, const char* host = "127.0.0.1:5000") {
    Request r;
    r.method = method;
    r.path = path;
    r.peer.kind = EndpointKind::kTcpLoopback;
    r.peer.local_host = "127.0.0.1";
    r.peer.local_port = 5000;
    if (host)
        r.headers["host"] = host;
    return r;
}

Request json_post(const char* path) {
    Request r = tcp("POST", path);
    r.headers["content-length"] = "2";
    r.headers["content-type"] = "application/json";
    return r;
}

int status(const RequestGate& g, const Request& r) {
    auto refused = g.screen(r);
    return refused ? refused->status : 0;
}

struct GateTest : ::testing::Test {
    CorsPolicy cors{{"https://ui.example"}};
    RequestGate gate{GateOptions{{"gaffer.internal"}, false}, cors};
};

TEST_F(GateTest, PlainClientsPass) {
    EXPECT_EQ(status(gate, tcp("GET", "/jobs")), 0);
    EXPECT_EQ(status(gate, json_post("/jobs/default")), 0);
    Request del = tcp("DELETE", "/jobs/default/x");
    EXPECT_EQ(status(gate, del), 0);
    Request empty_post = tcp("POST", "/processes/x/_stop");
    empty_post.headers["content-length"] = "0";
    EXPECT_EQ(status(gate, empty_post), 0);
}

// §1: the exact request of the report: text/plain body from a foreign page.
TEST_F(GateTest, CrossSiteOriginIsRefusedOnChanges) {
    Request r = json_post("/jobs/default");
    r.headers["origin"] = "http://evil.example";
    EXPECT_EQ(status(gate, r), 403);
    for (const char* m : {"PUT", "DELETE", "PATCH"}) {
        Request x = tcp(m, "/jobs/default/x");
        x.headers["origin"] = "http://evil.example";
        EXPECT_EQ(status(gate, x), 403) << m;
    }
    Request null_origin = json_post("/jobs/default");
    null_origin.headers["origin"] = "null";
    EXPECT_EQ(status(gate, null_origin), 403);
    // Reads stay readable (CORS decides what a page may see of them).
    Request get = tcp("GET", "/jobs");
    get.headers["origin"] = "http://evil.example";
    EXPECT_EQ(status(gate, get), 0);
}

TEST_F(GateTest, OwnAndListedOriginsMayAct) {
    for (const char* o : {"http://127.0.0.1:5000", "http://localhost:5000", "http://LOCALHOST:5000/",
                          "http://gaffer.internal:5000", "https://gaffer.internal", "https://ui.example"}) {
        Request r = json_post("/jobs/default");
        r.headers["origin"] = o;
        EXPECT_EQ(status(gate, r), 0) << o;
    }
    for (const char* o :
         {"https://127.0.0.1:5000", "http://127.0.0.1:5001", "http://127.0.0.1", "http://evil.example:5000",
          "http://ui.example", "http://x.gaffer.internal:5000", "gaffer.internal:5000"}) {
        Request r = json_post("/jobs/default");
        r.headers["origin"] = o;
        EXPECT_EQ(status(gate, r), 403) << o;
    }
}

TEST_F(GateTest, SecFetchSiteWithoutOriginIsRefusedOnChanges) {
    for (const char* site : {"cross-site", "same-site", "Cross-Site"}) {
        Request r = tcp("DELETE", "/1");
        r.headers["sec-fetch-site"] = site;
        EXPECT_EQ(status(gate, r), 403) << site;
    }
    for (const char* site : {"same-origin", "none"}) {
        Request r = tcp("DELETE", "/1");
        r.headers["sec-fetch-site"] = site;
        EXPECT_EQ(status(gate, r), 0) << site;
    }
    // The SockJS transports take commands on GETs (jsonp): a cross-site script load too.
    Request jsonp = tcp("GET", "/channel/000/abc/jsonp");
    jsonp.headers["sec-fetch-site"] = "cross-site";
    EXPECT_EQ(status(gate, jsonp), 403);
}

TEST_F(GateTest, StarListsNoOriginForChangesWithoutKeys) {
    CorsPolicy star{{"*"}};
    RequestGate open(GateOptions{{}, false}, star);
    Request r = json_post("/jobs/default");
    r.headers["origin"] = "http://evil.example";
    EXPECT_EQ(status(open, r), 403);
    RequestGate keyed(GateOptions{{}, true}, star);
    EXPECT_EQ(status(keyed, r), 0);
}

TEST_F(GateTest, BodiesMustBeJson) {
    for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                             "text/plain; charset=UTF-8", "application/jsonx"}) {
        Request r = json_post("/jobs/default");
        r.headers["content-type"] = type;
        EXPECT_EQ(status(gate, r), 415) << type;
    }
    Request none = json_post("/jobs/default");
    none.headers.erase("content-type");
    EXPECT_EQ(status(gate, none), 415);
    Request chunked = tcp("POST", "/jobs/default");
    chunked.headers["transfer-encoding"] = "chunked";
    EXPECT_EQ(status(gate, chunked), 415);
    Request charset = json_post("/jobs/default");
    charset.headers["content-type"] = "Application/JSON; charset=utf-8";
    EXPECT_EQ(status(gate, charset), 0);
    // Raw bytes to stdin, as gafferctl send writes them; the SockJS transports keep their types.
    Request stdin_write = json_post("/streams/12/stdin");
    stdin_write.headers["content-type"] = "application/octet-stream";
    EXPECT_EQ(status(gate, stdin_write), 0);
    Request other = json_post("/jobs/default");
    other.headers["content-type"] = "application/octet-stream";
    EXPECT_EQ(status(gate, other), 415);
    Request sockjs = json_post("/channel/000/abc/xhr_send");
    sockjs.headers["content-type"] = "text/plain;charset=UTF-8";
    EXPECT_EQ(status(gate, sockjs), 0);
}

// §2: a page that rebinds its name to 127.0.0.1 sends that name in Host.
TEST_F(GateTest, HostMustNameTheEndpoint) {
    for (const char* h : {"127.0.0.1:5000", "localhost:5000", "LocalHost:5000", "gaffer.internal:5000",
                          "gaffer.internal", "gaffer.internal:8443"})
        EXPECT_EQ(status(gate, tcp("GET", "/jobs", h)), 0) << h;
    for (const char* h : {"evil.example:5000", "evil.example", "127.0.0.1", "127.0.0.1:80", "localhost:5001",
                          "127.0.0.2:5000", "[::1]:5000", "127.0.0.1:5000x", "127.0.0.1:", ":5000", ""})
        EXPECT_EQ(status(gate, tcp("GET", "/jobs", h)), 421) << h;
    // The refusal happens before anything else, whatever the method.
    Request post = json_post("/jobs/default");
    post.headers["host"] = "evil.example:5000";
    EXPECT_EQ(status(gate, post), 421);
    // HTTP/1.0 without Host: no browser sends that.
    EXPECT_EQ(status(gate, tcp("GET", "/jobs", nullptr)), 0);
}

TEST_F(GateTest, HostOfAnIpv6EndpointAndDefaultPorts) {
    Request r = tcp("GET", "/", "[::1]:5000");
    r.peer.local_host = "[::1]";
    EXPECT_EQ(status(gate, r), 0);
    r.headers["host"] = "localhost:5000";
    EXPECT_EQ(status(gate, r), 0);
    r.headers["host"] = "[::2]:5000";
    EXPECT_EQ(status(gate, r), 421);
    Request p80 = tcp("GET", "/", "127.0.0.1");
    p80.peer.local_port = 80;
    EXPECT_EQ(status(gate, p80), 0);
    p80.headers["origin"] = "http://127.0.0.1";
    EXPECT_TRUE(gate.own_origin(p80, "http://127.0.0.1"));
    EXPECT_FALSE(gate.own_origin(p80, "https://127.0.0.1"));
}

TEST_F(GateTest, RemoteEndpointsHaveNoLocalhostName) {
    Request r = tcp("GET", "/", "localhost:5000");
    r.peer.kind = EndpointKind::kTcpRemote;
    r.peer.local_host = "192.0.2.7";
    EXPECT_EQ(status(gate, r), 421);
    r.headers["host"] = "192.0.2.7:5000";
    EXPECT_EQ(status(gate, r), 0);
}

// §7: what a proxy and gafferd could read differently.
TEST_F(GateTest, FramingAmbiguitiesAre400) {
    Request both = json_post("/jobs/default");
    both.headers["transfer-encoding"] = "chunked";
    EXPECT_EQ(status(gate, both), 400);
    Request two = json_post("/jobs/default");
    two.headers["content-length"] = "2, 40";  // two headers, joined by the server
    EXPECT_EQ(status(gate, two), 400);
    Request same = json_post("/jobs/default");
    same.headers["content-length"] = "2, 2";
    EXPECT_EQ(status(gate, same), 400);
    Request sign = json_post("/jobs/default");
    sign.headers["content-length"] = "+2";
    EXPECT_EQ(status(gate, sign), 400);
    Request te = tcp("POST", "/jobs/default");
    te.headers["transfer-encoding"] = "gzip, chunked";
    EXPECT_EQ(status(gate, te), 400);
    Request nul = tcp("GET", "/jobs");
    nul.headers["x-api-key"] = std::string("abc\0def", 7);
    EXPECT_EQ(status(gate, nul), 400);
    Request cr = tcp("GET", "/jobs");
    cr.headers["x-api-key"] = "abc\rdef";
    EXPECT_EQ(status(gate, cr), 400);
    Request empty = tcp("GET", "");
    EXPECT_EQ(status(gate, empty), 400);
}

TEST_F(GateTest, UnixSocketsGetTheFramingChecksOnly) {
    Request r = json_post("/jobs/default");
    r.peer.kind = EndpointKind::kUnix;
    r.headers["host"] = "evil.example";
    r.headers["origin"] = "http://evil.example";
    r.headers["content-type"] = "text/plain";
    EXPECT_EQ(status(gate, r), 0);
    r.headers["transfer-encoding"] = "chunked";
    EXPECT_EQ(status(gate, r), 400);
}

TEST(UnescapeUrl, DecodesAndRefusesNul) {
    auto run = [](const char* in) {
        std::string s(in);
        size_t n = unescape_url(s.data());
        return s.substr(0, n);
    };
    EXPECT_EQ(run("/jobs/a%20b"), "/jobs/a b");
    EXPECT_EQ(run("/a%2Fb%2f"), "/a/b/");
    EXPECT_EQ(run("/bad%zz%4"), "/bad%zz%4");
    EXPECT_EQ(run("/1%00"), "");
    EXPECT_EQ(run("/1%00/stats"), "");
    EXPECT_EQ(run("/x+y"), "/x+y");
}

}  // namespace
}  // namespace gaffer::http
