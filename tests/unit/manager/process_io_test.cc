// SPDX-License-Identifier: MIT
// Tests of lib/manager/process_io without spawning: the test holds the ends a child would
// get (from Streams::add_*), writes "the child's" output into them and reads what
// ProcessIo writes to "its" stdin. The loop is a real epoll loop turned without waiting:
// the data is in the pipe before the turn, so nothing waits on time.
#include "lib/manager/process_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/base/unique_fd.h"
#include "lib/loop/loop.h"

namespace gaffer::manager {
namespace {

using Strings = std::vector<std::string>;

class ProcessIoTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto l = loop::Loop::create(loop::Backend::kEpoll);
        ASSERT_TRUE(l) << l.error().message();
        loop_ = std::move(l).value();
        io_ = std::make_unique<ProcessIo>(*loop_, [this](const ProcessIo::Chunk& c) {
            sunk_.push_back(std::to_string(c.pid) + " " + c.label + "/" + c.log_key + ": " + std::string(c.data));
        });
    }
    void TearDown() override { io_.reset(); }

    void turn() { ASSERT_TRUE(loop_->run_once(std::chrono::milliseconds(0))); }

    // Process `pid` with outputs "out" (stdout's log) and "err", stdin, and custom stream
    // "ctl"; the child's ends are kept in the fixture.
    void attach_full(int pid) {
        ProcessIo::Streams s;
        stdin_ = take(s.add_stdin());
        out_ = take(s.add_output("out", "stdout"));
        err_ = take(s.add_output("err", ""));
        ctl_ = take(s.add_custom_stream("ctl"));
        io_->attach(pid, std::move(s));
    }
    static UniqueFd take(Result<UniqueFd> r) {
        EXPECT_TRUE(r) << r.error().message();
        return r ? std::move(r).value() : UniqueFd();
    }
    static void put(const UniqueFd& fd, const std::string& data) {
        ASSERT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    }
    static std::string get(const UniqueFd& fd) {
        char buf[4096];
        ssize_t n = read(fd.get(), buf, sizeof buf);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    }
    ProcessIo::SubId subscribe(int pid, const std::string& label, Strings* got, int* ended = nullptr) {
        auto id = io_->subscribe(
            pid, label, [got](std::string_view d) { got->emplace_back(d); },
            [ended] {
                if (ended)
                    ++*ended;
            });
        EXPECT_TRUE(id) << id.error().message();
        return id ? *id : 0;
    }

    std::unique_ptr<loop::Loop> loop_;
    std::unique_ptr<ProcessIo> io_;
    Strings sunk_;
    UniqueFd stdin_, out_, err_, ctl_;
};

TEST_F(ProcessIoTest, ChunksGoToTheSinkThenToTheStreamsSubscribers) {
    attach_full(1);
    Strings on_out, on_err, on_first;
    subscribe(1, "out", &on_out);
    subscribe(1, "err", &on_err);
    subscribe(1, "", &on_first);  // "" is the first label
    put(out_, "hello\n");
    put(err_, "oops\n");
    turn();
    EXPECT_EQ(on_out, Strings{"hello\n"});
    EXPECT_EQ(on_first, Strings{"hello\n"});
    EXPECT_EQ(on_err, Strings{"oops\n"});
    std::sort(sunk_.begin(), sunk_.end());  // one turn: the two pipes in either order
    EXPECT_EQ(sunk_, (Strings{"1 err/: oops\n", "1 out/stdout: hello\n"}));
}

TEST_F(ProcessIoTest, BacklogKeepsTheRecentOutputOfEachStream) {
    attach_full(2);
    put(out_, "one\ntwo\n");
    turn();
    put(out_, "three\n");
    turn();
    EXPECT_EQ(*io_->backlog(2, "out", 1000), "one\ntwo\nthree\n");
    EXPECT_EQ(*io_->backlog(2, "", 8), "three\n");  // from a line start
    EXPECT_EQ(*io_->backlog(2, "err", 1000), "");
    // Bounded: only the last kBacklogBytes stay.
    std::string big(ProcessIo::kBacklogBytes, 'x');
    put(out_, big.substr(0, 60000));
    turn();
    put(out_, big.substr(60000) + "tail");
    turn();
    std::string kept = *io_->backlog(2, "out", 1 << 20);
    EXPECT_EQ(kept.size(), ProcessIo::kBacklogBytes);
    EXPECT_EQ(kept.substr(kept.size() - 4), "tail");
}

