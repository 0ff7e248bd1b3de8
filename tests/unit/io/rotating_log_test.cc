// SPDX-License-Identifier: MIT
// Tests of lib/io/rotating_log: rotation only at line ends, backup naming and count,
// backups = 0, byte-exact contents across rotations, chunks much larger than the limit,
// processes sharing one log, error cases and log_path_for (§16 "Log files").
#include "lib/io/rotating_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/unique_fd.h"
#include "tests/helpers/temp_dir.h"

namespace gaffer::io {
namespace {

using testutil::TempDir;

bool exists(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0;
}

std::string slurp(const std::string& path) {
    auto r = read_file(path, 64 << 20);
    return r ? *r : std::string("<missing>");
}

// Every file of a log, oldest first: <path>.N … <path>.1, <path>.
std::vector<std::string> files_oldest_first(const std::string& path, int backups) {
    std::vector<std::string> out;
    for (int i = backups; i >= 1; --i) {
        std::string p = path + "." + std::to_string(i);
        if (exists(p))
            out.push_back(p);
    }
    out.push_back(path);
    return out;
}

std::string concat_all(const std::string& path, int backups) {
    std::string all;
    for (const auto& f : files_oldest_first(path, backups)) all += slurp(f);
    return all;
}

std::unique_ptr<RotatingLog> open_ok(const std::string& path, uint64_t max_bytes, int backups) {
    auto r = RotatingLog::open(path, max_bytes, backups);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? std::move(r.value()) : nullptr;
}

TEST(RotatingLog, AppendsBelowTheLimit) {
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    auto log = open_ok(dir / "a.log", 100, 3);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("one\n"));
    ASSERT_TRUE(log->write("two\n"));
    EXPECT_EQ(log->size(), 8u);
    EXPECT_EQ(slurp(dir / "a.log"), "one\ntwo\n");
    EXPECT_FALSE(exists(dir / "a.log.1"));
}

TEST(RotatingLog, ExactlyFullDoesNotRotate) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 8, 2);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("1234567\n"));
    EXPECT_EQ(log->size(), 8u);
    EXPECT_FALSE(exists(dir / "a.log.1"));
    ASSERT_TRUE(log->write("x\n"));
    EXPECT_EQ(slurp(dir / "a.log.1"), "1234567\n");
    EXPECT_EQ(slurp(dir / "a.log"), "x\n");
}

TEST(RotatingLog, OpenAppendsToAnExistingFile) {
    TempDir dir;
    {
        auto log = open_ok(dir / "a.log", 100, 1);
        ASSERT_TRUE(log);
        ASSERT_TRUE(log->write("old\n"));
    }
    auto log = open_ok(dir / "a.log", 100, 1);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->size(), 4u);
    ASSERT_TRUE(log->write("new\n"));
    EXPECT_EQ(slurp(dir / "a.log"), "old\nnew\n");
}

TEST(RotatingLog, CreatesTheFileWithMode0644) {
    TempDir dir;
    mode_t old = ::umask(022);
    auto log = open_ok(dir / "a.log", 100, 1);
    ::umask(old);
    ASSERT_TRUE(log);
    struct stat st {};
    ASSERT_EQ(::stat((dir / "a.log").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(RotatingLog, MissingDirectoryIsAnError) {
    TempDir dir;
    auto r = RotatingLog::open(dir / "nope/a.log", 100, 1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOENT);
    EXPECT_FALSE(exists(dir / "nope"));
}

TEST(RotatingLog, NegativeBackupsAndEmptyPathAreInvalid) {
    TempDir dir;
    auto r = RotatingLog::open(dir / "a.log", 100, -1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
    auto e = RotatingLog::open("", 100, 1);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, EINVAL);
}

TEST(RotatingLog, ADirectoryIsNotALogFile) {
    TempDir dir;
    ASSERT_EQ(::mkdir((dir / "d").c_str(), 0755), 0);
    auto r = RotatingLog::open(dir / "d", 100, 1);
    ASSERT_FALSE(r);
}

TEST(RotatingLog, RotatesAtTheLastLineEndThatFits) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 10, 3);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("aaaa\n"));          // 5
    ASSERT_TRUE(log->write("bb\ncc\ndddd\n"));  // 5 + 11 > 10: "bb\n" fits (8), "cc\n" would make 11
    EXPECT_EQ(slurp(dir / "a.log.1"), "aaaa\nbb\n");
    EXPECT_EQ(slurp(dir / "a.log"), "cc\ndddd\n");
    EXPECT_EQ(log->size(), 8u);
}

