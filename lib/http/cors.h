// SPDX-License-Identifier: MIT
// CORS (security-defaults.md "Browsers", reference §2.4): off unless origins are listed.
// Only a listed Origin is echoed, with credentials allowed; "*" in the list answers any
// origin with "*" and without credentials; "null" and unlisted origins get no CORS
// headers at all. When an Origin is allowed, every response of every route carries the
// headers, errors included, and X-Api-Key is among the allowed request headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/http/request.h"

namespace gaffer::http {

class CorsPolicy {
public:
    CorsPolicy() = default;
    explicit CorsPolicy(std::vector<std::string> origins);

    bool enabled() const { return !origins_.empty(); }
    // Adds the CORS headers for `req`'s Origin to `resp` (nothing when not allowed).
    void apply(const Request& req, Response& resp) const;
    // Whether `origin` gets CORS headers: named in the list, or any but "null" under "*".
    bool listed(std::string_view origin) const;
    // Whether `origin` is named in the list itself ("*" names no origin).
    bool named(std::string_view origin) const;

    static constexpr const char* kAllowMethods = "POST, GET, PUT, DELETE, OPTIONS, HEAD";
    static constexpr const char* kAllowHeaders =
        "X-Requested-With, X-HTTP-Method-Override, Content-Type, Accept, Authorization, X-Api-Key";
    static constexpr const char* kExposeHeaders = "X-Api-Key, Location";

private:
    std::vector<std::string> origins_;  // trailing '/' removed
    bool any_ = false;                  // "*" was listed
};

}  // namespace gaffer::http
