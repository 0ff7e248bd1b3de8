// SPDX-License-Identifier: MIT
// RequestGate: what every request must pass before it is routed, read on its head alone
// (before its body is read), so that nothing a refused request asks for ever runs.
// security-defaults.md "Browsers" (revised 2026-12) and issue 11 §1, §2, §7.
//
// The checks, in order; the first that fails answers:
//   1. Framing (every endpoint; 400 "bad_request"): a path that is empty or held a NUL
//      (`%00`, see unescape_url()), Transfer-Encoding with Content-Length, more than one
//      Content-Length, a Content-Length that is not a decimal number, a Transfer-Encoding
//      other than exactly `chunked`, a NUL, CR or LF in a header name or value. Behind a
//      proxy each of these is a request-smuggling or truncation vector.
//   2. Host (TCP endpoints; 421 "misdirected_request"): the Host header, when there is
//      one, must name the endpoint the connection came in on: its local address
//      (`127.0.0.1`, `[::1]`), or `localhost` on a loopback endpoint, with that
//      endpoint's port (none when it is the scheme's default); or a name of
//      `allowed_hosts`, with any port or none (a reverse proxy's site). A page that rebinds its own name to 127.0.0.1
//      (DNS rebinding) sends its own name and is refused.
//   3. Cross-site (TCP endpoints, state-changing requests: every method but GET, HEAD and
//      OPTIONS, and every request to the SockJS transports (under a sockjs_prefixes
//      entry: gafferd's `/channel`, gaffer_lookupd's `/lookup`); 403 "forbidden"): an `Origin` must be the daemon's own
//      (own_origin()) or listed in cors_origins by name; without an `Origin`, `Sec-Fetch-Site: cross-site` or
//      `same-site` is refused. `*` in cors_origins lists no origin for this check unless keys are required on the
//      endpoint (then a page needs a key as well).
//   4. Content type (TCP endpoints, a request with a body; 415 "unsupported_media_type"):
//      `application/json` (parameters allowed), so that a browser must send a CORS
//      preflight first; `POST /streams/<pid>/stdin` (raw bytes) also takes
//      `application/octet-stream`. The SockJS transports keep the types
//      their protocol fixes (text/plain, form bodies) and rely on check 3.
// Unix-socket endpoints get check 1 only: a browser cannot reach them, and the caller is
// known by SO_PEERCRED.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/http/cors.h"
#include "lib/http/request.h"

namespace gaffer::http {

struct GateOptions {
    // [gaffer] allowed_hosts: further names (or addresses) the Host header may give for
    // the TCP endpoints, with any port or none; an Origin of such a name is the daemon's
    // own, whatever its scheme and port. Lower-cased.
    std::vector<std::string> allowed_hosts;
    // Keys are required on every TCP endpoint (require_key).
    bool require_key = false;
    // Where the site's SockJS servers are (checks 3 and 4).
    std::vector<std::string> sockjs_prefixes = {"/channel"};
};

class RequestGate {
public:
    RequestGate(GateOptions options, const CorsPolicy& cors);

    // nullopt when `req` (its head: method, path, headers, peer; the body is not needed)
    // may go on, else the refusal to send.
    std::optional<Response> screen(const Request& req) const;

    // Whether `origin` (an Origin header value) is the origin of the endpoint `req` came
    // in on: its scheme, its address (or localhost on loopback) and port; or any origin
    // whose host is a name of allowed_hosts.
    bool own_origin(const Request& req, std::string_view origin) const;
    // Whether the Host header of `req` names its endpoint (check 2; true on unix sockets
    // and without a Host header).
    bool host_allowed(const Request& req) const;
    // Check 3 for one Origin value: own_origin(), or listed in cors_origins (by name, or
    // by "*" where keys are required on the endpoint).
    bool origin_may_act(const Request& req, std::string_view origin) const;

private:
    bool host_matches(const Request& req, std::string_view host, std::optional<uint16_t> port) const;

    GateOptions opts_;
    const CorsPolicy& cors_;
};

// The unescape callback of the HTTP server: percent-decodes `s` in place and returns the
// new length, as libmicrohttpd's default does, except that a string in which `%00` would
// decode to a NUL becomes empty (an empty path is refused by check 1): MHD hands the path
// on as a C string, so `/1%00x` would otherwise silently become `/1`.
size_t unescape_url(char* s);

}  // namespace gaffer::http