TEST(RotatingLog, FileEndingALineRotatesBeforeALineThatDoesNotFit) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 10, 3);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("aaaaaaa\n"));  // 8
    ASSERT_TRUE(log->write("bbbbb"));      // no '\n': starts the next file whole
    EXPECT_EQ(slurp(dir / "a.log.1"), "aaaaaaa\n");
    EXPECT_EQ(slurp(dir / "a.log"), "bbbbb");
    ASSERT_TRUE(log->write("bb\n"));
    EXPECT_EQ(slurp(dir / "a.log"), "bbbbbbb\n");
}

TEST(RotatingLog, ChunkWithoutNewlineMidLineIsWrittenWholeThenRotated) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 10, 3);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("abcdefgh"));  // 8, mid-line
    ASSERT_TRUE(log->write("ijklmn"));    // overflows, no '\n': never torn
    EXPECT_EQ(slurp(dir / "a.log.1"), "abcdefghijklmn");
    EXPECT_EQ(slurp(dir / "a.log"), "");
    EXPECT_EQ(log->size(), 0u);
}

TEST(RotatingLog, LineUnderWayIsFinishedBeforeRotating) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 10, 3);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("abcdefgh"));    // mid-line
    ASSERT_TRUE(log->write("ijkl\nmn\n"));  // no line end fits: finish the line, rotate
    EXPECT_EQ(slurp(dir / "a.log.1"), "abcdefghijkl\n");
    EXPECT_EQ(slurp(dir / "a.log"), "mn\n");
}

TEST(RotatingLog, LongLineStaysWholeInOneFile) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 10, 5);
    ASSERT_TRUE(log);
    const std::string long_line = std::string(25, 'x') + "\n";
    ASSERT_TRUE(log->write("a\n" + long_line + "b\n"));
    EXPECT_EQ(slurp(dir / "a.log.2"), "a\n");
    EXPECT_EQ(slurp(dir / "a.log.1"), long_line);
    EXPECT_EQ(slurp(dir / "a.log"), "b\n");
}

TEST(RotatingLog, KeepsBackupsNewestFirst) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 4, 2);
    ASSERT_TRUE(log);
    for (char c = 'a'; c <= 'e'; ++c) ASSERT_TRUE(log->write(std::string(3, c) + "\n"));
    // Each 4-byte line fills a file; the next write rotates it.
    EXPECT_EQ(slurp(dir / "a.log"), "eee\n");
    EXPECT_EQ(slurp(dir / "a.log.1"), "ddd\n");
    EXPECT_EQ(slurp(dir / "a.log.2"), "ccc\n");
    EXPECT_FALSE(exists(dir / "a.log.3"));
}

TEST(RotatingLog, ZeroBackupsTruncates) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 10, 0);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("aaaa\nbbbb\n"));
    ASSERT_TRUE(log->write("cc\n"));
    EXPECT_EQ(slurp(dir / "a.log"), "cc\n");
    EXPECT_FALSE(exists(dir / "a.log.1"));
    EXPECT_EQ(log->size(), 3u);
    ASSERT_TRUE(log->write("dddd\neeee\nff\n"));  // 3 + 13 > 10: "dddd\n" fits
    EXPECT_EQ(slurp(dir / "a.log"), "eeee\nff\n");
    EXPECT_FALSE(exists(dir / "a.log.1"));
}

TEST(RotatingLog, ZeroMaxBytesNeverRotates) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 0, 2);
    ASSERT_TRUE(log);
    const std::string big(200000, 'z');
    ASSERT_TRUE(log->write(big + "\n"));
    ASSERT_TRUE(log->write(big + "\n"));
    EXPECT_EQ(log->size(), 2 * (big.size() + 1));
    EXPECT_FALSE(exists(dir / "a.log.1"));
}

