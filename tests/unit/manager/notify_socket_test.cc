// SPDX-License-Identifier: MIT
// lib/manager/notify_socket: the sd_notify datagram parser as a pure function (the rules
// of sd_notify(3) and of systemd's own reader), and the socket itself on a real loop:
// what reaches the handler, what is dropped.
#include "lib/manager/notify_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/unique_fd.h"
#include "lib/loop/loop.h"

namespace gaffer::manager {
namespace {

using namespace std::string_literals;
using Fields = NotifySocket::Fields;

TEST(NotifyParse, ReadyAndWatchdog) {
    EXPECT_EQ(NotifySocket::parse("READY=1"), (Fields{{"READY", "1"}}));
    EXPECT_EQ(NotifySocket::parse("READY=1\n"), (Fields{{"READY", "1"}}));
    EXPECT_EQ(NotifySocket::parse("WATCHDOG=1\n"), (Fields{{"WATCHDOG", "1"}}));
    EXPECT_EQ(NotifySocket::parse("READY=1\nSTATUS=up\nMAINPID=4711\nWATCHDOG=1"),
              (Fields{{"READY", "1"}, {"STATUS", "up"}, {"MAINPID", "4711"}, {"WATCHDOG", "1"}}));
}

TEST(NotifyParse, ValueKeepsEverythingAfterTheFirstEquals) {
    EXPECT_EQ(NotifySocket::parse("STATUS=a=b==c"), (Fields{{"STATUS", "a=b==c"}}));
    EXPECT_EQ(NotifySocket::parse("STATUS="), (Fields{{"STATUS", ""}}));
    EXPECT_EQ(NotifySocket::parse("STATUS= spaced out \r"), (Fields{{"STATUS", " spaced out \r"}}));
    EXPECT_EQ(NotifySocket::parse("STATUS=caf\xc3\xa9 \xff"), (Fields{{"STATUS", "caf\xc3\xa9 \xff"}}));
}

TEST(NotifyParse, EmptyLinesAndLinesWithoutAKeyAreIgnored) {
    EXPECT_EQ(NotifySocket::parse(""), Fields{});
    EXPECT_EQ(NotifySocket::parse("\n\n\n"), Fields{});
    EXPECT_EQ(NotifySocket::parse("\n\nREADY=1\n\n"), (Fields{{"READY", "1"}}));
    EXPECT_EQ(NotifySocket::parse("READY\nWATCHDOG=1"), (Fields{{"WATCHDOG", "1"}}));
    EXPECT_EQ(NotifySocket::parse("=1\n=\nREADY=1"), (Fields{{"READY", "1"}}));
    EXPECT_EQ(NotifySocket::parse("garbage without equals"), Fields{});
}

TEST(NotifyParse, KeysAreTakenAsTheyAre) {
    // No trimming or case folding: " READY=1" and "ready=1" are not READY=1.
    EXPECT_EQ(NotifySocket::parse(" READY=1\nready=1"), (Fields{{" READY", "1"}, {"ready", "1"}}));
}

TEST(NotifyParse, DuplicateKeyKeepsItsFirstValue) {
    // systemd's reader looks tags up with strv_find_startswith(): the first one wins.
    EXPECT_EQ(NotifySocket::parse("STATUS=one\nSTATUS=two"), (Fields{{"STATUS", "one"}}));
    EXPECT_EQ(NotifySocket::parse("READY=1\nREADY=0"), (Fields{{"READY", "1"}}));
}

TEST(NotifyParse, NulByteIgnoresTheWholeDatagram) {
    // systemd ignores a notification with an embedded NUL ("READY=1\0junk" is not ready,
    // and neither is a READY=1 line next to one).
    EXPECT_EQ(NotifySocket::parse("READY=1\0"s), Fields{});
    EXPECT_EQ(NotifySocket::parse("READY=1\nSTATUS=a\0b"s), Fields{});
    EXPECT_EQ(NotifySocket::parse("\0READY=1"s), Fields{});
    EXPECT_EQ(NotifySocket::parse("\0"s), Fields{});
}

TEST(NotifyParse, AtMostMaxFieldsDistinctKeys) {
    std::string d;
    for (size_t i = 0; i < NotifySocket::kMaxFields + 10; ++i) d += "K" + std::to_string(i) + "=v\n";
    d += "READY=1\nK0=again\n";
    Fields f = NotifySocket::parse(d);
    EXPECT_EQ(f.size(), NotifySocket::kMaxFields);
    EXPECT_EQ(f.count("READY"), 0u);
    EXPECT_EQ(f.at("K0"), "v");
    EXPECT_EQ(f.count("K" + std::to_string(NotifySocket::kMaxFields - 1)), 1u);
    EXPECT_EQ(f.count("K" + std::to_string(NotifySocket::kMaxFields)), 0u);
}

TEST(NotifyParse, OversizedDatagramStillParsesBounded) {
    // The socket drops datagrams above kMaxDatagram; the parser alone stays bounded too.
    std::string big = "STATUS=" + std::string(4 * NotifySocket::kMaxDatagram, 'x') + "\nREADY=1";
    Fields f = NotifySocket::parse(big);
    EXPECT_EQ(f.size(), 2u);
    EXPECT_EQ(f.at("STATUS").size(), 4 * NotifySocket::kMaxDatagram);
}

// ---- The socket on a real loop ----

struct Received {
    pid_t sender;
    Fields fields;
};

// One socket for the whole suite: its address is per process ("@gaffer-notify-<pid>"),
// and an io_uring loop may hold the closed socket's file a little while after teardown.
class NotifySocketTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto l = loop::Loop::create();
        ASSERT_TRUE(l) << l.error().message();
        loop_ = std::move(*l).release();
        auto s = NotifySocket::create(*loop_, [](pid_t sender, const Fields& f) { got_->push_back({sender, f}); });
        ASSERT_TRUE(s) << s.error().message();
        socket_ = std::move(*s).release();
        got_ = new std::vector<Received>;
    }
    static void TearDownTestSuite() {
        delete socket_;
        delete loop_;
        delete got_;
    }
    void SetUp() override {
        ASSERT_TRUE(socket_);
        got_->clear();
        dropped_before_ = socket_->dropped();
        client_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(client_);
    }
    uint64_t dropped() const { return socket_->dropped() - dropped_before_; }

