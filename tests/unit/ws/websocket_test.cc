// SPDX-License-Identifier: MIT
// Tests of lib/ws/websocket: the RFC 6455 handshake key and checks, the frame decoder
// (RFC 6455 §5.7 examples, masking, fragmentation, control frames, caps, UTF-8, close
// codes; every input also fed one byte at a time) and the encoders.
#include "lib/ws/websocket.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

namespace gaffer::ws {
namespace {

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s.push_back(static_cast<char>(c));
    return s;
}

constexpr std::array<uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};

// Feeds `input` whole, then one byte at a time into a fresh decoder, and checks that both
// give the same events; returns them.
std::vector<Event> decode(const std::string& input, DecoderOptions options = {}) {
    Decoder whole(options);
    std::vector<Event> a = whole.feed(input);
    Decoder bytewise(options);
    std::vector<Event> b;
    for (char c : input) {
        auto evs = bytewise.feed(std::string_view(&c, 1));
        b.insert(b.end(), evs.begin(), evs.end());
    }
    EXPECT_EQ(a, b) << "chunking changed the events";
    return a;
}

DecoderOptions client_role() {
    DecoderOptions o;
    o.role = Role::kClient;
    return o;
}

uint16_t error_code(const std::vector<Event>& evs) {
    if (evs.empty() || !std::holds_alternative<ProtocolError>(evs.back()))
        return 0;
    return std::get<ProtocolError>(evs.back()).close_code;
}

std::string masked(Opcode op, std::string_view payload, bool fin = true) {
    return encode_masked_frame(op, payload, kMask, fin);
}

// ---------------------------------------------------------------------------------------
// Handshake

TEST(WebSocketHandshake, AcceptKeyOfTheRfcExample) {
    auto k = accept_key("dGhlIHNhbXBsZSBub25jZQ==");
    ASSERT_TRUE(k);
    EXPECT_EQ(*k, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    // The key of the sockjs-protocol suite's headers test.
    EXPECT_EQ(*accept_key("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(WebSocketHandshake, AcceptKeyRejectsKeysThatAreNot16Base64Bytes) {
    for (const char* k : {"", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ==x",
                          "dGhlIHNhbXBsZSBub25jZQ!=", "dGhlIHNhbXBsZSBub25jZ===", "aGVsbG8="}) {
        auto r = accept_key(k);
        ASSERT_FALSE(r) << k;
        EXPECT_EQ(r.error().code, EINVAL);
    }
}

UpgradeHeaders good_headers() {
    UpgradeHeaders h;
    h.upgrade = "websocket";
    h.connection = "Upgrade";
    h.sec_websocket_key = "dGhlIHNhbXBsZSBub25jZQ==";
    h.sec_websocket_version = "13";
    return h;
}

TEST(WebSocketHandshake, AcceptsAValidRequest) {
    EXPECT_TRUE(check_upgrade_request("GET", good_headers()));
    UpgradeHeaders h = good_headers();
    h.upgrade = "WebSocket";
    h.connection = "keep-alive, Upgrade";  // Firefox
    EXPECT_TRUE(check_upgrade_request("GET", h));
    for (const char* v : {"7", "8"}) {
        h.sec_websocket_version = v;
        EXPECT_TRUE(check_upgrade_request("GET", h)) << v;
    }
}

TEST(WebSocketHandshake, RefusesBadRequestsWithTheRightStatus) {
    auto st = check_upgrade_request("POST", good_headers());
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, EOPNOTSUPP);
    HandshakeRefusal r = handshake_refusal(st.error());
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.headers, (HeaderList{{"Allow", "GET"}}));

    UpgradeHeaders h = good_headers();
    h.upgrade.reset();
    st = check_upgrade_request("GET", h);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().context, "Can \"Upgrade\" only to \"WebSocket\".");
    EXPECT_EQ(handshake_refusal(st.error()).status, 400);

    h = good_headers();
    h.connection = "close";
    st = check_upgrade_request("GET", h);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().context, "\"Connection\" must be \"Upgrade\".");

    h = good_headers();
    h.sec_websocket_version = "12";
    st = check_upgrade_request("GET", h);
    ASSERT_FALSE(st);
    r = handshake_refusal(st.error());
    EXPECT_EQ(r.status, 426);
    EXPECT_EQ(r.headers, (HeaderList{{"Sec-WebSocket-Version", "13"}}));

    h = good_headers();
    h.sec_websocket_key = "short";
    st = check_upgrade_request("GET", h);
    ASSERT_FALSE(st);
    EXPECT_EQ(handshake_refusal(st.error()).status, 400);
}

