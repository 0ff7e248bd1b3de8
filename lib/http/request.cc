// SPDX-License-Identifier: MIT
// Request/Response accessors; see request.h.
#include "lib/http/request.h"

#include "lib/base/strutil.h"

namespace gaffer::http {

const char* to_string(EndpointKind kind) {
    switch (kind) {
        case EndpointKind::kUnix:
            return "unix";
        case EndpointKind::kTcpLoopback:
            return "tcp-loopback";
        case EndpointKind::kTcpRemote:
            return "tcp";
    }
    return "?";
}

std::optional<std::string_view> Request::header(std::string_view name) const {
    auto it = headers.find(to_lower(name));
    if (it == headers.end())
        return std::nullopt;
    return std::string_view(it->second);
}

std::optional<std::string_view> Request::query_value(std::string_view name) const {
    std::optional<std::string_view> v;
    for (const auto& [k, val] : query) {
        if (k == name)
            v = std::string_view(val);
    }
    return v;
}

std::optional<std::string_view> Response::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name))
            return std::string_view(v);
    }
    return std::nullopt;
}

void Response::set_header(std::string name, std::string value) {
    for (auto& [k, v] : headers) {
        if (iequals(k, name)) {
            v = std::move(value);
            return;
        }
    }
    headers.emplace_back(std::move(name), std::move(value));
}

}  // namespace gaffer::http
