// SPDX-License-Identifier: MIT
// RFC 6455 websocket protocol, transport-free: the opening handshake checks and the
// Sec-WebSocket-Accept key, an incremental frame Decoder and the frame encoders. No
// sockets, no loop, no clock: the HTTP layer (lib/http) reads bytes from the socket that
// libmicrohttpd hands over after the 101, feeds them to a Decoder, acts on the events and
// writes what the encoders return (linux-primitives.md §6).
//
// Typical server connection (one Decoder per connection):
//
//   GAFFER_RETURN_IF_ERROR(check_upgrade_request(method, headers));  // else handshake_refusal()
//   GAFFER_TRY(std::string accept, accept_key(*headers.sec_websocket_key));
//   ... 101 with handshake_response_headers(accept) ...
//   on readable: decoder.feed(bytes, [&](Event&& ev) { ... });
//     Message        -> the application (text is valid UTF-8)
//     Ping           -> write encode_pong(ping.payload)
//     Pong           -> liveness only
//     Close          -> write close_reply(close), then close the socket
//     ProtocolError  -> write encode_close(err.close_code, err.why), then close the socket
//
// Invariants: the Decoder never holds more than DecoderOptions::max_message bytes of a
// message in progress plus one frame header (14 bytes) and one control payload (125
// bytes); a frame or message announced larger than its cap fails with 1009 before any of
// its payload is stored. After a Close or a ProtocolError the Decoder is finished and
// consumes nothing more. Text messages and close reasons are validated as UTF-8 as the
// bytes arrive (fail fast, RFC 6455 §8.1). Nothing here throws or logs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lib/base/result.h"
#include "lib/base/utf8.h"

namespace gaffer::ws {

// ---------------------------------------------------------------------------------------
// Opening handshake (RFC 6455 §4.2)

// The request headers the handshake looks at; nullopt = header absent. Header lookup is
// the caller's (libmicrohttpd's is case-insensitive already).
struct UpgradeHeaders {
    std::optional<std::string_view> upgrade;                // must list the token "websocket"
    std::optional<std::string_view> connection;             // must list the token "upgrade"
    std::optional<std::string_view> sec_websocket_key;      // base64 of 16 bytes
    std::optional<std::string_view> sec_websocket_version;  // "13" (also 8 and 7, see below)
};

// Checks an upgrade request. Errors (the context is a one-line text for the reply body):
//   EOPNOTSUPP       method is not GET                          -> 405, Allow: GET
//   EINVAL           Upgrade/Connection/Key missing or invalid  -> 400
//   EPROTONOSUPPORT  Sec-WebSocket-Version not understood       -> 426, Sec-WebSocket-Version: 13
// The EINVAL texts for Upgrade and Connection are the ones the sockjs-protocol suite
// expects ('Can "Upgrade" only to "WebSocket".', '"Connection" must be "Upgrade".').
// Versions 8 and 7 (hybi-10/-07, the drafts the sockjs-protocol suite still sends) are
// accepted besides 13: their handshake and framing are those of RFC 6455.
// Origin is not checked here: that is the HTTP layer's policy (security-defaults.md).
Status check_upgrade_request(std::string_view method, const UpgradeHeaders& headers);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)) (nettle).
// EINVAL unless the key is 24 characters of base64 encoding 16 bytes.
// accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
Result<std::string> accept_key(std::string_view sec_websocket_key);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The headers of the 101 answer: Upgrade: websocket, Connection: Upgrade,
// Sec-WebSocket-Accept: <accept>. No subprotocol and no extension is ever negotiated.
HeaderList handshake_response_headers(std::string_view accept);

// The HTTP answer to a refused handshake, from check_upgrade_request()'s or
// accept_key()'s error: status 405/400/426 (500 for an unknown code), extra headers and a
// text/plain body.
struct HandshakeRefusal {
    int status = 400;
    HeaderList headers;
    std::string body;
};
HandshakeRefusal handshake_refusal(const Error& error);

// True if the comma-separated header value lists `token` (ASCII case-insensitive, spaces
// around items ignored): "keep-alive, Upgrade" lists "upgrade".
bool header_has_token(std::string_view value, std::string_view token);

// ---------------------------------------------------------------------------------------
// Frames (RFC 6455 §5)

enum class Opcode : uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

// Close status codes (RFC 6455 §7.4.1) that this module produces or interprets.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseUnsupportedData = 1003;
inline constexpr uint16_t kCloseNoStatus = 1005;  // never on the wire: "close frame had no code"
inline constexpr uint16_t kCloseAbnormal = 1006;  // never on the wire: "no close frame at all"
inline constexpr uint16_t kCloseInvalidPayload = 1007;
inline constexpr uint16_t kClosePolicyViolation = 1008;
inline constexpr uint16_t kCloseMessageTooBig = 1009;
inline constexpr uint16_t kCloseInternalError = 1011;

// True for the codes a peer may send in a Close frame: 1000-1003, 1007-1014, 3000-4999.
bool is_valid_close_code(uint16_t code);

