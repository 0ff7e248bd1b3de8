// SPDX-License-Identifier: MIT
// Tests of lib/auth/crypto: hex, SHA-256, randomness and the constant-time compare.
#include "lib/auth/crypto.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace gaffer::auth {
namespace {

TEST(Crypto, HexRoundTrip) {
    const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    std::string hex = to_hex(bytes, sizeof bytes);
    EXPECT_EQ(hex, "00017f80abff");
    auto back = from_hex(hex);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, std::string("\x00\x01\x7f\x80\xab\xff", 6));
    EXPECT_EQ(*from_hex("ABff"), std::string("\xab\xff", 2));
    EXPECT_EQ(*from_hex(""), "");
}

TEST(Crypto, FromHexRejectsBadInput) {
    EXPECT_FALSE(from_hex("abc"));  // odd length
    EXPECT_FALSE(from_hex("zz"));
    EXPECT_FALSE(from_hex("0g"));
    EXPECT_FALSE(from_hex(" 0"));
}

TEST(Crypto, Sha256KnownVector) {
    Sha256 h = sha256("abc");
    EXPECT_EQ(to_hex(h.data(), h.size()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, RandomHexHasTheRightShapeAndVaries) {
    std::set<std::string> seen;
    for (int i = 0; i < 64; ++i) {
        auto r = random_hex(16);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->size(), 32u);
        EXPECT_EQ(r->find_first_not_of("0123456789abcdef"), std::string::npos);
        seen.insert(*r);
    }
    EXPECT_EQ(seen.size(), 64u);
}

TEST(Crypto, ConstantTimeEqual) {
    uint64_t before = constant_time_compares();
    EXPECT_TRUE(constant_time_equal("abcdef", "abcdef"));
    EXPECT_FALSE(constant_time_equal("abcdef", "abcdeF"));
    EXPECT_FALSE(constant_time_equal("abcdef", "abcde"));
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_EQ(constant_time_compares(), before + 4);
}

}  // namespace
}  // namespace gaffer::auth