TEST(WebSocketHandshake, ResponseHeaders) {
    EXPECT_EQ(handshake_response_headers("abc"),
              (HeaderList{{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", "abc"}}));
}

TEST(WebSocketHandshake, HeaderTokens) {
    EXPECT_TRUE(header_has_token("Upgrade", "upgrade"));
    EXPECT_TRUE(header_has_token("keep-alive,  UPGRADE ", "upgrade"));
    EXPECT_FALSE(header_has_token("upgrades", "upgrade"));
    EXPECT_FALSE(header_has_token("", "upgrade"));
}

// ---------------------------------------------------------------------------------------
// RFC 6455 §5.7 examples

TEST(WebSocketDecoder, RfcSingleFrameUnmaskedText) {
    std::string frame = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
    EXPECT_EQ(decode(frame, client_role()), (std::vector<Event>{Message{Opcode::kText, "Hello"}}));
    EXPECT_EQ(encode_text("Hello"), frame);
}

TEST(WebSocketDecoder, RfcSingleFrameMaskedText) {
    std::string frame = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    EXPECT_EQ(decode(frame), (std::vector<Event>{Message{Opcode::kText, "Hello"}}));
    EXPECT_EQ(encode_masked_frame(Opcode::kText, "Hello", kMask), frame);
}

TEST(WebSocketDecoder, RfcFragmentedUnmaskedText) {
    std::string frames = bytes({0x01, 0x03, 0x48, 0x65, 0x6c}) + bytes({0x80, 0x02, 0x6c, 0x6f});
    EXPECT_EQ(decode(frames, client_role()), (std::vector<Event>{Message{Opcode::kText, "Hello"}}));
}

TEST(WebSocketDecoder, RfcPingAndMaskedPong) {
    EXPECT_EQ(decode(bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), client_role()),
              (std::vector<Event>{Ping{"Hello"}}));
    EXPECT_EQ(decode(bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})),
              (std::vector<Event>{Pong{"Hello"}}));
}

TEST(WebSocketDecoder, RfcExtendedLengths) {
    std::string p256(256, 'x');
    std::string f256 = bytes({0x82, 0x7E, 0x01, 0x00}) + p256;
    EXPECT_EQ(encode_binary(p256), f256);
    EXPECT_EQ(decode(f256, client_role()), (std::vector<Event>{Message{Opcode::kBinary, p256}}));

    std::string p64k(65536, 'y');
    std::string f64k = bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}) + p64k;
    EXPECT_EQ(encode_binary(p64k), f64k);
    Decoder d(client_role());
    EXPECT_EQ(d.feed(f64k), (std::vector<Event>{Message{Opcode::kBinary, p64k}}));
}

TEST(WebSocketDecoder, LengthBoundariesRoundTrip) {
    for (size_t n :
         {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{127}, size_t{65535}, size_t{65536}, size_t{70000}}) {
        std::string payload(n, 'a');
        EXPECT_EQ(decode(masked(Opcode::kText, payload)), (std::vector<Event>{Message{Opcode::kText, payload}})) << n;
        Decoder d(client_role());
        EXPECT_EQ(d.feed(encode_text(payload)), (std::vector<Event>{Message{Opcode::kText, payload}})) << n;
    }
    EXPECT_EQ(encode_text(std::string(125, 'a')).size(), 127u);
    EXPECT_EQ(encode_text(std::string(126, 'a')).size(), 130u);
    EXPECT_EQ(encode_text(std::string(65535, 'a')).size(), 65539u);
    EXPECT_EQ(encode_text(std::string(65536, 'a')).size(), 65546u);
}

