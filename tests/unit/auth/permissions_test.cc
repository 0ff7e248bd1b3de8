// SPDX-License-Identifier: MIT
// Tests of lib/auth/permissions: the §9.2 semantics as a table, the JSON codec and covers().
#include "lib/auth/permissions.h"

#include <gtest/gtest.h>

#include <string>

namespace gaffer::auth {
namespace {

Permissions perms(const char* text) {
    auto j = json::parse(text);
    EXPECT_TRUE(j) << text;
    auto p = Permissions::from_json(j->get());
    EXPECT_TRUE(p) << text << ": " << p.error().message();
    return p ? *p : Permissions{};
}

struct Case {
    const char* permissions;
    const char* target;
    bool read, write, manage;
};

class PermissionCheck : public ::testing::TestWithParam<Case> {};

TEST_P(PermissionCheck, Grants) {
    const Case& c = GetParam();
    Permissions p = perms(c.permissions);
    EXPECT_EQ(p.can_read(c.target), c.read) << c.permissions << " read " << c.target;
    EXPECT_EQ(p.can_write(c.target), c.write) << c.permissions << " write " << c.target;
    EXPECT_EQ(p.can_manage(c.target), c.manage) << c.permissions << " manage " << c.target;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PermissionCheck,
    ::testing::Values(
        // Nothing grants nothing.
        Case{"{}", "s", false, false, false}, Case{"{}", "s.j", false, false, false},
        // admin implies everything.
        Case{R"({"admin": true})", "s", true, true, true}, Case{R"({"admin": true})", "s.j", true, true, true},
        Case{R"({"admin": true})", "*", true, true, true},
        // "*" covers everything, at its own level and below.
        Case{R"({"read": ["*"]})", "s.j", true, false, false}, Case{R"({"write": ["*"]})", "s.j", true, true, false},
        Case{R"({"manage": ["*"]})", "s", true, true, true}, Case{R"({"manage": ["*"]})", "s.j", true, true, true},
        // A session id covers the session and all its jobs.
        Case{R"({"manage": ["s"]})", "s", true, true, true}, Case{R"({"manage": ["s"]})", "s.j", true, true, true},
        Case{R"({"manage": ["s"]})", "s.j.with.dots", true, true, true},
        Case{R"({"manage": ["s"]})", "t.j", false, false, false},
        Case{R"({"manage": ["s"]})", "sx.j", false, false, false},
        Case{R"({"manage": ["s"]})", "x.s", false, false, false},
        // A job entry covers that job only, never its session.
        Case{R"({"manage": ["s.j"]})", "s.j", true, true, true},
        Case{R"({"manage": ["s.j"]})", "s", false, false, false},
        Case{R"({"manage": ["s.j"]})", "s.k", false, false, false},
        Case{R"({"manage": ["s.j"]})", "s.jj", false, false, false},
        // manage ⊇ write ⊇ read.
        Case{R"({"write": ["s"]})", "s.j", true, true, false}, Case{R"({"read": ["s"]})", "s.j", true, false, false},
        Case{R"({"read": ["s.j"], "write": ["t"], "manage": ["u.k"]})", "s.j", true, false, false},
        Case{R"({"read": ["s.j"], "write": ["t"], "manage": ["u.k"]})", "t.x", true, true, false},
        Case{R"({"read": ["s.j"], "write": ["t"], "manage": ["u.k"]})", "u.k", true, true, true},
        Case{R"({"read": ["s.j"], "write": ["t"], "manage": ["u.k"]})", "u", false, false, false},
        // create_key / create_user grant no target.
        Case{R"({"create_key": true, "create_user": true})", "s", false, false, false}));

TEST(Permissions, ManageAll) {
    EXPECT_FALSE(perms("{}").manage_all());
    EXPECT_TRUE(perms(R"({"admin": true})").manage_all());
    EXPECT_TRUE(perms(R"({"manage": ["a", "*"]})").manage_all());
    EXPECT_FALSE(perms(R"({"manage": ["a"], "write": ["*"], "read": ["*"]})").manage_all());
}

TEST(Permissions, CreateFlags) {
    Permissions p = perms(R"({"create_key": true})");
    EXPECT_TRUE(p.can_create_key());
    EXPECT_FALSE(p.can_create_user());
    Permissions a = perms(R"({"admin": true})");
    EXPECT_TRUE(a.can_create_key());
    EXPECT_TRUE(a.can_create_user());
}

TEST(Permissions, FromJsonDefaults) {
    auto p = Permissions::from_json(nullptr);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, Permissions{});
    json::JsonPtr null(json_null());
    p = Permissions::from_json(null.get());
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, Permissions{});
    Permissions q = perms(R"({"admin": null, "manage": null, "unknown": 5})");
    EXPECT_EQ(q, Permissions{});
}

