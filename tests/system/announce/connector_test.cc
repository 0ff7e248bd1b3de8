// SPDX-License-Identifier: MIT
// System tests of webhook::CurlLoop's kept connections (Keep::kConnection, what the
// lookupd links of lib/announce use) on a real Loop (both backends) against a listening
// socket on 127.0.0.1: a CONNECT_ONLY connection opened on the loop stays usable with
// curl_easy_send/recv after its callback (the handle stays in the multi), remove() closes
// it, a refused connection reports its CURLcode. And why the mode exists: a request-style
// transfer (Keep::kNo) leaves the multi before its callback, and libcurl 7.88 then closes
// a CONNECT_ONLY connection. Nothing sleeps: the loop is turned until what is expected has
// happened.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "lib/base/unique_fd.h"
#include "lib/loop/loop.h"
#include "lib/webhook/curl_api.h"
#include "lib/webhook/curl_loop.h"
#include "tests/helpers/loop_backends.h"

namespace gaffer::announce {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 10s;

// A listening TCP socket on 127.0.0.1 (port chosen by the kernel).
struct Listener {
    UniqueFd fd;
    int port = 0;
    Listener() {
        fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(fd.get(), 4), 0);
        socklen_t len = sizeof a;
        EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
        port = ntohs(a.sin_port);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/"; }
};

// The port of a socket bound but not listening: connecting to it is refused.
int refused_port(UniqueFd* keep) {
    keep->reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(keep->get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    EXPECT_EQ(::getsockname(keep->get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    return ntohs(a.sin_port);
}

CURL* connect_only_handle(const webhook::CurlApi& curl, const std::string& url) {
    CURL* easy = curl.easy_init();
    EXPECT_NE(easy, nullptr);
    EXPECT_EQ(curl.easy_setopt(easy, CURLOPT_URL, url.c_str()), CURLE_OK);
    EXPECT_EQ(curl.easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L), CURLE_OK);
    EXPECT_EQ(curl.easy_setopt(easy, CURLOPT_PROXY, ""), CURLE_OK);
    return easy;
}

// Reads what arrives on `fd` (blocking with a timeout: the test's own side).
std::string read_some(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1)
        return "<timeout>";
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
}

class ConnectorTest : public ::testing::TestWithParam<loop::Backend> {
protected:
    void SetUp() override {
        auto l = loop::Loop::create(GetParam());
        ASSERT_TRUE(l) << l.error().message();
        loop_ = std::move(l).value();
        auto api = webhook::curl_api();
        ASSERT_TRUE(api) << api.error().message();
        curl_ = *api;
    }
    std::unique_ptr<loop::Loop> loop_;
    const webhook::CurlApi* curl_ = nullptr;
};

TEST_P(ConnectorTest, ConnectionStaysUsableAfterTheCallbackUntilRemoved) {
    auto c = webhook::CurlLoop::create(*loop_);
    ASSERT_TRUE(c) << c.error().message();
    Listener l;
    CURL* easy = connect_only_handle(*curl_, l.url());
    std::optional<CURLcode> result;
    ASSERT_TRUE((*c)->add(
        easy, [&](CURLcode rc) { result = rc; }, webhook::CurlLoop::Keep::kConnection));
    ASSERT_TRUE(loop_->run_until([&] { return result.has_value(); }, kWait));
    ASSERT_EQ(*result, CURLE_OK);
    curl_socket_t fd = CURL_SOCKET_BAD;
    ASSERT_EQ(curl_->easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &fd), CURLE_OK);
    ASSERT_NE(fd, CURL_SOCKET_BAD);
    UniqueFd server(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(server);

    size_t n = 0;
    ASSERT_EQ(curl_->easy_send(easy, "hello", 5, &n), CURLE_OK);
    EXPECT_EQ(n, 5u);
    EXPECT_EQ(read_some(server.get()), "hello");
    ASSERT_EQ(::write(server.get(), "world", 5), 5);
    std::string got;
    auto w = loop_->watch(fd, POLLIN, [&](uint32_t) {
        char buf[16];
        size_t m = 0;
        if (curl_->easy_recv(easy, buf, sizeof buf, &m) == CURLE_OK)
            got.append(buf, m);
    });
    ASSERT_TRUE(w);
    ASSERT_TRUE(loop_->run_until([&] { return got == "world"; }, kWait)) << got;
    loop_->unwatch(*w);

    // remove() takes it out of the multi, which closes it: the server reads EOF. (The loop
    // turns meanwhile: an io_uring poll that was cancelled holds the socket until the
    // cancellation is submitted.)
    (*c)->remove(easy);
    bool eof = false;
    EXPECT_TRUE(loop_->run_until(
        [&] {
            pollfd p{server.get(), POLLIN, 0};
            char b;
            eof = ::poll(&p, 1, 0) == 1 && ::read(server.get(), &b, 1) == 0;
            return eof;
        },
        kWait));
    curl_->easy_cleanup(easy);
}

TEST_P(ConnectorTest, RefusedConnectionReportsItsCode) {
    auto c = webhook::CurlLoop::create(*loop_);
    ASSERT_TRUE(c) << c.error().message();
    UniqueFd keep;
    int port = refused_port(&keep);
    CURL* easy = connect_only_handle(*curl_, "http://127.0.0.1:" + std::to_string(port) + "/");
    std::optional<CURLcode> result;
    ASSERT_TRUE((*c)->add(
        easy, [&](CURLcode rc) { result = rc; }, webhook::CurlLoop::Keep::kConnection));
    ASSERT_TRUE(loop_->run_until([&] { return result.has_value(); }, kWait));
    EXPECT_EQ(*result, CURLE_COULDNT_CONNECT);
    (*c)->remove(easy);
    curl_->easy_cleanup(easy);
}

TEST_P(ConnectorTest, WithoutKeepAConnectOnlyConnectionIsLost) {
    auto cl = webhook::CurlLoop::create(*loop_);
    ASSERT_TRUE(cl) << cl.error().message();
    Listener l;
    CURL* easy = connect_only_handle(*curl_, l.url());
    std::optional<CURLcode> result;
    ASSERT_TRUE((*cl)->add(easy, [&](CURLcode rc) { result = rc; }));
    ASSERT_TRUE(loop_->run_until([&] { return result.has_value(); }, kWait));
    ASSERT_EQ(*result, CURLE_OK);
    size_t n = 0;
    EXPECT_NE(curl_->easy_send(easy, "hello", 5, &n), CURLE_OK)
        << "this libcurl keeps a CONNECT_ONLY connection after its handle left the multi: "
           "CurlLoop::Keep::kConnection is no longer needed";
    curl_->easy_cleanup(easy);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConnectorTest, ::testing::ValuesIn(testutil::test_backends()),
                         testutil::backend_name);

}  // namespace
}  // namespace gaffer::announce