// Line i of a deterministic stream of varied line lengths (1 … 300 bytes with the '\n').
std::string line(int i) {
    const int len = 1 + (i * 37) % 300;
    std::string s(static_cast<size_t>(len - 1), static_cast<char>('a' + i % 26));
    s += '\n';
    return s;
}

TEST(RotatingLog, ContentsAreByteExactAcrossRotations) {
    TempDir dir;
    const uint64_t max = 1000;
    const size_t max_chunk = 700;
    const int backups = 1000;  // keeps everything, so nothing is lost
    auto log = open_ok(dir / "a.log", max, backups);
    ASSERT_TRUE(log);
    // Chunks cut at arbitrary places, not at line ends, as read from a pipe.
    std::string stream;
    for (int i = 0; i < 600; ++i) stream += line(i);
    size_t pos = 0;
    for (size_t i = 0; pos < stream.size(); ++i) {
        size_t n = std::min(stream.size() - pos, 1 + (i * 131) % max_chunk);
        ASSERT_TRUE(log->write(std::string_view(stream).substr(pos, n)));
        pos += n;
    }
    EXPECT_EQ(concat_all(dir / "a.log", backups), stream);
    // A file goes past the limit only to finish the line under way (≤ 300 bytes here) or
    // by one chunk without a line end.
    auto files = files_oldest_first(dir / "a.log", backups);
    ASSERT_GT(files.size(), 50u);
    for (const auto& f : files) EXPECT_LE(slurp(f).size(), max + max_chunk) << f;
}

TEST(RotatingLog, ChunksOfWholeLinesRotateOnlyAtLineEnds) {
    TempDir dir;
    const uint64_t max = 1000;
    const int backups = 1000;
    auto log = open_ok(dir / "a.log", max, backups);
    ASSERT_TRUE(log);
    std::string stream;
    for (int i = 0; i < 600;) {
        std::string chunk;
        for (int j = 0; j <= i % 7 && i < 600; ++j, ++i) chunk += line(i);
        ASSERT_TRUE(log->write(chunk));
        stream += chunk;
    }
    EXPECT_EQ(concat_all(dir / "a.log", backups), stream);
    // Every file ends with a line end and none is over the limit (no line here is longer
    // than the limit); each rotated file was filled up to the last line that fit.
    auto files = files_oldest_first(dir / "a.log", backups);
    ASSERT_GT(files.size(), 50u);
    for (size_t i = 0; i < files.size(); ++i) {
        std::string body = slurp(files[i]);
        EXPECT_LE(body.size(), max) << files[i];
        ASSERT_FALSE(body.empty()) << files[i];
        EXPECT_EQ(body.back(), '\n') << files[i];
        if (i + 1 < files.size()) {
            EXPECT_GT(body.size() + 300, max) << files[i];
        }
    }
}

TEST(RotatingLog, MegabyteChunkWithSmallLimit) {
    TempDir dir;
    const uint64_t max = 64 * 1024;
    const int backups = 100;
    auto log = open_ok(dir / "a.log", max, backups);
    ASSERT_TRUE(log);
    std::string chunk;
    for (int i = 0; chunk.size() < (1u << 20); ++i) chunk += line(i);
    chunk.resize(1u << 20);
    chunk.back() = '\n';
    ASSERT_TRUE(log->write(chunk));
    EXPECT_EQ(concat_all(dir / "a.log", backups), chunk);
    auto files = files_oldest_first(dir / "a.log", backups);
    EXPECT_GE(files.size(), 17u);  // 1 MiB / 64 KiB, plus slack for line ends
    for (size_t i = 0; i + 1 < files.size(); ++i) {
        std::string body = slurp(files[i]);
        EXPECT_LE(body.size(), max);
        EXPECT_GT(body.size(), max - 300);  // filled up to the last line that fits
        EXPECT_EQ(body.back(), '\n');
    }
}

TEST(RotatingLog, MegabyteChunkWithoutNewlineStaysWhole) {
    TempDir dir;
    auto log = open_ok(dir / "a.log", 64 * 1024, 3);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("head\n"));
    const std::string blob(1u << 20, 'q');
    ASSERT_TRUE(log->write(blob));
    EXPECT_EQ(slurp(dir / "a.log.2"), "head\n");
    EXPECT_EQ(slurp(dir / "a.log.1"), blob);
    EXPECT_EQ(slurp(dir / "a.log"), "");
}