    sockaddr_un address(socklen_t* ret_len) const {
        const std::string& a = socket_->address();
        EXPECT_EQ(a[0], '@');
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path + 1, a.data() + 1, a.size() - 1);
        *ret_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + a.size());
        return sa;
    }

    void send(const std::string& d, std::optional<int> pass_fd = std::nullopt) {
        socklen_t len;
        sockaddr_un sa = address(&len);
        iovec iov{const_cast<char*>(d.data()), d.size()};
        msghdr msg{};
        msg.msg_name = &sa;
        msg.msg_namelen = len;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))];
        if (pass_fd) {
            msg.msg_control = ctrl;
            msg.msg_controllen = sizeof ctrl;
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &*pass_fd, sizeof(int));
        }
        ASSERT_EQ(sendmsg(client_.get(), &msg, 0), static_cast<ssize_t>(d.size())) << strerror(errno);
    }

    // Sends a marker datagram and runs the loop until it arrives: everything sent before
    // it has been read by then (datagrams keep their order on one socket).
    void drain() {
        send("DRAIN=1");
        for (int i = 0; i < 1000 && (got_->empty() || !got_->back().fields.count("DRAIN")); ++i)
            ASSERT_TRUE(loop_->run_once(std::chrono::seconds(5)));
        ASSERT_FALSE(got_->empty());
        ASSERT_EQ(got_->back().fields.count("DRAIN"), 1u);
        got_->pop_back();
    }

    static inline loop::Loop* loop_ = nullptr;
    static inline NotifySocket* socket_ = nullptr;
    static inline std::vector<Received>* got_ = nullptr;
    uint64_t dropped_before_ = 0;
    UniqueFd client_;
};

TEST_F(NotifySocketTest, DeliversFieldsWithTheSendersPid) {
    send("READY=1\nSTATUS=a=b");
    drain();
    ASSERT_EQ(got_->size(), 1u);
    EXPECT_EQ((*got_)[0].sender, getpid());
    EXPECT_EQ((*got_)[0].fields, (Fields{{"READY", "1"}, {"STATUS", "a=b"}}));
    EXPECT_EQ(dropped(), 0u);
}

TEST_F(NotifySocketTest, DropsOversizedAndEmptyDatagrams) {
    send(std::string(NotifySocket::kMaxDatagram, 'x'));  // at the cap: delivered (no '=': no fields)
    send("READY=1" + std::string(NotifySocket::kMaxDatagram, '\n'));
    send("");
    drain();
    ASSERT_EQ(got_->size(), 1u);
    EXPECT_TRUE((*got_)[0].fields.empty());
    EXPECT_EQ(dropped(), 2u);
}

TEST_F(NotifySocketTest, DropsDatagramsCarryingFdsAndClosesThem) {
    int pipefd[2];
    ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
    UniqueFd read_end(pipefd[0]);
    {
        UniqueFd write_end(pipefd[1]);
        send("READY=1", write_end.get());
    }
    drain();
    EXPECT_TRUE(got_->empty());
    EXPECT_EQ(dropped(), 1u);
    // The daemon closed the passed copy: the pipe's last writer is gone.
    char c;
    EXPECT_EQ(read(read_end.get(), &c, 1), 0);
}

}  // namespace
}  // namespace gaffer::manager
