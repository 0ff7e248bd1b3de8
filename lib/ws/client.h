// SPDX-License-Identifier: MIT
// The client side of the RFC 6455 opening handshake (§4.1), transport-free like the server
// side in websocket.h: the request text and the check of the server's answer. The caller
// writes request.text on its connection, feeds what it reads to a ResponseReader until it
// is done, checks the head with check_response() and hands the bytes that followed the head
// (reader.rest()) to a Decoder with Role::kClient; it masks its own frames with
// encode_masked_frame() and a fresh random mask each.
//
// Invariants: a ResponseReader holds at most kMaxResponseHead bytes; a head longer than
// that, a malformed status line or header line fails with EPROTO and nothing more is read.
// Nothing here blocks, logs or throws; the key is drawn from lib/ws/random.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.h"
#include "lib/ws/websocket.h"

namespace gaffer::ws {

inline constexpr size_t kMaxResponseHead = 16 * 1024;

struct ClientRequest {
    std::string text;  // "GET <path> HTTP/1.1\r\n...\r\n\r\n"
    std::string key;   // the Sec-WebSocket-Key sent (base64 of 16 random bytes)
};

// The upgrade request for `path` on `host` ("host:port" as the Host header gives it).
// `extra` headers (X-Api-Key, ...) follow the standard ones. EINVAL if the path does not
// start with '/', or a header name or value (path, host) holds CR, LF or NUL: nothing a
// caller passes can inject a header.
Result<ClientRequest> make_client_request(std::string_view host, std::string_view path, const HeaderList& extra = {},
                                          std::string_view key = {});
// A fresh Sec-WebSocket-Key: base64 of 16 random bytes.
Result<std::string> random_client_key();
// A fresh frame mask.
Result<std::array<uint8_t, 4>> random_mask();

// The server's answer head, parsed.
struct ResponseHead {
    int status = 0;
    std::string reason;
    HeaderList headers;  // names as sent; look up with header()
    // The first value of header `name` (ASCII case-insensitive), or nullptr.
    const std::string* header(std::string_view name) const;
};

// Reads the answer head incrementally from bytes in any split.
class ResponseReader {
public:
    enum class State { kNeedMore, kDone, kFailed };

    // Consumes what belongs to the head; bytes after it, and any fed once kDone, are kept
    // for take_rest(). kFailed is final (error() says why: EPROTO).
    State feed(std::string_view bytes);
    State state() const { return state_; }
    const ResponseHead& head() const { return head_; }
    const Error& error() const { return error_; }
    // Bytes received after the head (the first websocket frames); valid once kDone.
    std::string take_rest() { return std::move(rest_); }

private:
    State parse();
    State fail_with(const char* why);

    State state_ = State::kNeedMore;
    std::string buf_;
    std::string rest_;
    ResponseHead head_;
    Error error_;
};

// Checks a complete answer head against the request's key: status 101, Upgrade lists
// "websocket", Connection lists "upgrade", Sec-WebSocket-Accept == accept_key(key), and no
// extension or subprotocol the client did not ask for. Errors:
//   EACCES     401 or 403 (the server refused the key; context names the status)
//   EPROTO     anything else (context says what)
Status check_response(const ResponseHead& head, std::string_view key);

}  // namespace gaffer::ws
