// SPDX-License-Identifier: MIT
#include "lib/ws/websocket.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/base/strutil.h"

namespace gaffer::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxControlPayload = 125;
constexpr size_t kMaxCloseReason = 123;

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// 24 characters: 22 of the base64 alphabet and "==", i.e. exactly 16 encoded bytes.
bool valid_key(std::string_view key) {
    if (key.size() != 24 || key[22] != '=' || key[23] != '=')
        return false;
    return std::all_of(key.begin(), key.begin() + 22, is_base64_char);
}

bool is_control(Opcode op) {
    return (static_cast<uint8_t>(op) & 0x8) != 0;
}

bool is_known_opcode(uint8_t op) {
    switch (op) {
        case 0x0:
        case 0x1:
        case 0x2:
        case 0x8:
        case 0x9:
        case 0xA:
            return true;
        default:
            return false;
    }
}

// Appends the header of a frame carrying `len` payload bytes.
void put_header(std::string* out, Opcode opcode, uint64_t len, bool fin, bool masked) {
    out->push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode)));
    uint8_t mask_bit = masked ? 0x80 : 0x00;
    if (len <= 125) {
        out->push_back(static_cast<char>(mask_bit | len));
    } else if (len <= 0xFFFF) {
        out->push_back(static_cast<char>(mask_bit | 126));
        out->push_back(static_cast<char>((len >> 8) & 0xFF));
        out->push_back(static_cast<char>(len & 0xFF));
    } else {
        out->push_back(static_cast<char>(mask_bit | 127));
        for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((len >> shift) & 0xFF));
    }
}

// The longest prefix of `s` (at most `max` bytes) that does not end inside a UTF-8
// sequence. Used to cut close reasons; `s` is assumed to be UTF-8.
std::string_view utf8_prefix(std::string_view s, size_t max) {
    if (s.size() <= max)
        return s;
    size_t end = max;
    // Step back over continuation bytes to the start of the character that straddles `max`.
    while (end > 0 && (static_cast<uint8_t>(s[end]) & 0xC0) == 0x80) --end;
    return s.substr(0, end);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Handshake

bool header_has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view item = trim_ows(value.substr(0, comma));
        if (iequals(item, token))
            return true;
        if (comma == std::string_view::npos)
            break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

Status check_upgrade_request(std::string_view method, const UpgradeHeaders& h) {
    if (method != "GET")
        return fail(EOPNOTSUPP, "Only GET can be upgraded to a websocket.");
    if (!h.upgrade || !header_has_token(*h.upgrade, "websocket"))
        return fail(EINVAL, "Can \"Upgrade\" only to \"WebSocket\".");
    if (!h.connection || !header_has_token(*h.connection, "upgrade"))
        return fail(EINVAL, "\"Connection\" must be \"Upgrade\".");
    std::string_view version = h.sec_websocket_version ? trim_ows(*h.sec_websocket_version) : std::string_view();
    if (version != "13" && version != "8" && version != "7")
        return fail(EPROTONOSUPPORT, "Unsupported \"Sec-WebSocket-Version\"; this server speaks 13.");
    if (!h.sec_websocket_key || !valid_key(trim_ows(*h.sec_websocket_key)))
        return fail(EINVAL, "Missing or invalid \"Sec-WebSocket-Key\".");
    return ok();
}

Result<std::string> accept_key(std::string_view sec_websocket_key) {
    std::string_view key = trim_ows(sec_websocket_key);
    if (!valid_key(key))
        return fail(EINVAL, "Missing or invalid \"Sec-WebSocket-Key\".");
    sha1_ctx ctx;
    sha1_init(&ctx);
    sha1_update(&ctx, key.size(), reinterpret_cast<const uint8_t*>(key.data()));
    sha1_update(&ctx, kGuid.size(), reinterpret_cast<const uint8_t*>(kGuid.data()));
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_digest(&ctx, sizeof digest, digest);
    std::string out(BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE), '\0');
    base64_encode_raw(out.data(), sizeof digest, digest);
    return out;
}

