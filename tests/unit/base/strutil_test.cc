// SPDX-License-Identifier: MIT
// The ASCII helpers of lib/base/strutil.h shared by the INI parser and the websocket and
// SockJS code.
#include "lib/base/strutil.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace gaffer {
namespace {

TEST(StrUtil, AsciiSpaceIsTheCLocaleSet) {
    for (char c : std::string_view(" \t\n\v\f\r")) EXPECT_TRUE(is_ascii_space(c)) << int(c);
    for (char c : std::string_view("a\x00\x1c\x85\xa0", 5)) EXPECT_FALSE(is_ascii_space(c)) << int(c);
}

TEST(StrUtil, TrimAndTrimOws) {
    EXPECT_EQ(trim(" \t\r\n\v\fx y\f\v\n\r\t "), "x y");
    EXPECT_EQ(trim(" \t\n "), "");
    EXPECT_EQ(trim_ows(" \t x y\t "), "x y");
    EXPECT_EQ(trim_ows("\r\n x \n"), "\r\n x \n");  // only space and tab
    EXPECT_EQ(trim_ows("\t\t"), "");
}

TEST(StrUtil, CaseInsensitiveComparisons) {
    EXPECT_EQ(ascii_lower('Q'), 'q');
    EXPECT_EQ(ascii_lower('q'), 'q');
    EXPECT_EQ(ascii_lower('\xC9'), '\xC9');  // bytes above ASCII stay
    EXPECT_TRUE(iequals("Content-Type", "content-TYPE"));
    EXPECT_FALSE(iequals("Content-Type", "Content-Typ"));
    EXPECT_FALSE(iequals("a", "b"));
    EXPECT_TRUE(istarts_with("Application/X-WWW-Form-Urlencoded; charset=x", "application/x-www-form-urlencoded"));
    EXPECT_FALSE(istarts_with("app", "application"));
    EXPECT_TRUE(istarts_with("anything", ""));
    EXPECT_EQ(to_lower("MiXeD-123"), "mixed-123");
    EXPECT_EQ(to_upper("MiXeD-123 \xe9"), "MIXED-123 \xe9");
}

TEST(StrUtil, SplitAnyDropsEmptyPieces) {
    using V = std::vector<std::string>;
    EXPECT_EQ(split_any("a,b;c", ",;"), (V{"a", "b", "c"}));
    EXPECT_EQ(split_any(",,a,,b,", ","), (V{"a", "b"}));
    EXPECT_EQ(split_any("", ","), V{});
    EXPECT_EQ(split_any(",,,", ","), V{});
    EXPECT_EQ(split_any("abc", ""), (V{"abc"}));
    EXPECT_EQ(split_any(std::string("a\0b", 3), std::string("\0", 1)), (V{"a", "b"}));
}

TEST(StrUtil, JoinAndStartsWith) {
    EXPECT_EQ(join({}, ","), "");
    EXPECT_EQ(join({"a"}, ", "), "a");
    EXPECT_EQ(join({"a", "", "c"}, "-"), "a--c");
    EXPECT_TRUE(starts_with("abc", "ab"));
    EXPECT_TRUE(starts_with("abc", ""));
    EXPECT_FALSE(starts_with("ab", "abc"));
    EXPECT_FALSE(starts_with("Abc", "ab"));  // case matters
}

TEST(StrUtil, HexDigitValue) {
    EXPECT_EQ(hex_digit_value('0'), 0);
    EXPECT_EQ(hex_digit_value('9'), 9);
    EXPECT_EQ(hex_digit_value('a'), 10);
    EXPECT_EQ(hex_digit_value('F'), 15);
    for (char c : std::string_view("gG/:@` \x80\0", 10)) EXPECT_EQ(hex_digit_value(c), -1) << int(c);
}

TEST(StrUtil, ParseIntTakesTheWholeText) {
    EXPECT_EQ(parse_int("42"), 42);
    EXPECT_EQ(parse_int(" -7\t"), -7);  // surrounding ASCII space is trimmed
    EXPECT_EQ(parse_int("+5"), 5);
    EXPECT_EQ(parse_int("0"), 0);
    EXPECT_EQ(parse_int("9223372036854775807"), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(parse_int("-9223372036854775808"), std::numeric_limits<int64_t>::min());
    for (const char* bad : {"", " ", "-", "+", "1a", "a1", "1 2", "0x10", "1.0", "1e3", "9223372036854775808",
                            "-9223372036854775809", "0000000000000000000000000000001"}) {
        EXPECT_EQ(parse_int(bad), std::nullopt) << bad;
    }
}

TEST(StrUtil, ParseIntRefusesEmbeddedNul) {
    // "12\0junk" is not the number 12: a pid or a count smuggled past a NUL byte (JSON
    // strings and percent-decoded paths may hold one) must not parse as its prefix.
    EXPECT_EQ(parse_int(std::string("12\0", 3)), std::nullopt);
    EXPECT_EQ(parse_int(std::string("12\0"
                                    "34",
                                    5)),
              std::nullopt);
    EXPECT_EQ(parse_int(std::string("\0", 1)), std::nullopt);
}

TEST(StrUtil, ParseDoubleIsDecimalAndFinite) {
    EXPECT_EQ(parse_double("1.5"), 1.5);
    EXPECT_EQ(parse_double(" 2 "), 2.0);
    EXPECT_EQ(parse_double("-0.25"), -0.25);
    EXPECT_EQ(parse_double("1e3"), 1000.0);
    EXPECT_EQ(parse_double(".5"), 0.5);
    for (const char* bad :
         {"", "x", "1.5s", "1,5", "inf", "-inf", "nan", "NaN", "infinity", "1e999", "0x10", "0x1p3", "0X1P-2"}) {
        EXPECT_EQ(parse_double(bad), std::nullopt) << bad;
    }
    EXPECT_EQ(parse_double(std::string("1.5\0"
                                       "9",
                                       5)),
              std::nullopt);
}

TEST(StrUtil, ParseBool) {
    for (const char* t : {"true", "TRUE", "Yes", "on", "1", " true "}) EXPECT_EQ(parse_bool(t), true) << t;
    for (const char* f : {"false", "No", "OFF", "0", "\tno"}) EXPECT_EQ(parse_bool(f), false) << f;
    for (const char* bad : {"", "2", "y", "n", "truee", "t", "enabled"})
        EXPECT_EQ(parse_bool(bad), std::nullopt) << bad;
    EXPECT_EQ(parse_bool(std::string("true\0", 5)), std::nullopt);
}

}  // namespace
}  // namespace gaffer
