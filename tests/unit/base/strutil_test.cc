// SPDX-License-Identifier: MIT
// The ASCII helpers of lib/base/strutil.h shared by the INI parser and the websocket and
// SockJS code.
#include "lib/base/strutil.h"

#include <gtest/gtest.h>

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
}

}  // namespace
}  // namespace gaffer