TEST(Permissions, FromJsonRejectsBadShapes) {
    struct Bad {
        const char* text;
        const char* mentions;
    };
    const Bad bad[] = {
        {R"([])", "object"},
        {R"("admin")", "object"},
        {R"({"admin": 1})", "permissions.admin"},
        {R"({"admin": "true"})", "permissions.admin"},
        {R"({"create_key": []})", "permissions.create_key"},
        {R"({"create_user": 0})", "permissions.create_user"},
        {R"({"manage": "*"})", "permissions.manage"},
        {R"({"write": {"s": true}})", "permissions.write"},
        {R"({"read": [1]})", "permissions.read[0]"},
        {R"({"read": ["a", ""]})", "permissions.read[1]"},
        {R"({"read": ["a", null]})", "permissions.read[1]"},
    };
    for (const auto& b : bad) {
        auto j = json::parse(b.text);
        ASSERT_TRUE(j) << b.text;
        auto p = Permissions::from_json(j->get());
        ASSERT_FALSE(p) << b.text;
        EXPECT_EQ(p.error().code, EINVAL) << b.text;
        EXPECT_NE(p.error().context.find(b.mentions), std::string::npos) << b.text << " -> " << p.error().context;
    }
}

TEST(Permissions, FromJsonBoundsLists) {
    json::JsonPtr list(json_array());
    for (size_t i = 0; i <= Permissions::kMaxEntries; ++i) {
        json_array_append_new(list.get(), json_string("s"));
    }
    json::JsonPtr o(json_object());
    json::set(o.get(), "read", std::move(list));
    auto p = Permissions::from_json(o.get());
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, EINVAL);

    json::JsonPtr o2(json_object());
    json::set(o2.get(), "read", json::strings({std::string(Permissions::kMaxEntryBytes + 1, 'x')}));
    EXPECT_FALSE(Permissions::from_json(o2.get()));
}

TEST(Permissions, JsonRoundTrip) {
    Permissions p;
    p.create_user = true;
    p.manage = {"s", "t.j"};
    p.read = {"*"};
    p.uids = {"1000", "www-data"};
    json::JsonPtr j = p.to_json();
    EXPECT_EQ(json::dump(j.get()), R"({"admin":false,"create_key":false,"create_user":true,"manage":["s","t.j"],)"
                                   R"("write":[],"read":["*"],"uids":[1000,"www-data"]})");
    auto back = Permissions::from_json(j.get());
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, p);
}

TEST(Permissions, Full) {
    Permissions f = Permissions::full();
    EXPECT_TRUE(f.admin);
    EXPECT_TRUE(f.can_create_key());
    EXPECT_TRUE(f.can_create_user());
    EXPECT_TRUE(f.manage_all());
    EXPECT_TRUE(f.can_manage("any.job"));
    EXPECT_TRUE(f.covers(perms(R"({"admin": true})")));
}

TEST(Permissions, Covers) {
    Permissions admin = perms(R"({"admin": true})");
    Permissions creator = perms(R"({"create_key": true, "manage": ["s"], "read": ["t.j"]})");
    EXPECT_TRUE(admin.covers(creator));
    EXPECT_FALSE(creator.covers(admin));
    EXPECT_TRUE(creator.covers(Permissions{}));
    EXPECT_TRUE(creator.covers(perms(R"({"manage": ["s.x"], "write": ["s"], "read": ["t.j"]})")));
    EXPECT_TRUE(creator.covers(perms(R"({"create_key": true})")));
    EXPECT_FALSE(creator.covers(perms(R"({"create_user": true})")));
    EXPECT_FALSE(creator.covers(perms(R"({"manage": ["*"]})")));
    EXPECT_FALSE(creator.covers(perms(R"({"read": ["*"]})")));
    EXPECT_FALSE(creator.covers(perms(R"({"read": ["t"]})")));
    EXPECT_FALSE(creator.covers(perms(R"({"write": ["t.j"]})")));
    EXPECT_TRUE(perms(R"({"manage": ["*"]})").covers(perms(R"({"manage": ["*"], "read": ["x"]})")));
}

