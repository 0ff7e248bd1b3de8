// SPDX-License-Identifier: MIT
// V1: the message framing of the process stdio channel `WS /<pid>/channel[/<stream>]`
// (reference §5.1), in both directions, one V1 message per websocket text message:
//
//   "V1" SP <type> SP <id> NUL <body bytes>
//
// <type> is message, response or error; <id> is an opaque non-empty token without SP or
// NUL (the server makes 32-hex ones). The message is split on its FIRST NUL only, so the
// body may itself contain NUL bytes (the original split on every NUL: [BUG] fixed). The
// body may be empty. Pure functions, except new_id() which reads getrandom(2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace gaffer::ws::v1 {

enum class Type { kMessage, kResponse, kError };
std::string_view to_string(Type type);

struct Frame {
    Type type = Type::kMessage;
    std::string id;
    std::string body;
    bool operator==(const Frame&) const = default;
};

// The id of connection-level errors (unknown pid, refused open, failed auth).
inline constexpr std::string_view kConnectionErrorId = "gaffer_error";

// Non-empty, and no SP or NUL.
bool is_valid_id(std::string_view id);
// A fresh id: 16 bytes from getrandom(2) as 32 lowercase hex characters.
Result<std::string> new_id();

// Parses one V1 message. EINVAL (context says why) when the "V1 " prefix, the type, the
// id or the NUL after the id is missing or wrong.
Result<Frame> decode(std::string_view text);

// Encodes one V1 message. `id` must satisfy is_valid_id(): the ids this module makes and
// the ids decode() accepted do. An invalid id is not sent as is (it would corrupt the
// framing): SP and NUL become '_', an empty id becomes kConnectionErrorId.
std::string encode(Type type, std::string_view id, std::string_view body);
inline std::string encode(const Frame& f) {
    return encode(f.type, f.id, f.body);
}

// The server's messages.
// `V1 message <id>\0<chunk>`: one chunk of process output (id from new_id()).
std::string output_message(std::string_view id, std::string_view chunk);
// `V1 response <id>\0OK`: the client message <id> was queued for writing (or AUTH passed).
std::string response_ok(std::string_view id);

// Error codes of §5.1 with the errno member of their bodies.
enum class ErrorCode {
    kEperm,         // EPERM 403: operation not allowed by mode / no redirection
    kEnoent,        // ENOENT 404: unknown stream
    kEio,           // EIO 500: write failed
    kForbidden,     // FORBIDDEN 403: the key lacks the right
    kAuthRequired,  // AUTH_REQUIRED 403: keys are enabled and no valid AUTH came first
    kNotFound,      // not_found 404: unknown pid
};
struct ErrorInfo {
    std::string_view name;  // the "error" member
    int errno_value;        // the "errno" member (an HTTP-like status, as in the original)
};
ErrorInfo error_info(ErrorCode code);
// {"error":"EPERM","errno":403}
std::string error_body(ErrorCode code);
// `V1 error <id>\0{"error":...,"errno":...}`; use kConnectionErrorId for connection-level errors.
std::string error_message(std::string_view id, ErrorCode code);
// {"error":"EOVERFLOW","dropped":N}: sent before the next data of a subscriber that fell
// behind and missed N bytes (reference §16 "Dropped output").
std::string overflow_body(uint64_t dropped);

// The key of an `AUTH:<key>` body (the first client message when keys are required);
// nullopt if `body` does not start with "AUTH:". The same text form is used on the SockJS
// channel (§5.2).
std::optional<std::string_view> auth_key(std::string_view body);

// Channel mode bitmask (§5.1 `?mode=M`, default 3).
inline constexpr unsigned kModeRead = 1;
inline constexpr unsigned kModeWrite = 2;
// Parses the `mode` query value: absent -> 3; "0".."3" -> that value; anything else EINVAL.
Result<unsigned> parse_mode(std::optional<std::string_view> value);

}  // namespace gaffer::ws::v1
