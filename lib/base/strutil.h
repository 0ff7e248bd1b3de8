// SPDX-License-Identifier: MIT
// Small string helpers shared by the parsers: trimming, splitting and strict number
// parsing (the whole text must be a number; no silent truncation).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gaffer {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
// Splits on any character of `seps`, dropping empty pieces.
std::vector<std::string> split_any(std::string_view s, std::string_view seps);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
// The value of a hexadecimal digit (either case), or -1.
int hex_digit_value(char c);

std::optional<int64_t> parse_int(std::string_view s);
std::optional<double> parse_double(std::string_view s);
// true/false, yes/no, on/off, 1/0 (case-insensitive).
std::optional<bool> parse_bool(std::string_view s);

}  // namespace gaffer
