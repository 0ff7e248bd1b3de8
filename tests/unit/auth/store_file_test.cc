// SPDX-License-Identifier: MIT
// Tests of lib/auth/store_file: the pure codec (round trip, corrupt texts with their
// reasons) and StateFile (lock, read, atomic write) in a temp dir.
#include "lib/auth/store_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lib/auth/crypto.h"
#include "lib/base/unique_fd.h"

namespace gaffer::auth {
namespace {

// The legacy vector of password_test.cc (password "secret:pass").
const std::string kGoodHash =
    "PBKDF2-256$0f5e2a9c4b7d41e8a3c6b2d9e1f07a5c:1000$594bf76e49ac5019e077e40c0407b1e0b08293c3c727cf4e";

KeyRec key_for(const std::string& secret) {
    KeyRec k;
    k.hash = sha256(secret);
    k.id = key_id_of(k.hash);
    return k;
}

// A state with every field used: a parent and a sub-key with expiry and owner, a
// memory-only key, and two users (one bound, with extra members).
StoreState sample() {
    StoreState s;
    KeyRec root = key_for("0123456789abcdef0123456789abcdef");
    root.label = "root ✓";
    root.permissions.admin = true;
    root.created_at = 1'700'000'000;
    std::string root_id = root.id;
    s.add(seal(std::move(root)));
    KeyRec sub = key_for("fedcba9876543210fedcba9876543210");
    sub.parent_id = root_id;
    sub.permissions.manage = {"web", "db"};
    sub.permissions.uids = {"1000", "www-data"};
    sub.expires_at = 1'800'000'000;
    sub.owner = "alice";
    s.add(seal(std::move(sub)));
    KeyRec minted = key_for("00000000000000000000000000000000");
    minted.persistent = false;
    s.add(seal(std::move(minted)));
    UserRec alice{"alice", kGoodHash, 0, root_id, nullptr, ""};
    alice.extra = json::take(json_object());
    json::set(alice.extra.get(), "email", json::str("a@example.org"));
    s.add(seal(std::move(alice)));
    s.add(seal(UserRec{"app", kGoodHash, 1, "", nullptr, ""}));
    return s;
}

TEST(StoreFile, SerializeThenParseGivesTheSameState) {
    StoreState s = sample();
    std::string text = serialize_state(s);
    auto parsed = parse_state(text);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(serialize_state(*parsed), text);
    // The memory-only key is not in the file; everything else is, field by field.
    ASSERT_EQ(parsed->keys.size(), 2u);
    EXPECT_EQ(text.find(key_for("00000000000000000000000000000000").id), std::string::npos);
    const KeyRec& sub = *parsed->keys[1];
    EXPECT_EQ(sub.parent_id, s.keys[0]->id);
    EXPECT_EQ(sub.expires_at, 1'800'000'000);
    EXPECT_EQ(sub.owner, "alice");
    EXPECT_EQ(sub.permissions.manage, (std::vector<std::string>{"web", "db"}));
    EXPECT_EQ(parsed->keys[0]->label, "root ✓");
    EXPECT_TRUE(parsed->keys[0]->permissions.admin);
    EXPECT_EQ(parsed->keys[0]->hash, s.keys[0]->hash);
    ASSERT_EQ(parsed->users.size(), 2u);
    EXPECT_EQ(parsed->user("alice")->key_id, s.keys[0]->id);
    EXPECT_EQ(parsed->user("alice")->user_type, 0);
    EXPECT_STREQ(json_string_value(json_object_get(parsed->user("alice")->extra.get(), "email")), "a@example.org");
    EXPECT_EQ(parsed->user("app")->password_hash, kGoodHash);
}

TEST(StoreFile, TheEmptyStateRoundTrips) {
    std::string text = serialize_state(StoreState{});
    auto parsed = parse_state(text);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->keys.empty());
    EXPECT_TRUE(parsed->users.empty());
    EXPECT_EQ(serialize_state(*parsed), text);
}

TEST(StoreFile, CorruptTextsFailWithTheFault) {
    StoreState s = sample();
    const std::string& key0 = s.keys[0]->json;
    const std::string& key1 = s.keys[1]->json;
    const std::string& user0 = s.users[0]->json;
    auto with = [](const std::string& keys, const std::string& users) {
        return R"({"version": 1, "keys": [)" + keys + R"(], "users": [)" + users + "]}";
    };
    struct Case {
        std::string text;
        std::string reason;  // a part of the error's context
    };
    const Case cases[] = {
        {"", ""},
        {"{", ""},
        {"[]", "not a JSON object"},
        {R"({"version": 2, "keys": [], "users": []})", "\"version\" must be 1"},
        {R"({"version": 1, "keys": {}, "users": []})", "\"keys\" must be an array"},
        {R"({"version": 1, "keys": []})", "\"users\" must be an array"},
        {with("7", ""), "keys[0] is not an object"},
        {with(key1, ""), "keys[0].parent must name an earlier key"},  // sub-key before its parent
        {with(key0 + "," + key0, ""), "keys[1].id is a duplicate"},
        {with(R"({"id": "0000000g", "hash": "00"})", ""), "keys[0].id must be 8 lowercase hex digits"},
        {with(R"({"id": "00000000", "hash": ")" + std::string(64, 'A') + R"("})", ""),
         "keys[0].hash must be 64 lowercase hex digits"},
        {with(R"({"id": "00000000", "hash": ")" + std::string(64, 'a') + R"("})", ""),
         "keys[0].id does not match its hash"},
        {with(key0, R"({"username": "a:b", "password": ")" + kGoodHash + R"(", "user_type": 1})"),
         "users[0].username: username must not contain ':' or '/'"},
        {with(key0, R"({"username": "u", "password": "plain", "user_type": 1})"),
         "users[0].password must be a PBKDF2 hash"},
        {with(key0, R"({"username": "u", "password": ")" + kGoodHash + R"(", "user_type": 2})"),
         "users[0].user_type must be 0 or 1"},
        {with(key0, R"({"username": "u", "password": ")" + kGoodHash + R"(", "user_type": 1, "extra": 3})"),
         "users[0].extra: extra user members must form a JSON object"},
        {with(key0, user0 + "," + user0), "users[1].username is a duplicate"},
    };
    for (const auto& c : cases) {
        auto r = parse_state(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code, EINVAL) << c.text;
        EXPECT_NE(r.error().context.find(c.reason), std::string::npos) << r.error().context;
    }
    EXPECT_EQ(parse_state(std::string(kMaxStateBytes + 1, ' ')).error().code, EFBIG);
}

// ---- StateFile ----

class StateFileTest : public ::testing::Test {
protected:
    StateFileTest() {
        std::string tmpl = ::testing::TempDir() + "gaffer-store-file-XXXXXX";
        EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    ~StateFileTest() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    std::string path() const { return dir_ + "/sub/auth.json"; }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(dir_ + "/sub")) out.push_back(e.path().filename());
        std::sort(out.begin(), out.end());
        return out;
    }

