// SPDX-License-Identifier: MIT
// Webhook signatures: HMAC-SHA256 against RFC 4231 vectors, and the exact signed string.
#include "lib/webhook/signature.h"

#include <gtest/gtest.h>

#include <string>

namespace gaffer::webhook {
namespace {

TEST(Signature, HmacMatchesRfc4231) {
    // RFC 4231 test case 2.
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // RFC 4231 test case 1: key = 20 bytes of 0x0b.
    EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    // RFC 4231 test case 6: a key longer than the block size is hashed first.
    EXPECT_EQ(hmac_sha256_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Signature, SignedStringIsTimestampDotBody) {
    EXPECT_EQ(signed_string("1700000000", R"({"event":"spawn"})"), R"(1700000000.{"event":"spawn"})");
    EXPECT_EQ(signed_string("1", ""), "1.");
}

TEST(Signature, HeaderValueIsSha256OfTheSignedString) {
    const std::string body = R"({"event":"spawn","name":"default.web","pid":3,"os_pid":41234})";
    std::string sig = signature("s3cret", "1700000000", body);
    EXPECT_EQ(sig, "sha256=" + hmac_sha256_hex("s3cret", "1700000000." + body));
    ASSERT_EQ(sig.size(), 7u + 64u);
    EXPECT_EQ(sig.find_first_not_of("0123456789abcdef", 7), std::string::npos);
    // Computed independently with Python's hmac module over "1700000000." + body.
    EXPECT_EQ(sig, "sha256=e8ed4168cee0c4f91685390e1ba7f268993792cf73d9e41afe717583c34eca1f");
}

TEST(Signature, EveryPartIsCovered) {
    const std::string base = signature("k", "100", "{}");
    EXPECT_NE(signature("K", "100", "{}"), base);
    EXPECT_NE(signature("k", "101", "{}"), base);
    EXPECT_NE(signature("k", "100", "{ }"), base);
    // The separator is part of the message: moving bytes across it changes the result.
    EXPECT_NE(signature("k", "10", "0{}"), base);
}

}  // namespace
}  // namespace gaffer::webhook