TEST_F(ProcessIoTest, LabelsAndErrors) {
    attach_full(3);
    ProcessIo::Streams none;
    io_->attach(4, std::move(none));
    EXPECT_EQ(*io_->stream_labels(3), (Strings{"out", "err", "ctl"}));
    EXPECT_EQ(*io_->stream_labels(4), Strings{});
    Strings got;
    auto nothing = [](std::string_view) {};
    EXPECT_EQ(io_->subscribe(99, "out", nothing, nullptr).error().code, ENOENT);
    EXPECT_EQ(io_->subscribe(4, "", nothing, nullptr).error().code, ENODATA);
    EXPECT_EQ(io_->subscribe(3, "nope", nothing, nullptr).error().code, ENXIO);
    EXPECT_EQ(io_->backlog(99, "out", 10).error().code, ENOENT);
    EXPECT_EQ(io_->backlog(4, "out", 10).error().code, ENODATA);
    EXPECT_EQ(io_->backlog(3, "nope", 10).error().code, ENXIO);
    EXPECT_EQ(io_->stream_labels(99).error().code, ENOENT);
    EXPECT_EQ(io_->send(99, "x", "stdin").error().code, ENOENT);
    EXPECT_EQ(io_->send(4, "x", "stdin").error().code, EPERM);  // stdin not redirected
    EXPECT_EQ(io_->send(3, "x", "nope").error().code, ENXIO);
}

TEST_F(ProcessIoTest, SendWritesWholeAndInOrderToStdinAndCustomStreams) {
    attach_full(5);
    ASSERT_TRUE(io_->send(5, "a", "stdin"));
    ASSERT_TRUE(io_->send(5, "", "stdin"));  // nothing to write, not an error
    ASSERT_TRUE(io_->send(5, "bc", "stdin"));
    EXPECT_EQ(get(stdin_), "abc");
    // A custom stream is both ways: written by send, read like an output.
    ASSERT_TRUE(io_->send(5, "ping", "ctl"));
    EXPECT_EQ(get(ctl_), "ping");
    Strings got;
    subscribe(5, "ctl", &got);
    put(ctl_, "pong");
    turn();
    EXPECT_EQ(got, Strings{"pong"});
}

TEST_F(ProcessIoTest, TheWriteQueueIsBoundedAndDrainsWhenTheChildReads) {
    attach_full(6);
    // Nobody reads stdin: the pipe fills, then the queue up to kMaxWriteQueue.
    std::string block(256 * 1024, 'z');
    size_t accepted = 0;
    Status st = ok();
    while ((st = io_->send(6, block, "stdin"))) accepted += block.size();
    EXPECT_EQ(st.error().code, ENOBUFS);
    EXPECT_GE(accepted, ProcessIo::kMaxWriteQueue);
    EXPECT_LE(accepted, ProcessIo::kMaxWriteQueue + (1u << 20));  // what the pipe took, at most
    // The child reads: the queue flushes as the pipe has room, and takes more again.
    size_t read_total = 0;
    ASSERT_TRUE(set_nonblocking(stdin_.get()));
    for (int i = 0; i < 10000 && read_total < accepted; ++i) {
        std::string got = get(stdin_);
        read_total += got.size();
        turn();
    }
    EXPECT_EQ(read_total, accepted);
    EXPECT_TRUE(io_->send(6, block, "stdin"));
}

TEST_F(ProcessIoTest, DrainReadsWhatIsLeftAndClosesTheWriters) {
    attach_full(7);
    Strings got;
    subscribe(7, "out", &got);
    put(out_, "last words");
    io_->drain(7);  // no loop turn: read at once
    EXPECT_EQ(got, Strings{"last words"});
    EXPECT_EQ(io_->send(7, "x", "stdin").error().code, EPIPE);
    EXPECT_EQ(io_->send(7, "x", "ctl").error().code, EPIPE);
    EXPECT_EQ(get(stdin_), "");  // end of file for the child
    // A descendant still holding the pipe may write on: still delivered.
    put(out_, "from a child");
    turn();
    EXPECT_EQ(got, (Strings{"last words", "from a child"}));
}

