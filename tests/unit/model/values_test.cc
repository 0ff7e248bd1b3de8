// SPDX-License-Identifier: MIT
// Tests of lib/model/values and JobName: the small value languages of the gaffer
// interface (signals, scale expressions of §3.6, shell-style splitting and $VAR
// substitution of §7.3, qualified names of §2.6). Table-driven.
#include "lib/model/values.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <optional>
#include <string>
#include <vector>

#include "lib/model/job_spec.h"

namespace gaffer::model {
namespace {

// ---------------------------------------------------------------- signals

struct SignalCase {
    const char* text;
    std::optional<int> want;
};

class ParseSignal : public ::testing::TestWithParam<SignalCase> {};

TEST_P(ParseSignal, Table) {
    const auto& c = GetParam();
    EXPECT_EQ(parse_signal(c.text), c.want) << "input '" << c.text << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Values, ParseSignal,
    ::testing::Values(SignalCase{"TERM", SIGTERM}, SignalCase{"term", SIGTERM}, SignalCase{"SIGterm", SIGTERM},
                      SignalCase{"sigTERM", SIGTERM}, SignalCase{"SIGTERM", SIGTERM}, SignalCase{"15", SIGTERM},
                      SignalCase{"9", SIGKILL}, SignalCase{"HUP", SIGHUP}, SignalCase{"sighup", SIGHUP},
                      SignalCase{"1", SIGHUP}, SignalCase{"KILL", SIGKILL}, SignalCase{"usr1", SIGUSR1},
                      SignalCase{"SIGUSR2", SIGUSR2}, SignalCase{"CHLD", SIGCHLD}, SignalCase{"64", 64},
                      SignalCase{"SIGRTMIN", SIGRTMIN}, SignalCase{"RTMIN+2", SIGRTMIN + 2},
                      // junk
                      SignalCase{"junk", std::nullopt}, SignalCase{"", std::nullopt}, SignalCase{"SIG", std::nullopt},
                      SignalCase{"SIGSIGTERM", std::nullopt}, SignalCase{"TERMX", std::nullopt},
                      SignalCase{"0", std::nullopt}, SignalCase{"65", std::nullopt}, SignalCase{"-9", std::nullopt},
                      SignalCase{"1.5", std::nullopt}, SignalCase{"9x", std::nullopt},
                      SignalCase{"99999999999999999999999", std::nullopt}, SignalCase{"RTMIN+", std::nullopt}));

TEST(SignalNumbers, Range) {
    EXPECT_EQ(signal_from_number(0), std::nullopt);
    EXPECT_EQ(signal_from_number(1), 1);
    EXPECT_EQ(signal_from_number(64), 64);
    EXPECT_EQ(signal_from_number(65), std::nullopt);
    EXPECT_EQ(signal_from_number(-15), std::nullopt);
}

TEST(SignalNumbers, NamesRoundTrip) {
    EXPECT_EQ(signal_name(SIGTERM), "TERM");
    EXPECT_EQ(signal_name(SIGKILL), "KILL");
    EXPECT_EQ(signal_name(SIGHUP), "HUP");
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGUSR1, SIGUSR2, SIGTERM, SIGCHLD, SIGWINCH})
        EXPECT_EQ(parse_signal(signal_name(sig)), sig) << sig;
    EXPECT_EQ(signal_name(SIGRTMIN + 3), std::to_string(SIGRTMIN + 3));  // no name: the number
}

// ---------------------------------------------------------------- scale (§3.6)

struct ScaleCase {
    const char* text;
    bool valid;
    int from;  // current target
    int want;  // new target
};

class ParseScale : public ::testing::TestWithParam<ScaleCase> {};

TEST_P(ParseScale, Table) {
    const auto& c = GetParam();
    auto op = parse_scale(c.text);
    ASSERT_EQ(op.has_value(), c.valid) << "input '" << c.text << "'";
    if (op) {
        EXPECT_EQ(op->apply(c.from), c.want) << "input '" << c.text << "' from " << c.from;
    }
}

