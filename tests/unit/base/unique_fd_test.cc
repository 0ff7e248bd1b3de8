// SPDX-License-Identifier: MIT
// lib/base/unique_fd.h: ownership of one fd (close on destruction, release, reset,
// moves), Pipe (close-on-exec pipes), set_nonblocking, read_file and write_file.
#include "lib/base/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "tests/helpers/temp_dir.h"

namespace gaffer {
namespace {

bool is_open(int fd) {
    return fcntl(fd, F_GETFD) >= 0;
}

int dup_fd() {
    int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    EXPECT_GE(fd, 0);
    return fd;
}

// An empty file `name` in `dir` (write_file never creates one).
std::string empty_file(const testutil::TempDir& dir, const std::string& name) {
    std::string path = dir / name;
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd) << path;
    return path;
}

TEST(UniqueFd, ClosesOnDestructionOnly) {
    int raw = dup_fd();
    {
        UniqueFd fd(raw);
        EXPECT_TRUE(fd);
        EXPECT_EQ(fd.get(), raw);
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
    UniqueFd empty;
    EXPECT_FALSE(empty);
    EXPECT_EQ(empty.get(), -1);
}

TEST(UniqueFd, ReleaseHandsOwnershipOver) {
    int raw = dup_fd();
    {
        UniqueFd fd(raw);
        EXPECT_EQ(fd.release(), raw);
        EXPECT_FALSE(fd);
    }
    EXPECT_TRUE(is_open(raw));
    (void)close(raw);
}

TEST(UniqueFd, ResetClosesTheOldOne) {
    int a = dup_fd();
    int b = dup_fd();
    UniqueFd fd(a);
    fd.reset(b);
    EXPECT_FALSE(is_open(a));
    EXPECT_EQ(fd.get(), b);
    fd.reset();
    EXPECT_FALSE(is_open(b));
    EXPECT_FALSE(fd);
}

TEST(UniqueFd, MovesTransferAndSelfMoveKeeps) {
    int a = dup_fd();
    int b = dup_fd();
    UniqueFd x(a);
    UniqueFd y(std::move(x));
    EXPECT_FALSE(x);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    EXPECT_EQ(y.get(), a);
    UniqueFd z(b);
    z = std::move(y);  // closes b, takes a
    EXPECT_FALSE(is_open(b));
    EXPECT_EQ(z.get(), a);
    UniqueFd& same = z;
    z = std::move(same);
    EXPECT_EQ(z.get(), a);
    EXPECT_TRUE(is_open(a));
}

TEST(Pipe, CloseOnExecAndConnected) {
    auto p = Pipe::make();
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_TRUE(fcntl(p->read.get(), F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(fcntl(p->write.get(), F_GETFD) & FD_CLOEXEC);
    EXPECT_FALSE(fcntl(p->read.get(), F_GETFL) & O_NONBLOCK);
    ASSERT_EQ(write(p->write.get(), "hi", 2), 2);
    char buf[2];
    ASSERT_EQ(read(p->read.get(), buf, 2), 2);
    EXPECT_EQ(std::string(buf, 2), "hi");

    auto nb = Pipe::make(O_NONBLOCK);
    ASSERT_TRUE(nb);
    EXPECT_TRUE(fcntl(nb->read.get(), F_GETFL) & O_NONBLOCK);
    EXPECT_EQ(read(nb->read.get(), buf, 1), -1);
    EXPECT_EQ(errno, EAGAIN);
}

TEST(SetNonblocking, TurnsOnAndOff) {
    auto p = Pipe::make();
    ASSERT_TRUE(p);
    ASSERT_TRUE(set_nonblocking(p->read.get()));
    EXPECT_TRUE(fcntl(p->read.get(), F_GETFL) & O_NONBLOCK);
    ASSERT_TRUE(set_nonblocking(p->read.get(), false));
    EXPECT_FALSE(fcntl(p->read.get(), F_GETFL) & O_NONBLOCK);
    Status bad = set_nonblocking(-1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, EBADF);
}

TEST(Files, WriteThenReadBack) {
    testutil::TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = empty_file(dir, "f");
    ASSERT_TRUE(write_file(path, "first, longer text"));
    ASSERT_TRUE(write_file(path, "second"));  // truncates
    auto r = read_file(path);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, "second");
}

TEST(Files, ReadFileRefusesPastItsCap) {
    testutil::TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = empty_file(dir, "big");
    ASSERT_TRUE(write_file(path, std::string(20000, 'z')));
    auto whole = read_file(path, 20000);
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole->size(), 20000u);
    auto capped = read_file(path, 19999);
    ASSERT_FALSE(capped);
    EXPECT_EQ(capped.error().code, EFBIG);
}

TEST(Files, ErrorsNameThePath) {
    auto r = read_file("/nonexistent/gaffer-test");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOENT);
    EXPECT_NE(r.error().context.find("/nonexistent/gaffer-test"), std::string::npos);
    // write_file never creates a file (cgroup files exist or the write is wrong).
    Status w = write_file("/nonexistent/gaffer-test", "x");
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, ENOENT);
}

}  // namespace
}  // namespace gaffer
