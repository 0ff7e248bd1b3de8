// SPDX-License-Identifier: MIT
// HMAC-SHA256 webhook signatures with nettle (see signature.h).
#include "lib/webhook/signature.h"

#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <string.h>

#include <cstdint>
#include <initializer_list>

namespace gaffer::webhook {

namespace {

const uint8_t* bytes(std::string_view s) {
    return reinterpret_cast<const uint8_t*>(s.data());
}

std::string hex(const uint8_t* data, size_t len) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(2 * len, '\0');
    for (size_t i = 0; i < len; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 0xf];
    }
    return out;
}

// Feeds the pieces in order, so the signed string is never built in memory.
std::string hmac_hex(std::string_view key, std::initializer_list<std::string_view> pieces) {
    struct hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, key.size(), bytes(key));
    for (std::string_view p : pieces) hmac_sha256_update(&ctx, p.size(), bytes(p));
    uint8_t digest[SHA256_DIGEST_SIZE];
    hmac_sha256_digest(&ctx, sizeof digest, digest);
    // The context holds key-derived state: do not leave it on the stack.
    explicit_bzero(&ctx, sizeof ctx);
    return hex(digest, sizeof digest);
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    return hmac_hex(key, {data});
}

std::string signed_string(std::string_view timestamp, std::string_view body) {
    std::string s;
    s.reserve(timestamp.size() + 1 + body.size());
    s.append(timestamp).append(".").append(body);
    return s;
}

std::string signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
    return "sha256=" + hmac_hex(secret, {timestamp, ".", body});
}

}  // namespace gaffer::webhook
