// SPDX-License-Identifier: MIT
// Tests of lib/auth/store: keys, users, expiry, sub-keys, persistence, file modes,
// corrupt files, limits and the constant-time path. Each test works in its own temp dir.
#include "lib/auth/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "lib/auth/crypto.h"
#include "lib/auth/password.h"
#include "lib/base/unique_fd.h"

namespace gaffer::auth {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

class TempDir {
public:
    TempDir() {
        std::string tmpl = ::testing::TempDir() + "gaffer-auth-XXXXXX";
        char* p = ::mkdtemp(tmpl.data());
        EXPECT_NE(p, nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

mode_t mode_of(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

std::string slurp(const std::string& path) {
    auto r = read_file(path);
    EXPECT_TRUE(r) << path;
    return r ? *r : std::string();
}

void spit(const std::string& path, const std::string& text, mode_t mode = 0600) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    ASSERT_TRUE(fd.valid()) << path;
    ASSERT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ASSERT_EQ(::fchmod(fd.get(), mode), 0);
}

bool is_hex(const std::string& s) {
    return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Permissions admin_perms() {
    Permissions p;
    p.admin = true;
    return p;
}

Permissions manage(std::vector<std::string> targets) {
    Permissions p;
    p.manage = std::move(targets);
    return p;
}

class StoreTest : public ::testing::Test {
protected:
    std::string path() const { return dir_.path() + "/auth.json"; }

    std::unique_ptr<Store> open_store(Store::Options opts = {}) {
        if (!opts.clock)
            opts.clock = [this] { return now_; };
        auto r = Store::open(path(), std::move(opts));
        EXPECT_TRUE(r) << r.error().message();
        return r ? std::move(*r) : nullptr;
    }

    TempDir dir_;
    system_clock::time_point now_ = system_clock::time_point(seconds(1'700'000'000));
};

// ---- files ----

TEST_F(StoreTest, CreatesTheFileMode0600InA0700Directory) {
    std::string nested = dir_.path() + "/state/gaffer/auth.json";
    auto r = Store::open(nested);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(mode_of(dir_.path() + "/state"), 0700u);
    EXPECT_EQ(mode_of(dir_.path() + "/state/gaffer"), 0700u);
    EXPECT_EQ(mode_of(nested), 0600u);
    auto j = json::parse(slurp(nested));
    ASSERT_TRUE(j);
    EXPECT_EQ(json_integer_value(json_object_get(j->get(), "version")), 1);
    EXPECT_EQ(json_array_size(json_object_get(j->get(), "keys")), 0u);
    EXPECT_EQ(json_array_size(json_object_get(j->get(), "users")), 0u);
}

TEST_F(StoreTest, EveryWriteKeepsMode0600) {
    auto s = open_store();
    ASSERT_TRUE(s->create_key(Permissions{}, "k", std::nullopt));
    EXPECT_EQ(mode_of(path()), 0600u);
    ASSERT_TRUE(s->create_user("u", "pw", 1, std::nullopt, nullptr));
    EXPECT_EQ(mode_of(path()), 0600u);
}

TEST_F(StoreTest, TightensALooseExistingFile) {
    spit(path(), R"({"version": 1, "keys": [], "users": []})", 0644);
    ASSERT_EQ(mode_of(path()), 0644u);
    auto s = open_store();
    ASSERT_TRUE(s);
    EXPECT_EQ(mode_of(path()), 0600u);
}

TEST_F(StoreTest, CorruptFilesAreErrorsAndAreLeftAlone) {
    Sha256 h = sha256("0123456789abcdef0123456789abcdef");
    std::string hash = to_hex(h.data(), h.size());
    std::string id = hash.substr(0, 8);
    std::string key = R"({"id": ")" + id + R"(", "hash": ")" + hash + R"(", "label": "x"})";
    std::string good_pw =  // the legacy vector of password_test.cc, password "secret:pass"
        "PBKDF2-256$0f5e2a9c4b7d41e8a3c6b2d9e1f07a5c:1000$594bf76e49ac5019e077e40c0407b1e0b08293c3c727cf4e";
    auto with = [](const std::string& keys, const std::string& users) {
        return R"({"version": 1, "keys": [)" + keys + R"(], "users": [)" + users + "]}";
    };
    const std::string cases[] = {
        "",
        "not json",
        "[]",
        R"({"keys": [], "users": []})",
        R"({"version": 2, "keys": [], "users": []})",
        R"({"version": 1, "keys": {}, "users": []})",
        R"({"version": 1, "keys": []})",
        with("1", ""),
        with(R"({"id": "zz", "hash": ")" + hash + R"("})", ""),
        with(R"({"id": "00000000", "hash": ")" + hash + R"("})", ""),  // id does not match hash
        with(R"({"id": ")" + id + R"(", "hash": "abc"})", ""),
        with(key + "," + key, ""),  // duplicate id
        with(R"({"id": ")" + id + R"(", "hash": ")" + hash + R"(", "parent": "12345678"})", ""),
        with(R"({"id": ")" + id + R"(", "hash": ")" + hash + R"(", "permissions": {"admin": 1}})", ""),
        with(R"({"id": ")" + id + R"(", "hash": ")" + hash + R"(", "expires_at": "soon"})", ""),
        with("", R"({"username": "u", "password": "plain", "user_type": 1})"),
        with("", R"({"username": "", "password": ")" + good_pw + R"(", "user_type": 1})"),
        with("", R"({"username": "u", "password": ")" + good_pw + R"(", "user_type": 7})"),
        with("", R"({"username": "u", "password": ")" + good_pw + R"(", "user_type": 1, "extra": []})"),
        with("", R"({"username": "u", "password": ")" + good_pw +
                     R"(", "user_type": 1},)"
                     R"({"username": "u", "password": ")" +
                     good_pw + R"(", "user_type": 1})"),
    };
    for (const auto& text : cases) {
        spit(path(), text);
        auto r = Store::open(path());
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.error().code, EUCLEAN) << text;
        EXPECT_NE(r.error().context.find("auth.json"), std::string::npos) << r.error().context;
        EXPECT_EQ(slurp(path()), text) << "a corrupt file must never be reset";
    }
    // The same shapes, well formed, load.
    spit(path(),
         with(key, R"({"username": "u", "password": ")" + good_pw + R"(", "user_type": 1, "key": ")" + id + R"("})"));
    auto s = open_store();
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->find_key("0123456789abcdef0123456789abcdef"));
    EXPECT_TRUE(s->authenticate("u", "secret:pass"));
}

