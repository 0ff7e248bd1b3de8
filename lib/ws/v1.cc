// SPDX-License-Identifier: MIT
#include "lib/ws/v1.h"

#include <cerrno>

#include "lib/ws/random.h"

namespace gaffer::ws::v1 {

namespace {

constexpr std::string_view kPrefix = "V1 ";

std::optional<Type> type_from(std::string_view s) {
    if (s == "message")
        return Type::kMessage;
    if (s == "response")
        return Type::kResponse;
    if (s == "error")
        return Type::kError;
    return std::nullopt;
}

}  // namespace

std::string_view to_string(Type type) {
    switch (type) {
        case Type::kMessage:
            return "message";
        case Type::kResponse:
            return "response";
        case Type::kError:
            return "error";
    }
    return "message";
}

bool is_valid_id(std::string_view id) {
    return !id.empty() && id.find(' ') == std::string_view::npos && id.find('\0') == std::string_view::npos;
}

Result<std::string> new_id() {
    return random_hex(16);
}

Result<Frame> decode(std::string_view text) {
    if (text.substr(0, kPrefix.size()) != kPrefix)
        return fail(EINVAL, "V1 message must start with \"V1 \"");
    text.remove_prefix(kPrefix.size());
    // The type ends at the next SP; the head (type and id) ends at the first NUL.
    size_t nul = text.find('\0');
    if (nul == std::string_view::npos)
        return fail(EINVAL, "V1 message has no NUL after its id");
    std::string_view head = text.substr(0, nul);
    size_t sp = head.find(' ');
    if (sp == std::string_view::npos)
        return fail(EINVAL, "V1 message has no id");
    auto type = type_from(head.substr(0, sp));
    if (!type)
        return fail(EINVAL, "V1 message type must be message, response or error");
    std::string_view id = head.substr(sp + 1);
    if (!is_valid_id(id))
        return fail(EINVAL, "V1 message id must be non-empty without spaces");
    return Frame{*type, std::string(id), std::string(text.substr(nul + 1))};
}

std::string encode(Type type, std::string_view id, std::string_view body) {
    std::string out;
    std::string_view t = to_string(type);
    out.reserve(kPrefix.size() + t.size() + 1 + id.size() + 1 + body.size());
    out.append(kPrefix);
    out.append(t);
    out.push_back(' ');
    if (id.empty()) {
        out.append(kConnectionErrorId);
    } else {
        for (char c : id) out.push_back((c == ' ' || c == '\0') ? '_' : c);
    }
    out.push_back('\0');
    out.append(body);
    return out;
}

std::string output_message(std::string_view id, std::string_view chunk) {
    return encode(Type::kMessage, id, chunk);
}

std::string response_ok(std::string_view id) {
    return encode(Type::kResponse, id, "OK");
}

ErrorInfo error_info(ErrorCode code) {
    switch (code) {
        case ErrorCode::kEperm:
            return {"EPERM", 403};
        case ErrorCode::kEnoent:
            return {"ENOENT", 404};
        case ErrorCode::kEio:
            return {"EIO", 500};
        case ErrorCode::kForbidden:
            return {"FORBIDDEN", 403};
        case ErrorCode::kAuthRequired:
            return {"AUTH_REQUIRED", 403};
        case ErrorCode::kNotFound:
            return {"not_found", 404};
    }
    return {"EIO", 500};
}

std::string error_body(ErrorCode code) {
    ErrorInfo info = error_info(code);
    std::string out = "{\"error\":\"";
    out.append(info.name);
    out.append("\",\"errno\":");
    out.append(std::to_string(info.errno_value));
    out.push_back('}');
    return out;
}

std::string error_message(std::string_view id, ErrorCode code) {
    return encode(Type::kError, id, error_body(code));
}

std::string overflow_body(uint64_t dropped) {
    return "{\"error\":\"EOVERFLOW\",\"dropped\":" + std::to_string(dropped) + "}";
}

std::optional<std::string_view> auth_key(std::string_view body) {
    constexpr std::string_view kAuth = "AUTH:";
    if (body.substr(0, kAuth.size()) != kAuth)
        return std::nullopt;
    return body.substr(kAuth.size());
}

Result<unsigned> parse_mode(std::optional<std::string_view> value) {
    if (!value)
        return 3u;
    if (value->size() == 1 && (*value)[0] >= '0' && (*value)[0] <= '3')
        return static_cast<unsigned>((*value)[0] - '0');
    return fail(EINVAL, "mode must be 0, 1, 2 or 3");
}

}  // namespace gaffer::ws::v1
