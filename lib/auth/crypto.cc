// SPDX-License-Identifier: MIT
// Randomness, SHA-256, hex and constant-time comparison for lib/auth (see crypto.h).
#include "lib/auth/crypto.h"

#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <string.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "lib/base/strutil.h"

namespace gaffer::auth {

namespace {
uint64_t g_ct_compares = 0;
}  // namespace

Status random_bytes(uint8_t* buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = ::getrandom(buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(Error::from_errno("getrandom"));
        }
        done += static_cast<size_t>(n);
    }
    return ok();
}

Result<std::string> random_hex(size_t nbytes) {
    std::string raw(nbytes, '\0');
    GAFFER_RETURN_IF_ERROR(random_bytes(reinterpret_cast<uint8_t*>(raw.data()), raw.size()));
    std::string hex = to_hex(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
    ::explicit_bzero(raw.data(), raw.size());  // do not leave the secret behind
    return hex;
}

std::string to_hex(const uint8_t* data, size_t len) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.resize(len * 2);
    for (size_t i = 0; i < len; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 0x0f];
    }
    return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0)
        return std::nullopt;
    std::string out;
    out.resize(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = hex_digit_value(hex[2 * i]);
        int lo = hex_digit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out[i] = static_cast<char>((hi << 4) | lo);
    }
    return out;
}

Sha256 sha256(std::string_view data) {
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
    Sha256 out;
    sha256_digest(&ctx, out.size(), out.data());
    return out;
}

bool constant_time_equal(const uint8_t* a, size_t alen, const uint8_t* b, size_t blen) {
    ++g_ct_compares;
    if (alen != blen)
        return false;
    if (alen == 0)
        return true;
    return memeql_sec(a, b, alen) != 0;
}

uint64_t constant_time_compares() {
    return g_ct_compares;
}

}  // namespace gaffer::auth