TEST_F(StoreTest, AStateFileThatIsADirectoryIsAnError) {
    ASSERT_EQ(::mkdir(path().c_str(), 0700), 0);
    auto r = Store::open(path());
    ASSERT_FALSE(r);
}

TEST_F(StoreTest, EmptyPathIsInvalid) {
    auto r = Store::open("");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
}

// ---- keys ----

// The daemon's store never waits on its event loop for another process's lock (the old
// code slept up to 500 ms in 1 ms steps): one try, then EBUSY, which answers 503.
TEST_F(StoreTest, ALockHeldElsewhereIsEbusyAtOnceWithoutWaiting) {
    Store::Options opts;
    opts.wait_for_lock = false;
    auto store = open_store(std::move(opts));
    ASSERT_TRUE(store);
    UniqueFd other(::open((path() + ".lock").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(other);
    ASSERT_EQ(::flock(other.get(), LOCK_EX | LOCK_NB), 0);
    auto t0 = std::chrono::steady_clock::now();
    auto key = store->create_key(manage({"a"}), "x", std::nullopt);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code, EBUSY);
    EXPECT_EQ(store->reload_if_changed().error().code, EBUSY);
    // Generous: not a timing goal, only "did not wait for the lock".
    EXPECT_LT(took, std::chrono::milliseconds(250));
    ASSERT_EQ(::flock(other.get(), LOCK_UN), 0);
    EXPECT_TRUE(store->create_key(manage({"a"}), "x", std::nullopt));
}

// Every method that reads or writes the file, not only create_key: each fails with EBUSY
// at once and changes nothing while another process holds the lock (a method that waited
// for it would hang here, the lock being held through another open file).
TEST_F(StoreTest, EveryChangeIsEbusyAtOnceWhileTheLockIsHeldElsewhere) {
    Store::Options opts;
    opts.wait_for_lock = false;
    auto s = open_store(std::move(opts));
    ASSERT_TRUE(s);
    auto k = s->create_key(manage({"a"}), "k", std::nullopt);
    ASSERT_TRUE(k);
    ASSERT_TRUE(s->create_user("u", "pw", 1, *k, nullptr));
    // A key of the file that has expired: pruning it means writing the file.
    auto sub = s->create_key(Permissions{}, "sub", *k);
    ASSERT_TRUE(sub);
    std::string text = slurp(path());
    size_t at = text.rfind("\"created_at\"");
    ASSERT_NE(at, std::string::npos);
    text.insert(at, "\"expires_at\":1700000010,");
    spit(path() + ".new", text);
    ASSERT_EQ(::rename((path() + ".new").c_str(), path().c_str()), 0);
    ASSERT_TRUE(s->reload_if_changed());
    now_ += seconds(10);
    text = slurp(path());
    uint64_t generation = s->generation();

    UniqueFd other(::open((path() + ".lock").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(other);
    ASSERT_EQ(::flock(other.get(), LOCK_EX | LOCK_NB), 0);
    auto busy = [](const auto& r) { return !r && r.error().code == EBUSY; };
    EXPECT_TRUE(busy(s->create_key(Permissions{}, "x", std::nullopt)));
    EXPECT_TRUE(busy(s->delete_key(*k)));
    EXPECT_TRUE(busy(s->create_user("v", "pw", 1, std::nullopt, nullptr)));
    EXPECT_TRUE(busy(s->delete_user("u")));
    EXPECT_TRUE(busy(s->set_password("u", "pw2")));
    EXPECT_TRUE(busy(s->set_user_key("u", *k)));
    EXPECT_TRUE(busy(s->mint_key_for_user("u", seconds(60))));
    EXPECT_TRUE(busy(s->create_admin("root", "pw")));
    EXPECT_TRUE(busy(s->prune_expired()));
    EXPECT_TRUE(busy(s->reload_if_changed()));
    EXPECT_EQ(s->generation(), generation);
    EXPECT_EQ(slurp(path()), text);
    EXPECT_TRUE(s->authenticate("u", "pw"));
    ASSERT_EQ(::flock(other.get(), LOCK_UN), 0);
    EXPECT_TRUE(s->prune_expired());
    EXPECT_EQ(s->keys().size(), 1u);
}

TEST_F(StoreTest, CreateAndFindKey) {
    auto s = open_store();
    Permissions p = manage({"web"});
    p.read = {"*"};
    auto secret = s->create_key(p, "deploy", std::nullopt);
    ASSERT_TRUE(secret) << secret.error().message();
    EXPECT_EQ(secret->size(), 32u);
    EXPECT_TRUE(is_hex(*secret));

    auto k = s->find_key(*secret);
    ASSERT_TRUE(k);
    Sha256 h = sha256(*secret);
    EXPECT_EQ(k->id, to_hex(h.data(), 4));
    EXPECT_EQ(k->label, "deploy");
    EXPECT_EQ(k->permissions, p);
    EXPECT_EQ(k->parent_id, "");
    EXPECT_FALSE(k->expires_at);
    EXPECT_EQ(k->created_at, 1'700'000'000);

    auto by_id = s->find_key_by_id(k->id);
    ASSERT_TRUE(by_id);
    EXPECT_EQ(by_id->label, "deploy");
    EXPECT_FALSE(s->find_key_by_id(*secret)) << "a secret is not an id";
    EXPECT_FALSE(s->find_key(k->id)) << "an id is not a secret";

    std::string other = *secret;
    other[0] = other[0] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(s->find_key(other));
    EXPECT_FALSE(s->find_key(""));

    json::JsonPtr j = k->to_json();
    EXPECT_STREQ(json_string_value(json_object_get(j.get(), "id")), k->id.c_str());
    EXPECT_EQ(json::dump(j.get()).find(*secret), std::string::npos);
}

TEST_F(StoreTest, KeyIdsAreUnique) {
    auto s = open_store();
    std::set<std::string> ids;
    for (int i = 0; i < 50; ++i) {
        auto secret = s->create_key(Permissions{}, "", std::nullopt);
        ASSERT_TRUE(secret);
        ids.insert(s->find_key(*secret)->id);
    }
    EXPECT_EQ(ids.size(), 50u);
    EXPECT_EQ(s->keys().size(), 50u);
}

TEST_F(StoreTest, FindKeyComparesInConstantTime) {
    auto s = open_store();
    auto secret = s->create_key(Permissions{}, "", std::nullopt);
    ASSERT_TRUE(secret);
    uint64_t before = constant_time_compares();
    EXPECT_TRUE(s->find_key(*secret));
    EXPECT_EQ(constant_time_compares(), before + 1);
}

TEST_F(StoreTest, LabelsAreValidated) {
    auto s = open_store();
    auto r = s->create_key(Permissions{}, std::string(Store::kMaxLabelBytes + 1, 'x'), std::nullopt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
    r = s->create_key(Permissions{}, "bad \xff utf8", std::nullopt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_TRUE(s->create_key(Permissions{}, "caf\xc3\xa9", std::nullopt));
}

TEST_F(StoreTest, SubKeysAndRecursiveDeletion) {
    auto s = open_store();
    auto a = s->create_key(manage({"*"}), "a", std::nullopt);
    ASSERT_TRUE(a);
    auto b = s->create_key(manage({"s"}), "b", *a);
    ASSERT_TRUE(b);
    auto c = s->create_key(manage({"s.j"}), "c", *b);
    ASSERT_TRUE(c);
    auto b2 = s->create_key(Permissions{}, "b2", *a);
    ASSERT_TRUE(b2);
    auto d = s->create_key(Permissions{}, "d", std::nullopt);
    ASSERT_TRUE(d);

    std::string a_id = s->find_key(*a)->id;
    std::string b_id = s->find_key(*b)->id;
    EXPECT_EQ(s->find_key(*b)->parent_id, a_id);
    EXPECT_EQ(s->find_key(*c)->parent_id, b_id);
    auto subs = s->sub_keys(a_id);
    ASSERT_EQ(subs.size(), 2u);
    EXPECT_EQ(subs[0].label, "b");
    EXPECT_EQ(subs[1].label, "b2");
    EXPECT_EQ(s->sub_keys(b_id).size(), 1u);

    auto bad_parent = s->create_key(Permissions{}, "x", std::string(32, '0'));
    ASSERT_FALSE(bad_parent);
    EXPECT_EQ(bad_parent.error().code, ENOENT);

    // Deleting by secret takes the whole subtree, and only it.
    ASSERT_TRUE(s->delete_key(*a));
    EXPECT_FALSE(s->find_key(*a));
    EXPECT_FALSE(s->find_key(*b));
    EXPECT_FALSE(s->find_key(*c));
    EXPECT_FALSE(s->find_key(*b2));
    EXPECT_TRUE(s->find_key(*d));
    ASSERT_EQ(s->keys().size(), 1u);

    // Deleting by id, and unknown keys.
    std::string d_id = s->find_key(*d)->id;
    ASSERT_TRUE(s->delete_key(d_id));
    EXPECT_TRUE(s->keys().empty());
    auto again = s->delete_key(d_id);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ENOENT);
    EXPECT_EQ(s->delete_key(*a).error().code, ENOENT);

    // It stays deleted.
    auto reopened = open_store();
    EXPECT_TRUE(reopened->keys().empty());
}

TEST_F(StoreTest, DeletingAMiddleKeyKeepsItsParent) {
    auto s = open_store();
    auto a = s->create_key(Permissions{}, "a", std::nullopt);
    auto b = s->create_key(Permissions{}, "b", *a);
    auto c = s->create_key(Permissions{}, "c", *b);
    ASSERT_TRUE(a && b && c);
    ASSERT_TRUE(s->delete_key(s->find_key(*b)->id));
    EXPECT_TRUE(s->find_key(*a));
    EXPECT_FALSE(s->find_key(*b));
    EXPECT_FALSE(s->find_key(*c));
}

// ---- expiry ----

TEST_F(StoreTest, ExpiredKeysAreGone) {
    auto s = open_store();
    ASSERT_TRUE(s->create_user("app", "pw", 1, std::nullopt, nullptr));
    auto minted = s->mint_key_for_user("app", seconds(60));
    ASSERT_TRUE(minted) << minted.error().message();
    auto k = s->find_key(*minted);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->expires_at, 1'700'000'060);
    std::string id = k->id;

    // A sub-key of an expiring key inherits its expiry.
    auto sub = s->create_key(Permissions{}, "sub", *minted);
    ASSERT_TRUE(sub);
    EXPECT_EQ(s->find_key(*sub)->expires_at, 1'700'000'060);

    now_ += seconds(59);
    EXPECT_TRUE(s->find_key(*minted));
    EXPECT_EQ(s->keys().size(), 2u);

    now_ += seconds(1);
    EXPECT_FALSE(s->find_key(*minted));
    EXPECT_FALSE(s->find_key(*sub));
    EXPECT_FALSE(s->find_key_by_id(id));
    EXPECT_TRUE(s->keys().empty());
    EXPECT_EQ(s->delete_key(id).error().code, ENOENT);
    EXPECT_EQ(s->create_key(Permissions{}, "x", *minted).error().code, ENOENT);

    // Minted keys (and their sub-keys) are never written; prune_expired() drops them from
    // memory and tells the listeners.
    EXPECT_EQ(slurp(path()).find(id), std::string::npos);
    EXPECT_EQ(s->next_expiry(), 1'700'000'060);
    int calls = 0;
    s->on_change([&] { ++calls; });
    uint64_t g = s->generation();
    ASSERT_TRUE(s->prune_expired());
    EXPECT_GT(s->generation(), g);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(s->next_expiry());
    ASSERT_TRUE(s->prune_expired());  // nothing left: no change
    EXPECT_EQ(calls, 1);
}

TEST_F(StoreTest, ExpiredKeysInTheFileArePruned) {
    std::string id;
    {
        auto s = open_store();
        auto k = s->create_key(Permissions{}, "k", std::nullopt);
        ASSERT_TRUE(k);
        id = s->find_key(*k)->id;
    }
    // A key with an expiry in the file (an older gafferd wrote minted keys there).
    std::string text = slurp(path());
    size_t at = text.find("\"created_at\"");
    ASSERT_NE(at, std::string::npos);
    text.insert(at, "\"expires_at\":1700000010,");
    spit(path(), text);
    auto s = open_store();
    ASSERT_TRUE(s->find_key_by_id(id));
    EXPECT_EQ(s->next_expiry(), 1'700'000'010);
    now_ += seconds(10);
    ASSERT_TRUE(s->prune_expired());
    EXPECT_EQ(slurp(path()).find(id), std::string::npos);
    EXPECT_TRUE(s->keys().empty());
}

// ---- users ----

TEST_F(StoreTest, CreateAndGetUsers) {
    auto s = open_store();
    auto key = s->create_key(manage({"web"}), "web key", std::nullopt);
    ASSERT_TRUE(key);
    auto extra = json::parse(R"({"email": "a@example.com", "password": "x", "key": "y", "username": "z"})");
    ASSERT_TRUE(extra);
    ASSERT_TRUE(s->create_user("alice", "pw1", 1, *key, std::move(*extra)));
    ASSERT_TRUE(s->create_user("bob", "pw2", 0, std::nullopt, nullptr));

    auto alice = s->get_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(alice->username, "alice");
    EXPECT_EQ(alice->user_type, 1);
    EXPECT_EQ(alice->key_id, s->find_key(*key)->id);
    ASSERT_TRUE(alice->extra);
    EXPECT_EQ(json::dump(alice->extra.get()), R"({"email":"a@example.com"})");

    json::JsonPtr j = alice->to_json();
    EXPECT_EQ(json::dump(j.get()),
              R"({"username":"alice","user_type":1,"key":")" + alice->key_id + R"(","email":"a@example.com"})");
    EXPECT_EQ(json::dump(s->get_user("bob")->to_json().get()), R"({"username":"bob","user_type":0,"key":null})");

    auto all = s->users();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].username, "alice");
    EXPECT_EQ(all[1].username, "bob");
    EXPECT_FALSE(s->get_user("carol"));
}

TEST_F(StoreTest, CreateUserErrors) {
    auto s = open_store();
    ASSERT_TRUE(s->create_user("alice", "pw", 1, std::nullopt, nullptr));
    auto code = [&](const std::string& u, const std::string& p, int type, std::optional<std::string> key,
                    const char* extra) {
        json::JsonPtr e;
        if (extra)
            e = json::parse(extra).value();
        auto r = s->create_user(u, p, type, std::move(key), std::move(e));
        return r ? 0 : r.error().code;
    };
    EXPECT_EQ(code("alice", "pw", 1, std::nullopt, nullptr), EEXIST);
    EXPECT_EQ(code("", "pw", 1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("carol", "", 1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("a:b", "pw", 1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("a/b", "pw", 1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("a\nb", "pw", 1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("\xff", "pw", 1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code(std::string(Store::kMaxUsernameBytes + 1, 'u'), "pw", 1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("carol", std::string(Store::kMaxPasswordBytes + 1, 'p'), 1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("carol", "pw", 2, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("carol", "pw", -1, std::nullopt, nullptr), EINVAL);
    EXPECT_EQ(code("carol", "pw", 1, std::nullopt, "[1]"), EINVAL);
    EXPECT_EQ(code("carol", "pw", 1, std::nullopt, "\"x\""), EINVAL);
    std::string big = R"({"x": ")" + std::string(Store::kMaxExtraBytes, 'x') + R"("})";
    EXPECT_EQ(code("carol", "pw", 1, std::nullopt, big.c_str()), EINVAL);
    EXPECT_EQ(code("carol", "pw", 1, std::string(32, 'f'), nullptr), ENOENT);
    EXPECT_EQ(s->users().size(), 1u);
    EXPECT_EQ(code("carol", "pw", 1, std::nullopt, "null"), 0);
    EXPECT_EQ(code("dave", "pass:with:colons", 0, std::nullopt, "{}"), 0);
}

TEST_F(StoreTest, Authenticate) {
    auto s = open_store();
    ASSERT_TRUE(s->create_user("alice", "pa:ss word", 1, std::nullopt, nullptr));
    uint64_t before = constant_time_compares();
    auto u = s->authenticate("alice", "pa:ss word");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->username, "alice");
    EXPECT_FALSE(s->authenticate("alice", "pa:ss"));
    EXPECT_FALSE(s->authenticate("alice", ""));
    EXPECT_FALSE(s->authenticate("nobody", "pa:ss word"));
    // Every check, unknown user included, went through the constant-time compare.
    EXPECT_EQ(constant_time_compares(), before + 4);
}

TEST_F(StoreTest, SetPasswordAndKey) {
    auto s = open_store();
    ASSERT_TRUE(s->create_user("alice", "old", 1, std::nullopt, nullptr));
    ASSERT_TRUE(s->set_password("alice", "new"));
    EXPECT_FALSE(s->authenticate("alice", "old"));
    EXPECT_TRUE(s->authenticate("alice", "new"));
    EXPECT_EQ(s->set_password("nobody", "x").error().code, ENOENT);
    EXPECT_EQ(s->set_password("alice", "").error().code, EINVAL);

    auto key = s->create_key(manage({"s"}), "k", std::nullopt);
    ASSERT_TRUE(key);
    ASSERT_TRUE(s->set_user_key("alice", *key));
    EXPECT_EQ(s->get_user("alice")->key_id, s->find_key(*key)->id);
    EXPECT_EQ(s->set_user_key("nobody", *key).error().code, ENOENT);
    EXPECT_EQ(s->set_user_key("alice", std::string(32, '0')).error().code, ENOENT);
    EXPECT_EQ(s->set_user_key("alice", s->find_key(*key)->id).error().code, ENOENT)
        << "binding takes the secret, not the id";

    auto owner = s->user_for_key(*s->find_key(*key));
    ASSERT_TRUE(owner);
    EXPECT_EQ(owner->username, "alice");

    auto reopened = open_store();
    EXPECT_TRUE(reopened->authenticate("alice", "new"));
    EXPECT_EQ(reopened->get_user("alice")->key_id, s->find_key(*key)->id);
}

TEST_F(StoreTest, DeleteUserRevokesItsMintedKeysOnly) {
    auto s = open_store();
    auto key = s->create_key(manage({"s"}), "shared", std::nullopt);
    ASSERT_TRUE(key);
    ASSERT_TRUE(s->create_user("alice", "pw", 1, *key, nullptr));
    auto minted = s->mint_key_for_user("alice", seconds(3600));
    ASSERT_TRUE(minted);
    ASSERT_TRUE(s->delete_user("alice"));
    EXPECT_FALSE(s->get_user("alice"));
    EXPECT_FALSE(s->find_key(*minted));
    EXPECT_TRUE(s->find_key(*key));
    EXPECT_EQ(s->delete_user("alice").error().code, ENOENT);
}

TEST_F(StoreTest, MintKeyForUser) {
    auto s = open_store();
    Permissions web = manage({"web"});
    web.create_key = true;
    auto key = s->create_key(web, "web key", std::nullopt);
    ASSERT_TRUE(key);
    ASSERT_TRUE(s->create_user("app", "pw", 1, *key, nullptr));
    ASSERT_TRUE(s->create_user("root", "pw", 0, std::nullopt, nullptr));
    ASSERT_TRUE(s->create_user("plain", "pw", 1, std::nullopt, nullptr));

    auto m = s->mint_key_for_user("app", seconds(43200));
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_NE(*m, *key);
    auto k = s->find_key(*m);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->permissions, web);
    EXPECT_EQ(k->label, "auth app");
    EXPECT_EQ(k->owner, "app");
    EXPECT_EQ(k->parent_id, s->find_key(*key)->id);
    EXPECT_EQ(k->expires_at, 1'700'000'000 + 43200);
    EXPECT_EQ(s->user_for_key(*k)->username, "app");

    auto r = s->find_key(*s->mint_key_for_user("root", seconds(60)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->permissions, admin_perms());
    EXPECT_EQ(r->parent_id, "");

    auto p = s->find_key(*s->mint_key_for_user("plain", seconds(60)));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->permissions, Permissions{});
    EXPECT_EQ(s->user_for_key(*p)->username, "plain");

    EXPECT_EQ(s->mint_key_for_user("nobody", seconds(60)).error().code, ENOENT);
    EXPECT_EQ(s->mint_key_for_user("app", seconds(0)).error().code, EINVAL);

    // Deleting the user's key revokes what was minted from it, and minting fails.
    ASSERT_TRUE(s->delete_key(*key));
    EXPECT_FALSE(s->find_key(*m));
    auto gone = s->mint_key_for_user("app", seconds(60));
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, ENOENT);
}

TEST_F(StoreTest, MintedKeyNeverOutlivesTheUsersKey) {
    auto s = open_store();
    ASSERT_TRUE(s->create_user("app", "pw", 1, std::nullopt, nullptr));
    auto short_key = s->mint_key_for_user("app", seconds(100));
    ASSERT_TRUE(short_key);
    ASSERT_TRUE(s->set_user_key("app", *short_key));
    auto m = s->mint_key_for_user("app", seconds(1000));
    ASSERT_TRUE(m);
    EXPECT_EQ(s->find_key(*m)->expires_at, 1'700'000'100);
}

// ---- admin bootstrap ----

TEST_F(StoreTest, CreateAdminAndListAdmins) {
    auto s = open_store();
    auto secret = s->create_admin("root", "hunter2");
    ASSERT_TRUE(secret) << secret.error().message();
    auto k = s->find_key(*secret);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->permissions, admin_perms());
    EXPECT_EQ(k->label, "admin key");
    auto u = s->get_user("root");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->user_type, 0);
    EXPECT_EQ(u->key_id, k->id);
    EXPECT_TRUE(s->authenticate("root", "hunter2"));

    ASSERT_TRUE(s->create_user("app", "pw", 1, std::nullopt, nullptr));
    ASSERT_TRUE(s->create_user("ops", "pw", 0, std::nullopt, nullptr));
    auto admins = s->admins();
    ASSERT_EQ(admins.size(), 2u);
    EXPECT_EQ(admins[0], std::make_pair(std::string("root"), k->id));
    EXPECT_EQ(admins[1], std::make_pair(std::string("ops"), std::string()));

    size_t keys_before = s->keys().size();
    auto dup = s->create_admin("root", "x");
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, EEXIST);
    EXPECT_EQ(s->keys().size(), keys_before) << "a failed create_admin creates no key";
    EXPECT_EQ(s->create_admin("", "x").error().code, EINVAL);
    EXPECT_EQ(s->create_admin("x", "").error().code, EINVAL);
}

// ---- persistence ----

TEST_F(StoreTest, PersistenceRoundTrip) {
    std::string admin, sub, plain;
    {
        auto s = open_store();
        admin = *s->create_admin("root", "rootpw");
        Permissions p = manage({"a", "b.c"});
        p.write = {"w"};
        p.read = {"*"};
        p.create_user = true;
        sub = *s->create_key(p, "sub \xc3\xa9", admin);
        plain = *s->create_key(Permissions{}, "", std::nullopt);
        auto extra = json::parse(R"({"team": "ops", "n": [1, 2]})");
        ASSERT_TRUE(s->create_user("app", "apppw", 1, sub, std::move(*extra)));
        ASSERT_TRUE(s->mint_key_for_user("app", seconds(600)));
    }
    // The minted key lived in memory only: it ended with that store.
    auto s = open_store();
    ASSERT_EQ(s->keys().size(), 3u);
    auto a = s->find_key(admin);
    auto b = s->find_key(sub);
    auto c = s->find_key(plain);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(a->permissions, admin_perms());
    EXPECT_EQ(b->label, "sub \xc3\xa9");
    EXPECT_EQ(b->parent_id, a->id);
    EXPECT_EQ(b->permissions.manage, (std::vector<std::string>{"a", "b.c"}));
    EXPECT_EQ(b->permissions.write, (std::vector<std::string>{"w"}));
    EXPECT_EQ(b->permissions.read, (std::vector<std::string>{"*"}));
    EXPECT_TRUE(b->permissions.create_user);

    auto app = s->authenticate("app", "apppw");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->key_id, b->id);
    EXPECT_EQ(json::dump(app->extra.get()), R"({"team":"ops","n":[1,2]})");
    EXPECT_TRUE(s->authenticate("root", "rootpw"));
    EXPECT_EQ(s->admins().size(), 1u);
}

TEST_F(StoreTest, TheFileHoldsNoSecretOrPassword) {
    auto s = open_store();
    std::string admin = *s->create_admin("root", "PasswordOne");
    std::string key = *s->create_key(Permissions{}, "k", std::nullopt);
    ASSERT_TRUE(s->create_user("app", "PasswordTwo", 1, key, nullptr));
    std::string minted = *s->mint_key_for_user("app", seconds(60));
    std::string text = slurp(path());
    for (const auto& secret : {admin, key, minted, std::string("PasswordOne"), std::string("PasswordTwo")}) {
        EXPECT_EQ(text.find(secret), std::string::npos) << secret;
    }
    // Only the digests are there.
    Sha256 h = sha256(key);
    EXPECT_NE(text.find(to_hex(h.data(), h.size())), std::string::npos);
    EXPECT_NE(text.find("PBKDF2-SHA256$"), std::string::npos);
}

TEST_F(StoreTest, LimitsAreEnforcedAtomically) {
    Store::Options opts;
    opts.max_keys = 2;
    opts.max_users = 1;
    auto s = open_store(std::move(opts));
    ASSERT_TRUE(s->create_key(Permissions{}, "1", std::nullopt));
    ASSERT_TRUE(s->create_key(Permissions{}, "2", std::nullopt));
    std::string before = slurp(path());
    auto r = s->create_key(Permissions{}, "3", std::nullopt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOSPC);
    EXPECT_EQ(s->keys().size(), 2u);
    EXPECT_EQ(slurp(path()), before);

    ASSERT_TRUE(s->create_user("u1", "pw", 1, std::nullopt, nullptr));
    EXPECT_EQ(s->create_user("u2", "pw", 1, std::nullopt, nullptr).error().code, ENOSPC);
    // create_admin needs a key and a user: neither is left behind when one fails.
    EXPECT_EQ(s->create_admin("u3", "pw").error().code, ENOSPC);
    EXPECT_EQ(s->keys().size(), 2u);
    EXPECT_EQ(s->users().size(), 1u);

    // Deleting makes room again.
    ASSERT_TRUE(s->delete_key(s->keys()[0].id));
    EXPECT_TRUE(s->create_key(Permissions{}, "3", std::nullopt));
}

TEST_F(StoreTest, ExpiredKeysDoNotCountAgainstTheLimit) {
    Store::Options opts;
    opts.max_keys = 1;
    auto s = open_store(std::move(opts));
    ASSERT_TRUE(s->create_user("app", "pw", 1, std::nullopt, nullptr));
    ASSERT_TRUE(s->mint_key_for_user("app", seconds(10)));
    EXPECT_EQ(s->mint_key_for_user("app", seconds(10)).error().code, ENOSPC);
    now_ += seconds(10);
    EXPECT_TRUE(s->mint_key_for_user("app", seconds(10)));
}

TEST_F(StoreTest, TwoStoresOnOneFileLoseNoChange) {
    auto a = open_store();
    auto b = open_store();
    auto ka = a->create_key(Permissions{}, "from a", std::nullopt);
    ASSERT_TRUE(ka);
    // b has not seen a's key, but its change starts by rereading the file.
    auto kb = b->create_key(Permissions{}, "from b", std::nullopt);
    ASSERT_TRUE(kb);
    EXPECT_TRUE(b->find_key(*ka));
    EXPECT_FALSE(a->find_key(*kb));
    ASSERT_TRUE(a->reload_if_changed());
    EXPECT_TRUE(a->find_key(*kb));
    EXPECT_EQ(a->keys().size(), 2u);
    EXPECT_EQ(open_store()->keys().size(), 2u);
}

TEST_F(StoreTest, ReloadOfACorruptFileFailsAndKeepsTheState) {
    auto s = open_store();
    auto k = s->create_key(Permissions{}, "k", std::nullopt);
    ASSERT_TRUE(k);
    spit(path() + ".new", "{broken");
    ASSERT_EQ(::rename((path() + ".new").c_str(), path().c_str()), 0);
    auto r = s->reload_if_changed();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EUCLEAN);
    EXPECT_TRUE(s->find_key(*k));
    EXPECT_EQ(s->create_key(Permissions{}, "x", std::nullopt).error().code, EUCLEAN)
        << "a change never overwrites a corrupt file";
    EXPECT_EQ(slurp(path()), "{broken");
}

// ---- issue 11: minted keys, rights of users, change notification ----

// Attack: 2,000 GET /auth grew the state file to 600 KB, one full rewrite + fsync each.
TEST_F(StoreTest, MintingNeverWritesTheFileAndIsCappedPerUser) {
    auto s = open_store();
    ASSERT_TRUE(s->create_user("app", "pw", 1, std::nullopt, nullptr));
    std::string before = slurp(path());
    std::vector<std::string> minted;
    for (int i = 0; i < 200; ++i) {
        auto m = s->mint_key_for_user("app", seconds(3600));
        ASSERT_TRUE(m) << m.error().message();
        minted.push_back(*m);
    }
    EXPECT_EQ(slurp(path()), before);
    EXPECT_EQ(s->keys().size(), Store::kMaxMintedPerUser);
    // The oldest went first.
    EXPECT_FALSE(s->find_key(minted[200 - Store::kMaxMintedPerUser - 1]));
    EXPECT_TRUE(s->find_key(minted[200 - Store::kMaxMintedPerUser]));
    EXPECT_TRUE(s->find_key(minted.back()));
    EXPECT_FALSE(s->find_key(minted.back())->persistent);
    // A sub-key of a minted key is memory-only too, and a change does not write either.
    auto sub = s->create_key(Permissions{}, "sub", minted.back());
    ASSERT_TRUE(sub);
    EXPECT_FALSE(s->find_key(*sub)->persistent);
    std::string after = slurp(path());
    EXPECT_EQ(after.find(s->find_key(*sub)->id), std::string::npos);
    EXPECT_EQ(after.find(s->find_key(minted.back())->id), std::string::npos);
    // Another user's cap is its own.
    ASSERT_TRUE(s->create_user("other", "pw", 1, std::nullopt, nullptr));
    ASSERT_TRUE(s->mint_key_for_user("other", seconds(3600)));
    EXPECT_TRUE(s->find_key(minted.back()));
}

TEST_F(StoreTest, AReloadKeepsMemoryOnlyKeys) {
    auto a = open_store();
    auto b = open_store();
    ASSERT_TRUE(a->create_user("app", "pw", 1, std::nullopt, nullptr));
    ASSERT_TRUE(a->create_user("gone", "pw", 1, std::nullopt, nullptr));
    auto m = a->mint_key_for_user("app", seconds(60));
    auto g = a->mint_key_for_user("gone", seconds(60));
    ASSERT_TRUE(m && g);
    // Another process changes the file: a's minted key survives a's reload, except the one
    // whose user that process deleted.
    ASSERT_TRUE(b->reload_if_changed());
    ASSERT_TRUE(b->delete_user("gone"));
    ASSERT_TRUE(b->create_key(Permissions{}, "from b", std::nullopt));
    ASSERT_TRUE(a->reload_if_changed());
    EXPECT_TRUE(a->find_key(*m));
    EXPECT_FALSE(a->find_key(*g));
    EXPECT_EQ(a->keys().size(), 2u);
    EXPECT_FALSE(b->find_key(*m));
}

TEST_F(StoreTest, UserPermissions) {
    auto s = open_store();
    std::string admin = *s->create_admin("root", "pw");
    auto ro = s->create_key(manage({"app"}), "ro", std::nullopt);
    ASSERT_TRUE(ro);
    ASSERT_TRUE(s->create_user("app", "pw", 1, *ro, nullptr));
    ASSERT_TRUE(s->create_user("boss", "pw", 0, std::nullopt, nullptr));
    ASSERT_TRUE(s->create_user("nokey", "pw", 1, std::nullopt, nullptr));
    EXPECT_EQ(s->user_permissions("root"), admin_perms());
    EXPECT_EQ(s->user_permissions("boss"), admin_perms());  // type 0 without a key
    EXPECT_EQ(s->user_permissions("app"), manage({"app"}));
    EXPECT_EQ(s->user_permissions("nokey"), Permissions{});
    EXPECT_EQ(s->user_permissions("nobody"), Permissions{});
    ASSERT_TRUE(s->delete_key(*ro));
    EXPECT_EQ(s->user_permissions("app"), Permissions{});  // its key is gone: nothing
}

TEST_F(StoreTest, BindingAnotherKeyRevokesTheMintedKeys) {
    auto s = open_store();
    ASSERT_TRUE(s->create_user("boss", "pw", 0, std::nullopt, nullptr));
    auto m = s->mint_key_for_user("boss", seconds(60));
    ASSERT_TRUE(m);
    EXPECT_TRUE(s->find_key(*m)->permissions.admin);
    auto low = s->create_key(Permissions{}, "low", std::nullopt);
    ASSERT_TRUE(s->set_user_key("boss", *low));
    EXPECT_FALSE(s->find_key(*m));
}

TEST_F(StoreTest, ChangeCallbacks) {
    auto s = open_store();
    std::vector<std::string> seen;
    Store::ChangeId self = 0;
    auto first = s->on_change([&] { seen.push_back("first"); });
    self = s->on_change([&] {
        seen.push_back("once");
        s->cancel_on_change(self);
    });
    uint64_t g = s->generation();
    auto k = s->create_key(Permissions{}, "k", std::nullopt);
    ASSERT_TRUE(k);
    EXPECT_EQ(s->generation(), g + 1);
    EXPECT_EQ(seen, (std::vector<std::string>{"first", "once"}));
    // A failed change changes nothing and calls nobody.
    EXPECT_FALSE(s->delete_key("0123456789abcdef0123456789abcdef"));
    EXPECT_EQ(seen.size(), 2u);
    ASSERT_TRUE(s->delete_key(*k));
    EXPECT_EQ(seen.size(), 3u);
    s->cancel_on_change(first);
    ASSERT_TRUE(s->create_key(Permissions{}, "k2", std::nullopt));
    EXPECT_EQ(seen.size(), 3u);
    // Another process's change, picked up by a reload, is a change too.
    int calls = 0;
    s->on_change([&] { ++calls; });
    ASSERT_TRUE(open_store()->create_key(Permissions{}, "other", std::nullopt));
    ASSERT_TRUE(s->reload_if_changed());
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE(s->reload_if_changed());
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace gaffer::auth