TEST(WebSocketDecoder, SeveralFramesInOneRead) {
    std::string in = masked(Opcode::kText, "one") + masked(Opcode::kBinary, std::string("\x00\xff", 2)) +
                     masked(Opcode::kPing, "p") + masked(Opcode::kText, "");
    EXPECT_EQ(decode(in),
              (std::vector<Event>{Message{Opcode::kText, "one"}, Message{Opcode::kBinary, std::string("\x00\xff", 2)},
                                  Ping{"p"}, Message{Opcode::kText, ""}}));
}

// ---------------------------------------------------------------------------------------
// Masking, reserved bits and opcodes

TEST(WebSocketDecoder, ServerRequiresMaskedFrames) {
    EXPECT_EQ(error_code(decode(encode_text("hi"))), kCloseProtocolError);
}

TEST(WebSocketDecoder, ClientRejectsMaskedFrames) {
    EXPECT_EQ(error_code(decode(masked(Opcode::kText, "hi"), client_role())), kCloseProtocolError);
}

TEST(WebSocketDecoder, ReservedBitsAndOpcodes) {
    for (int b0 : {0xC1, 0xA1, 0x91, 0x83, 0x87, 0x8B, 0x8F}) {
        std::string f = masked(Opcode::kText, "x");
        f[0] = static_cast<char>(b0);
        EXPECT_EQ(error_code(decode(f)), kCloseProtocolError) << std::hex << b0;
    }
}

TEST(WebSocketDecoder, ErrorStopsDecoding) {
    std::string f = encode_text("unmasked") + masked(Opcode::kText, "after");
    Decoder d;
    std::vector<Event> evs;
    size_t used = d.feed(f, [&](Event&& e) { evs.push_back(std::move(e)); });
    EXPECT_LT(used, f.size());
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_TRUE(d.finished());
    EXPECT_EQ(d.feed(masked(Opcode::kText, "more")).size(), 0u);
}

// ---------------------------------------------------------------------------------------
// Fragmentation and control frames

TEST(WebSocketDecoder, FragmentedBinaryWithInterleavedControlFrames) {
    std::string in = masked(Opcode::kBinary, "ab", false) + masked(Opcode::kPing, "p1") +
                     masked(Opcode::kContinuation, "cd", false) + masked(Opcode::kPong, "p2") +
                     masked(Opcode::kContinuation, "ef", true);
    EXPECT_EQ(decode(in), (std::vector<Event>{Ping{"p1"}, Pong{"p2"}, Message{Opcode::kBinary, "abcdef"}}));
}

TEST(WebSocketDecoder, EmptyFragments) {
    std::string in = masked(Opcode::kText, "", false) + masked(Opcode::kContinuation, "", false) +
                     masked(Opcode::kContinuation, "x", true);
    EXPECT_EQ(decode(in), (std::vector<Event>{Message{Opcode::kText, "x"}}));
}

TEST(WebSocketDecoder, ContinuationWithoutAMessage) {
    EXPECT_EQ(error_code(decode(masked(Opcode::kContinuation, "x"))), kCloseProtocolError);
}

TEST(WebSocketDecoder, NewMessageInsideAFragmentedOne) {
    std::string in = masked(Opcode::kText, "a", false) + masked(Opcode::kText, "b");
    EXPECT_EQ(error_code(decode(in)), kCloseProtocolError);
}

TEST(WebSocketDecoder, FragmentedOrLongControlFrames) {
    EXPECT_EQ(error_code(decode(masked(Opcode::kPing, "x", false))), kCloseProtocolError);
    // A 126-byte ping: the encoder cuts control payloads, so build the header by hand.
    std::string f = bytes({0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4}) + std::string(126, 'x');
    EXPECT_EQ(error_code(decode(f)), kCloseProtocolError);
    EXPECT_EQ(decode(masked(Opcode::kPing, std::string(125, 'p'))), (std::vector<Event>{Ping{std::string(125, 'p')}}));
}

TEST(WebSocketDecoder, SixtyFourBitLengthWithTopBit) {
    std::string f = bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4});
    EXPECT_EQ(error_code(decode(f)), kCloseProtocolError);
}

// ---------------------------------------------------------------------------------------
// Caps

