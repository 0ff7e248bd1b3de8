// SPDX-License-Identifier: MIT
// Password hashing for the user store (reference §9.1).
//
// New hashes: "PBKDF2-SHA256$<salt hex>:<iterations>$<derived key hex>", PBKDF2-HMAC-SHA256
// from nettle, a 16-byte random salt (the decoded bytes are the salt), kPbkdf2Iterations
// iterations, a 32-byte derived key.
//
// Legacy hashes written by the original gaffer: "PBKDF2-256$<salt>:<iterations>$<hex>".
// Despite the name they are PBKDF2-HMAC-SHA1 (1000 iterations, 24-byte key in practice)
// with the salt text (32 hex characters) used as ASCII bytes, not decoded. They are
// verified, never produced. The prefix alone tells the two apart.
//
// Verification always takes the constant-time comparison (crypto.h) and never reveals
// which part of a malformed hash was wrong.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace gaffer::auth {

inline constexpr std::string_view kPasswordPrefix = "PBKDF2-SHA256$";
inline constexpr std::string_view kLegacyPasswordPrefix = "PBKDF2-256$";
// About 14 ms per hash on a current x86 core with nettle: the store runs on the event
// loop, so this is the compromise between brute-force cost and loop latency.
inline constexpr unsigned kPbkdf2Iterations = 100000;
inline constexpr size_t kPbkdf2SaltBytes = 16;
inline constexpr size_t kPbkdf2KeyBytes = 32;
// Bounds on what a stored hash may ask for, so a hand-edited state file cannot make a
// login spin for minutes.
inline constexpr unsigned kMaxPbkdf2Iterations = 10'000'000;
inline constexpr size_t kMaxDerivedKeyBytes = 64;

// A new hash of `password` in the PBKDF2-SHA256 format, with a fresh random salt.
Result<std::string> hash_password(std::string_view password);

// True when `stored` is a well-formed hash in either format and `password` matches it.
bool verify_password(std::string_view stored, std::string_view password);

// True when `stored` parses as either format (used to validate the state file).
bool is_password_hash(std::string_view stored);

// A hash in the new format that no password matches; verifying against it costs what a
// real verification costs, so that unknown user names take as long as wrong passwords.
const std::string& dummy_password_hash();

}  // namespace gaffer::auth
