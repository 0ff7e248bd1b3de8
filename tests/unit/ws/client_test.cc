// SPDX-License-Identifier: MIT
// Tests of lib/ws/client: the client upgrade request (RFC 6455 §4.1), the incremental
// reader of the server's answer head (every answer also fed one byte at a time; the 16 KiB
// cap) and check_response() against the RFC's sample key.
#include "lib/ws/client.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace gaffer::ws {
namespace {

constexpr const char* kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

std::string good_answer(const std::string& accept = kSampleAccept) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " +
           accept + "\r\n\r\n";
}

TEST(ClientRequest, HasTheHandshakeHeadersAndExtras) {
    auto r = make_client_request("127.0.0.1:5010", "/ws", {{"X-Api-Key", "secret"}}, kSampleKey);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->key, kSampleKey);
    EXPECT_EQ(r->text,
              "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:5010\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
              "X-Api-Key: secret\r\n\r\n");
}

TEST(ClientRequest, DrawsAFreshValidKeyEachTime) {
    auto a = make_client_request("h:1", "/ws");
    auto b = make_client_request("h:1", "/ws");
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->key, b->key);
    EXPECT_TRUE(accept_key(a->key)) << a->key;  // 24 characters of base64 for 16 bytes
}

TEST(ClientRequest, RefusesHeaderInjection) {
    EXPECT_EQ(make_client_request("h:1", "ws").error().code, EINVAL);
    EXPECT_EQ(make_client_request("h:1", "/ws\r\nX: y").error().code, EINVAL);
    EXPECT_EQ(make_client_request("h:1", "/a b").error().code, EINVAL);
    EXPECT_EQ(make_client_request("h\n:1", "/ws").error().code, EINVAL);
    EXPECT_EQ(make_client_request("h:1", "/ws", {{"X-Api-Key", "a\r\nEvil: 1"}}).error().code, EINVAL);
    EXPECT_EQ(make_client_request("h:1", "/ws", {{"Bad Name", "v"}}).error().code, EINVAL);
}

// Feeds `answer` whole and byte by byte; both must agree. Returns the whole-feed reader.
ResponseReader read_both(const std::string& answer) {
    ResponseReader whole;
    whole.feed(answer);
    ResponseReader bytewise;
    for (char c : answer) bytewise.feed(std::string_view(&c, 1));
    EXPECT_EQ(whole.state(), bytewise.state());
    if (whole.state() == ResponseReader::State::kDone) {
        EXPECT_EQ(whole.head().status, bytewise.head().status);
        EXPECT_EQ(whole.head().headers, bytewise.head().headers);
        ResponseReader copy = bytewise;
        EXPECT_EQ(copy.take_rest(), ResponseReader(whole).take_rest());
    }
    return whole;
}

TEST(ResponseReader, ParsesTheHeadAndKeepsTheFramesAfterIt) {
    std::string frame = encode_text("{\"ok\":true}");
    ResponseReader r = read_both(good_answer() + frame);
    ASSERT_EQ(r.state(), ResponseReader::State::kDone);
    EXPECT_EQ(r.head().status, 101);
    EXPECT_EQ(r.head().reason, "Switching Protocols");
    ASSERT_NE(r.head().header("sec-websocket-accept"), nullptr);
    EXPECT_EQ(*r.head().header("SEC-WEBSOCKET-ACCEPT"), kSampleAccept);
    EXPECT_EQ(r.take_rest(), frame);
    EXPECT_TRUE(check_response(r.head(), kSampleKey));
}

TEST(ResponseReader, NeedsTheEmptyLine) {
    ResponseReader r;
    EXPECT_EQ(r.feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"), ResponseReader::State::kNeedMore);
    EXPECT_EQ(r.feed("\r\n"), ResponseReader::State::kDone);
}

TEST(ResponseReader, RefusesMalformedHeads) {
    for (const char* bad : {"HTTP/1.1 1x1 Nope\r\n\r\n", "SPDY/3 101 x\r\n\r\n", "HTTP/1.1 101 OK\r\nNoColon\r\n\r\n",
                            "HTTP/1.1 101 OK\r\n: empty\r\n\r\n", "HTTP/1.1 1011 OK\r\n\r\n", "\r\n\r\n"}) {
        ResponseReader r = read_both(bad);
        EXPECT_EQ(r.state(), ResponseReader::State::kFailed) << bad;
        EXPECT_EQ(r.error().code, EPROTO) << bad;
    }
}

TEST(ResponseReader, CapsTheHeadAt16KiB) {
    ResponseReader r;
    std::string big = "HTTP/1.1 101 OK\r\nX: " + std::string(kMaxResponseHead, 'a');
    EXPECT_EQ(r.feed(big), ResponseReader::State::kFailed);
    EXPECT_EQ(r.error().code, EPROTO);
    // Fed in small pieces, it fails as soon as the cap is reached, holding no more.
    ResponseReader s;
    ResponseReader::State st = ResponseReader::State::kNeedMore;
    size_t fed = 0;
    while (st == ResponseReader::State::kNeedMore && fed < big.size()) {
        st = s.feed(std::string_view(big).substr(fed, 1000));
        fed += 1000;
    }
    EXPECT_EQ(st, ResponseReader::State::kFailed);
    EXPECT_LE(fed, kMaxResponseHead + 1000);
    // A head that fits exactly, followed by frames, is fine.
    std::string head = good_answer();
    std::string exact = head.substr(0, head.size() - 2) + "X: " + std::string(kMaxResponseHead - head.size() - 5, 'b') +
                        "\r\n\r\n" + "tail";
    ResponseReader e;
    EXPECT_EQ(e.feed(exact), ResponseReader::State::kDone);
    EXPECT_EQ(e.take_rest(), "tail");
}

TEST(CheckResponse, EachRequirement) {
    auto check = [](const std::string& answer) {
        ResponseReader r;
        EXPECT_EQ(r.feed(answer), ResponseReader::State::kDone) << answer;
        return check_response(r.head(), kSampleKey);
    };
    EXPECT_TRUE(check(good_answer()));
    EXPECT_EQ(check(good_answer("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")).error().code, EPROTO);
    EXPECT_EQ(check("HTTP/1.1 401 Unauthorized\r\n\r\n").error().code, EACCES);
    EXPECT_EQ(check("HTTP/1.1 403 Forbidden\r\n\r\n").error().code, EACCES);
    EXPECT_EQ(check("HTTP/1.1 200 OK\r\n\r\n").error().code, EPROTO);
    EXPECT_EQ(check("HTTP/1.1 101 S\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + std::string(kSampleAccept) +
                    "\r\n\r\n")
                  .error()
                  .code,
              EPROTO);
    EXPECT_EQ(check("HTTP/1.1 101 S\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + std::string(kSampleAccept) +
                    "\r\n\r\n")
                  .error()
                  .code,
              EPROTO);
    EXPECT_EQ(check("HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                    "Sec-WebSocket-Accept: " +
                    std::string(kSampleAccept) + "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
                  .error()
                  .code,
              EPROTO);
}

TEST(ClientFrames, MaskedFramesDecodeOnTheServerAndServerFramesOnTheClient) {
    auto mask = random_mask();
    ASSERT_TRUE(mask);
    Decoder server({Role::kServer});
    auto ev = server.feed(encode_masked_frame(Opcode::kText, "hello", *mask));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<Message>(ev[0]).payload, "hello");
    Decoder client({Role::kClient});
    ev = client.feed(encode_text("hi"));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<Message>(ev[0]).payload, "hi");
}

}  // namespace
}  // namespace gaffer::ws