INSTANTIATE_TEST_SUITE_P(Values, ParseScale,
                         ::testing::Values(
                             // a string of digits adds (it does NOT set)
                             ScaleCase{"3", true, 2, 5}, ScaleCase{"0", true, 2, 2}, ScaleCase{"+3", true, 2, 5},
                             ScaleCase{"+0", true, 2, 2}, ScaleCase{"-1", true, 2, 1}, ScaleCase{"-2", true, 2, 0},
                             ScaleCase{"-5", true, 2, 0},  // never below 0
                             ScaleCase{"=7", true, 2, 7}, ScaleCase{"=0", true, 2, 0}, ScaleCase{"=1", true, 9, 1},
                             ScaleCase{"007", true, 0, 7},
                             // malformed: all rejected (400)
                             ScaleCase{"x5", false}, ScaleCase{"+", false}, ScaleCase{"-", false},
                             ScaleCase{"=", false}, ScaleCase{"+a", false}, ScaleCase{"1.5", false},
                             ScaleCase{"+1.5", false}, ScaleCase{"", false}, ScaleCase{" 5", false},
                             ScaleCase{"5 ", false}, ScaleCase{"++5", false}, ScaleCase{"+-5", false},
                             ScaleCase{"=-1", false}, ScaleCase{"5x", false}, ScaleCase{"1e3", false},
                             ScaleCase{"0x10", false}));

TEST(ScaleOp, KindsOfParsedExpressions) {
    EXPECT_EQ(parse_scale("4")->kind, ScaleOp::Kind::kAdd);
    EXPECT_EQ(parse_scale("+4")->kind, ScaleOp::Kind::kAdd);
    EXPECT_EQ(parse_scale("-4")->kind, ScaleOp::Kind::kSub);
    EXPECT_EQ(parse_scale("=4")->kind, ScaleOp::Kind::kSet);
    EXPECT_EQ(parse_scale("=4")->n, 4);
}

struct IntScaleCase {
    long long n;
    int from;
    int want;
};

class ScaleFromInt : public ::testing::TestWithParam<IntScaleCase> {};

TEST_P(ScaleFromInt, Table) {
    const auto& c = GetParam();
    EXPECT_EQ(scale_from_int(c.n).apply(c.from), c.want) << c.n << " from " << c.from;
}

// A JSON integer n > 0 adds n; n <= 0 subtracts |n|; the target never goes below 0.
INSTANTIATE_TEST_SUITE_P(Values, ScaleFromInt,
                         ::testing::Values(IntScaleCase{2, 1, 3}, IntScaleCase{1, 0, 1}, IntScaleCase{0, 3, 3},
                                           IntScaleCase{-1, 3, 2}, IntScaleCase{-3, 3, 0}, IntScaleCase{-100, 3, 0},
                                           IntScaleCase{-9223372036854775807LL, 5, 0}));

TEST(ScaleOp, HugeValuesDoNotOverflow) {
    int big = scale_from_int(9223372036854775807LL).apply(2147483000);
    EXPECT_GT(big, 0);
    const ScaleOp add_max{ScaleOp::Kind::kAdd, 2147483647};
    const ScaleOp sub_max{ScaleOp::Kind::kSub, 2147483647};
    EXPECT_GE(add_max.apply(2147483647), 0);
    EXPECT_EQ(sub_max.apply(5), 0);
}

// ---------------------------------------------------------------- shell_split (§7.3)

struct SplitCase {
    const char* text;
    std::vector<std::string> want;
};

class ShellSplit : public ::testing::TestWithParam<SplitCase> {};

TEST_P(ShellSplit, Table) {
    const auto& c = GetParam();
    auto r = shell_split(c.text);
    ASSERT_TRUE(r) << "input [" << c.text << "]: " << r.error().message();
    EXPECT_EQ(*r, c.want) << "input [" << c.text << "]";
}

using W = std::vector<std::string>;
INSTANTIATE_TEST_SUITE_P(
    Values, ShellSplit,
    ::testing::Values(SplitCase{"", W{}}, SplitCase{"   \t\n ", W{}}, SplitCase{"sleep 1000", W{"sleep", "1000"}},
                      SplitCase{"  a \t b\nc  ", W{"a", "b", "c"}}, SplitCase{"'a b' c", W{"a b", "c"}},
                      SplitCase{"a'b c'd", W{"ab cd"}}, SplitCase{"''", W{""}}, SplitCase{"\"\"", W{""}},
                      SplitCase{"a '' b", W{"a", "", "b"}}, SplitCase{"'it''s'", W{"its"}},
                      SplitCase{"'a\\b'", W{"a\\b"}},  // no escapes in '...'
                      SplitCase{"\"a \\\"b\\\" \\\\ \\$x \\`\"", W{"a \"b\" \\ $x `"}},
                      SplitCase{"\"a\\zb\"", W{"a\\zb"}},  // other \ kept in "..."
                      SplitCase{"\"it's\"", W{"it's"}}, SplitCase{"a\\ b", W{"a b"}}, SplitCase{"\\'x", W{"'x"}},
                      SplitCase{"a\\\nb", W{"ab"}},  // line continuation
                      SplitCase{"\"$HOME\" $PATH", W{"$HOME", "$PATH"}},
                      SplitCase{"sh -c 'trap \"\" TERM; sleep 1'", W{"sh", "-c", "trap \"\" TERM; sleep 1"}}));

