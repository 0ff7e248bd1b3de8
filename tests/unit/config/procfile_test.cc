// SPDX-License-Identifier: MIT
// Unit tests of lib/config/procfile: the Procfile rules of §12.1 and issue 14 (names of
// [A-Za-z0-9_-], malformed lines under strict and not, duplicates, size and binary
// limits; every error EINVAL "<path>:<line>: ...").
#include "lib/config/procfile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/helpers/temp_dir.h"

namespace gaffer::config {
namespace {

Procfile parse_ok(std::string_view text, bool strict = false) {
    auto p = parse_procfile(text, "Procfile", strict);
    EXPECT_TRUE(p) << p.error().message();
    return p ? std::move(*p) : Procfile{};
}

std::string parse_error(std::string_view text, bool strict = false) {
    auto p = parse_procfile(text, "Procfile", strict);
    EXPECT_FALSE(p) << text;
    if (p)
        return "";
    EXPECT_EQ(p.error().code, EINVAL);
    return p.error().context;
}

TEST(Procfile, EntriesKeepTheirOrderAndCommandsAreTrimmed) {
    Procfile p = parse_ok("web: bundle exec rails s -p $PORT\nworker:   python worker.py  \nclock:x\n");
    ASSERT_EQ(p.entries.size(), 3u);
    EXPECT_EQ(p.entries[0], (ProcfileEntry{"web", "bundle exec rails s -p $PORT", 1}));
    EXPECT_EQ(p.entries[1], (ProcfileEntry{"worker", "python worker.py", 2}));
    EXPECT_EQ(p.entries[2], (ProcfileEntry{"clock", "x", 3}));
    EXPECT_TRUE(p.warnings.empty());
    EXPECT_EQ(p.find("worker"), &p.entries[1]);
    EXPECT_EQ(p.find("nope"), nullptr);
}

TEST(Procfile, NamesMayHoldDashesUnderscoresAndDigits) {
    Procfile p = parse_ok("web-api_2: ./api\n9: ./nine\n", true);
    ASSERT_EQ(p.entries.size(), 2u);
    EXPECT_EQ(p.entries[0].name, "web-api_2");
    EXPECT_EQ(p.entries[1].name, "9");
}

TEST(Procfile, CommentsBlankLinesAndCrlfAreAccepted) {
    Procfile p = parse_ok("# the app\r\n\r\n   \t\n  # indented comment\nweb: ./web\r\n", true);
    ASSERT_EQ(p.entries.size(), 1u);
    EXPECT_EQ(p.entries[0].command, "./web");
    EXPECT_EQ(p.entries[0].line, 5);
    EXPECT_TRUE(p.warnings.empty());
}

TEST(Procfile, MalformedLinesAreWarningsUnlessStrict) {
    const char* cases[] = {"web.1: x", "web x", "web:", "web:   ", ": x", "we b: x", " web: x", "web : x", "wéb: x"};
    for (const char* line : cases) {
        std::string text = std::string("ok: ./ok\n") + line + "\n";
        Procfile p = parse_ok(text);
        ASSERT_EQ(p.entries.size(), 1u) << line;
        ASSERT_EQ(p.warnings.size(), 1u) << line;
        EXPECT_EQ(p.warnings[0].rfind("Procfile:2: malformed line", 0), 0u) << p.warnings[0];
        EXPECT_EQ(parse_error(text, true).rfind("Procfile:2: malformed line", 0), 0u) << line;
    }
}

TEST(Procfile, DuplicateKeepsFirstPositionTakesLastCommandAndWarns) {
    Procfile p = parse_ok("web: ./a\nworker: ./w\nweb: ./b\n", true);
    ASSERT_EQ(p.entries.size(), 2u);
    EXPECT_EQ(p.entries[0], (ProcfileEntry{"web", "./b", 3}));
    EXPECT_EQ(p.entries[1].name, "worker");
    ASSERT_EQ(p.warnings.size(), 1u);
    EXPECT_EQ(p.warnings[0].rfind("Procfile:3: duplicate process type 'web' (first on line 1)", 0), 0u)
        << p.warnings[0];
}

TEST(Procfile, UnterminatedQuoteIsAnErrorEvenWithoutStrict) {
    EXPECT_EQ(parse_error("web: ./x\nbad: echo 'oops\n"), "Procfile:2: command: unterminated single quote");
    EXPECT_EQ(parse_error("bad: echo \"oops\n"), "Procfile:1: command: unterminated double quote");
}

TEST(Procfile, BinaryFilesAreErrors) {
    using namespace std::string_literals;
    EXPECT_EQ(parse_error("web: ./x\nw\0b: y\n"s).rfind("Procfile:2: binary file", 0), 0u);
    EXPECT_EQ(parse_error("\x7f"
                          "ELF\x02\x01\x01"s)
                  .rfind("Procfile:1: binary file", 0),
              0u);
    EXPECT_EQ(parse_error("web: a\x1b[0m\n"s).rfind("Procfile:1: binary file", 0), 0u);
    // Tabs and UTF-8 are text.
    EXPECT_EQ(parse_ok("web:\t./x --name=\xc3\xa9t\xc3\xa9\n", true).entries.size(), 1u);
}

TEST(Procfile, SizeLimits) {
    std::string line = "web: " + std::string(kProcfileMaxLine - 5, 'x');
    EXPECT_EQ(parse_ok(line + "\n").entries.size(), 1u);
    EXPECT_EQ(parse_error("ok: y\n" + line + "x\n"), "Procfile:2: line longer than 65536 bytes");
    EXPECT_EQ(parse_error(std::string(kProcfileMaxBytes + 1, '#')), "Procfile: larger than 1 MiB");
    std::string name(kProcfileMaxName + 1, 'n');
    EXPECT_EQ(parse_error(name + ": x\n"), "Procfile:1: name longer than 100 bytes");
    EXPECT_EQ(parse_ok(name.substr(1) + ": x\n").entries.size(), 1u);
}

TEST(Procfile, EmptyFileHasNoEntries) {
    Procfile p = parse_ok("", true);
    EXPECT_TRUE(p.entries.empty());
    EXPECT_TRUE(p.warnings.empty());
}

// Writes `text` to dir/name and returns the path.
std::string write_file(const testutil::TempDir& dir, const std::string& name, const std::string& text) {
    std::string p = dir / name;
    FILE* f = std::fopen(p.c_str(), "we");
    EXPECT_NE(f, nullptr);
    if (f) {
        std::fwrite(text.data(), 1, text.size(), f);
        std::fclose(f);
    }
    return p;
}

TEST(Procfile, LoadReadsRegularFilesOnly) {
    testutil::TempDir dir;
    ASSERT_TRUE(dir.ok());
    auto p = load_procfile(write_file(dir, "Procfile", "web: ./web\n"), true);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->entries[0].name, "web");

    // A directory and a FIFO (which must not block the open) are refused.
    auto r = load_procfile(dir.path(), true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_EQ(r.error().context, dir.path() + ": not a regular file");
    std::string fifo = dir.path() + "/fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    r = load_procfile(fifo, true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context, fifo + ": not a regular file");

    r = load_procfile(dir.path() + "/missing", true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOENT);

    r = load_procfile(write_file(dir, "big", std::string(kProcfileMaxBytes + 1, '#')), true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context, dir.path() + "/big: larger than 1 MiB");

    r = load_procfile(write_file(dir, "bad", "web: ./web\nnot an entry\n"), true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context,
              dir.path() + "/bad:2: malformed line (expected 'name: command', name of A-Z a-z 0-9 _ -)");
}

}  // namespace
}  // namespace gaffer::config
