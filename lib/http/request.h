// SPDX-License-Identifier: MIT
// Request and Response: the plain values the router works on. The server (server.cc)
// turns each libmicrohttpd request into a Request and sends the Response back; the unit
// tests build Requests by hand, so every route is testable without a socket.
//
// Invariants: header names in Request::headers are lower-case; Response never carries a
// body for 204 or for HEAD requests (the server drops it); the router fills in
// Content-Type for every response that has a body.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gaffer::http {

// What kind of endpoint a request came in on. Rights depend on it
// (security-defaults.md "Listening").
enum class EndpointKind {
    kUnix,         // AF_UNIX socket: the caller is identified by SO_PEERCRED
    kTcpLoopback,  // 127.0.0.0/8, ::1 (and ::ffff:127.x)
    kTcpRemote,    // any other address: keys are always required
};
const char* to_string(EndpointKind kind);

struct Peer {
    EndpointKind kind = EndpointKind::kTcpLoopback;
    bool tls = false;
    // SO_PEERCRED of a unix-socket caller; nullopt elsewhere.
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    // TCP: the local address and port the connection came in on ("127.0.0.1", "[::1]"),
    // from getsockname(): the endpoint's identity for the Host and Origin checks
    // (lib/http/gate.h), never taken from the request's own headers.
    std::string local_host;
    uint16_t local_port = 0;
    // The client's IP address as text on TCP endpoints; "" on the unix socket.
    std::string address;
};

struct Request {
    std::string method;  // "GET", "POST", ... as sent
    std::string path;    // percent-decoded, without the query string
    std::vector<std::pair<std::string, std::string>> query;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    Peer peer;

    // The value of a header (name in any case); nullopt if absent.
    std::optional<std::string_view> header(std::string_view name) const;
    // The last value of a query argument; nullopt if absent.
    std::optional<std::string_view> query_value(std::string_view name) const;
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string content_type;  // empty: no Content-Type header (204, empty HEAD answers)

    // The value of a header set on this response (name in any case).
    std::optional<std::string_view> header(std::string_view name) const;
    void set_header(std::string name, std::string value);
};

}  // namespace gaffer::http
