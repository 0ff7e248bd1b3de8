// SPDX-License-Identifier: MIT
// Unit tests of lib/auth/login_throttle: free failures, growing delays per address and
// per user, reset on success, the global budget and the bound on remembered counters.
#include "lib/auth/login_throttle.h"

#include <gtest/gtest.h>

namespace gaffer::auth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class LoginThrottleTest : public ::testing::Test {
protected:
    LoginThrottle make(unsigned per_second = 1000, size_t max_entries = 4096) {
        LoginThrottle::Options o;
        o.checks_per_second = per_second;
        o.max_entries = max_entries;
        o.clock = [this] { return now_; };
        return LoginThrottle(o);
    }
    // An admitted check that fails.
    void fail_once(LoginThrottle& t, const char* addr, const char* user) {
        ASSERT_EQ(t.admit(addr, user), seconds(0));
        t.failed(addr, user);
    }
    std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
};

TEST_F(LoginThrottleTest, FreeFailuresThenDoublingDelays) {
    auto t = make();
    for (unsigned i = 0; i < LoginThrottle::kFreeFailures; ++i) fail_once(t, "10.0.0.1", "admin");
    EXPECT_EQ(t.admit("10.0.0.1", "admin"), seconds(0));
    t.failed("10.0.0.1", "admin");  // the first failure past the free ones: 1 s
    EXPECT_EQ(t.admit("10.0.0.1", "admin"), seconds(1));
    // The same address guessing another user, and another address guessing the same user,
    // are both held.
    EXPECT_EQ(t.admit("10.0.0.1", "bob"), seconds(1));
    EXPECT_EQ(t.admit("10.0.0.2", "admin"), seconds(1));
    EXPECT_EQ(t.admit("10.0.0.2", "bob"), seconds(0));
    now_ += seconds(1);
    fail_once(t, "10.0.0.1", "admin");
    EXPECT_EQ(t.admit("10.0.0.1", "admin"), seconds(2));
    now_ += seconds(2);
    fail_once(t, "10.0.0.1", "admin");
    EXPECT_EQ(t.admit("10.0.0.1", "admin"), seconds(4));
    // Capped.
    for (int i = 0; i < 20; ++i) {
        now_ += LoginThrottle::kMaxDelay;
        fail_once(t, "10.0.0.1", "admin");
    }
    EXPECT_EQ(t.admit("10.0.0.1", "admin"), LoginThrottle::kMaxDelay);
    // A partial second rounds up.
    now_ += LoginThrottle::kMaxDelay - milliseconds(1500);
    EXPECT_EQ(t.admit("10.0.0.1", "admin"), seconds(2));
}

TEST_F(LoginThrottleTest, SuccessClearsBothCounters) {
    auto t = make();
    for (unsigned i = 0; i < LoginThrottle::kFreeFailures; ++i) fail_once(t, "a", "u");
    ASSERT_EQ(t.admit("a", "u"), seconds(0));
    t.succeeded("a", "u");
    for (unsigned i = 0; i < LoginThrottle::kFreeFailures; ++i) fail_once(t, "a", "u");
    EXPECT_EQ(t.admit("a", "u"), seconds(0));
}

TEST_F(LoginThrottleTest, StaleCountersAreForgotten) {
    auto t = make();
    for (unsigned i = 0; i <= LoginThrottle::kFreeFailures; ++i) fail_once(t, "a", "u");
    EXPECT_GT(t.admit("a", "u"), seconds(0));
    now_ += LoginThrottle::kForgetAfter;
    EXPECT_EQ(t.admit("a", "u"), seconds(0));
    EXPECT_EQ(t.entries(), 0u);
}

TEST_F(LoginThrottleTest, GlobalBudget) {
    auto t = make(10);
    // Many addresses and names: the budget alone holds them.
    for (int i = 0; i < 10; ++i) EXPECT_EQ(t.admit("addr" + std::to_string(i), "u" + std::to_string(i)), seconds(0));
    EXPECT_EQ(t.admit("fresh", "fresh"), seconds(1));
    now_ += milliseconds(100);  // one token back
    EXPECT_EQ(t.admit("fresh", "fresh"), seconds(0));
    EXPECT_EQ(t.admit("fresh", "fresh"), seconds(1));
    now_ += seconds(60);  // never more than one second's worth
    for (int i = 0; i < 10; ++i) EXPECT_EQ(t.admit("x", "y"), seconds(0));
    EXPECT_EQ(t.admit("x", "y"), seconds(1));
}

TEST_F(LoginThrottleTest, BoundedCounters) {
    auto t = make(1000000, 8);
    for (int i = 0; i < 100; ++i) {
        now_ += milliseconds(1);
        fail_once(t, ("a" + std::to_string(i)).c_str(), ("u" + std::to_string(i)).c_str());
    }
    EXPECT_LE(t.entries(), 8u);
}

}  // namespace
}  // namespace gaffer::auth
