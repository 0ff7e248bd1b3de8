// SPDX-License-Identifier: MIT
// lib/base/result.h: Error's message and constructors, Result<T>/Status, and the
// GAFFER_TRY / GAFFER_RETURN_IF_ERROR macros.
#include "lib/base/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

namespace gaffer {
namespace {

TEST(Error, MessageJoinsContextAndStrerror) {
    EXPECT_EQ((Error{ENOENT, "open '/x'"}).message(), std::string("open '/x': ") + strerror(ENOENT));
    EXPECT_EQ((Error{ENOENT, ""}).message(), strerror(ENOENT));
    EXPECT_EQ((Error{0, "just text"}).message(), "just text");
}

TEST(Error, FromErrnoKeepsErrnoAndFormats) {
    errno = EACCES;
    Error e = Error::from_errno("open '%s' (%d)", "/etc/x", 3);
    EXPECT_EQ(e.code, EACCES);
    EXPECT_EQ(e.context, "open '/etc/x' (3)");
    // No errno set: still an error, never code 0 (which would read as success).
    errno = 0;
    EXPECT_EQ(Error::from_errno("nothing").code, EIO);
}

TEST(Error, MakeFormatsAndBoundsItsContext) {
    Error e = Error::make(EINVAL, "bad %s at %zu", "value", size_t{7});
    EXPECT_EQ(e.code, EINVAL);
    EXPECT_EQ(e.context, "bad value at 7");
    EXPECT_EQ(e.cause, 0);
    EXPECT_EQ(e.stage, nullptr);
    // A huge argument is cut, never written past a buffer.
    std::string big(10000, 'p');
    Error b = Error::make(ENAMETOOLONG, "path %s end", big.c_str());
    EXPECT_GT(b.context.size(), 400u);
    EXPECT_LT(b.context.size(), 1024u);
    EXPECT_EQ(b.context.substr(0, 6), "path p");
}

Result<int> half(int v) {
    if (v % 2)
        return fail(EINVAL, "odd");
    return v / 2;
}

Result<int> quarter(int v) {
    GAFFER_TRY(int h, half(v));
    GAFFER_TRY(int q, half(h));
    return q;
}

Status check_even(int v) {
    GAFFER_RETURN_IF_ERROR(half(v));
    return ok();
}

TEST(Result, ValueOrError) {
    Result<int> r = half(8);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r.has_value());
    EXPECT_EQ(*r, 4);
    EXPECT_EQ(r.value(), 4);
    Result<int> e = half(3);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, EINVAL);
    EXPECT_EQ(e.error().context, "odd");
}

TEST(Result, MoveOnlyValues) {
    Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r->get(), 5);
    std::unique_ptr<int> p = std::move(r).value();
    EXPECT_EQ(*p, 5);
}

TEST(Result, TryReturnsTheFirstError) {
    EXPECT_EQ(*quarter(12), 3);
    Result<int> e = quarter(6);  // 6 -> 3 -> odd
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().context, "odd");
    EXPECT_FALSE(quarter(5));
}

TEST(Status, OkAndError) {
    EXPECT_TRUE(ok());
    EXPECT_TRUE(check_even(2));
    Status s = check_even(1);
    ASSERT_FALSE(s);
    EXPECT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, EINVAL);
    Status f = fail(Error{EPERM, "no", ENOENT, "exec"});
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().cause, ENOENT);
    EXPECT_STREQ(f.error().stage, "exec");
}

}  // namespace
}  // namespace gaffer
