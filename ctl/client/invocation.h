// SPDX-License-Identifier: MIT
// One command line of a CLI (gafferctl, gaffer) after option parsing: the command's
// positionals in order and its options by long name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gaffer::client {

struct Invocation {
    std::vector<std::string> args;                             // positionals, in order
    std::vector<std::pair<std::string, std::string>> options;  // long name -> value ("" for a flag)

    bool has(std::string_view name) const;
    // The last value given for `name`.
    std::optional<std::string> get(std::string_view name) const;
    // Every value given for `name`, in order.
    std::vector<std::string> all(std::string_view name) const;
};

}  // namespace gaffer::client