TEST(Permissions, UidsParseAsNumbersOrNames) {
    Permissions p = perms(R"({"uids": [1000, "0033", "www-data", 0]})");
    EXPECT_EQ(p.uids, (std::vector<std::string>{"1000", "33", "www-data", "0"}));
    EXPECT_TRUE(p.has_uid_names());
    EXPECT_FALSE(perms(R"({"uids": [5]})").has_uid_names());
    const std::pair<const char*, const char*> bad[] = {
        {R"({"uids": 1000})", "permissions.uids"},
        {R"({"uids": [-1]})", "permissions.uids[0]"},
        {R"({"uids": [1, 4294967295]})", "permissions.uids[1]"},
        {R"({"uids": ["99999999999"]})", "permissions.uids[0]"},
        {R"({"uids": [""]})", "permissions.uids[0]"},
        {R"({"uids": [1.5]})", "permissions.uids[0]"},
    };
    for (const auto& [text, member] : bad) {
        auto j = json::parse(text);
        ASSERT_TRUE(j);
        auto r = Permissions::from_json(j->get());
        ASSERT_FALSE(r) << text;
        EXPECT_NE(r.error().context.find(member), std::string::npos) << r.error().context;
    }
}

TEST(Permissions, MayUseOnlyListedUids) {
    Permissions p = perms(R"({"manage": ["s"], "uids": [1000, "www-data"]})");
    EXPECT_TRUE(p.may_use_uid(1000, ""));
    EXPECT_TRUE(p.may_use_uid(33, "www-data"));
    EXPECT_FALSE(p.may_use_uid(33, ""));
    EXPECT_FALSE(p.may_use_uid(0, "root"));
    EXPECT_FALSE(perms(R"({"manage": ["*"]})").may_use_uid(1000, ""));
    EXPECT_TRUE(perms(R"({"admin": true})").may_use_uid(0, "root"));
}

TEST(Permissions, CoversUidsOnlyAsListed) {
    Permissions creator = perms(R"({"create_key": true, "manage": ["s"], "uids": [1000, "www-data"]})");
    EXPECT_TRUE(creator.covers(perms(R"({"manage": ["s"], "uids": ["1000"]})")));
    EXPECT_TRUE(creator.covers(perms(R"({"uids": ["www-data", 1000]})")));
    EXPECT_FALSE(creator.covers(perms(R"({"uids": [0]})")));
    EXPECT_FALSE(creator.covers(perms(R"({"uids": [33]})")));
    EXPECT_FALSE(perms(R"({"manage": ["*"]})").covers(perms(R"({"uids": [1000]})")));
    EXPECT_TRUE(perms(R"({"admin": true})").covers(perms(R"({"uids": [0, "root"]})")));
}

TEST(Permissions, RegisterNames) {
    Permissions p = perms(R"({"register": ["node-a", "node-b"]})");
    EXPECT_TRUE(p.can_register("node-a"));
    EXPECT_TRUE(p.can_register("node-b"));
    EXPECT_FALSE(p.can_register("node-c"));
    EXPECT_TRUE(p.may_register());
    EXPECT_FALSE(perms(R"({"read": ["*"]})").may_register());
    EXPECT_FALSE(perms(R"({"manage": ["*"]})").can_register("node-a"));
    EXPECT_TRUE(perms(R"({"register": ["*"]})").can_register("anything"));
    EXPECT_TRUE(perms(R"({"admin": true})").can_register("x"));
    EXPECT_EQ(json::dump(p.to_json().get()), R"({"admin":false,"create_key":false,"create_user":false,"manage":[],)"
                                             R"("write":[],"read":[],"uids":[],"register":["node-a","node-b"]})");
    EXPECT_FALSE(Permissions::from_json(json::parse(R"({"register": "node-a"})")->get()));
    EXPECT_FALSE(Permissions::from_json(json::parse(R"({"register": [""]})")->get()));
}

TEST(Permissions, CoversRegisterNames) {
    Permissions creator = perms(R"({"create_key": true, "register": ["node-a"]})");
    EXPECT_TRUE(creator.covers(perms(R"({"register": ["node-a"]})")));
    EXPECT_FALSE(creator.covers(perms(R"({"register": ["node-b"]})")));
    EXPECT_FALSE(creator.covers(perms(R"({"register": ["*"]})")));
    EXPECT_TRUE(perms(R"({"register": ["*"]})").covers(perms(R"({"register": ["node-b"]})")));
    EXPECT_TRUE(perms(R"({"admin": true})").covers(perms(R"({"register": ["*"]})")));
}

}  // namespace
}  // namespace gaffer::auth