TEST(ShellSplit, RejectsUnterminatedInput) {
    for (const char* bad : {"'abc", "a 'b", "\"abc", "a \"b\\\"", "abc\\", "'", "\""}) {
        auto r = shell_split(bad);
        EXPECT_FALSE(r) << "input [" << bad << "]";
        if (!r) {
            EXPECT_EQ(r.error().code, EINVAL);
        }
    }
}

TEST(ShellQuote, RoundTripsThroughShellSplit) {
    const std::vector<std::string> words = {"plain",       "",          "a b",       "it's", "$HOME",   "\"q\"",
                                            "back\\slash", "tab\there", "new\nline", "*?[]", "--opt=1", "'"};
    std::string line;
    for (const auto& w : words) line += shell_quote(w) + " ";
    auto r = shell_split(line);
    ASSERT_TRUE(r) << line;
    EXPECT_EQ(*r, words) << line;
    EXPECT_EQ(shell_quote("plain/path-1.0"), "plain/path-1.0");
}

// ---------------------------------------------------------------- substitute_vars

struct SubstCase {
    const char* text;
    const char* want;
};

class SubstituteVars : public ::testing::TestWithParam<SubstCase> {};

TEST_P(SubstituteVars, Table) {
    const Env env = {{"X", "1"}, {"HOME", "/home/u"}, {"LONG_NAME2", "v"}, {"EMPTY", ""}, {"D", "$X"}};
    const auto& c = GetParam();
    EXPECT_EQ(substitute_vars(c.text, env), c.want) << "input [" << c.text << "]";
}

INSTANTIATE_TEST_SUITE_P(
    Values, SubstituteVars,
    ::testing::Values(SubstCase{"", ""}, SubstCase{"plain", "plain"}, SubstCase{"$X", "1"}, SubstCase{"${X}", "1"},
                      SubstCase{"$HOME/bin", "/home/u/bin"}, SubstCase{"a$X-b", "a1-b"}, SubstCase{"${X}y", "1y"},
                      SubstCase{"$LONG_NAME2!", "v!"}, SubstCase{"[$EMPTY]", "[]"}, SubstCase{"$$", "$"},
                      SubstCase{"$$X", "$X"}, SubstCase{"a$$$X", "a$1"}, SubstCase{"$D", "$X"},  // no rescan
                      // unknown names and malformed references stay as written
                      SubstCase{"$UNKNOWN", "$UNKNOWN"}, SubstCase{"${UNKNOWN}", "${UNKNOWN}"}, SubstCase{"$Xy", "$Xy"},
                      SubstCase{"$x", "$x"}, SubstCase{"$", "$"}, SubstCase{"x$", "x$"}, SubstCase{"$1", "$1"},
                      SubstCase{"${", "${"}, SubstCase{"${X", "${X"}, SubstCase{"${}", "${}"},
                      SubstCase{"${1X}", "${1X}"}, SubstCase{"$-", "$-"}, SubstCase{"$ X", "$ X"}));

// ---------------------------------------------------------------- JobName (§2.6)

struct NameCase {
    const char* text;
    const char* session;
    const char* job;
};

class JobNameParse : public ::testing::TestWithParam<NameCase> {};

TEST_P(JobNameParse, Table) {
    const auto& c = GetParam();
    JobName n = JobName::parse(c.text);
    EXPECT_EQ(n.session, c.session) << c.text;
    EXPECT_EQ(n.job, c.job) << c.text;
}

INSTANTIATE_TEST_SUITE_P(Values, JobNameParse,
                         ::testing::Values(NameCase{"plain", "default", "plain"}, NameCase{"a.b", "a", "b"},
                                           NameCase{"a.b.c", "a", "b.c"}, NameCase{"a/b", "a", "b"},
                                           NameCase{"a.b/c", "a", "b/c"}, NameCase{"a/b.c", "a/b", "c"},
                                           NameCase{"default.web", "default", "web"}));

TEST(JobName, QualifiedAndOrdering) {
    EXPECT_EQ(JobName::parse("plain").qualified(), "default.plain");
    EXPECT_EQ(JobName::parse("a.b.c").qualified(), "a.b.c");
    EXPECT_EQ(JobName::parse("a/b").qualified(), "a.b");
    EXPECT_EQ(JobName::parse("a/b"), JobName::parse("a.b"));
    EXPECT_TRUE(JobName::parse("a.z") < JobName::parse("b.a"));
    EXPECT_TRUE(JobName::parse("a.a") < JobName::parse("a.b"));
    EXPECT_FALSE(JobName::parse("a.b") < JobName::parse("a.b"));
}

}  // namespace
}  // namespace gaffer::model
