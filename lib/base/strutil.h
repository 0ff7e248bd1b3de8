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

// C's isspace() in the "C" locale: space, \t, \n, \v, \f, \r (never locale-dependent).
bool is_ascii_space(char c);
// Strips is_ascii_space() characters from both ends.
std::string_view trim(std::string_view s);
// Strips HTTP optional whitespace (RFC 9110 OWS: space and tab) from both ends.
std::string_view trim_ows(std::string_view s);
// A-Z to a-z; every other byte as it is.
char ascii_lower(char c);
// Equality and prefix ignoring ASCII case (header names, tokens, media types).
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
// Splits on any character of `seps`, dropping empty pieces.
std::vector<std::string> split_any(std::string_view s, std::string_view seps);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
// The value of a hexadecimal digit (either case), or -1.
int hex_digit_value(char c);

// Decimal numbers, the whole text but surrounding ASCII space (an embedded NUL byte or
// any other trailing byte: nullopt). parse_int: within int64_t, an optional sign.
// parse_double: finite, no hexadecimal floats, no inf/nan.
std::optional<int64_t> parse_int(std::string_view s);
std::optional<double> parse_double(std::string_view s);
// true/false, yes/no, on/off, 1/0 (case-insensitive).
std::optional<bool> parse_bool(std::string_view s);

}  // namespace gaffer