TEST(WebSocketDecoder, FrameCapFailsBeforeThePayloadArrives) {
    DecoderOptions o;
    o.max_frame = 100;
    o.max_message = 1000;
    std::string f = masked(Opcode::kBinary, std::string(101, 'x'));
    Decoder d(o);
    // Only the header (2 + 4 bytes of mask) is needed to refuse.
    auto evs = d.feed(std::string_view(f).substr(0, 6));
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(std::get<ProtocolError>(evs[0]).close_code, kCloseMessageTooBig);
    EXPECT_EQ(d.buffered(), 0u);
    EXPECT_EQ(error_code(decode(masked(Opcode::kBinary, std::string(100, 'x')), o)), 0);
}

TEST(WebSocketDecoder, MessageCapCountsEveryFragment) {
    DecoderOptions o;
    o.max_frame = 100;
    o.max_message = 250;
    std::string in = masked(Opcode::kText, std::string(100, 'a'), false) +
                     masked(Opcode::kContinuation, std::string(100, 'b'), false) +
                     masked(Opcode::kContinuation, std::string(51, 'c'), true);
    Decoder d(o);
    std::vector<Event> evs;
    size_t max_buffered = 0;
    for (char c : in) {
        auto e = d.feed(std::string_view(&c, 1));
        evs.insert(evs.end(), e.begin(), e.end());
        max_buffered = std::max(max_buffered, d.buffered());
    }
    EXPECT_EQ(error_code(evs), kCloseMessageTooBig);
    EXPECT_LE(max_buffered, 250u);
    // 250 bytes exactly fit.
    std::string fits = masked(Opcode::kText, std::string(100, 'a'), false) +
                       masked(Opcode::kContinuation, std::string(100, 'b'), false) +
                       masked(Opcode::kContinuation, std::string(50, 'c'), true);
    auto ok = decode(fits, o);
    ASSERT_EQ(ok.size(), 1u);
    EXPECT_EQ(std::get<Message>(ok[0]).payload.size(), 250u);
}

TEST(WebSocketDecoder, HugeDeclaredLengthIsRefusedAtOnce) {
    std::string f = bytes({0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4});
    EXPECT_EQ(error_code(decode(f)), kCloseMessageTooBig);
}

// ---------------------------------------------------------------------------------------
// UTF-8

TEST(WebSocketDecoder, InvalidUtf8TextFailsWith1007) {
    for (std::string bad : {std::string("\xff"), std::string("\xc0\x80"), std::string("\xed\xa0\x80"),
                            std::string("\xf4\x90\x80\x80"), std::string("\xe0\x80\xaf"), std::string("a\x80")}) {
        EXPECT_EQ(error_code(decode(masked(Opcode::kText, bad))), kCloseInvalidPayload);
    }
    // The same bytes are fine in a binary message.
    EXPECT_EQ(error_code(decode(masked(Opcode::kBinary, "\xff"))), 0);
}

TEST(WebSocketDecoder, Utf8FailsFastInsideAFrame) {
    std::string payload = std::string("ok\xff") + std::string(1000, 'x');
    std::string f = masked(Opcode::kText, payload);
    size_t header = f.size() - payload.size();  // 2 + 2 (16-bit length) + 4 (mask)
    ASSERT_EQ(header, 8u);
    Decoder d;
    // Header + "ok\xff": the error comes before the rest of the payload.
    auto evs = d.feed(std::string_view(f).substr(0, header + 3));
    EXPECT_EQ(error_code(evs), kCloseInvalidPayload);
    EXPECT_TRUE(d.finished());
}

TEST(WebSocketDecoder, Utf8CharacterSplitAcrossFragments) {
    // U+20AC EURO SIGN = E2 82 AC, split 2 + 1 over two frames; U+1F600 split 1 + 3.
    std::string in = masked(Opcode::kText, "\xe2\x82", false) + masked(Opcode::kContinuation, "\xac\xf0", false) +
                     masked(Opcode::kContinuation, "\x9f\x98\x80", true);
    EXPECT_EQ(decode(in), (std::vector<Event>{Message{Opcode::kText, "\xe2\x82\xac\xf0\x9f\x98\x80"}}));
}

