// SPDX-License-Identifier: MIT
// PBKDF2 password hashes, new (SHA-256) and legacy (SHA-1) formats; see password.h.
#include "lib/auth/password.h"

#include <nettle/pbkdf2.h>
#include <string.h>

#include <cstdint>
#include <optional>

#include "lib/auth/crypto.h"
#include "lib/base/strutil.h"

namespace gaffer::auth {

namespace {

enum class Kind { kSha256, kLegacySha1 };

struct Parsed {
    Kind kind;
    std::string salt;  // bytes fed to PBKDF2
    unsigned iterations;
    std::string derived;  // expected derived key bytes
};

std::optional<Parsed> parse(std::string_view stored) {
    Parsed p;
    if (starts_with(stored, kPasswordPrefix)) {
        p.kind = Kind::kSha256;
        stored.remove_prefix(kPasswordPrefix.size());
    } else if (starts_with(stored, kLegacyPasswordPrefix)) {
        p.kind = Kind::kLegacySha1;
        stored.remove_prefix(kLegacyPasswordPrefix.size());
    } else {
        return std::nullopt;
    }
    size_t dollar = stored.rfind('$');
    if (dollar == std::string_view::npos)
        return std::nullopt;
    std::string_view head = stored.substr(0, dollar);
    std::string_view hex = stored.substr(dollar + 1);
    size_t colon = head.rfind(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    std::string_view salt = head.substr(0, colon);
    auto iterations = parse_int(head.substr(colon + 1));
    if (!iterations || *iterations < 1 || *iterations > kMaxPbkdf2Iterations)
        return std::nullopt;
    p.iterations = static_cast<unsigned>(*iterations);

    auto derived = from_hex(hex);
    if (!derived || derived->empty() || derived->size() > kMaxDerivedKeyBytes)
        return std::nullopt;
    p.derived = std::move(*derived);

    if (salt.empty() || salt.size() > 256)
        return std::nullopt;
    if (p.kind == Kind::kSha256) {
        auto raw = from_hex(salt);
        if (!raw)
            return std::nullopt;
        p.salt = std::move(*raw);
    } else {
        p.salt = std::string(salt);  // the original used the salt text itself
    }
    return p;
}

std::string derive(Kind kind, std::string_view password, std::string_view salt, unsigned iterations, size_t len) {
    std::string out(len, '\0');
    auto* dst = reinterpret_cast<uint8_t*>(out.data());
    const auto* key = reinterpret_cast<const uint8_t*>(password.data());
    const auto* s = reinterpret_cast<const uint8_t*>(salt.data());
    if (kind == Kind::kSha256) {
        pbkdf2_hmac_sha256(password.size(), key, iterations, salt.size(), s, len, dst);
    } else {
        pbkdf2_hmac_sha1(password.size(), key, iterations, salt.size(), s, len, dst);
    }
    return out;
}

}  // namespace

Result<std::string> hash_password(std::string_view password) {
    uint8_t salt[kPbkdf2SaltBytes];
    GAFFER_RETURN_IF_ERROR(random_bytes(salt, sizeof salt));
    std::string_view salt_view(reinterpret_cast<const char*>(salt), sizeof salt);
    std::string dk = derive(Kind::kSha256, password, salt_view, kPbkdf2Iterations, kPbkdf2KeyBytes);
    std::string out(kPasswordPrefix);
    out += to_hex(salt, sizeof salt);
    out += ':';
    out += std::to_string(kPbkdf2Iterations);
    out += '$';
    out += to_hex(reinterpret_cast<const uint8_t*>(dk.data()), dk.size());
    ::explicit_bzero(dk.data(), dk.size());
    return out;
}

bool verify_password(std::string_view stored, std::string_view password) {
    auto p = parse(stored);
    if (!p) {
        // Still take the constant-time path, so callers see uniform behaviour.
        (void)constant_time_equal(std::string_view("x"), std::string_view("y"));
        return false;
    }
    std::string dk = derive(p->kind, password, p->salt, p->iterations, p->derived.size());
    bool same = constant_time_equal(dk, p->derived);
    ::explicit_bzero(dk.data(), dk.size());
    return same;
}

bool is_password_hash(std::string_view stored) {
    return parse(stored).has_value();
}

const std::string& dummy_password_hash() {
    // Salt and key of zeros: PBKDF2 never yields all-zero output in practice.
    static const std::string kDummy = std::string(kPasswordPrefix) + std::string(2 * kPbkdf2SaltBytes, '0') + ":" +
                                      std::to_string(kPbkdf2Iterations) + "$" + std::string(2 * kPbkdf2KeyBytes, '0');
    return kDummy;
}

}  // namespace gaffer::auth
