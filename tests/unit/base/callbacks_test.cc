// SPDX-License-Identifier: MIT
// Tests of lib/base/callbacks.h: for_each_selected() over a map whose callbacks erase and
// insert entries, as subscribers do when they unsubscribe during a delivery.
#include "lib/base/callbacks.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace gaffer {
namespace {

TEST(ForEachSelected, CallsTheSelectedEntriesInKeyOrder) {
    std::map<int, std::string> m{{3, "c"}, {1, "a"}, {2, "skip"}, {4, "d"}};
    std::vector<std::string> seen;
    for_each_selected(
        m, [](const std::string& v) { return v != "skip"; }, [&](auto it) { seen.push_back(it->second); });
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "c", "d"}));
}

TEST(ForEachSelected, SkipsEntriesErasedByAnEarlierCallAndWaitsWithNewOnes) {
    std::map<int, int> m{{1, 0}, {2, 0}, {3, 0}};
    std::vector<int> called;
    for_each_selected(
        m, [](int) { return true; },
        [&](auto it) {
            called.push_back(it->first);
            if (it->first == 1) {
                m.erase(2);       // unsubscribes another
                m.emplace(5, 0);  // subscribes during the walk
            }
            if (it->first == 3)
                m.erase(it);  // unsubscribes itself
        });
    EXPECT_EQ(called, (std::vector<int>{1, 3}));
    EXPECT_EQ(m.size(), 2u);  // 1 and 5
}

}  // namespace
}  // namespace gaffer
