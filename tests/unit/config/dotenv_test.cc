// SPDX-License-Identifier: MIT
// Unit tests of lib/config/dotenv: a table of every syntax rule of issue 14 (docker
// compose's "Syntax for environment files" and interpolation), each compose example
// where the documentation gives one, then the errors (EINVAL "<path>:<line>: ...") and
// the bounds. A failed parse must leave the variables unchanged.
#include "lib/config/dotenv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/helpers/temp_dir.h"

namespace gaffer::config {
namespace {

const model::Env kBase = {{"HOME", "/home/u"}, {"EMPTY", ""}, {"FOO", "foo"}, {"OTHER", "other"}};

struct Case {
    const char* rule;
    std::string text;
    model::Env want;  // the variables the file sets
};

// One value each: `text` sets VAR (and sometimes earlier keys, listed in `want`).
const std::vector<Case> kCases = {
    // compose: syntax.
    {"unquoted (compose)", "VAR=VAL\n", {{"VAR", "VAL"}}},
    {"double quoted (compose)", "VAR=\"VAL\"\n", {{"VAR", "VAL"}}},
    {"single quoted (compose)", "VAR='VAL'\n", {{"VAR", "VAL"}}},
    {"inline comment after a blank (compose)", "VAR=VAL # comment\n", {{"VAR", "VAL"}}},
    {"'#' without a blank is text (compose)", "VAR=VAL# not a comment\n", {{"VAR", "VAL# not a comment"}}},
    {"'#' inside double quotes (compose)", "VAR=\"VAL # not a comment\"\n", {{"VAR", "VAL # not a comment"}}},
    {"comment after the closing quote (compose)", "VAR=\"VAL\" # comment\n", {{"VAR", "VAL"}}},
    {"single quotes are literal (compose)", "VAR='$OTHER'\n", {{"VAR", "$OTHER"}}},
    {"single quotes are literal, braces (compose)", "VAR='${OTHER}'\n", {{"VAR", "${OTHER}"}}},
    {"\\' in single quotes (compose)", "VAR='Let\\'s go!'\n", {{"VAR", "Let's go!"}}},
    {"\\\" in double quotes (compose)", "VAR=\"{\\\"hello\\\": \\\"json\\\"}\"\n", {{"VAR", "{\"hello\": \"json\"}"}}},
    {"\\t in double quotes (compose)", "VAR=\"some\\tvalue\"\n", {{"VAR", "some\tvalue"}}},
    {"\\t in single quotes stays (compose)", "VAR='some\\tvalue'\n", {{"VAR", "some\\tvalue"}}},
    {"\\t unquoted stays (compose)", "VAR=some\\tvalue\n", {{"VAR", "some\\tvalue"}}},
    {"\\n \\r \\\\ in double quotes", "VAR=\"a\\nb\\rc\\\\d\"\n", {{"VAR", "a\nb\rc\\d"}}},
    {"other escapes are kept", "VAR=\"a\\qb\"\n", {{"VAR", "a\\qb"}}},
    {"double quotes span lines", "VAR=\"line 1\nline 2\"\nNEXT=x\n", {{"VAR", "line 1\nline 2"}, {"NEXT", "x"}}},
    {"single quotes span lines", "VAR='a\nb'\n", {{"VAR", "a\nb"}}},
    {"blank lines and comments", "# comment\n\n   \n\t# indented\nVAR=x\n", {{"VAR", "x"}}},
    {"export prefix", "export VAR=x\n", {{"VAR", "x"}}},
    {"export with tabs and blanks around =", "export\tVAR = x \n", {{"VAR", "x"}}},
    {"a key named export", "export=x\n", {{"export", "x"}}},
    {"empty value", "VAR=\n", {{"VAR", ""}}},
    {"empty value with a comment", "VAR= # nothing\n", {{"VAR", ""}}},
    {"empty quotes", "VAR=\"\"\n", {{"VAR", ""}}},
    {"'=' inside the value", "VAR=a=b==c\n", {{"VAR", "a=b==c"}}},
    {"dots and dashes in keys", "my.key-1=x\n", {{"my.key-1", "x"}}},
    {"CRLF lines", "VAR=x\r\nQ=\"y\"\r\n", {{"VAR", "x"}, {"Q", "y"}}},
    {"no final newline", "VAR=x", {{"VAR", "x"}}},
    {"later keys win", "VAR=1\nVAR=2\n", {{"VAR", "2"}}},
    // compose: interpolation.
    {"$VAR from the environment", "VAR=$HOME/x\n", {{"VAR", "/home/u/x"}}},
    {"${VAR} (compose)", "VAR=${HOME}x\n", {{"VAR", "/home/ux"}}},
    {"interpolation in double quotes", "VAR=\"$FOO ${OTHER}\"\n", {{"VAR", "foo other"}}},
    {"earlier keys before the environment", "FOO=mine\nVAR=$FOO\n", {{"FOO", "mine"}, {"VAR", "mine"}}},
    {"unset is empty", "VAR=a${NOPE}b$NOPE\n", {{"VAR", "ab"}}},
    {":- unset (compose)", "VAR=${NOPE:-default}\n", {{"VAR", "default"}}},
    {":- empty (compose)", "VAR=${EMPTY:-default}\n", {{"VAR", "default"}}},
    {":- set", "VAR=${FOO:-default}\n", {{"VAR", "foo"}}},
    {"- unset (compose)", "VAR=${NOPE-default}\n", {{"VAR", "default"}}},
    {"- empty stays empty (compose)", "VAR=${EMPTY-default}\n", {{"VAR", ""}}},
    {":+ set (compose)", "VAR=${FOO:+alt}\n", {{"VAR", "alt"}}},
    {":+ empty (compose)", "VAR=${EMPTY:+alt}\n", {{"VAR", ""}}},
    {"+ empty is set (compose)", "VAR=${EMPTY+alt}\n", {{"VAR", "alt"}}},
    {"+ unset (compose)", "VAR=${NOPE+alt}\n", {{"VAR", ""}}},
    {":? set (compose)", "VAR=${FOO:?need foo}\n", {{"VAR", "foo"}}},
    {"? empty is set (compose)", "VAR=${EMPTY?need it}\n", {{"VAR", ""}}},
    {"nested default (compose)", "VAR=${VARIABLE:-${FOO}}\n", {{"VAR", "foo"}}},
    {"nested twice (compose)", "VAR=${VARIABLE:-${NOPE:-default}}\n", {{"VAR", "default"}}},
    {"$$ is a dollar (compose)", "VAR=$$VAR_NOT_INTERPOLATED\n", {{"VAR", "$VAR_NOT_INTERPOLATED"}}},
    {"$ before a non-name is kept", "VAR=5$ $1 a$\n", {{"VAR", "5$ $1 a$"}}},
    {"\\$ in double quotes", "VAR=\"\\$FOO\"\n", {{"VAR", "$FOO"}}},
    {"defaults may hold blanks and quotes", "VAR=\"${NOPE:-a b 'c'}\"\n", {{"VAR", "a b 'c'"}}},
};

TEST(Dotenv, EverySyntaxRule) {
    for (const Case& c : kCases) {
        model::Env into;
        Status s = parse_dotenv(c.text, ".env", kBase, into);
        ASSERT_TRUE(s) << c.rule << ": " << s.error().message();
        EXPECT_EQ(into, c.want) << c.rule;
    }
}

struct ErrorCase {
    const char* rule;
    std::string text;
    std::string error;
};

const std::vector<ErrorCase> kErrors = {
    {"KEY: value", "A=1\nKEY: value\n", ".env:2: expected KEY=value, got no '=' after 'KEY'"},
    {"a word without '='", "WORD\n", ".env:1: expected KEY=value, got no '=' after 'WORD'"},
    {"export without '='", "export WORD\n", ".env:1: expected KEY=value, got no '=' after 'WORD'"},
    {"a key starting with a digit", "1A=x\n",
     ".env:1: expected KEY=value (KEY of A-Z a-z 0-9 _ . -, not starting with a digit)"},
    {"'=' alone", "=x\n", ".env:1: expected KEY=value (KEY of A-Z a-z 0-9 _ . -, not starting with a digit)"},
    {"unterminated double quote", "A=1\nB=\"abc\nC=2\n", ".env:2: unterminated double quote"},
    {"unterminated single quote", "B='abc\n", ".env:1: unterminated single quote"},
    {"text after the closing quote", "B=\"a\"b\n", ".env:1: unexpected text after the closing quote"},
    {":? unset names file and line", "A=1\n\nB=${NOPE:?set NOPE first}\n", ".env:3: NOPE: set NOPE first"},
    {":? empty", "B=${EMPTY:?}\n", ".env:1: EMPTY: required variable is unset or empty"},
    {"? unset", "B=${NOPE?}\n", ".env:1: NOPE: required variable is unset"},
    {":? message interpolated", "B=\"${NOPE:?no $FOO}\"\n", ".env:1: NOPE: no foo"},
    {"unterminated ${", "B=${FOO\n", ".env:1: unterminated '${FOO'"},
    {"bad name in ${", "B=${1}\n", ".env:1: bad substitution: '${' must be followed by a variable name"},
    {"unsupported operator", "B=${FOO/a/b}\n",
     ".env:1: bad substitution '${FOO/a/b}' (supported: ${VAR} ${VAR:-w} ${VAR-w} ${VAR:+w} ${VAR+w} ${VAR:?msg} "
     "${VAR?msg})"},
    {"line of a key after a multi-line value", "A=\"x\ny\"\nB=${NOPE:?m}\n", ".env:3: NOPE: m"},
};

TEST(Dotenv, ErrorsNameFileAndLineAndChangeNothing) {
    for (const ErrorCase& c : kErrors) {
        model::Env into = {{"KEEP", "me"}};
        Status s = parse_dotenv(c.text, ".env", kBase, into);
        ASSERT_FALSE(s) << c.rule;
        EXPECT_EQ(s.error().code, EINVAL) << c.rule;
        EXPECT_EQ(s.error().context, c.error) << c.rule;
        EXPECT_EQ(into, (model::Env{{"KEEP", "me"}})) << c.rule;
    }
}

TEST(Dotenv, EarlierFilesAreSeenAndOverridden) {
    model::Env into;
    ASSERT_TRUE(parse_dotenv("A=first\nB=b\n", "root/.env", kBase, into));
    ASSERT_TRUE(parse_dotenv("A=${A}-second\nHOME=/elsewhere\nC=$HOME\n", "extra.env", kBase, into));
    EXPECT_EQ(into, (model::Env{{"A", "first-second"}, {"B", "b"}, {"HOME", "/elsewhere"}, {"C", "/elsewhere"}}));
}

TEST(Dotenv, Bounds) {
    using namespace std::string_literals;
    model::Env into;
    Status s = parse_dotenv("A=1\nB=x\0y\n"s, ".env", kBase, into);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().context, ".env:2: binary file (NUL byte)");

