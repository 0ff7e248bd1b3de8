// SPDX-License-Identifier: MIT
#include "ctl/client/invocation.h"

namespace gaffer::client {

bool Invocation::has(std::string_view name) const {
    for (const auto& [k, v] : options)
        if (k == name)
            return true;
    return false;
}

std::optional<std::string> Invocation::get(std::string_view name) const {
    std::optional<std::string> r;
    for (const auto& [k, v] : options)
        if (k == name)
            r = v;
    return r;
}

std::vector<std::string> Invocation::all(std::string_view name) const {
    std::vector<std::string> r;
    for (const auto& [k, v] : options)
        if (k == name)
            r.push_back(v);
    return r;
}

}  // namespace gaffer::client
