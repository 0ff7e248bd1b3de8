// SPDX-License-Identifier: MIT
// Tests of lib/auth/password: new PBKDF2-SHA256 hashes, the original's PBKDF2-SHA1 format
// (vectors computed with Python's hashlib.pbkdf2_hmac) and malformed hashes.
#include "lib/auth/password.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/auth/crypto.h"

namespace gaffer::auth {
namespace {

// hashlib.pbkdf2_hmac('sha1', b'secret:pass', b'0f5e2a9c4b7d41e8a3c6b2d9e1f07a5c', 1000, 24)
constexpr const char* kLegacyHash =
    "PBKDF2-256$0f5e2a9c4b7d41e8a3c6b2d9e1f07a5c:1000$594bf76e49ac5019e077e40c0407b1e0b08293c3c727cf4e";
// hashlib.pbkdf2_hmac('sha1', 'héllo wörld'.encode(), b'5d41402abc4b2a76b9719d911017c592', 1000, 24)
constexpr const char* kLegacyUtf8Hash =
    "PBKDF2-256$5d41402abc4b2a76b9719d911017c592:1000$2c1bc38e2b9f5c5e19f4efad3d86ddfd02656980ab5296d2";
// hashlib.pbkdf2_hmac('sha256', b'correct horse battery staple',
//                     bytes.fromhex('0f1e2d3c4b5a69788796a5b4c3d2e1f0'), 100000, 32)
constexpr const char* kNewHash =
    "PBKDF2-SHA256$0f1e2d3c4b5a69788796a5b4c3d2e1f0:100000$"
    "f54e46978b9881b9984f8f4300ee7b9c12568070cc1b8d86d4f7c1dae758d0ac";

TEST(Password, VerifiesTheOriginalsSha1Format) {
    EXPECT_TRUE(is_password_hash(kLegacyHash));
    EXPECT_TRUE(verify_password(kLegacyHash, "secret:pass"));
    EXPECT_FALSE(verify_password(kLegacyHash, "secret:pasS"));
    EXPECT_FALSE(verify_password(kLegacyHash, "secret"));
    EXPECT_FALSE(verify_password(kLegacyHash, ""));
    EXPECT_TRUE(verify_password(kLegacyUtf8Hash, "h\xc3\xa9llo w\xc3\xb6rld"));
}

TEST(Password, LegacyPrefixIsNotSha256) {
    // The same salt/iterations/key under the new prefix must not verify: the prefix
    // selects the algorithm and how the salt is used.
    std::string relabelled = std::string(kLegacyHash).replace(0, kLegacyPasswordPrefix.size(), kPasswordPrefix);
    EXPECT_TRUE(is_password_hash(relabelled));
    EXPECT_FALSE(verify_password(relabelled, "secret:pass"));
}

TEST(Password, VerifiesAKnownSha256Vector) {
    EXPECT_TRUE(verify_password(kNewHash, "correct horse battery staple"));
    EXPECT_FALSE(verify_password(kNewHash, "correct horse battery stapler"));
}

TEST(Password, NewHashesHaveTheDocumentedShape) {
    auto h = hash_password("s3cret");
    ASSERT_TRUE(h) << h.error().message();
    const std::string& s = *h;
    ASSERT_EQ(s.rfind(kPasswordPrefix, 0), 0u) << s;
    std::string rest = s.substr(kPasswordPrefix.size());
    size_t colon = rest.find(':');
    size_t dollar = rest.find('$');
    ASSERT_NE(colon, std::string::npos);
    ASSERT_NE(dollar, std::string::npos);
    EXPECT_EQ(rest.substr(0, colon).size(), 2 * kPbkdf2SaltBytes);
    EXPECT_GE(std::stoul(rest.substr(colon + 1, dollar - colon - 1)), 100000u);
    EXPECT_EQ(rest.substr(dollar + 1).size(), 2 * kPbkdf2KeyBytes);
    EXPECT_EQ(s.find("s3cret"), std::string::npos);

    EXPECT_TRUE(verify_password(s, "s3cret"));
    EXPECT_FALSE(verify_password(s, "s3cret "));
    EXPECT_FALSE(verify_password(s, ""));
}

TEST(Password, SaltsDiffer) {
    auto a = hash_password("same");
    auto b = hash_password("same");
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
    EXPECT_TRUE(verify_password(*a, "same"));
    EXPECT_TRUE(verify_password(*b, "same"));
}

TEST(Password, MalformedHashesNeverVerify) {
    const char* bad[] = {
        "",
        "plain",
        "PBKDF2-256$",
        "PBKDF2-256$salt$abcd",              // no iterations
        "PBKDF2-256$salt:abc$abcd",          // iterations not a number
        "PBKDF2-256$salt:0$abcd",            // zero iterations
        "PBKDF2-256$salt:-5$abcd",           // negative
        "PBKDF2-256$salt:99999999999$abcd",  // over the bound
        "PBKDF2-256$salt:1000$",             // no key
        "PBKDF2-256$salt:1000$abc",          // odd hex
        "PBKDF2-256$salt:1000$zz",           // not hex
        "PBKDF2-256$:1000$abcd",             // empty salt
        "PBKDF2-SHA256$nothex:1000$abcd",    // new format salt must be hex
        "pbkdf2-sha256$00:1000$abcd",        // prefix is case-sensitive
    };
    for (const char* h : bad) {
        EXPECT_FALSE(is_password_hash(h)) << h;
        EXPECT_FALSE(verify_password(h, "")) << h;
        EXPECT_FALSE(verify_password(h, "x")) << h;
    }
}

TEST(Password, VerificationUsesTheConstantTimePath) {
    uint64_t before = constant_time_compares();
    EXPECT_TRUE(verify_password(kLegacyHash, "secret:pass"));
    EXPECT_FALSE(verify_password(kLegacyHash, "nope"));
    EXPECT_FALSE(verify_password("garbage", "nope"));
    EXPECT_EQ(constant_time_compares(), before + 3);
}

TEST(Password, DummyHashIsWellFormedAndMatchesNothing) {
    EXPECT_TRUE(is_password_hash(dummy_password_hash()));
    EXPECT_FALSE(verify_password(dummy_password_hash(), ""));
    EXPECT_FALSE(verify_password(dummy_password_hash(), "password"));
}

}  // namespace
}  // namespace gaffer::auth