TEST(RotatingLog, TwoWritersInterleaveWholeChunks) {
    TempDir dir;
    const int backups = 1000;
    auto log = open_ok(dir / "a.log", 2048, backups);
    ASSERT_TRUE(log);
    // Two processes of one job, each writing chunks of whole lines tagged with its name.
    std::string expected;
    for (int i = 0; i < 400; ++i) {
        const char* who = (i % 3 == 0) ? "B" : "A";
        std::string chunk;
        for (int j = 0; j <= i % 4; ++j) chunk += std::string(who) + ":" + std::to_string(i) + ":" + line(i + j);
        ASSERT_TRUE(log->write(chunk));
        expected += chunk;
    }
    EXPECT_EQ(concat_all(dir / "a.log", backups), expected);
    // No line is torn: every line of every file begins with its writer's tag.
    for (const auto& f : files_oldest_first(dir / "a.log", backups)) {
        std::string body = slurp(f);
        size_t pos = 0;
        while (pos < body.size()) {
            size_t nl = body.find('\n', pos);
            ASSERT_NE(nl, std::string::npos) << f;
            std::string_view l(body.data() + pos, nl - pos);
            EXPECT_TRUE(l.substr(0, 2) == "A:" || l.substr(0, 2) == "B:") << f << ": " << l;
            pos = nl + 1;
        }
    }
}

void put(const std::string& path, const std::string& body) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::write(fd.get(), body.data(), body.size()), static_cast<ssize_t>(body.size()));
}

TEST(RotatingLog, ExistingBackupsAreShiftedAndTheOldestDiscarded) {
    TempDir dir;
    put(dir / "a.log", "cur\n");
    put(dir / "a.log.1", "one\n");
    put(dir / "a.log.2", "two\n");
    put(dir / "a.log.3", "three\n");
    auto log = open_ok(dir / "a.log", 6, 3);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->size(), 4u);
    ASSERT_TRUE(log->write("new\n"));  // 4 + 4 > 6, and the file ends a line
    EXPECT_EQ(slurp(dir / "a.log"), "new\n");
    EXPECT_EQ(slurp(dir / "a.log.1"), "cur\n");
    EXPECT_EQ(slurp(dir / "a.log.2"), "one\n");
    EXPECT_EQ(slurp(dir / "a.log.3"), "two\n");
    EXPECT_FALSE(exists(dir / "a.log.4"));
}

TEST(RotatingLog, ExistingFileEndingMidLineIsFinishedFirst) {
    TempDir dir;
    put(dir / "a.log", "partial");
    auto log = open_ok(dir / "a.log", 8, 1);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write(" end\nnext\n"));
    EXPECT_EQ(slurp(dir / "a.log.1"), "partial end\n");
    EXPECT_EQ(slurp(dir / "a.log"), "next\n");
}

TEST(RotatingLog, FailedRotationKeepsTheOutput) {
    TempDir dir;
    // A non-empty directory where the backup must go makes rename(2) fail (EISDIR), for
    // root too.
    ASSERT_EQ(::mkdir((dir / "a.log.1").c_str(), 0755), 0);
    put(dir / "a.log.1/x", "x");
    auto log = open_ok(dir / "a.log", 6, 1);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write("aaaa\n"));
    Status s = log->write("bbbb\ncc\n");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, EISDIR);
    EXPECT_EQ(slurp(dir / "a.log"), "aaaa\nbbbb\ncc\n");  // nothing lost
    // Once the obstacle is gone, the next overflowing write rotates.
    ASSERT_EQ(::unlink((dir / "a.log.1/x").c_str()), 0);
    ASSERT_EQ(::rmdir((dir / "a.log.1").c_str()), 0);
    ASSERT_TRUE(log->write("dd\n"));
    EXPECT_EQ(slurp(dir / "a.log.1"), "aaaa\nbbbb\ncc\n");
    EXPECT_EQ(slurp(dir / "a.log"), "dd\n");
}

