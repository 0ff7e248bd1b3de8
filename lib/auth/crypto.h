// SPDX-License-Identifier: MIT
// Crypto helpers for the key and user store: randomness from getrandom(2), SHA-256
// and hex from nettle, and the one constant-time comparison every secret check goes
// through. Nothing here allocates secrets that outlive the call except the returned
// values; nothing logs secret material.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace gaffer::auth {

using Sha256 = std::array<uint8_t, 32>;

// Fills `buf` from getrandom(2) (flags 0: blocks only before the kernel's pool is
// initialised); short reads and EINTR are retried.
Status random_bytes(uint8_t* buf, size_t len);
// `nbytes` random bytes as 2*nbytes lowercase hex characters.
Result<std::string> random_hex(size_t nbytes);

std::string to_hex(const uint8_t* data, size_t len);
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<std::string> from_hex(std::string_view hex);

Sha256 sha256(std::string_view data);

// Compares in time that depends only on the lengths (which are never secret here:
// both sides are digests of a fixed size), using nettle's memeql_sec.
bool constant_time_equal(const uint8_t* a, size_t alen, const uint8_t* b, size_t blen);
inline bool constant_time_equal(std::string_view a, std::string_view b) {
    return constant_time_equal(reinterpret_cast<const uint8_t*>(a.data()), a.size(),
                               reinterpret_cast<const uint8_t*>(b.data()), b.size());
}

// How many times constant_time_equal has run in this process. Tests use it to show that
// key and password checks take the constant-time path.
uint64_t constant_time_compares();

}  // namespace gaffer::auth