TEST(WebSocketDecoder, TruncatedUtf8AtTheEndOfAMessage) {
    EXPECT_EQ(error_code(decode(masked(Opcode::kText, "\xe2\x82"))), kCloseInvalidPayload);
}

// ---------------------------------------------------------------------------------------
// Close

std::string close_payload(uint16_t code, std::string_view reason = {}) {
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code & 0xFF));
    p.append(reason);
    return p;
}

TEST(WebSocketDecoder, CloseFrames) {
    EXPECT_EQ(decode(masked(Opcode::kClose, close_payload(1000, "bye"))), (std::vector<Event>{Close{1000, "bye"}}));
    EXPECT_EQ(decode(masked(Opcode::kClose, "")), (std::vector<Event>{Close{kCloseNoStatus, ""}}));
    for (uint16_t code : {1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999})
        EXPECT_EQ(decode(masked(Opcode::kClose, close_payload(code))), (std::vector<Event>{Close{code, ""}})) << code;
}

TEST(WebSocketDecoder, InvalidCloseFrames) {
    EXPECT_EQ(error_code(decode(masked(Opcode::kClose, "\x03"))), kCloseProtocolError);
    for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535})
        EXPECT_EQ(error_code(decode(masked(Opcode::kClose, close_payload(code)))), kCloseProtocolError) << code;
    EXPECT_EQ(error_code(decode(masked(Opcode::kClose, close_payload(1000, "\xff")))), kCloseInvalidPayload);
}

TEST(WebSocketDecoder, CloseEndsDecoding) {
    Decoder d;
    std::string in = masked(Opcode::kClose, close_payload(1000)) + masked(Opcode::kText, "late");
    auto evs = d.feed(in);
    EXPECT_EQ(evs, (std::vector<Event>{Close{1000, ""}}));
    EXPECT_TRUE(d.finished());
}

TEST(WebSocketDecoder, CloseInsideAFragmentedMessage) {
    std::string in = masked(Opcode::kText, "part", false) + masked(Opcode::kClose, close_payload(1001));
    EXPECT_EQ(decode(in), (std::vector<Event>{Close{1001, ""}}));
}

// ---------------------------------------------------------------------------------------
// Encoders

TEST(WebSocketEncoder, Close) {
    EXPECT_EQ(encode_close(1000, "bye"), bytes({0x88, 0x05, 0x03, 0xe8}) + "bye");
    EXPECT_EQ(encode_close(kCloseNoStatus), bytes({0x88, 0x00}));
    EXPECT_EQ(encode_close(kCloseAbnormal), bytes({0x88, 0x00}));
    EXPECT_EQ(close_reply(Close{1001, "x"}), bytes({0x88, 0x02, 0x03, 0xe9}));
    EXPECT_EQ(close_reply(Close{kCloseNoStatus, ""}), bytes({0x88, 0x00}));
    // A long reason is cut to 123 bytes without splitting a character: 61 two-byte é and
    // one more would straddle byte 123.
    std::string reason;
    for (int i = 0; i < 70; ++i) reason += "\xc3\xa9";
    std::string f = encode_close(1000, reason);
    ASSERT_EQ(static_cast<uint8_t>(f[1]), 2 + 122);
    Decoder d(client_role());
    auto evs = d.feed(f);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(std::get<Close>(evs[0]).reason.size(), 122u);
}

TEST(WebSocketEncoder, ControlPayloadsAreCut) {
    std::string f = encode_ping(std::string(200, 'p'));
    EXPECT_EQ(f.size(), 2u + 125u);
    EXPECT_EQ(encode_pong(""), bytes({0x8A, 0x00}));
}

TEST(WebSocketEncoder, FragmentsFromTheEncoderDecode) {
    std::string in = encode_frame(Opcode::kText, "he", false) + encode_frame(Opcode::kContinuation, "llo", true);
    Decoder d(client_role());
    EXPECT_EQ(d.feed(in), (std::vector<Event>{Message{Opcode::kText, "hello"}}));
}

}  // namespace
}  // namespace gaffer::ws
