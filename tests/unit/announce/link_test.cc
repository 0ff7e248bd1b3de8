// SPDX-License-Identifier: MIT
// Tests of the address rules of lib/announce: lookupd URLs (http(s)://host[:port][/prefix]
// -> the Host header, <prefix>/ws and what libcurl connects to) and the broadcast address.
#include "lib/announce/link.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "lib/announce/announcer.h"

namespace gaffer::announce {
namespace {

TEST(LookupdUrl, HostPathAndConnectTarget) {
    auto u = parse_lookupd_url("http://127.0.0.1:5010");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_FALSE(u->tls);
    EXPECT_EQ(u->host, "127.0.0.1:5010");
    EXPECT_EQ(u->ws_path, "/ws");
    EXPECT_EQ(u->connect, "http://127.0.0.1:5010/");

    u = parse_lookupd_url("HTTPS://lookup.example/gaffer/");
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->host, "lookup.example");
    EXPECT_EQ(u->ws_path, "/gaffer/ws");
    EXPECT_EQ(u->connect, "https://lookup.example/");

    u = parse_lookupd_url("http://[::1]:5010/a/b");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "[::1]:5010");
    EXPECT_EQ(u->ws_path, "/a/b/ws");
}

TEST(LookupdUrl, RefusesWhatIsNotAnHttpBaseUrl) {
    for (const char* bad :
         {"", "127.0.0.1:5010", "ws://h:1", "tcp://h:1", "http://", "http://:5010", "http://h:", "http://h:0",
          "http://h:65536", "http://h:12a", "http://u:p@h:1", "http://h:1/?q", "http://h:1/#f", "http://h 1",
          "http://h:1/a\r\nX: y", "http://[::1", "http://[::1]x", "http://[]:1"}) {
        auto u = parse_lookupd_url(bad);
        ASSERT_FALSE(u) << bad;
        EXPECT_EQ(u.error().code, EINVAL) << bad;
    }
}

TEST(BroadcastAddress, MustBeAnHttpUrl) {
    EXPECT_TRUE(check_broadcast_address("http://node1.example:5000"));
    EXPECT_TRUE(check_broadcast_address("https://node1"));
    for (const char* bad : {"", "node1:5000", "ftp://node1", "http://", "https://", "http://a b", "http://a\n"}) {
        auto st = check_broadcast_address(bad);
        ASSERT_FALSE(st) << bad;
        EXPECT_EQ(st.error().code, EINVAL) << bad;
    }
}

}  // namespace
}  // namespace gaffer::announce