HeaderList handshake_response_headers(std::string_view accept) {
    return {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", std::string(accept)}};
}

HandshakeRefusal handshake_refusal(const Error& error) {
    HandshakeRefusal r;
    r.body = error.context;
    switch (error.code) {
        case EOPNOTSUPP:
            r.status = 405;
            r.headers.emplace_back("Allow", "GET");
            break;
        case EINVAL:
            r.status = 400;
            break;
        case EPROTONOSUPPORT:
            r.status = 426;
            r.headers.emplace_back("Sec-WebSocket-Version", "13");
            break;
        default:
            r.status = 500;
            break;
    }
    return r;
}

bool is_valid_close_code(uint16_t code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

// ---------------------------------------------------------------------------------------
// Decoder

Decoder::Decoder(DecoderOptions options) : options_(options) {}

ProtocolError Decoder::fail(uint16_t code, const char* why) {
    finished_ = true;
    message_.clear();
    message_.shrink_to_fit();
    control_.clear();
    return ProtocolError{code, why};
}

std::optional<Event> Decoder::check_first_two_bytes() {
    uint8_t b0 = header_[0], b1 = header_[1];
    if (b0 & 0x70)
        return fail(kCloseProtocolError, "reserved bits set");
    uint8_t op = b0 & 0x0F;
    if (!is_known_opcode(op))
        return fail(kCloseProtocolError, "reserved opcode");
    fin_ = (b0 & 0x80) != 0;
    opcode_ = static_cast<Opcode>(op);
    masked_ = (b1 & 0x80) != 0;
    uint8_t len7 = b1 & 0x7F;
    if (options_.role == Role::kServer && !masked_)
        return fail(kCloseProtocolError, "client frame not masked");
    if (options_.role == Role::kClient && masked_)
        return fail(kCloseProtocolError, "server frame masked");
    if (is_control(opcode_)) {
        if (!fin_)
            return fail(kCloseProtocolError, "fragmented control frame");
        if (len7 > kMaxControlPayload)
            return fail(kCloseProtocolError, "control frame too long");
    } else if (opcode_ == Opcode::kContinuation) {
        if (!in_message_)
            return fail(kCloseProtocolError, "continuation without a message");
    } else if (in_message_) {
        return fail(kCloseProtocolError, "new message inside a fragmented one");
    }
    header_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked_ ? 4 : 0);
    return std::nullopt;
}

std::optional<Event> Decoder::header_complete() {
    uint8_t len7 = header_[1] & 0x7F;
    size_t pos = 2;
    uint64_t len = len7;
    if (len7 == 126) {
        len = (uint64_t{header_[2]} << 8) | header_[3];
        pos = 4;
    } else if (len7 == 127) {
        len = 0;
        for (size_t i = 0; i < 8; ++i) len = (len << 8) | header_[2 + i];
        pos = 10;
        if (len >> 63)
            return fail(kCloseProtocolError, "payload length has the top bit set");
    }
    if (masked_)
        std::memcpy(mask_.data(), header_.data() + pos, 4);
    if (!is_control(opcode_)) {
        if (len > options_.max_frame)
            return fail(kCloseMessageTooBig, "frame too big");
        if (len > options_.max_message - std::min(message_.size(), options_.max_message))
            return fail(kCloseMessageTooBig, "message too big");
        if (opcode_ != Opcode::kContinuation) {
            in_message_ = true;
            message_opcode_ = opcode_;
            message_.clear();
            utf8_.reset();
        }
    } else {
        control_.clear();
    }
    payload_len_ = len;
    payload_done_ = 0;
    state_ = State::kPayload;
    if (len == 0)
        return frame_complete();
    return std::nullopt;
}

std::optional<Event> Decoder::frame_complete() {
    state_ = State::kHeader;
    header_len_ = 0;
    header_need_ = 2;
    switch (opcode_) {
        case Opcode::kPing:
            return Ping{std::move(control_)};
        case Opcode::kPong:
            return Pong{std::move(control_)};
        case Opcode::kClose: {
            finished_ = true;
            Close close;
            if (control_.size() == 1)
                return fail(kCloseProtocolError, "close frame with a one-byte body");
            if (control_.size() >= 2) {
                close.code =
                    static_cast<uint16_t>((static_cast<uint8_t>(control_[0]) << 8) | static_cast<uint8_t>(control_[1]));
                if (!is_valid_close_code(close.code))
                    return fail(kCloseProtocolError, "invalid close code");
                close.reason = control_.substr(2);
                if (!utf8::valid(close.reason))
                    return fail(kCloseInvalidPayload, "close reason is not UTF-8");
            }
            return close;
        }
        default:
            break;
    }
    if (!fin_)
        return std::nullopt;
    if (message_opcode_ == Opcode::kText && !utf8_.complete())
        return fail(kCloseInvalidPayload, "text message is not UTF-8");
    in_message_ = false;
    Message m{message_opcode_, std::move(message_)};
    message_ = std::string();
    return m;
}

Decoder::Step Decoder::step(std::string_view bytes) {
    Step s;
    if (finished_ || bytes.empty())
        return s;
    if (state_ == State::kHeader) {
        size_t take = std::min(header_need_ - header_len_, bytes.size());
        std::memcpy(header_.data() + header_len_, bytes.data(), take);
        header_len_ += take;
        s.consumed = take;
        if (header_len_ == 2 && header_need_ == 2) {
            s.event = check_first_two_bytes();
            if (s.event)
                return s;
        }
        if (header_len_ < header_need_) {
            // The extended length and the mask key may already be in `bytes`.
            if (take < bytes.size()) {
                size_t more = std::min(header_need_ - header_len_, bytes.size() - take);
                std::memcpy(header_.data() + header_len_, bytes.data() + take, more);
                header_len_ += more;
                s.consumed += more;
            }
            if (header_len_ < header_need_)
                return s;
        }
        s.event = header_complete();
        return s;
    }
    // Payload: unmask straight into the message or the control buffer.
    uint64_t left = payload_len_ - payload_done_;
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, bytes.size()));
    std::string& dst = is_control(opcode_) ? control_ : message_;
    size_t start = dst.size();
    dst.append(bytes.data(), take);
    if (masked_) {
        for (size_t i = 0; i < take; ++i)
            dst[start + i] = static_cast<char>(dst[start + i] ^ mask_[(payload_done_ + i) & 3]);
    }
    payload_done_ += take;
    s.consumed = take;
    if (!is_control(opcode_) && message_opcode_ == Opcode::kText && !utf8_.feed(std::string_view(dst).substr(start))) {
        s.event = fail(kCloseInvalidPayload, "text message is not UTF-8");
        return s;
    }
    if (payload_done_ == payload_len_)
        s.event = frame_complete();
    return s;
}