    s = parse_dotenv(std::string(kDotenvMaxBytes + 1, '#'), ".env", kBase, into);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().context, ".env: larger than 1 MiB");

    // Interpolation cannot multiply memory: a value is bounded...
    std::string text = "A=" + std::string(64 << 10, 'x') + "\nB=$A$A$A\n";
    s = parse_dotenv(text, ".env", kBase, into);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().context, ".env:2: value longer than 131072 bytes");
    // ...and so is the sum of them.
    text = "A=" + std::string(100 << 10, 'x') + "\n";
    for (int i = 0; i < 30; ++i) text += "B" + std::to_string(i) + "=$A\n";
    s = parse_dotenv(text, ".env", kBase, into);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().context, ".env: the variables take more than 2 MiB");
    EXPECT_TRUE(into.empty());

    // Nesting depth is bounded (no stack exhaustion).
    std::string nested = "A=";
    for (int i = 0; i < 1000; ++i) nested += "${N:-";
    nested += std::string(1000, '}') + "\n";
    s = parse_dotenv(nested, ".env", kBase, into);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().context, ".env:1: interpolation nested more than 16 deep");
}

TEST(Dotenv, LoadMissingIsAnErrorOnlyWhenRequired) {
    testutil::TempDir tmp;
    ASSERT_TRUE(tmp.ok());
    const std::string& dir = tmp.path();
    std::string path = tmp / ".env";
    model::Env into;
    ASSERT_TRUE(load_dotenv(path, false, kBase, into));
    EXPECT_TRUE(into.empty());
    Status s = load_dotenv(path, true, kBase, into);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ENOENT);

    FILE* f = std::fopen(path.c_str(), "we");
    ASSERT_NE(f, nullptr);
    std::fputs("A=$HOME\nB='unterminated\n", f);
    std::fclose(f);
    s = load_dotenv(path, false, kBase, into);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().context, path + ":2: unterminated single quote");
    EXPECT_TRUE(into.empty());

    s = load_dotenv(dir, false, kBase, into);  // a directory
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().context, dir + ": not a regular file");
}

}  // namespace
}  // namespace gaffer::config
