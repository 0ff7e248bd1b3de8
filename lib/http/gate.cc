// SPDX-License-Identifier: MIT
// The checks every request passes before routing; see gate.h.
#include "lib/http/gate.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "lib/base/strutil.h"
#include "lib/json/json.h"

namespace gaffer::http {

namespace {

Response refusal(int status, std::string_view name, std::string_view reason) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "error", json::str(name));
    json::set(o.get(), "errno", json::take(json_integer(status)));
    json::set(o.get(), "reason", json::str(reason));
    Response r;
    r.status = status;
    r.body = json::dump(o.get());
    r.content_type = "application/json";
    // The connection may hold the rest of a request we did not read (a body, a smuggled
    // second request): it is not reused.
    r.set_header("Connection", "close");
    return r;
}

bool is_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool has_forbidden_byte(std::string_view s) {
    return s.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos;
}

// The media type of a Content-Type value, lower-case, without parameters.
std::string media_type(std::string_view v) {
    size_t semi = v.find(';');
    return to_lower(trim(v.substr(0, semi)));
}

bool state_changing(std::string_view method) {
    return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

bool under(std::string_view path, std::string_view prefix) {
    return path == prefix || (starts_with(path, prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
}

bool is_stdin_path(std::string_view path) {
    // /streams/<pid>/stdin
    if (!starts_with(path, "/streams/"))
        return false;
    std::string_view rest = path.substr(strlen("/streams/"));
    size_t slash = rest.find('/');
    return slash != std::string_view::npos && is_digits(rest.substr(0, slash)) && rest.substr(slash) == "/stdin";
}

int default_port(const Request& req) {
    return req.peer.tls ? 443 : 80;
}

// Splits "host", "host:port", "[v6]", "[v6]:port". nullopt when malformed. The host is
// returned lower-case, with the brackets of an IPv6 literal kept.
std::optional<std::pair<std::string, std::optional<uint16_t>>> split_host_port(std::string_view v) {
    std::string_view host, port;
    bool has_port = false;
    if (!v.empty() && v[0] == '[') {
        size_t close = v.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        host = v.substr(0, close + 1);
        std::string_view rest = v.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':')
                return std::nullopt;
            port = rest.substr(1);
            has_port = true;
        }
    } else {
        size_t colon = v.find(':');
        host = v.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = v.substr(colon + 1);
            has_port = true;
        }
    }
    if (host.empty())
        return std::nullopt;
    std::optional<uint16_t> p;
    if (has_port) {
        if (!is_digits(port) || port.size() > 5)
            return std::nullopt;
        auto n = parse_int(port);
        if (!n || *n > 65535)
            return std::nullopt;
        p = static_cast<uint16_t>(*n);
    }
    return std::make_pair(to_lower(host), p);
}

}  // namespace

RequestGate::RequestGate(GateOptions options, const CorsPolicy& cors) : opts_(std::move(options)), cors_(cors) {
    for (auto& h : opts_.allowed_hosts) h = to_lower(trim(h));
    std::erase_if(opts_.allowed_hosts, [](const std::string& h) { return h.empty(); });
}

bool RequestGate::host_matches(const Request& req, std::string_view host, std::optional<uint16_t> port) const {
    // A name the administrator listed is theirs, whatever the port (a reverse proxy
    // forwards its own site's Host).
    if (std::find(opts_.allowed_hosts.begin(), opts_.allowed_hosts.end(), host) != opts_.allowed_hosts.end())
        return true;
    const Peer& p = req.peer;
    if (port ? *port != p.local_port : p.local_port != default_port(req))
        return false;
    if (host == to_lower(p.local_host))
        return true;
    return p.kind == EndpointKind::kTcpLoopback && host == "localhost";
}

bool RequestGate::host_allowed(const Request& req) const {
    if (req.peer.kind == EndpointKind::kUnix)
        return true;
    auto host = req.header("host");
    if (!host)
        return true;  // HTTP/1.0 without Host: no browser sends that
    auto hp = split_host_port(trim(*host));
    return hp && host_matches(req, hp->first, hp->second);
}