// Decoder events.
struct Message {                    // a complete data message, reassembled from its fragments
    Opcode opcode = Opcode::kText;  // kText (payload is valid UTF-8) or kBinary
    std::string payload;
    bool operator==(const Message&) const = default;
};
struct Ping {
    std::string payload;  // at most 125 bytes
    bool operator==(const Ping&) const = default;
};
struct Pong {
    std::string payload;  // at most 125 bytes
    bool operator==(const Pong&) const = default;
};
struct Close {                       // the peer started (or answered) the closing handshake
    uint16_t code = kCloseNoStatus;  // kCloseNoStatus if the frame carried no code
    std::string reason;              // valid UTF-8, at most 123 bytes
    bool operator==(const Close&) const = default;
};
struct ProtocolError {                          // fail the connection: send Close(close_code, why), then close
    uint16_t close_code = kCloseProtocolError;  // 1002, 1007 or 1009
    std::string why;                            // short English text, fits a close reason
    bool operator==(const ProtocolError&) const = default;
};
using Event = std::variant<Message, Ping, Pong, Close, ProtocolError>;

// Which side of the connection the Decoder reads for. A server reads client frames, which
// MUST be masked; a client reads server frames, which MUST NOT be (RFC 6455 §5.1).
enum class Role { kServer, kClient };

inline constexpr size_t kDefaultMaxFrame = size_t{1} << 20;    // 1 MiB
inline constexpr size_t kDefaultMaxMessage = size_t{1} << 20;  // 1 MiB

struct DecoderOptions {
    Role role = Role::kServer;
    size_t max_frame = kDefaultMaxFrame;      // payload bytes of one data frame; larger -> 1009
    size_t max_message = kDefaultMaxMessage;  // payload bytes of one whole message; larger -> 1009
};

// The frame decoder: an incremental state machine over the bytes of one connection. Bytes
// may arrive in any split; the events are the same for every split of the same input.
class Decoder {
public:
    explicit Decoder(DecoderOptions options = {});

    // One decoding step over the start of `bytes`: consumes bytes up to the end of the
    // current frame header or payload piece and returns at most one event. `consumed` is 0
    // only when `bytes` is empty or the decoder is finished.
    struct Step {
        size_t consumed = 0;
        std::optional<Event> event;
    };
    Step step(std::string_view bytes);

    // Decodes as much of `bytes` as possible and calls `sink(Event&&)` for each event, in
    // order. Returns the bytes consumed: all of them unless the decoder finished (a Close
    // or a ProtocolError), in which case the rest is not looked at.
    template <typename Sink>
    size_t feed(std::string_view bytes, Sink&& sink) {
        size_t used = 0;
        while (used < bytes.size() && !finished_) {
            Step s = step(bytes.substr(used));
            used += s.consumed;
            if (s.event)
                sink(std::move(*s.event));
            if (s.consumed == 0 && !s.event)
                break;
        }
        return used;
    }
    // The same, collecting the events (tests, fuzzing; the events of one read are bounded
    // by the size of that read).
    std::vector<Event> feed(std::string_view bytes);

    // A Close or ProtocolError has been returned; no more input is decoded.
    bool finished() const { return finished_; }
    // Bytes of the message in progress held so far (<= max_message).
    size_t buffered() const { return message_.size(); }
    const DecoderOptions& options() const { return options_; }

private:
    enum class State { kHeader, kPayload };

    ProtocolError fail(uint16_t code, const char* why);
    std::optional<Event> check_first_two_bytes();
    std::optional<Event> header_complete();
    std::optional<Event> frame_complete();

    DecoderOptions options_;
    State state_ = State::kHeader;
    bool finished_ = false;

    // Header of the current frame.
    std::array<uint8_t, 14> header_{};
    size_t header_len_ = 0;
    size_t header_need_ = 2;
    bool fin_ = false;
    Opcode opcode_ = Opcode::kText;
    bool masked_ = false;
    std::array<uint8_t, 4> mask_{};

    // Payload of the current frame.
    uint64_t payload_len_ = 0;
    uint64_t payload_done_ = 0;
    std::string control_;  // payload of the current control frame (<= 125 bytes)

    // The data message in progress (fragmented or not).
    bool in_message_ = false;
    Opcode message_opcode_ = Opcode::kText;
    std::string message_;
    utf8::Validator utf8_;  // text messages: strict (lib/base/utf8.h)
};

// Server frames (unmasked, FIN set). Ping and pong payloads longer than 125 bytes are cut
// to 125 bytes (a control frame cannot carry more).
std::string encode_frame(Opcode opcode, std::string_view payload, bool fin = true);
std::string encode_text(std::string_view payload);
std::string encode_binary(std::string_view payload);
std::string encode_ping(std::string_view payload = {});
std::string encode_pong(std::string_view payload = {});
// A Close frame. kCloseNoStatus, kCloseAbnormal and any code that may not be sent give a
// frame without a body; otherwise the reason is cut to 123 bytes at a UTF-8 boundary.
std::string encode_close(uint16_t code = kCloseNormal, std::string_view reason = {});
// The answer to a received Close: the same code (RFC 6455 §5.5.1), no reason.
std::string close_reply(const Close& close);

// Client frames (masked with `mask`), for a websocket client sharing this codec (the
// lookupd registration client) and for tests. The caller draws `mask` from a strong
// random source for every frame (RFC 6455 §5.3).
std::string encode_masked_frame(Opcode opcode, std::string_view payload, const std::array<uint8_t, 4>& mask,
                                bool fin = true);

}  // namespace gaffer::ws