TEST_F(ProcessIoTest, EndSubscriptionsRunsEachOnEndOnceAndDetachForgets) {
    attach_full(8);
    attach_full(9);
    Strings a, b, c;
    int ended_a = 0, ended_b = 0, ended_c = 0;
    subscribe(8, "out", &a, &ended_a);
    subscribe(8, "err", &b, &ended_b);
    subscribe(9, "out", &c, &ended_c);
    io_->end_subscriptions(8);
    io_->end_subscriptions(8);
    EXPECT_EQ(ended_a, 1);
    EXPECT_EQ(ended_b, 1);
    EXPECT_EQ(ended_c, 0);  // another process's
    io_->detach(8);
    EXPECT_EQ(io_->stream_labels(8).error().code, ENOENT);
    EXPECT_EQ(io_->send(8, "x", "stdin").error().code, ENOENT);
    EXPECT_EQ(*io_->stream_labels(9), (Strings{"out", "err", "ctl"}));
}

TEST_F(ProcessIoTest, ACallbackMayUnsubscribeOthersAndDetachTheProcess) {
    attach_full(10);
    Strings first, second;
    ProcessIo::SubId second_id = 0;
    auto id = io_->subscribe(
        10, "out",
        [&](std::string_view d) {
            first.emplace_back(d);
            io_->unsubscribe(second_id);
            io_->detach(10);
        },
        nullptr);
    ASSERT_TRUE(id);
    second_id = subscribe(10, "out", &second);
    put(out_, "x");
    turn();
    EXPECT_EQ(first, Strings{"x"});
    EXPECT_EQ(second, Strings{});  // dropped by the first callback
    EXPECT_EQ(io_->stream_labels(10).error().code, ENOENT);
    io_->unsubscribe(*id);
}

// A pty's output arrives through the kernel's flip buffer (a work queue), not at once:
// these tests wait for the data (bounded), never for a time.
TEST_F(ProcessIoTest, PtyMasterIsReadLikeAPipeRawAndUntilTheSlaveCloses) {
    ProcessIo::Streams s;
    UniqueFd slave = take(s.add_pty("out", "stdout", 100, 40));
    ASSERT_TRUE(slave);
    EXPECT_TRUE(isatty(slave.get()));
    EXPECT_TRUE(fcntl(slave.get(), F_GETFD) & FD_CLOEXEC);
    struct winsize ws = {};
    ASSERT_EQ(ioctl(slave.get(), TIOCGWINSZ, &ws), 0);
    EXPECT_EQ(ws.ws_col, 100);
    EXPECT_EQ(ws.ws_row, 40);
    struct termios tio;
    ASSERT_EQ(tcgetattr(slave.get(), &tio), 0);
    EXPECT_FALSE(tio.c_oflag & OPOST);  // no output processing: ONLCR does nothing
    EXPECT_FALSE(tio.c_lflag & ECHO);
    io_->attach(7, std::move(s));
    Strings got;
    subscribe(7, "out", &got);
    auto all = [&] {
        std::string a;
        for (const auto& g : got) a += g;
        return a;
    };
    put(slave, "tick");  // no newline: delivered as it comes
    ASSERT_TRUE(loop_->run_until([&] { return all() == "tick"; }, std::chrono::seconds(10))) << all();
    // Raw: "\n" stays "\n". What was written before the slave closed is still read;
    // then EIO ends the stream like EOF.
    put(slave, " tock\nlast\n");
    slave.reset();
    ASSERT_TRUE(loop_->run_until([&] { return all() == "tick tock\nlast\n"; }, std::chrono::seconds(10))) << all();
    EXPECT_EQ(sunk_.back().substr(0, 13), "7 out/stdout:");
    auto backlog = io_->backlog(7, "out", 1024);
    ASSERT_TRUE(backlog);
    EXPECT_EQ(*backlog, "tick tock\nlast\n");
    io_->drain(7);  // a closed master: nothing more, no error
    EXPECT_EQ(all(), "tick tock\nlast\n");
}
TEST_F(ProcessIoTest, PausedOutputsAreNotReadUntilResumed) {
    attach_full(7);
    io_->set_paused(true);
    put(out_, "held\n");
    for (int i = 0; i < 5; ++i) turn();
    EXPECT_TRUE(sunk_.empty());
    // A process attached while paused waits too.
    ProcessIo::Streams s;
    UniqueFd late = take(s.add_output("out", ""));
    io_->attach(8, std::move(s));
    put(late, "late\n");
    turn();
    EXPECT_TRUE(sunk_.empty());
    io_->set_paused(false);
    ASSERT_TRUE(loop_->run_until([&] { return sunk_.size() == 2; }, std::chrono::seconds(10)));
    std::sort(sunk_.begin(), sunk_.end());
    EXPECT_EQ(sunk_, (Strings{"7 out/stdout: held\n", "8 out/: late\n"}));
}

}  // namespace
}  // namespace gaffer::manager