bool RequestGate::own_origin(const Request& req, std::string_view origin) const {
    if (req.peer.kind == EndpointKind::kUnix)
        return false;
    std::string o = to_lower(trim(origin));
    while (!o.empty() && o.back() == '/') o.pop_back();
    // A listed name may be served by a proxy under another scheme and port.
    std::string_view scheme = req.peer.tls ? "https://" : "http://";
    bool same_scheme = starts_with(o, scheme);
    size_t sep = o.find("://");
    if (sep == std::string::npos)
        return false;
    auto hp = split_host_port(std::string_view(o).substr(sep + 3));
    if (!hp)
        return false;
    bool listed =
        std::find(opts_.allowed_hosts.begin(), opts_.allowed_hosts.end(), hp->first) != opts_.allowed_hosts.end();
    return listed || (same_scheme && host_matches(req, hp->first, hp->second));
}

bool RequestGate::origin_may_act(const Request& req, std::string_view origin) const {
    if (own_origin(req, origin))
        return true;
    if (!cors_.listed(origin))
        return false;
    // "*" lists every origin for CORS reads; for changes only where a key is needed too.
    return cors_.named(origin) || opts_.require_key || req.peer.kind == EndpointKind::kTcpRemote;
}

std::optional<Response> RequestGate::screen(const Request& req) const {
    // 1. Framing.
    if (req.path.empty() || req.path.find('\0') != std::string::npos)
        return refusal(400, "bad_request", "the request path is empty or holds a NUL byte");
    for (const auto& [name, value] : req.headers) {
        if (has_forbidden_byte(name) || has_forbidden_byte(value))
            return refusal(400, "bad_request", "a NUL, CR or LF byte in the header '" + name.substr(0, 64) + "'");
    }
    auto cl = req.header("content-length");
    auto te = req.header("transfer-encoding");
    if (cl && te)
        return refusal(400, "bad_request", "Content-Length together with Transfer-Encoding");
    if (cl && !is_digits(trim(*cl)))
        return refusal(400, "bad_request", "Content-Length must be one decimal number");
    if (te && to_lower(trim(*te)) != "chunked")
        return refusal(400, "bad_request", "the only Transfer-Encoding accepted is chunked");
    if (req.peer.kind == EndpointKind::kUnix)
        return std::nullopt;

    // 2. Host.
    if (!host_allowed(req)) {
        return refusal(421, "misdirected_request", "the Host header does not name this endpoint (see allowed_hosts)");
    }

    // 3. Cross-site changes. The SockJS transports carry commands on GETs too (jsonp,
    // which a page loads with a <script> element and no Origin).
    bool sockjs = std::any_of(opts_.sockjs_prefixes.begin(), opts_.sockjs_prefixes.end(),
                              [&](const std::string& p) { return under(req.path, p); });
    if (state_changing(req.method) || sockjs) {
        if (auto origin = req.header("origin")) {
            if (!origin_may_act(req, *origin))
                return refusal(403, "forbidden", "cross-site request refused: the Origin is not allowed");
        } else if (auto site = req.header("sec-fetch-site")) {
            std::string s = to_lower(trim(*site));
            if (s == "cross-site" || s == "same-site")
                return refusal(403, "forbidden", "cross-site request refused (Sec-Fetch-Site: " + s + ")");
        }
    }

    // 4. Content type of a body.
    bool has_body = te.has_value() || (cl && trim(*cl) != "0");
    if (has_body && !sockjs) {
        std::string type = media_type(req.header("content-type").value_or(""));
        bool ok = type == "application/json" || (type == "application/octet-stream" && is_stdin_path(req.path));
        if (!ok) {
            return refusal(415, "unsupported_media_type",
                           "a request body must be sent as Content-Type: application/json");
        }
    }
    return std::nullopt;
}

size_t unescape_url(char* s) {
    char* out = s;
    for (const char* in = s; *in;) {
        if (in[0] == '%' && in[1] && in[2]) {
            int hi = hex_digit_value(in[1]), lo = hex_digit_value(in[2]);
            if (hi >= 0 && lo >= 0) {
                char c = static_cast<char>(hi * 16 + lo);
                if (c == '\0') {
                    s[0] = '\0';
                    return 0;
                }
                *out++ = c;
                in += 3;
                continue;
            }
        }
        *out++ = *in++;
    }
    *out = '\0';
    return static_cast<size_t>(out - s);
}

}  // namespace gaffer::http