TEST(LogPathFor, NamesTheFileAfterSessionJobAndLabel) {
    EXPECT_EQ(log_path_for("/var/log/gaffer", "default.web", "stdout"), "/var/log/gaffer/default.web.stdout.log");
    EXPECT_EQ(log_path_for("/var/log/gaffer/", "s.j", "err"), "/var/log/gaffer/s.j.err.log");
    EXPECT_EQ(log_path_for("", "s.j", "out"), "s.j.out.log");
}

TEST(LogPathFor, KeepsTheFileInsideTheDirectory) {
    EXPECT_EQ(log_path_for("/logs", "s.j", "../../etc/x"), "/logs/s.j..._.._etc_x.log");
    EXPECT_EQ(log_path_for("/logs", "a/b.c", "o"), "/logs/a_b.c.o.log");
}

// A job loaded without full rights has its log files confined beneath log_root
// (security-defaults.md): no symbolic link on the way, none as the file, never outside,
// at open and at every rotation.
TEST(RotatingLog, BeneathRefusesLinksAndOutsidePaths) {
    TempDir root, elsewhere;
    ASSERT_TRUE(root.ok() && elsewhere.ok());
    ASSERT_EQ(::mkdir((root / "jobs").c_str(), 0755), 0);
    ASSERT_EQ(::symlink(elsewhere.path().c_str(), (root / "link").c_str()), 0);
    ASSERT_EQ(::symlink((elsewhere / "target.log").c_str(), (root / "jobs/leaf.log").c_str()), 0);

    auto ok = RotatingLog::open(root / "jobs/out.log", 0, 1, root.path());
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message());
    auto via_dir_link = RotatingLog::open(root / "link/out.log", 0, 1, root.path());
    ASSERT_FALSE(via_dir_link);
    EXPECT_EQ(via_dir_link.error().code, ELOOP);
    auto via_leaf_link = RotatingLog::open(root / "jobs/leaf.log", 0, 1, root.path());
    ASSERT_FALSE(via_leaf_link);
    EXPECT_EQ(via_leaf_link.error().code, ELOOP);
    auto outside = RotatingLog::open(elsewhere / "x.log", 0, 1, root.path());
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.error().code, EACCES);
    auto prefix_only = RotatingLog::open(root.path() + "x/y.log", 0, 1, root.path());
    ASSERT_FALSE(prefix_only);
    EXPECT_EQ(prefix_only.error().code, EACCES);
    EXPECT_FALSE(exists(elsewhere / "out.log"));
    EXPECT_FALSE(exists(elsewhere / "target.log"));
    // Unconfined (an admin's job), the leaf link is followed as before.
    EXPECT_TRUE(RotatingLog::open(root / "jobs/leaf.log", 0, 1));
}

TEST(RotatingLog, RotationStaysInTheDirectoryOpenedAtFirst) {
    TempDir root, elsewhere;
    ASSERT_TRUE(root.ok() && elsewhere.ok());
    ASSERT_EQ(::mkdir((root / "jobs").c_str(), 0755), 0);
    auto r = RotatingLog::open(root / "jobs/a.log", 10, 2, root.path());
    ASSERT_TRUE(r) << r.error().message();
    auto log = std::move(r.value());
    ASSERT_TRUE(log->write("12345678\n"));
    // The attack: the directory is swapped for a link to elsewhere, and a link planted
    // where the backup goes, before the rotation.
    ASSERT_EQ(::rename((root / "jobs").c_str(), (root / "moved").c_str()), 0);
    ASSERT_EQ(::symlink(elsewhere.path().c_str(), (root / "jobs").c_str()), 0);
    ASSERT_EQ(::symlink((elsewhere / "planted").c_str(), (root / "moved/a.log.2").c_str()), 0);
    ASSERT_TRUE(log->write("abcdefgh\n"));
    EXPECT_EQ(slurp(root / "moved/a.log.1"), "12345678\n");
    EXPECT_EQ(slurp(root / "moved/a.log"), "abcdefgh\n");
    EXPECT_FALSE(exists(elsewhere / "a.log"));
    EXPECT_FALSE(exists(elsewhere / "a.log.1"));
    EXPECT_FALSE(exists(elsewhere / "planted"));
}

}  // namespace
}  // namespace gaffer::io
