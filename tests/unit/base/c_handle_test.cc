// SPDX-License-Identifier: MIT
// lib/base/c_handle.h: CPtr gives a C handle back with its free function, once, and
// never for a null or released handle.
#include "lib/base/c_handle.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace gaffer {
namespace {

struct Handle {
    int id;
};

std::vector<int>& freed() {
    static std::vector<int> v;
    return v;
}

void free_handle(Handle* h) {
    freed().push_back(h->id);
    delete h;
}

using HandlePtr = CPtr<Handle, free_handle>;

TEST(CPtr, FreesOnceWithItsFunction) {
    freed().clear();
    {
        HandlePtr p(new Handle{1});
        HandlePtr q(std::move(p));
        EXPECT_FALSE(p);  // NOLINT(bugprone-use-after-move)
        EXPECT_EQ(q->id, 1);
    }
    EXPECT_EQ(freed(), std::vector<int>{1});
}

TEST(CPtr, ResetFreesTheOldHandle) {
    freed().clear();
    HandlePtr p(new Handle{1});
    p.reset(new Handle{2});
    EXPECT_EQ(freed(), std::vector<int>{1});
    p.reset();
    EXPECT_EQ(freed(), (std::vector<int>{1, 2}));
}

TEST(CPtr, NullAndReleasedAreNotFreed) {
    freed().clear();
    { HandlePtr null; }
    Handle* raw;
    {
        HandlePtr p(new Handle{3});
        raw = p.release();
    }
    EXPECT_TRUE(freed().empty());
    free_handle(raw);
}

TEST(CPtr, IsAsSmallAsAPointer) {
    // The deleter is stateless: no per-handle cost over a raw pointer.
    EXPECT_EQ(sizeof(HandlePtr), sizeof(Handle*));
}

}  // namespace
}  // namespace gaffer
