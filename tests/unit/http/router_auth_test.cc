// SPDX-License-Identifier: MIT
// Unit tests of lib/http/router: rights by endpoint and key (security-defaults.md,
// reference §2.5, §9.5), the key and user routes (§9.3, rows 29–35), the key API when
// disabled (§9.4), CORS (§2.4) and the full-rights job options. §14 items 8–12.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <nettle/base64.h>
#include <sys/file.h>

#include <string>

#include "lib/auth/login_throttle.h"
#include "lib/base/unique_fd.h"
#include "lib/http/router.h"
#include "tests/unit/http/router_test_util.h"

namespace gaffer::http {
namespace {

using testing::loopback;
using testing::other_uid;
using testing::remote;
using testing::RouterFixture;
using testing::unix_peer;

std::string basic(const std::string& user, const std::string& password) {
    std::string plain = user + ":" + password;
    std::string out(BASE64_ENCODE_RAW_LENGTH(plain.size()), '\0');
    base64_encode_raw(reinterpret_cast<char*>(out.data()), plain.size(),
                      reinterpret_cast<const uint8_t*>(plain.data()));
    return "Basic " + out;
}

class RightsTest : public RouterFixture {};

// ---- unix socket peers ----

TEST_F(RightsTest, UnixRootAndOwnUidHaveFullRights) {
    int n = 0;
    for (uid_t uid : {uid_t(0), geteuid()}) {
        Response r =
            call("POST", "/jobs/u" + std::to_string(n++), R"({"name":"w","cmd":"sleep 1000"})", unix_peer(uid));
        EXPECT_EQ(r.status, 200) << uid << " " << r.body;
    }
    EXPECT_EQ(call("GET", "/sessions", "", unix_peer(0)).status, 200);
}

TEST_F(RightsTest, UnixOtherUidIsReadOnly) {
    load("default", "web");
    auto peer = unix_peer(other_uid());
    EXPECT_EQ(call("GET", "/jobs/default/web", "", peer).status, 200);
    EXPECT_EQ(call("GET", "/jobs/default/web/stats", "", peer).status, 200);
    EXPECT_EQ(call("HEAD", "/jobs/default/web", "", peer).status, 200);
    // Reads include the listings (gafferd(8), issue 11); anything that acts needs more.
    EXPECT_EQ(call("GET", "/sessions", "", peer).status, 200);
    EXPECT_EQ(call("GET", "/pids", "", peer).status, 200);
    Response stop = call("POST", "/jobs/default/web/state", "0", peer);
    EXPECT_EQ(stop.status, 403);
    EXPECT_EQ(error_name(stop), "forbidden");
    EXPECT_EQ(call("GET", "/jobs/default/web/state").body, "1");  // no "error then act"
    EXPECT_EQ(call("POST", "/jobs/default", R"({"name":"x","cmd":"sleep 1"})", peer).status, 403);
    EXPECT_EQ(call("DELETE", "/jobs/default/web", "", peer).status, 403);
    EXPECT_TRUE(manager_->has_job({"default", "web"}));
}

TEST_F(RightsTest, UnixOtherUidWithAKeyGetsItsRights) {
    load("app", "web");
    std::string key = make_key(R"({"manage":["app"]})");
    auto peer = unix_peer(other_uid());
    Response r = call("POST", "/jobs/app/web/state", "0", peer, {{"X-Api-Key", key}});
    EXPECT_EQ(r.status, 202) << r.body;
    Response bad = call("GET", "/jobs/app/web", "", peer, {{"X-Api-Key", "deadbeef"}});
    EXPECT_EQ(bad.status, 403);
}

// ---- TCP ----

TEST_F(RightsTest, LoopbackWithoutRequireKeyHasFullRights) {
    EXPECT_EQ(call("GET", "/sessions").status, 200);
    EXPECT_EQ(call("POST", "/jobs/default", R"({"name":"web","cmd":"sleep 1000"})").status, 200);
}

TEST_F(RightsTest, RemoteAlwaysNeedsAKey) {
    Response r = call("GET", "/sessions", "", remote());
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(error_name(r), "unauthorized");
    EXPECT_EQ(int_member(r, "errno"), 401);
}

class KeyedTest : public RouterFixture {
protected:
    void SetUp() override {
        RouterFixture::SetUp();
        RouterOptions o;
        o.require_key = true;
        o.cors_origins = {"https://ui.example"};
        make_router(o);
        admin_ = make_key(R"({"admin":true})");
        load_headers_ = key(admin_);
    }
    testing::Headers key(const std::string& k) { return {{"X-Api-Key", k}}; }
    std::string admin_;
};

// Another process (gafferd --create-admin-user) holding auth.json's lock: the change is
// answered 503 at once instead of the loop sleeping for the lock.
TEST_F(KeyedTest, KeyStoreLockedElsewhereIs503Busy) {
    UniqueFd other(::open((dir_ / "auth.json.lock").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(other);
    ASSERT_EQ(::flock(other.get(), LOCK_EX | LOCK_NB), 0);
    Response r = call("POST", "/keys", R"({"permissions":{"read":["*"]}})", loopback(), key(admin_));
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(error_name(r), "busy");
    EXPECT_EQ(r.header("Retry-After").value_or(""), "1");
    ASSERT_EQ(::flock(other.get(), LOCK_UN), 0);
    EXPECT_EQ(call("POST", "/keys", R"({"permissions":{"read":["*"]}})", loopback(), key(admin_)).status, 200);
}

// Attack on the error mapping: another process left auth.json corrupt. A change is the
// server's failure (500 internal_error, the file left alone), not the client's: it was
// answered 400 bad_request, the store's EINVAL for a bad file read as bad input.
TEST_F(KeyedTest, ACorruptKeyStoreIs500NotTheClientsFault) {
    std::string path = dir_ / "auth.json";
    const std::string text = R"({"version": 1, "keys": [], "users": 7})";
    {
        UniqueFd fd(::open((path + ".new").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        ASSERT_TRUE(fd);
        ASSERT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
    }
    ASSERT_EQ(::rename((path + ".new").c_str(), path.c_str()), 0);
    Response r = call("POST", "/keys", R"({"permissions":{"read":["*"]}})", loopback(), key(admin_));
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(error_name(r), "internal_error");
    EXPECT_EQ(*read_file(path), text);
}

TEST_F(KeyedTest, MissingKeyIs401UnknownIs403) {
    Response none = call("GET", "/jobs");
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(error_name(none), "unauthorized");
    Response unknown = call("GET", "/jobs", "", loopback(), key("0123456789abcdef0123456789abcdef"));
    EXPECT_EQ(unknown.status, 403);
    EXPECT_EQ(error_name(unknown), "forbidden");
    EXPECT_EQ(call("GET", "/jobs", "", loopback(), key(admin_)).status, 200);
}

TEST_F(KeyedTest, PublicRoutesNeedNoKey) {
    EXPECT_EQ(call("GET", "/").status, 200);
    EXPECT_EQ(call("GET", "/version").status, 200);
    EXPECT_EQ(call("GET", "/ping").status, 200);
}

// §14.8: preflights never need a key.
TEST_F(KeyedTest, PreflightNeedsNoKey) {
    for (const char* path : {"/jobs", "/jobs/default/web", "/1/signal", "/keys", "/users/bob", "/auth"}) {
        Response r = call("OPTIONS", path, "", loopback(), {{"Origin", "https://ui.example"}});
        EXPECT_EQ(r.status, 204) << path;
        EXPECT_EQ(r.header("Access-Control-Allow-Origin").value_or(""), "https://ui.example") << path;
    }
}

TEST_F(KeyedTest, PermissionTable) {
    load("app", "web");
    load("other", "job");
    std::string reader = make_key(R"({"read":["app.web"]})");
    std::string writer = make_key(R"({"write":["app"]})");
    std::string manager = make_key(R"({"manage":["app"],"uids":[4545]})");
    auto as = [&](const std::string& k, const char* m, const std::string& path, const char* b = "") {
        return call(m, path, b, loopback(), key(k)).status;
    };
    // read on sid.job
    for (const char* p : {"/jobs/app/web", "/jobs/app/web/stats", "/jobs/app/web/pids", "/jobs/app/web/state",
                          "/jobs/app/web/numprocesses", "/jobs/app/web/processes"}) {
        EXPECT_EQ(as(reader, "GET", p), 200) << p;
        EXPECT_EQ(as(writer, "GET", p), 200) << p;
        EXPECT_EQ(as(reader, "GET", std::string(p).replace(6, 7, "other/job")), 403) << p;
    }
    // manage on sid.job
    EXPECT_EQ(as(reader, "POST", "/jobs/app/web/state", "1"), 403);
    EXPECT_EQ(as(writer, "POST", "/jobs/app/web/state", "1"), 403);
    EXPECT_EQ(as(manager, "POST", "/jobs/app/web/state", "1"), 202);
    EXPECT_EQ(as(manager, "POST", "/jobs/app/web/numprocesses", R"({"scale":1})"), 200);
    EXPECT_EQ(as(manager, "POST", "/jobs/other/job/state", "1"), 403);
    // manage on sid
    EXPECT_EQ(as(manager, "GET", "/jobs/app"), 200);
    EXPECT_EQ(as(reader, "GET", "/jobs/app"), 403);
    EXPECT_EQ(as(manager, "POST", "/jobs/app/web/commit", "{}"), 200);
    EXPECT_EQ(as(manager, "POST", "/jobs/app", R"({"name":"new","cmd":"sleep 1000","uid":4545,"start":false})"), 200);
    EXPECT_EQ(as(manager, "POST", "/jobs/other", R"({"name":"new","cmd":"sleep 1000"})"), 403);
    // manage-all
    EXPECT_EQ(as(manager, "GET", "/sessions"), 403);
    EXPECT_EQ(as(manager, "GET", "/jobs"), 403);
    EXPECT_EQ(as(manager, "GET", "/pids"), 403);
    EXPECT_EQ(as(admin_, "GET", "/pids"), 200);
    // processes by pid: rights on the process's job
    int pid = static_cast<int>(json_integer_value(json_array_get(
        json_object_get(body(call("GET", "/jobs/other/job/pids", "", loopback(), key(admin_))).get(), "pids"), 0)));
    std::string p = "/" + std::to_string(pid);
    EXPECT_EQ(as(reader, "GET", p), 403);
    EXPECT_EQ(as(reader, "GET", p + "/stats"), 403);
    EXPECT_EQ(as(manager, "POST", p + "/signal", R"({"signal":"CONT"})"), 403);
    EXPECT_EQ(as(manager, "DELETE", p), 403);
    EXPECT_EQ(as(admin_, "GET", p), 200);
}

// ---- jobs created through the API ----

TEST_F(KeyedTest, PrivilegedJobOptionsNeedFullRights) {
    std::string manager = make_key(R"({"manage":["*"],"uids":[4545]})");
    std::string other_uid_text = std::to_string(testing::other_uid());
    for (std::string b : {std::string(R"({"name":"a","cmd":"sleep 1","shell":true})"),
                          R"({"name":"a","cmd":"sleep 1","uid":)" + other_uid_text + "}",
                          R"({"name":"a","cmd":"sleep 1","gid":)" + other_uid_text + "}",
                          std::string(R"({"name":"a","cmd":"sleep 1","capabilities":["CAP_NET_BIND_SERVICE"]})")}) {
        Response r = call("POST", "/jobs/default", b, loopback(), key(manager));
        EXPECT_EQ(r.status, 403) << b << " " << r.body;
        EXPECT_EQ(error_name(r), "forbidden");
    }
    EXPECT_FALSE(manager_->has_job({"default", "a"}));
    // The same on PUT: refused before anything changes.
    ASSERT_EQ(call("POST", "/jobs/default", R"({"name":"a","cmd":"sleep 1000","uid":4545,"start":false})", loopback(),
                   key(manager))
                  .status,
              200);
    Response put = call("PUT", "/jobs/default/a", R"({"cmd":"sleep 1000","uid":4545,"start":false,"shell":true})",
                        loopback(), key(manager));
    EXPECT_EQ(put.status, 403);
    auto info = body(call("GET", "/jobs/default/a", "", loopback(), key(admin_)));
    EXPECT_EQ(json_object_get(json_object_get(info.get(), "config"), "shell"), nullptr);
    // An admin key may.
    EXPECT_EQ(call("POST", "/jobs/default", R"({"name":"b","cmd":"sleep 1000","shell":true})", loopback(), key(admin_))
                  .status,
              200);
}

// Which uids a job of a caller without full rights may name: router_test.cc JobRuleTest.

// ---- CORS (§2.4, §14.8) ----

TEST_F(KeyedTest, CorsOnEveryResponseIncludingErrors) {
    testing::Headers h = {{"Origin", "https://ui.example"}};
    for (auto [m, path] : std::vector<std::pair<const char*, const char*>>{{"GET", "/"},
                                                                           {"GET", "/jobs"},
                                                                           {"GET", "/nope"},
                                                                           {"PUT", "/sessions"},
                                                                           {"GET", "/keys"},
                                                                           {"GET", "/auth"},
                                                                           {"GET", "/users"}}) {
        Response r = call(m, path, "", loopback(), h);
        EXPECT_EQ(r.header("Access-Control-Allow-Origin").value_or(""), "https://ui.example") << m << " " << path;
        EXPECT_NE(std::string(r.header("Access-Control-Allow-Headers").value_or("")).find("X-Api-Key"),
                  std::string::npos);
    }
    Response evil = call("GET", "/", "", loopback(), {{"Origin", "https://evil.example"}});
    EXPECT_FALSE(evil.header("Access-Control-Allow-Origin"));
    Response null_origin = call("GET", "/", "", loopback(), {{"Origin", "null"}});
    EXPECT_FALSE(null_origin.header("Access-Control-Allow-Origin"));
}

// ---- keys (§9.3) ----

TEST_F(KeyedTest, CreateListGetDeleteKeys) {
    Response c = call("POST", "/keys", R"({"permissions":{"read":["*"]},"label":"ro","key":"ignored"})", loopback(),
                      {{"X-Api-Key", admin_}, {"Host", "gaffer.local:5000"}});
    ASSERT_EQ(c.status, 200) << c.body;
    auto cj = body(c);
    EXPECT_TRUE(json_is_true(json_object_get(cj.get(), "ok")));
    std::string secret = json_string_value(json_object_get(cj.get(), "api_key"));
    EXPECT_NE(secret, "ignored");
    EXPECT_EQ(c.header("X-Api-Key").value_or(""), secret);
    EXPECT_EQ(c.header("Location").value_or(""), "http://gaffer.local:5000/keys/" + secret);

    // Listings show ids, never secrets.
    Response list = call("GET", "/keys", "", loopback(), key(admin_));
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(list.body.find(secret), std::string::npos);
    EXPECT_EQ(list.body.find(admin_), std::string::npos);
    EXPECT_EQ(json_array_size(json_object_get(body(list).get(), "keys")), 2u);
    Response full = call("GET", "/keys?include_keys=true", "", loopback(), key(admin_));
    EXPECT_EQ(full.body.find(secret), std::string::npos);
    auto fj = body(full);
    const json_t* first = json_array_get(json_object_get(fj.get(), "keys"), 0);
    EXPECT_TRUE(json_is_object(first));
    EXPECT_TRUE(json_object_get(first, "permissions"));
    EXPECT_TRUE(json_object_get(first, "id"));

    // The key itself may read itself; it is not returned.
    Response self = call("GET", "/keys/" + secret, "", loopback(), key(secret));
    EXPECT_EQ(self.status, 200) << self.body;
    EXPECT_EQ(self.body.find(secret), std::string::npos);
    EXPECT_STREQ(json_string_value(json_object_get(body(self).get(), "label")), "ro");
    // §14.9: HEAD reports existence; DELETE 404s when unknown.
    EXPECT_EQ(call("HEAD", "/keys/" + secret, "", loopback(), key(admin_)).status, 200);
    EXPECT_EQ(call("HEAD", "/keys/0123456789abcdef0123456789abcdef", "", loopback(), key(admin_)).status, 404);
    EXPECT_EQ(call("DELETE", "/keys/" + secret, "", loopback(), key(admin_)).status, 200);
    EXPECT_EQ(call("DELETE", "/keys/" + secret, "", loopback(), key(admin_)).status, 404);
    EXPECT_EQ(call("GET", "/jobs/x/y", "", loopback(), key(secret)).status, 403);  // deleted
}

TEST_F(KeyedTest, KeyCreationRights) {
    std::string ro = make_key(R"({"read":["*"]})");
    EXPECT_EQ(call("POST", "/keys", R"({"permissions":{}})", loopback(), key(ro)).status, 403);
    std::string creator = make_key(R"({"create_key":true,"manage":["app"]})");
    EXPECT_EQ(call("POST", "/keys", R"({"permissions":{"admin":true}})", loopback(), key(creator)).status, 403);
    EXPECT_EQ(call("POST", "/keys", R"({"permissions":{"manage":["*"]}})", loopback(), key(creator)).status, 403);
    EXPECT_EQ(call("POST", "/keys", R"({"permissions":{"read":["app.web"]}})", loopback(), key(creator)).status, 200);
    EXPECT_EQ(call("GET", "/keys", "", loopback(), key(creator)).status, 403);  // listing needs admin
    for (const char* b : {"", "nope", R"({"permissions":3})", R"({"permissions":{"manage":"x"}})", R"({"label":5})"}) {
        EXPECT_EQ(call("POST", "/keys", b, loopback(), key(admin_)).status, 400) << b;
    }
    // Another key's metadata needs create_key; unknown and foreign keys look alike then.
    EXPECT_EQ(call("GET", "/keys/" + creator, "", loopback(), key(ro)).status, 403);
    EXPECT_EQ(call("GET", "/keys/0123456789abcdef0123456789abcdef", "", loopback(), key(ro)).status, 403);
}

TEST_F(KeyedTest, SubKeys) {
    Response c = call("POST", "/keys", R"({"permissions":{"read":["*"]},"parent":")" + admin_ + R"("})", loopback(),
                      key(admin_));
    ASSERT_EQ(c.status, 200) << c.body;
    std::string sub = json_string_value(json_object_get(body(c).get(), "api_key"));
    Response with = call("GET", "/keys/" + admin_ + "?include_keys=true", "", loopback(), key(admin_));
    ASSERT_EQ(with.status, 200);
    EXPECT_EQ(json_array_size(json_object_get(body(with).get(), "keys")), 1u);
    EXPECT_EQ(with.body.find(sub), std::string::npos);
    Response badparent =
        call("POST", "/keys", R"({"parent":"0123456789abcdef0123456789abcdef"})", loopback(), key(admin_));
    EXPECT_EQ(badparent.status, 400);
}

// ---- users (§9.3) ----

// The store's outcomes keep their wire names through the one table (manager::
// map_auth_error): an existing user is 409 conflict (jobs say process_conflict), the user
// limit is 409 limit_reached (the jobs' limits are 507).
TEST_F(KeyedTest, StoreOutcomesKeepTheirWireNames) {
    ASSERT_EQ(call("POST", "/users", R"({"username":"bob","password":"x"})", loopback(), key(admin_)).status, 200);
    Response dup = call("POST", "/users", R"({"username":"bob","password":"x"})", loopback(), key(admin_));
    EXPECT_EQ(dup.status, 409) << dup.body;
    EXPECT_EQ(error_name(dup), "conflict");
    // A store on the same file with room for one user (bob).
    router_.reset();
    auth::Store::Options sopts;
    sopts.wait_for_lock = false;
    sopts.max_users = 1;
    auto s = auth::Store::open(dir_ / "auth.json", std::move(sopts));
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
    RouterOptions o;
    o.require_key = true;
    make_router(o);
    Response full = call("POST", "/users", R"({"username":"carol","password":"x"})", loopback(), key(admin_));
    EXPECT_EQ(full.status, 409) << full.body;
    EXPECT_EQ(error_name(full), "limit_reached");
}

TEST_F(KeyedTest, Users) {
    Response c =
        call("POST", "/users", R"({"username":"bob","password":"s3cret","color":"blue"})", loopback(), key(admin_));
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(c.body, R"({"ok":true})");
    EXPECT_EQ(call("POST", "/users", R"({"username":"bob","password":"x"})", loopback(), key(admin_)).status, 409);
    for (const char* b : {"", R"({"username":"x"})", R"({"password":"x"})", R"({"username":"x","password":""})",
                          R"({"username":"x","password":"y","user_type":7})"}) {
        EXPECT_EQ(call("POST", "/users", b, loopback(), key(admin_)).status, 400) << b;
    }
    Response list = call("GET", "/users", "", loopback(), key(admin_));
    EXPECT_EQ(list.body, R"({"users":["bob"]})");
    Response full = call("GET", "/users?include_user=true", "", loopback(), key(admin_));
    EXPECT_EQ(full.status, 200);
    // §14.10: never a password or its hash.
    for (const Response& r : {full, call("GET", "/users/bob", "", loopback(), key(admin_))}) {
        EXPECT_EQ(r.body.find("s3cret"), std::string::npos);
        EXPECT_EQ(r.body.find("password"), std::string::npos);
        EXPECT_EQ(r.body.find("PBKDF2"), std::string::npos);
    }
    auto u = body(call("GET", "/users/bob", "", loopback(), key(admin_)));
    EXPECT_STREQ(json_string_value(json_object_get(u.get(), "username")), "bob");
    EXPECT_EQ(json_integer_value(json_object_get(u.get(), "user_type")), 1);
    EXPECT_STREQ(json_string_value(json_object_get(u.get(), "color")), "blue");

    EXPECT_EQ(call("HEAD", "/users/bob", "", loopback(), key(admin_)).status, 200);
    EXPECT_EQ(call("HEAD", "/users/nobody", "", loopback(), key(admin_)).status, 404);
    EXPECT_EQ(call("GET", "/users/nobody", "", loopback(), key(admin_)).status, 404);
    // HEAD by callers without rights: 404, as if absent.
    std::string ro = make_key(R"({"read":["*"]})");
    EXPECT_EQ(call("HEAD", "/users/bob", "", loopback(), key(ro)).status, 404);
    EXPECT_EQ(call("HEAD", "/users/bob").status, 404);
    EXPECT_EQ(call("GET", "/users/bob", "", loopback(), key(ro)).status, 403);

    // §14.9: password and key PUTs 404 for unknown users.
    EXPECT_EQ(call("PUT", "/users/bob/password", R"({"password":"n3w"})", loopback(), key(admin_)).status, 200);
    EXPECT_EQ(call("PUT", "/users/nobody/password", R"({"password":"n3w"})", loopback(), key(admin_)).status, 404);
    EXPECT_EQ(call("PUT", "/users/bob/password", "{}", loopback(), key(admin_)).status, 400);
    std::string k = make_key(R"({"read":["app"]})");
    EXPECT_EQ(call("PUT", "/users/bob/key", R"({"key":")" + k + R"("})", loopback(), key(admin_)).status, 200);
    EXPECT_EQ(call("PUT", "/users/nobody/key", R"({"key":")" + k + R"("})", loopback(), key(admin_)).status, 404);
    EXPECT_EQ(call("PUT", "/users/bob/key", "{}", loopback(), key(admin_)).status, 400);
    // The bound key identifies its user, who may then read itself.
    EXPECT_EQ(call("GET", "/users/bob", "", loopback(), key(k)).status, 200);

    // PUT replaces; DELETE removes.
    EXPECT_EQ(call("PUT", "/users/bob", R"({"password":"again","user_type":1})", loopback(), key(admin_)).status, 200);
    EXPECT_EQ(call("PUT", "/users/nobody", R"({"password":"x"})", loopback(), key(admin_)).status, 404);
    EXPECT_EQ(call("PUT", "/users/bob", R"({"user_type":1})", loopback(), key(admin_)).status, 400);
    EXPECT_EQ(call("DELETE", "/users/bob", "", loopback(), key(admin_)).status, 200);
    EXPECT_EQ(call("DELETE", "/users/bob", "", loopback(), key(admin_)).status, 404);
}

TEST_F(KeyedTest, UserCreationRights) {
    std::string creator = make_key(R"({"create_user":true})");
    EXPECT_EQ(call("POST", "/users", R"({"username":"a","password":"p"})", loopback(), key(creator)).status, 200);
    // user_type 0 needs admin.
    EXPECT_EQ(
        call("POST", "/users", R"({"username":"b","password":"p","user_type":0})", loopback(), key(creator)).status,
        403);
    std::string ro = make_key(R"({"read":["*"]})");
    EXPECT_EQ(call("POST", "/users", R"({"username":"c","password":"p"})", loopback(), key(ro)).status, 403);
    EXPECT_EQ(call("GET", "/users", "", loopback(), key(creator)).status, 403);
    // POST /users/<u> (inherited from /users) creates that user.
    EXPECT_EQ(call("POST", "/users/d", R"({"password":"p"})", loopback(), key(creator)).status, 200);
    EXPECT_TRUE(store_->get_user("d"));
}

TEST_F(KeyedTest, PutUserKeyCanMintAKeyShownOnce) {
    ASSERT_EQ(call("POST", "/users", R"({"username":"bob","password":"p"})", loopback(), key(admin_)).status, 200);
    Response r = call("PUT", "/users/bob/key", R"({"permissions":{"read":["*"]}})", loopback(), key(admin_));
    ASSERT_EQ(r.status, 200) << r.body;
    std::string secret = json_string_value(json_object_get(body(r).get(), "api_key"));
    EXPECT_EQ(call("GET", "/users/bob", "", loopback(), key(secret)).status, 200);
    EXPECT_EQ(call("GET", "/users/bob", "", loopback(), key(admin_)).body.find(secret), std::string::npos);
}

// ---- /auth (§9.3, §14.11) ----

TEST_F(KeyedTest, BasicAuthMintsAKey) {
    ASSERT_EQ(call("POST", "/users", R"({"username":"bob","password":"a:b:c"})", loopback(), key(admin_)).status, 200);
    std::string k = make_key(R"({"read":["*"]})");
    ASSERT_EQ(call("PUT", "/users/bob/key", R"({"key":")" + k + R"("})", loopback(), key(admin_)).status, 200);
    Response ok = call("GET", "/auth", "", loopback(), {{"Authorization", basic("bob", "a:b:c")}});
    ASSERT_EQ(ok.status, 200) << ok.body;
    std::string minted = json_string_value(json_object_get(body(ok).get(), "api_key"));
    EXPECT_EQ(ok.header("X-Api-Key").value_or(""), minted);
    EXPECT_NE(minted, k);
    EXPECT_EQ(call("GET", "/jobs/x/y", "", loopback(), key(minted)).status, 404);     // read works
    EXPECT_EQ(call("DELETE", "/jobs/x/y", "", loopback(), key(minted)).status, 403);  // only the user's rights
    EXPECT_EQ(call("HEAD", "/auth", "", loopback(), {{"Authorization", basic("bob", "a:b:c")}}).status, 200);

    Response wrong = call("GET", "/auth", "", loopback(), {{"Authorization", basic("bob", "nope")}});
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(call("GET", "/auth", "", loopback(), {{"Authorization", basic("nobody", "x")}}).status, 401);
    Response none = call("GET", "/auth");
    EXPECT_EQ(none.status, 401);
    EXPECT_TRUE(none.header("WWW-Authenticate"));
    for (const char* h : {"Basic", "Basic !!!", "Bearer x", "Basic Ym9i"}) {
        EXPECT_EQ(call("GET", "/auth", "", loopback(), {{"Authorization", h}}).status, 401) << h;
    }
}

// ---- issue 11 §3: no escalation through users and keys (each test is the attack) ----

class EscalationTest : public KeyedTest {
protected:
    void SetUp() override {
        KeyedTest::SetUp();
        // The admin of --create-admin-user: a type-0 user bound to an admin key.
        auto secret = store_->create_admin("root", "rootpw");
        ASSERT_TRUE(secret);
        root_key_ = *secret;
        root_id_ = store_->find_key(root_key_)->id;
    }
    std::string root_key_, root_id_;
};

TEST_F(EscalationTest, CreateUserCannotTakeOverTheAdmin) {
    std::string creator = make_key(R"({"create_user":true})");
    // The attack: reset the admin's password, then log in as the admin.
    EXPECT_EQ(call("PUT", "/users/root/password", R"({"password":"pwned"})", loopback(), key(creator)).status, 403);
    EXPECT_EQ(call("GET", "/auth", "", loopback(), {{"Authorization", basic("root", "pwned")}}).status, 401);
    EXPECT_TRUE(store_->authenticate("root", "rootpw"));
    // Nor delete, replace or rebind it.
    EXPECT_EQ(call("DELETE", "/users/root", "", loopback(), key(creator)).status, 403);
    EXPECT_EQ(call("PUT", "/users/root", R"({"password":"pwned"})", loopback(), key(creator)).status, 403);
    std::string mine = make_key(R"({})");
    EXPECT_EQ(call("PUT", "/users/root/key", R"({"key":")" + mine + R"("})", loopback(), key(creator)).status, 403);
    ASSERT_TRUE(store_->get_user("root"));
    EXPECT_EQ(store_->get_user("root")->key_id, root_id_);
    // A type-0 user without a key logs in as admin: the same protection.
    ASSERT_TRUE(store_->create_user("boss", "bosspw", 0, std::nullopt, nullptr));
    EXPECT_EQ(call("PUT", "/users/boss/password", R"({"password":"pwned"})", loopback(), key(creator)).status, 403);
    EXPECT_EQ(call("DELETE", "/users/boss", "", loopback(), key(creator)).status, 403);
    // What it covers it may still change: a user whose rights it has.
    ASSERT_EQ(call("POST", "/users", R"({"username":"app","password":"p"})", loopback(), key(creator)).status, 200);
    EXPECT_EQ(call("PUT", "/users/app/password", R"({"password":"q"})", loopback(), key(creator)).status, 200);
    EXPECT_EQ(call("DELETE", "/users/app", "", loopback(), key(creator)).status, 200);
    // A creator with some rights covers users bound to keys within them, not beyond.
    std::string ops = make_key(R"({"create_user":true,"manage":["ops"]})");
    std::string opskey = make_key(R"({"manage":["ops.web"]})");
    std::string devkey = make_key(R"({"manage":["dev"]})");
    ASSERT_TRUE(store_->create_user("web", "pw", 1, opskey, nullptr));
    ASSERT_TRUE(store_->create_user("dev", "pw", 1, devkey, nullptr));
    EXPECT_EQ(call("PUT", "/users/web/password", R"({"password":"q"})", loopback(), key(ops)).status, 200);
    EXPECT_EQ(call("PUT", "/users/dev/password", R"({"password":"q"})", loopback(), key(ops)).status, 403);
    // The admin may do all of it, and a user may still change its own password.
    EXPECT_EQ(call("PUT", "/users/dev/password", R"({"password":"q"})", loopback(), key(admin_)).status, 200);
    EXPECT_EQ(call("PUT", "/users/dev/password", R"({"password":"mine"})", loopback(), key(devkey)).status, 200);
    EXPECT_EQ(call("PUT", "/users/root/password", R"({"password":"new"})", loopback(), key(root_key_)).status, 200);
}

TEST_F(EscalationTest, CreateKeyCannotDeleteOrReadOtherKeys) {
    std::string creator = make_key(R"({"create_key":true,"read":["*"]})");
    // The attack: revoke the admin's key by id, read its metadata.
    EXPECT_EQ(call("DELETE", "/keys/" + root_id_, "", loopback(), key(creator)).status, 404);
    EXPECT_TRUE(store_->find_key(root_key_));
    EXPECT_EQ(call("GET", "/keys/" + root_id_, "", loopback(), key(creator)).status, 404);
    EXPECT_EQ(call("HEAD", "/keys/" + root_id_, "", loopback(), key(creator)).status, 404);
    // Holding the secret does not help either (it may use the key, not manage it).
    EXPECT_EQ(call("DELETE", "/keys/" + root_key_, "", loopback(), key(creator)).status, 404);
    // Keys it covers, itself and its own sub-keys (at any depth) stay in reach.
    std::string covered = make_key(R"({"read":["app"]})");
    std::string covered_id = store_->find_key(covered)->id;
    EXPECT_EQ(call("GET", "/keys/" + covered_id, "", loopback(), key(creator)).status, 200);
    auto own_sub = store_->create_key(auth::Permissions{}, "own", creator);
    ASSERT_TRUE(own_sub);
    auto p = auth::Permissions::full();
    auto wide_sub = store_->create_key(p, "granted by an admin", *own_sub);
    ASSERT_TRUE(wide_sub);
    std::string wide_id = store_->find_key(*wide_sub)->id;
    EXPECT_EQ(call("GET", "/keys/" + wide_id, "", loopback(), key(creator)).status, 200);
    // Its listing of a covered key's sub-keys leaves out what it does not cover.
    auto hidden = store_->create_key(p, "hidden", covered);
    ASSERT_TRUE(hidden);
    Response subs = call("GET", "/keys/" + covered_id + "?include_keys=true", "", loopback(), key(creator));
    ASSERT_EQ(subs.status, 200);
    EXPECT_EQ(json_array_size(json_object_get(body(subs).get(), "keys")), 0u);
    EXPECT_EQ(call("DELETE", "/keys/" + covered_id, "", loopback(), key(creator)).status, 200);
    EXPECT_EQ(call("DELETE", "/keys/" + wide_id, "", loopback(), key(creator)).status, 200);
    EXPECT_EQ(call("DELETE", "/keys/" + creator, "", loopback(), key(creator)).status, 200);
    // Without create_key: itself and its sub-keys only; the admin key looks like no key.
    std::string plain = make_key(R"({"read":["*"]})");
    auto plain_sub = store_->create_key(auth::Permissions{}, "s", plain);
    EXPECT_EQ(call("GET", "/keys/" + root_id_, "", loopback(), key(plain)).status, 403);
    EXPECT_EQ(call("GET", "/keys/" + store_->find_key(*plain_sub)->id, "", loopback(), key(plain)).status, 200);
    EXPECT_EQ(call("DELETE", "/keys/" + *plain_sub, "", loopback(), key(plain)).status, 200);
    EXPECT_TRUE(store_->find_key(root_key_));
}

// ---- issue 11 §6: password guessing on /auth ----

TEST_F(EscalationTest, PasswordGuessingIsThrottledWithoutRunningPbkdf2) {
    // The attack: keep guessing the admin's password.
    int refused = 0;
    std::optional<Response> first_429;
    for (int i = 0; i < 12; ++i) {
        Response r =
            call("GET", "/auth", "", remote(), {{"Authorization", basic("root", "guess" + std::to_string(i))}});
        if (r.status == 429) {
            ++refused;
            if (!first_429)
                first_429 = r;
        } else {
            EXPECT_EQ(r.status, 401);
        }
    }
    ASSERT_TRUE(first_429);
    EXPECT_EQ(refused, 12 - static_cast<int>(auth::LoginThrottle::kFreeFailures) - 1);
    EXPECT_EQ(first_429->header("Retry-After").value_or(""), "1");
    // Held: even the right password is not checked now ...
    EXPECT_EQ(call("GET", "/auth", "", remote(), {{"Authorization", basic("root", "rootpw")}}).status, 429);
    // ... and another user from the same address is held too, as is that user from another one.
    EXPECT_EQ(call("GET", "/auth", "", remote(), {{"Authorization", basic("other", "x")}}).status, 429);
    Peer elsewhere = remote();
    elsewhere.address = "192.0.2.7";
    EXPECT_EQ(call("GET", "/auth", "", elsewhere, {{"Authorization", basic("root", "rootpw")}}).status, 429);
    Peer fresh = remote();
    fresh.address = "192.0.2.8";
    EXPECT_EQ(call("GET", "/auth", "", fresh, {{"Authorization", basic("other", "x")}}).status, 401);
}

// ---- key API disabled (§9.4, §14.12) ----

TEST_F(RightsTest, KeyApiDisabledIs404) {
    for (auto [m, path] : std::vector<std::pair<const char*, const char*>>{{"GET", "/auth"},
                                                                           {"HEAD", "/auth"},
                                                                           {"GET", "/keys"},
                                                                           {"POST", "/keys"},
                                                                           {"GET", "/keys/abc"},
                                                                           {"DELETE", "/keys/abc"},
                                                                           {"GET", "/users"},
                                                                           {"POST", "/users"},
                                                                           {"GET", "/users/bob"},
                                                                           {"PUT", "/users/bob"},
                                                                           {"DELETE", "/users/bob"},
                                                                           {"PUT", "/users/bob/password"},
                                                                           {"PUT", "/users/bob/key"},
                                                                           {"POST", "/users/bob"}}) {
        Response r = call(m, path, "{}");
        EXPECT_EQ(r.status, 404) << m << " " << path;
    }
}

}  // namespace
}  // namespace gaffer::http
