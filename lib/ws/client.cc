// SPDX-License-Identifier: MIT
#include "lib/ws/client.h"

#include <nettle/base64.h>

#include <algorithm>
#include <cerrno>

#include "lib/base/strutil.h"
#include "lib/ws/random.h"

namespace gaffer::ws {

namespace {

bool clean(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool is_token_char(char c) {
    if (c <= 32 || c >= 127)
        return false;
    return std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

}  // namespace

Result<std::string> random_client_key() {
    uint8_t raw[16];
    GAFFER_RETURN_IF_ERROR(random_bytes(raw, sizeof raw));
    std::string out(BASE64_ENCODE_RAW_LENGTH(sizeof raw), '\0');
    base64_encode_raw(out.data(), sizeof raw, raw);
    return out;
}

Result<std::array<uint8_t, 4>> random_mask() {
    std::array<uint8_t, 4> mask{};
    GAFFER_RETURN_IF_ERROR(random_bytes(mask.data(), mask.size()));
    return mask;
}

Result<ClientRequest> make_client_request(std::string_view host, std::string_view path, const HeaderList& extra,
                                          std::string_view key) {
    if (path.empty() || path[0] != '/' || !clean(path) || path.find(' ') != std::string_view::npos)
        return fail(EINVAL, "websocket path must start with '/' and hold no space or line break");
    if (host.empty() || !clean(host))
        return fail(EINVAL, "websocket host must be non-empty and hold no line break");
    ClientRequest req;
    if (key.empty()) {
        GAFFER_TRY(req.key, random_client_key());
    } else {
        req.key = std::string(key);
    }
    std::string& t = req.text;
    t.append("GET ").append(path).append(" HTTP/1.1\r\n");
    t.append("Host: ").append(host).append("\r\n");
    t.append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
    t.append("Sec-WebSocket-Key: ").append(req.key).append("\r\n");
    t.append("Sec-WebSocket-Version: 13\r\n");
    for (const auto& [name, value] : extra) {
        if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char) || !clean(value))
            return fail(EINVAL, "invalid websocket request header '" + name + "'");
        t.append(name).append(": ").append(value).append("\r\n");
    }
    t.append("\r\n");
    return req;
}

const std::string* ResponseHead::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name))
            return &v;
    return nullptr;
}

ResponseReader::State ResponseReader::fail_with(const char* why) {
    error_ = Error{EPROTO, why};
    buf_.clear();
    buf_.shrink_to_fit();
    return state_ = State::kFailed;
}

ResponseReader::State ResponseReader::feed(std::string_view bytes) {
    if (state_ == State::kDone)
        rest_.append(bytes);
    if (state_ != State::kNeedMore)
        return state_;
    // Never hold more than the cap: look at most at what can still belong to the head.
    size_t room = kMaxResponseHead - buf_.size();
    size_t before = buf_.size();
    buf_.append(bytes.substr(0, std::min(room, bytes.size())));
    // The end of the head: an empty line (CRLF CRLF; a bare LF is tolerated).
    size_t search_from = before >= 3 ? before - 3 : 0;
    size_t end = std::string::npos, crlf = buf_.find("\r\n\r\n", search_from), lf = buf_.find("\n\n", search_from);
    if (crlf != std::string::npos)
        end = crlf + 4;
    if (lf != std::string::npos && (end == std::string::npos || lf + 2 < end))
        end = lf + 2;
    if (end == std::string::npos) {
        if (buf_.size() >= kMaxResponseHead)
            return fail_with("websocket answer head larger than 16 KiB");
        return state_;
    }
    // Bytes after the head: those of buf_ past `end`, then whatever of `bytes` was not
    // appended (only possible when the head filled the cap exactly).
    rest_ = buf_.substr(end);
    if (bytes.size() > room)
        rest_.append(bytes.substr(room));
    buf_.resize(end);
    return parse();
}

ResponseReader::State ResponseReader::parse() {
    std::vector<std::string_view> lines;
    std::string_view all(buf_);
    while (!all.empty()) {
        size_t nl = all.find('\n');
        std::string_view line = all.substr(0, nl);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty())
            break;
        lines.push_back(line);
        all.remove_prefix(nl == std::string_view::npos ? all.size() : nl + 1);
    }
    if (lines.empty())
        return fail_with("empty websocket answer");
    // Status line: HTTP/1.x SP 3DIGIT [SP reason].
    std::string_view sl = lines[0];
    if (!starts_with(sl, "HTTP/1.") || sl.size() < 12 || sl[8] != ' ')
        return fail_with("malformed status line in the websocket answer");
    std::string_view code = sl.substr(9, 3);
    if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        (sl.size() > 12 && sl[12] != ' '))
        return fail_with("malformed status code in the websocket answer");
    head_.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    head_.reason = sl.size() > 13 ? std::string(sl.substr(13)) : std::string();
    for (size_t i = 1; i < lines.size(); ++i) {
        std::string_view l = lines[i];
        size_t colon = l.find(':');
        if (colon == std::string_view::npos || colon == 0)
            return fail_with("malformed header line in the websocket answer");
        std::string_view name = l.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), is_token_char))
            return fail_with("malformed header name in the websocket answer");
        head_.headers.emplace_back(std::string(name), std::string(trim_ows(l.substr(colon + 1))));
    }
    buf_.clear();
    buf_.shrink_to_fit();
    return state_ = State::kDone;
}

Status check_response(const ResponseHead& head, std::string_view key) {
    if (head.status == 401 || head.status == 403)
        return fail(EACCES, "the websocket upgrade was refused with " + std::to_string(head.status) +
                                (head.reason.empty() ? "" : " " + head.reason));
    if (head.status != 101)
        return fail(EPROTO, "the websocket upgrade was answered with " + std::to_string(head.status) +
                                (head.reason.empty() ? "" : " " + head.reason) + " instead of 101");
    const std::string* upgrade = head.header("Upgrade");
    if (!upgrade || !header_has_token(*upgrade, "websocket"))
        return fail(EPROTO, "the websocket answer lacks \"Upgrade: websocket\"");
    const std::string* connection = head.header("Connection");
    if (!connection || !header_has_token(*connection, "upgrade"))
        return fail(EPROTO, "the websocket answer lacks \"Connection: Upgrade\"");
    GAFFER_TRY(std::string expected, accept_key(key));
    const std::string* accept = head.header("Sec-WebSocket-Accept");
    if (!accept || *accept != expected)
        return fail(EPROTO, "the websocket answer has a wrong Sec-WebSocket-Accept");
    if (head.header("Sec-WebSocket-Extensions") || head.header("Sec-WebSocket-Protocol"))
        return fail(EPROTO, "the websocket answer names an extension or subprotocol that was not asked for");
    return ok();
}

}  // namespace gaffer::ws