std::vector<Event> Decoder::feed(std::string_view bytes) {
    std::vector<Event> events;
    (void)feed(bytes, [&events](Event&& ev) { events.push_back(std::move(ev)); });
    return events;
}

// ---------------------------------------------------------------------------------------
// Encoders

std::string encode_frame(Opcode opcode, std::string_view payload, bool fin) {
    if (is_control(opcode) && payload.size() > kMaxControlPayload)
        payload = payload.substr(0, kMaxControlPayload);
    std::string out;
    out.reserve(payload.size() + 10);
    put_header(&out, opcode, payload.size(), fin, false);
    out.append(payload);
    return out;
}

std::string encode_text(std::string_view payload) {
    return encode_frame(Opcode::kText, payload);
}
std::string encode_binary(std::string_view payload) {
    return encode_frame(Opcode::kBinary, payload);
}
std::string encode_ping(std::string_view payload) {
    return encode_frame(Opcode::kPing, payload);
}
std::string encode_pong(std::string_view payload) {
    return encode_frame(Opcode::kPong, payload);
}

std::string encode_close(uint16_t code, std::string_view reason) {
    if (!is_valid_close_code(code))
        return encode_frame(Opcode::kClose, {});
    std::string body;
    body.push_back(static_cast<char>(code >> 8));
    body.push_back(static_cast<char>(code & 0xFF));
    body.append(utf8_prefix(reason, kMaxCloseReason));
    return encode_frame(Opcode::kClose, body);
}

std::string close_reply(const Close& close) {
    return encode_close(close.code);
}

std::string encode_masked_frame(Opcode opcode, std::string_view payload, const std::array<uint8_t, 4>& mask, bool fin) {
    std::string out;
    out.reserve(payload.size() + 14);
    put_header(&out, opcode, payload.size(), fin, true);
    for (uint8_t b : mask) out.push_back(static_cast<char>(b));
    for (size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
    return out;
}

}  // namespace gaffer::ws
