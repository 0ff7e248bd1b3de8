// SPDX-License-Identifier: MIT
// CORS allow-list; see cors.h.
#include "lib/http/cors.h"

#include <algorithm>

#include "lib/base/strutil.h"

namespace gaffer::http {

namespace {
std::string normalize(std::string_view origin) {
    std::string o(trim(origin));
    while (!o.empty() && o.back() == '/') o.pop_back();
    return o;
}
}  // namespace

CorsPolicy::CorsPolicy(std::vector<std::string> origins) {
    for (const auto& o : origins) {
        std::string n = normalize(o);
        if (n.empty())
            continue;
        if (n == "*") {
            any_ = true;
            continue;
        }
        // Scheme and host are case-insensitive; browsers send them lower-case.
        origins_.push_back(to_lower(n));
    }
    if (any_)
        origins_.push_back("*");
}

bool CorsPolicy::named(std::string_view origin) const {
    std::string o = to_lower(normalize(origin));
    if (o.empty() || o == "null" || o == "*")
        return false;
    return std::find(origins_.begin(), origins_.end(), o) != origins_.end();
}

bool CorsPolicy::listed(std::string_view origin) const {
    std::string o = to_lower(normalize(origin));
    if (o.empty() || o == "null")
        return false;
    return any_ || named(o);
}

void CorsPolicy::apply(const Request& req, Response& resp) const {
    if (!enabled())
        return;
    resp.set_header("Vary", "Origin");
    auto origin = req.header("origin");
    if (!origin || !listed(*origin))
        return;
    if (named(*origin)) {
        resp.set_header("Access-Control-Allow-Origin", std::string(trim(*origin)));
        resp.set_header("Access-Control-Allow-Credentials", "true");
    } else {
        resp.set_header("Access-Control-Allow-Origin", "*");
    }
    resp.set_header("Access-Control-Allow-Methods", kAllowMethods);
    resp.set_header("Access-Control-Max-Age", "86400");
    resp.set_header("Access-Control-Allow-Headers", kAllowHeaders);
    resp.set_header("Access-Control-Expose-Headers", kExposeHeaders);
}

}  // namespace gaffer::http