    std::string dir_;
};

TEST_F(StateFileTest, WriteThenReadIsTheSameStateMode0600) {
    auto f = StateFile::open(path());
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ(f->read().error().code, ENOENT);
    auto st = f->stat();
    ASSERT_TRUE(st);
    EXPECT_FALSE(*st);
    auto sig = f->write(sample());
    ASSERT_TRUE(sig) << sig.error().message();
    auto loaded = f->read();
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->sig, *sig);
    EXPECT_EQ(**f->stat(), *sig);
    EXPECT_EQ(serialize_state(loaded->state), serialize_state(sample()));
    struct stat s;
    ASSERT_EQ(::stat(path().c_str(), &s), 0);
    EXPECT_EQ(s.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat((dir_ + "/sub").c_str(), &s), 0);
    EXPECT_EQ(s.st_mode & 07777, 0700u);
    EXPECT_EQ(names(), (std::vector<std::string>{"auth.json", "auth.json.lock"}));
}

TEST_F(StateFileTest, ACorruptFileIsEucleanNamingItAndIsLeftAlone) {
    auto f = StateFile::open(path());
    ASSERT_TRUE(f);
    const std::string text = R"({"version": 1, "keys": [], "users": [{"username": ""}]})";
    {
        UniqueFd fd(::open(path().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        ASSERT_TRUE(fd);
        ASSERT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
    }
    auto r = f->read();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EUCLEAN);
    EXPECT_NE(r.error().context.find(path()), std::string::npos) << r.error().context;
    EXPECT_NE(r.error().context.find("users[0].username"), std::string::npos) << r.error().context;
    EXPECT_EQ(*read_file(path()), text);
}

TEST_F(StateFileTest, AFailedWriteLeavesNoTemporaryFile) {
    auto f = StateFile::open(path());
    ASSERT_TRUE(f);
    // A non-empty directory where the file should be: the rename fails.
    ASSERT_EQ(::mkdir(path().c_str(), 0700), 0);
    ASSERT_EQ(::mkdir((path() + "/x").c_str(), 0700), 0);
    auto sig = f->write(sample());
    ASSERT_FALSE(sig);
    EXPECT_EQ(names(), (std::vector<std::string>{"auth.json", "auth.json.lock"}));
}

TEST_F(StateFileTest, TheLockIsEbusyAtOnceWhenHeldElsewhere) {
    auto f = StateFile::open(path());
    ASSERT_TRUE(f);
    UniqueFd other(::open((path() + ".lock").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(other);
    {
        auto held = f->lock(false);
        ASSERT_TRUE(held);
        // flock locks belong to the open file description: another one is refused.
        EXPECT_NE(::flock(other.get(), LOCK_EX | LOCK_NB), 0);
    }
    // Released with the Lock.
    ASSERT_EQ(::flock(other.get(), LOCK_EX | LOCK_NB), 0);
    auto busy = f->lock(false);
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, EBUSY);
    ASSERT_EQ(::flock(other.get(), LOCK_UN), 0);
    EXPECT_TRUE(f->lock(false));
}

TEST_F(StateFileTest, AnEmptyPathIsEinval) {
    auto f = StateFile::open("");
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code, EINVAL);
}

}  // namespace
}  // namespace gaffer::auth
