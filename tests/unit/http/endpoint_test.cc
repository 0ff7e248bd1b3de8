// SPDX-License-Identifier: MIT
// Unit tests of lib/http/endpoint: bind parsing, defaults, loopback detection, and the
// unix socket's mode, stale-file replacement and cleanup (temp dirs only).
#include "lib/http/endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "tests/helpers/temp_dir.h"

namespace gaffer::http {
namespace {

TEST(Endpoint, ParseBindForms) {
    auto a = parse_bind("127.0.0.1:5001");
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->unix_socket);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 5001);

    auto b = parse_bind("[::1]:6000");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 6000);

    auto c = parse_bind("localhost");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->host, "localhost");
    EXPECT_EQ(c->port, kDefaultPort);  // §16: 5000, not the original's 8000

    auto d = parse_bind("unix:/run/x.sock");
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->unix_socket);
    EXPECT_EQ(d->path, "/run/x.sock");

    auto e = parse_bind("[::1]");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->port, kDefaultPort);
}

TEST(Endpoint, ParseBindRejectsJunk) {
    for (const char* bad : {"unix:", "unix:relative", "1.2.3.4:", "1.2.3.4:x", "1.2.3.4:70000", "[::1", "[::1]x",
                            "[]:5000", "::1:5000", "a b:5000"}) {
        auto r = parse_bind(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().code, EINVAL) << bad;
        }
    }
}

TEST(Endpoint, Defaults) {
    EXPECT_EQ(default_binds(0, nullptr), (std::vector<std::string>{"unix:/run/gaffer/gafferd.sock", "127.0.0.1:5000"}));
    EXPECT_EQ(default_binds(1000, "/run/user/1000"),
              (std::vector<std::string>{"unix:/run/user/1000/gaffer/gafferd.sock", "127.0.0.1:5000"}));
    EXPECT_EQ(default_binds(1000, nullptr), (std::vector<std::string>{"127.0.0.1:5000"}));
}

TEST(Endpoint, Loopback) {
    auto v4 = [](const char* a) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        inet_pton(AF_INET, a, &in.sin_addr);
        return is_loopback(reinterpret_cast<sockaddr*>(&in), sizeof in);
    };
    auto v6 = [](const char* a) {
        sockaddr_in6 in{};
        in.sin6_family = AF_INET6;
        inet_pton(AF_INET6, a, &in.sin6_addr);
        return is_loopback(reinterpret_cast<sockaddr*>(&in), sizeof in);
    };
    EXPECT_TRUE(v4("127.0.0.1"));
    EXPECT_TRUE(v4("127.1.2.3"));
    EXPECT_FALSE(v4("0.0.0.0"));
    EXPECT_FALSE(v4("10.0.0.1"));
    EXPECT_TRUE(v6("::1"));
    EXPECT_TRUE(v6("::ffff:127.0.0.1"));
    EXPECT_FALSE(v6("::"));
    EXPECT_FALSE(v6("::ffff:10.0.0.1"));
}

TEST(Endpoint, AddressesAsHostHeadersAndClientKeys) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(5000);
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    auto hp = sockaddr_host_port(reinterpret_cast<sockaddr*>(&in), sizeof in);
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "127.0.0.1");
    EXPECT_EQ(hp->port, 5000);
    EXPECT_EQ(client_address(reinterpret_cast<sockaddr*>(&in), sizeof in), "127.0.0.1");
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(5001);
    inet_pton(AF_INET6, "::1", &in6.sin6_addr);
    hp = sockaddr_host_port(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "[::1]");
    EXPECT_EQ(hp->port, 5001);
    EXPECT_EQ(client_address(reinterpret_cast<sockaddr*>(&in6), sizeof in6), "::1");
    // An IPv4 client of a dual-stack socket is one client with its IPv4 address.
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &in6.sin6_addr);
    EXPECT_EQ(client_address(reinterpret_cast<sockaddr*>(&in6), sizeof in6), "192.0.2.7");
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    EXPECT_FALSE(sockaddr_host_port(reinterpret_cast<sockaddr*>(&un), sizeof un));
    EXPECT_EQ(client_address(reinterpret_cast<sockaddr*>(&un), sizeof un), "");
}

TEST(Endpoint, TcpLoopbackListenerReportsItsPort) {
    auto addr = parse_bind("127.0.0.1:0");
    ASSERT_TRUE(addr);
    auto l = Listener::open(*addr, 16);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->kind(), EndpointKind::kTcpLoopback);
    EXPECT_EQ(l->name().rfind("127.0.0.1:", 0), 0u);
    EXPECT_NE(l->name(), "127.0.0.1:0");
}

TEST(Endpoint, TcpWildcardIsRemote) {
    auto l = Listener::open(*parse_bind("0.0.0.0:0"), 16);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->kind(), EndpointKind::kTcpRemote);
}

TEST(Endpoint, UnixSocketMode0660AndUnlinkedOnDestruction) {
    testutil::TempDir dir;
    std::string path = dir / "api.sock";
    {
        auto l = Listener::open(*parse_bind("unix:" + path), 16);
        ASSERT_TRUE(l) << l.error().message();
        EXPECT_EQ(l->kind(), EndpointKind::kUnix);
        EXPECT_EQ(l->name(), "unix:" + path);
        struct stat st {};
        ASSERT_EQ(stat(path.c_str(), &st), 0);
        EXPECT_TRUE(S_ISSOCK(st.st_mode));
        EXPECT_EQ(st.st_mode & 0777, 0660u);
    }
    struct stat st {};
    EXPECT_NE(stat(path.c_str(), &st), 0);
}

TEST(Endpoint, DefaultSocketDirectoryIsCreated0750) {
    testutil::TempDir dir;
    std::string path = dir / "gaffer/gafferd.sock";
    auto l = Listener::open(*parse_bind("unix:" + path), 16, true);
    ASSERT_TRUE(l) << l.error().message();
    struct stat st {};
    ASSERT_EQ(stat((dir / "gaffer").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0750u);
}

TEST(Endpoint, StaleSocketIsReplacedLiveOneIsNot) {
    testutil::TempDir dir;
    std::string path = dir / "api.sock";
    // A stale socket file: bound, then closed without unlink.
    {
        UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
        ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
    }
    auto first = Listener::open(*parse_bind("unix:" + path), 16);
    ASSERT_TRUE(first) << first.error().message();
    auto second = Listener::open(*parse_bind("unix:" + path), 16);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, EADDRINUSE);
}

TEST(Endpoint, NonSocketFileIsNotReplaced) {
    testutil::TempDir dir;
    std::string path = dir / "file";
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fclose(f);
    auto l = Listener::open(*parse_bind("unix:" + path), 16);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, EEXIST);
}

TEST(Endpoint, AdoptInheritedSocket) {
    auto l = Listener::open(*parse_bind("127.0.0.1:0"), 16);
    ASSERT_TRUE(l);
    std::string name = l->name();
    auto adopted = Listener::adopt(l->release_fd());
    ASSERT_TRUE(adopted) << adopted.error().message();
    EXPECT_EQ(adopted->kind(), EndpointKind::kTcpLoopback);
    EXPECT_EQ(adopted->name(), name);

    UniqueFd plain(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto refused = Listener::adopt(plain.release());
    EXPECT_FALSE(refused);
}

}  // namespace
}  // namespace gaffer::http
