// SPDX-License-Identifier: MIT
// The key and user store: validation, the state file codec, atomic persistence and the
// cross-process lock. See store.h for the invariants.
#include "lib/auth/store.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include "lib/auth/password.h"
#include "lib/base/log.h"
#include "lib/base/utf8.h"

namespace gaffer::auth {

namespace {

constexpr int kStateVersion = 1;
constexpr size_t kIdHexDigits = 8;
constexpr size_t kSecretBytes = 16;  // 32 hex characters, as in the original
constexpr int kKeyDrawAttempts = 16;

// ---- input validation ----

bool valid_utf8(std::string_view s) {
    return gaffer::sanitize_utf8(s) == s;
}

Status check_username(std::string_view name) {
    if (name.empty())
        return fail(EINVAL, "username must not be empty");
    if (name.size() > Store::kMaxUsernameBytes) {
        return fail(Error::make(EINVAL, "username is longer than %zu bytes", Store::kMaxUsernameBytes));
    }
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            return fail(EINVAL, "username must not contain control characters");
        if (c == ':' || c == '/')
            return fail(EINVAL, "username must not contain ':' or '/'");
    }
    if (!valid_utf8(name))
        return fail(EINVAL, "username is not valid UTF-8");
    return ok();
}

Status check_password(std::string_view password) {
    if (password.empty())
        return fail(EINVAL, "password must not be empty");
    if (password.size() > Store::kMaxPasswordBytes) {
        return fail(Error::make(EINVAL, "password is longer than %zu bytes", Store::kMaxPasswordBytes));
    }
    return ok();
}

Status check_label(std::string_view label) {
    if (label.size() > Store::kMaxLabelBytes) {
        return fail(Error::make(EINVAL, "label is longer than %zu bytes", Store::kMaxLabelBytes));
    }
    if (label.find('\0') != std::string_view::npos)
        return fail(EINVAL, "label contains a NUL byte");
    if (!valid_utf8(label))
        return fail(EINVAL, "label is not valid UTF-8");
    return ok();
}

Status check_user_type(int user_type) {
    if (user_type != 0 && user_type != 1)
        return fail(EINVAL, "user_type must be 0 or 1");
    return ok();
}

// A private, immutable copy of a user's extra members (see Store::create_user).
Result<json::JsonPtr> copy_extra(const json_t* extra) {
    json::JsonPtr copy;
    if (!extra || json_is_null(extra)) {
        copy.reset(json_object());
    } else if (!json_is_object(extra)) {
        return fail(EINVAL, "extra user members must form a JSON object");
    } else {
        copy.reset(json_deep_copy(extra));
        if (!copy)
            return fail(ENOMEM, "copy extra user members");
    }
    for (const char* reserved : {"username", "password", "user_type", "key"}) {
        (void)json_object_del(copy.get(), reserved);
    }
    if (json::dump(copy.get()).size() > Store::kMaxExtraBytes) {
        return fail(Error::make(EINVAL, "extra user members are larger than %zu bytes", Store::kMaxExtraBytes));
    }
    return copy;
}

std::string json_text(const json_t* s) {
    return std::string(json_string_value(s), json_string_length(s));
}

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string id_of(const Sha256& hash) {
    return to_hex(hash.data(), kIdHexDigits / 2);
}

// ---- the state file lock ----

// Holds an flock on the lock file for one change; releases it on destruction.
class FileLock {
public:
    explicit FileLock(int fd) : fd_(fd) {}
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock() {
        if (held_)
            (void)::flock(fd_, LOCK_UN);
    }

    // `wait`: block until the lock is free (another writer holds it only to write);
    // else one try, EBUSY when another process holds it.
    Status acquire(const std::string& path, bool wait) {
        while (::flock(fd_, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
            if (errno == EINTR)
                continue;
            if (errno == EWOULDBLOCK)
                return fail(Error::make(EBUSY, "state file '%s' is locked by another process", path.c_str()));
            return fail(Error::from_errno("flock '%s'", path.c_str()));
        }
        held_ = true;
        return ok();
    }

private:
    int fd_;
    bool held_ = false;
};

// Creates the missing directories of `dir`, each 0700 (existing ones are left alone).
Status make_dirs(const std::string& dir) {
    if (dir.empty())
        return ok();
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/')
            continue;
        std::string prefix = dir.substr(0, pos);
        struct stat st;
        if (::stat(prefix.c_str(), &st) == 0)
            continue;
        if (::mkdir(prefix.c_str(), 0700) < 0 && errno != EEXIST) {
            return fail(Error::from_errno("mkdir '%s'", prefix.c_str()));
        }
    }
    struct stat st;
    if (::stat(dir.c_str(), &st) < 0)
        return fail(Error::from_errno("stat '%s'", dir.c_str()));
    if (!S_ISDIR(st.st_mode))
        return fail(Error::make(ENOTDIR, "'%s' is not a directory", dir.c_str()));
    return ok();
}

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return path.substr(0, slash);
}

Status write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(Error::from_errno("write '%s'", path.c_str()));
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
}

}  // namespace

// ---- value types ----

json::JsonPtr KeyInfo::to_json() const {
    json::JsonPtr o(json_object());
    json::set(o.get(), "id", json::str(id));
    json::set(o.get(), "label", json::str(label));
    json::set(o.get(), "permissions", permissions.to_json());
    if (!parent_id.empty())
        json::set(o.get(), "parent", json::str(parent_id));
    if (expires_at)
        json::set(o.get(), "expires_at", json::JsonPtr(json_integer(*expires_at)));
    if (!owner.empty())
        json::set(o.get(), "owner", json::str(owner));
    json::set(o.get(), "created_at", json::JsonPtr(json_integer(created_at)));
    return o;
}

json::JsonPtr User::to_json() const {
    json::JsonPtr o(json_object());
    json::set(o.get(), "username", json::str(username));
    json::set(o.get(), "user_type", json::JsonPtr(json_integer(user_type)));
    json::set(o.get(), "key", key_id.empty() ? json::JsonPtr(json_null()) : json::str(key_id));
    if (extra && json_is_object(extra.get())) {
        // Members already set win; "password" is never emitted, whatever extra holds.
        (void)json_object_update_missing(o.get(), extra.get());
        (void)json_object_del(o.get(), "password");
    }
    return o;
}

// ---- State ----

void Store::State::reindex() {
    key_index.clear();
    user_index.clear();
    key_index.reserve(keys.size());
    user_index.reserve(users.size());
    for (size_t i = 0; i < keys.size(); ++i) key_index.emplace(keys[i]->id, i);
    for (size_t i = 0; i < users.size(); ++i) user_index.emplace(users[i]->username, i);
}

void Store::State::add(KeyPtr k) {
    key_index.emplace(k->id, keys.size());
    keys.push_back(std::move(k));
}

void Store::State::add(UserPtr u) {
    user_index.emplace(u->username, users.size());
    users.push_back(std::move(u));
}

const Store::KeyRec* Store::State::key(std::string_view id) const {
    auto it = key_index.find(id);
    return it == key_index.end() ? nullptr : keys[it->second].get();
}

const Store::UserRec* Store::State::user(std::string_view name) const {
    auto it = user_index.find(name);
    return it == user_index.end() ? nullptr : users[it->second].get();
}

void Store::State::replace(UserPtr u) {
    auto it = user_index.find(u->username);
    if (it != user_index.end())
        users[it->second] = std::move(u);
}

// ---- records ----

Store::KeyPtr Store::seal(KeyRec k) {
    json::JsonPtr o(json_object());
    json::set(o.get(), "id", json::str(k.id));
    json::set(o.get(), "hash", json::str(to_hex(k.hash.data(), k.hash.size())));
    json::set(o.get(), "label", json::str(k.label));
    json::set(o.get(), "permissions", k.permissions.to_json());
    if (!k.parent_id.empty())
        json::set(o.get(), "parent", json::str(k.parent_id));
    if (k.expires_at)
        json::set(o.get(), "expires_at", json::JsonPtr(json_integer(*k.expires_at)));
    if (!k.owner.empty())
        json::set(o.get(), "owner", json::str(k.owner));
    json::set(o.get(), "created_at", json::JsonPtr(json_integer(k.created_at)));
    k.json = json::dump(o.get());
    return std::make_shared<const KeyRec>(std::move(k));
}

Store::UserPtr Store::seal(UserRec u) {
    if (!u.extra)
        u.extra.reset(json_object());
    json::JsonPtr o(json_object());
    json::set(o.get(), "username", json::str(u.username));
    json::set(o.get(), "password", json::str(u.password_hash));
    json::set(o.get(), "user_type", json::JsonPtr(json_integer(u.user_type)));
    if (!u.key_id.empty())
        json::set(o.get(), "key", json::str(u.key_id));
    json::set(o.get(), "extra", json::ref(u.extra.get()));
    u.json = json::dump(o.get());
    return std::make_shared<const UserRec>(std::move(u));
}

Store::UserRec Store::edit(const UserRec& u) {
    // The extra object is never modified once sealed, so the copy shares it.
    return UserRec{u.username, u.password_hash, u.user_type, u.key_id, json::ref(u.extra.get()), ""};
}

// ---- construction ----

Store::Store(std::string path, Options options, UniqueFd lock_fd)
    : path_(std::move(path)), options_(std::move(options)), lock_fd_(std::move(lock_fd)) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    return open(path, Options{});
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, Options options) {
    if (path.empty())
        return fail(EINVAL, "the auth state file path is empty");
    GAFFER_RETURN_IF_ERROR(make_dirs(dir_of(path)));
    std::string lock_path = path + ".lock";
    UniqueFd lock_fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock_fd)
        return fail(Error::from_errno("open '%s'", lock_path.c_str()));

    std::unique_ptr<Store> store(new Store(path, std::move(options), std::move(lock_fd)));
    FileLock lock(store->lock_fd_.get());
    GAFFER_RETURN_IF_ERROR(lock.acquire(path, true));

    State state;
    FileSig sig;
    Status loaded = store->load(&state, &sig);
    if (loaded) {
        store->state_ = std::move(state);
        store->sig_ = sig;
        return store;
    }
    if (loaded.error().code != ENOENT)
        return fail(loaded.error());
    // No file yet: write the empty state now, so that a path we cannot write fails at
    // start-up rather than at the first POST /keys.
    GAFFER_RETURN_IF_ERROR(store->save(store->state_, &sig));
    store->sig_ = sig;
    log_debug("auth: created state file '%s'", path.c_str());
    return store;
}

// ---- helpers ----

int64_t Store::now() const {
    auto tp = options_.clock ? options_.clock() : std::chrono::system_clock::now();
    return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

bool Store::live(const KeyRec& k, int64_t t) const {
    return !k.expires_at || t < *k.expires_at;
}

KeyInfo Store::info(const KeyRec& k) const {
    return KeyInfo{k.id, k.label, k.permissions, k.parent_id, k.expires_at, k.owner, k.created_at, k.persistent};
}

User Store::user_value(const UserRec& u) const {
    User out;
    out.username = u.username;
    out.user_type = u.user_type;
    out.key_id = u.key_id;
    out.extra.reset(u.extra ? json_deep_copy(u.extra.get()) : json_object());
    return out;
}

const Store::KeyRec* Store::live_key_by_secret(const State& s, std::string_view secret, int64_t t) const {
    // The index lookup depends only on the digest of the candidate, which its sender
    // can compute anyway; the digests themselves are compared in constant time.
    Sha256 hash = sha256(secret);
    const KeyRec* k = s.key(id_of(hash));
    if (!k)
        return nullptr;
    if (!constant_time_equal(k->hash.data(), k->hash.size(), hash.data(), hash.size()))
        return nullptr;
    return live(*k, t) ? k : nullptr;
}

void Store::drop_keys(State& s, std::vector<std::string> roots) {
    // Parents always precede their sub-keys (load checks it, add_key keeps it), so one
    // pass in order finds every descendant.
    std::set<std::string, std::less<>> doomed(roots.begin(), roots.end());
    for (const auto& k : s.keys) {
        if (!k->parent_id.empty() && doomed.count(k->parent_id))
            doomed.insert(k->id);
    }
    std::erase_if(s.keys, [&](const KeyPtr& k) { return doomed.count(k->id) != 0; });
    s.reindex();
}

void Store::purge_expired(State& s, int64_t t, bool memory_only) {
    std::vector<std::string> expired;
    for (const auto& k : s.keys) {
        if (k->expires_at && t >= *k->expires_at && !(memory_only && k->persistent))
            expired.push_back(k->id);
    }
    if (!expired.empty())
        drop_keys(s, std::move(expired));
}

Result<std::string> Store::add_key(State& s, int64_t t, Permissions permissions, std::string label,
                                   std::string parent_id, std::optional<int64_t> expires_at, std::string owner,
                                   bool persistent) {
    if (!parent_id.empty()) {
        // A persistent key never names a memory-only parent (the file must load alone).
        const KeyRec* parent = s.key(parent_id);
        if (parent && !parent->persistent)
            persistent = false;
    }
    if (s.keys.size() >= options_.max_keys) {
        return fail(Error::make(ENOSPC, "too many API keys (limit %zu)", options_.max_keys));
    }
    for (int attempt = 0; attempt < kKeyDrawAttempts; ++attempt) {
        GAFFER_TRY(std::string secret, random_hex(kSecretBytes));
        Sha256 hash = sha256(secret);
        std::string id = id_of(hash);
        if (s.key(id))
            continue;  // ids are unique: draw another secret
        s.add(seal(KeyRec{std::move(id), hash, std::move(label), std::move(permissions), std::move(parent_id),
                          expires_at, std::move(owner), t, persistent, ""}));
        return secret;
    }
    return fail(EEXIST, "could not draw a key with an unused id");
}

void Store::commit(State next) {
    state_ = std::move(next);
    ++generation_;
}

void Store::notify_since(uint64_t before) {
    if (generation_ == before)
        return;
    // By id, so that a callback may cancel itself or another one.
    std::vector<ChangeId> ids;
    ids.reserve(listeners_.size());
    for (const auto& l : listeners_) ids.push_back(l.first);
    for (ChangeId id : ids) {
        auto it = std::find_if(listeners_.begin(), listeners_.end(), [&](const auto& l) { return l.first == id; });
        if (it == listeners_.end())
            continue;
        auto fn = it->second;  // a copy: the callback may cancel itself
        fn();
    }
}

Store::ChangeId Store::on_change(std::function<void()> fn) {
    ChangeId id = next_change_id_++;
    listeners_.emplace_back(id, std::move(fn));
    return id;
}

void Store::cancel_on_change(ChangeId id) {
    std::erase_if(listeners_, [&](const auto& l) { return l.first == id; });
}

Status Store::mutate(const std::function<Status(State&, int64_t)>& change) {
    uint64_t before = generation_;
    Status st = mutate_locked(change);  // the lock is released before the callbacks run
    notify_since(before);
    return st;
}

Status Store::mutate_locked(const std::function<Status(State&, int64_t)>& change) {
    FileLock lock(lock_fd_.get());
    GAFFER_RETURN_IF_ERROR(lock.acquire(path_, options_.wait_for_lock));
    GAFFER_RETURN_IF_ERROR(reload_locked());
    State next = state_;
    int64_t t = now();
    purge_expired(next, t);
    GAFFER_RETURN_IF_ERROR(change(next, t));
    next.reindex();
    FileSig sig;
    GAFFER_RETURN_IF_ERROR(save(next, &sig));
    commit(std::move(next));
    sig_ = sig;
    return ok();
}

// ---- keys ----

Result<std::string> Store::create_key(const Permissions& permissions, std::string label,
                                      std::optional<std::string> parent_secret) {
    GAFFER_RETURN_IF_ERROR(check_label(label));
    std::string secret;
    GAFFER_RETURN_IF_ERROR(mutate([&](State& s, int64_t t) -> Status {
        std::string parent_id;
        std::optional<int64_t> expires_at;
        if (parent_secret) {
            const KeyRec* parent = live_key_by_secret(s, *parent_secret, t);
            if (!parent)
                return fail(ENOENT, "parent key not found");
            parent_id = parent->id;
            expires_at = parent->expires_at;
        }
        GAFFER_TRY(secret, add_key(s, t, permissions, std::move(label), std::move(parent_id), expires_at, ""));
        return ok();
    }));
    return secret;
}

std::optional<KeyInfo> Store::find_key(std::string_view secret) const {
    const KeyRec* k = live_key_by_secret(state_, secret, now());
    if (!k)
        return std::nullopt;
    return info(*k);
}

std::optional<KeyInfo> Store::find_key_by_id(std::string_view id) const {
    const KeyRec* k = state_.key(id);
    if (!k || !live(*k, now()))
        return std::nullopt;
    return info(*k);
}

Status Store::delete_key(std::string_view secret_or_id) {
    return mutate([&](State& s, int64_t t) -> Status {
        const KeyRec* k = live_key_by_secret(s, secret_or_id, t);
        if (!k) {
            k = s.key(secret_or_id);
            if (k && !live(*k, t))
                k = nullptr;
        }
        if (!k)
            return fail(ENOENT, "key not found");
        drop_keys(s, {k->id});
        return ok();
    });
}

std::vector<KeyInfo> Store::keys() const {
    std::vector<KeyInfo> out;
    int64_t t = now();
    for (const auto& k : state_.keys) {
        if (live(*k, t))
            out.push_back(info(*k));
    }
    return out;
}

std::vector<KeyInfo> Store::sub_keys(std::string_view id) const {
    std::vector<KeyInfo> out;
    int64_t t = now();
    for (const auto& k : state_.keys) {
        if (k->parent_id == id && live(*k, t))
            out.push_back(info(*k));
    }
    return out;
}

bool Store::descends(const State& s, std::string_view id, std::string_view ancestor_id) {
    // Parents precede their sub-keys, so the walk up ends within keys.size() steps.
    const KeyRec* k = s.key(id);
    for (size_t steps = 0; k && steps <= s.keys.size(); ++steps) {
        if (k->id == ancestor_id)
            return true;
        if (k->parent_id.empty())
            return false;
        k = s.key(k->parent_id);
    }
    return false;
}

bool Store::is_same_or_sub_key(std::string_view id, std::string_view ancestor_id) const {
    return descends(state_, id, ancestor_id);
}

Status Store::prune_expired() {
    int64_t t = now();
    bool any = false, in_file = false;
    for (const auto& k : state_.keys) {
        if (k->expires_at && t >= *k->expires_at) {
            any = true;
            in_file = in_file || k->persistent;
        }
    }
    if (!any)
        return ok();
    // mutate() drops every expired key before it writes.
    if (in_file)
        return mutate([](State&, int64_t) { return ok(); });
    uint64_t before = generation_;
    State next = state_;
    purge_expired(next, t);
    commit(std::move(next));
    notify_since(before);
    return ok();
}

std::optional<int64_t> Store::next_expiry() const {
    std::optional<int64_t> first;
    for (const auto& k : state_.keys) {
        if (k->expires_at && (!first || *k->expires_at < *first))
            first = k->expires_at;
    }
    return first;
}

// ---- users ----

Status Store::create_user(const std::string& username, const std::string& password, int user_type,
                          std::optional<std::string> key_secret, json::JsonPtr extra) {
    GAFFER_RETURN_IF_ERROR(check_username(username));
    GAFFER_RETURN_IF_ERROR(check_password(password));
    GAFFER_RETURN_IF_ERROR(check_user_type(user_type));
    GAFFER_TRY(json::JsonPtr extra_copy, copy_extra(extra.get()));
    // Checked again under the lock; this only spares the PBKDF2 work.
    if (state_.user(username))
        return fail(Error::make(EEXIST, "user '%s' exists", username.c_str()));
    GAFFER_TRY(std::string hash, hash_password(password));
    return mutate([&](State& s, int64_t t) -> Status {
        if (s.user(username))
            return fail(Error::make(EEXIST, "user '%s' exists", username.c_str()));
        if (s.users.size() >= options_.max_users) {
            return fail(Error::make(ENOSPC, "too many users (limit %zu)", options_.max_users));
        }
        std::string key_id;
        if (key_secret) {
            const KeyRec* k = live_key_by_secret(s, *key_secret, t);
            if (!k)
                return fail(ENOENT, "key not found");
            key_id = k->id;
        }
        s.add(seal(UserRec{username, hash, user_type, std::move(key_id), json::ref(extra_copy.get()), ""}));
        return ok();
    });
}

std::optional<User> Store::get_user(std::string_view username) const {
    const UserRec* u = state_.user(username);
    if (!u)
        return std::nullopt;
    return user_value(*u);
}

std::vector<User> Store::users() const {
    std::vector<User> out;
    out.reserve(state_.users.size());
    for (const auto& u : state_.users) out.push_back(user_value(*u));
    return out;
}

Status Store::delete_user(std::string_view username) {
    return mutate([&](State& s, int64_t) -> Status {
        if (!s.user(username))
            return fail(ENOENT, "user not found");
        std::erase_if(s.users, [&](const UserPtr& u) { return u->username == username; });
        std::vector<std::string> minted;
        for (const auto& k : s.keys) {
            if (k->owner == username)
                minted.push_back(k->id);
        }
        drop_keys(s, std::move(minted));  // reindexes users too
        return ok();
    });
}

Status Store::set_password(std::string_view username, std::string_view password) {
    GAFFER_RETURN_IF_ERROR(check_password(password));
    if (!state_.user(username))
        return fail(ENOENT, "user not found");
    GAFFER_TRY(std::string hash, hash_password(password));
    return mutate([&](State& s, int64_t) -> Status {
        const UserRec* u = s.user(username);
        if (!u)
            return fail(ENOENT, "user not found");
        UserRec changed = edit(*u);
        changed.password_hash = hash;
        s.replace(seal(std::move(changed)));
        return ok();
    });
}

Status Store::set_user_key(std::string_view username, std::string_view key_secret) {
    return mutate([&](State& s, int64_t t) -> Status {
        const UserRec* u = s.user(username);
        if (!u)
            return fail(ENOENT, "user not found");
        const KeyRec* k = live_key_by_secret(s, key_secret, t);
        if (!k)
            return fail(ENOENT, "key not found");
        UserRec changed = edit(*u);
        changed.key_id = k->id;
        s.replace(seal(std::move(changed)));
        // Its minted keys carried the old binding's rights; the new key itself stays, even
        // when it is (a sub-key of) one of them.
        std::string bound = k->id;
        std::vector<std::string> minted;
        for (const auto& m : s.keys) {
            if (m->owner == username && !descends(s, bound, m->id))
                minted.push_back(m->id);
        }
        drop_keys(s, std::move(minted));
        return ok();
    });
}

std::optional<User> Store::authenticate(std::string_view username, std::string_view password) const {
    const UserRec* u = state_.user(username);
    if (!u) {
        (void)verify_password(dummy_password_hash(), password);
        return std::nullopt;
    }
    if (!verify_password(u->password_hash, password))
        return std::nullopt;
    return user_value(*u);
}

std::optional<User> Store::user_for_key(const KeyInfo& key) const {
    if (!key.owner.empty())
        return get_user(key.owner);
    for (const auto& u : state_.users) {
        if (!u->key_id.empty() && u->key_id == key.id)
            return user_value(*u);
    }
    return std::nullopt;
}

Permissions Store::user_permissions(std::string_view username) const {
    Permissions p;
    const UserRec* u = state_.user(username);
    if (!u)
        return p;
    if (!u->key_id.empty()) {
        const KeyRec* k = state_.key(u->key_id);
        if (k && live(*k, now()))
            p = k->permissions;
        return p;
    }
    p.admin = u->user_type == 0;
    return p;
}

Result<std::string> Store::mint_key_for_user(std::string_view username, std::chrono::seconds ttl) {
    if (ttl.count() <= 0)
        return fail(EINVAL, "key lifetime must be positive");
    // Memory only (store.h): no write, so no lock beyond picking up other writers' changes.
    uint64_t before = generation_;
    Status reloaded = reload_unnotified();
    if (!reloaded) {
        notify_since(before);
        return fail(reloaded.error());
    }
    std::string secret;
    State next = state_;
    int64_t now_s = now();
    // Expired memory-only keys go now; expired keys of the file wait for prune_expired()
    // or the next write, which drop them from the file as well.
    purge_expired(next, now_s, /*memory_only=*/true);
    Status st = [&](State& s, int64_t t) -> Status {
        const UserRec* u = s.user(username);
        if (!u)
            return fail(ENOENT, "user not found");
        Permissions permissions;
        std::string parent_id;
        std::optional<int64_t> expires_at = t + ttl.count();
        if (!u->key_id.empty()) {
            const KeyRec* k = s.key(u->key_id);
            if (!k || !live(*k, t)) {
                return fail(Error::make(ENOENT, "the key of user '%s' no longer exists", u->username.c_str()));
            }
            permissions = k->permissions;
            parent_id = k->id;
            if (k->expires_at)
                expires_at = std::min(*expires_at, *k->expires_at);
        } else if (u->user_type == 0) {
            permissions.admin = true;
        }
        std::string owner = u->username;
        // The per-user cap: the oldest minted keys go first (with their sub-keys).
        std::vector<std::string> minted;
        for (const auto& k : s.keys) {
            if (k->owner == owner)
                minted.push_back(k->id);
        }
        if (minted.size() >= kMaxMintedPerUser) {
            minted.resize(minted.size() - kMaxMintedPerUser + 1);
            drop_keys(s, std::move(minted));
        }
        GAFFER_TRY(secret, add_key(s, t, std::move(permissions), "auth " + owner, std::move(parent_id), expires_at,
                                   owner, false));
        return ok();
    }(next, now_s);
    if (st) {
        next.reindex();
        commit(std::move(next));
    }
    notify_since(before);
    if (!st)
        return fail(st.error());
    return secret;
}

// ---- admin bootstrap ----

Result<std::string> Store::create_admin(const std::string& username, const std::string& password) {
    GAFFER_RETURN_IF_ERROR(check_username(username));
    GAFFER_RETURN_IF_ERROR(check_password(password));
    if (state_.user(username))
        return fail(Error::make(EEXIST, "user '%s' exists", username.c_str()));
    GAFFER_TRY(std::string hash, hash_password(password));
    std::string secret;
    GAFFER_RETURN_IF_ERROR(mutate([&](State& s, int64_t t) -> Status {
        if (s.user(username))
            return fail(Error::make(EEXIST, "user '%s' exists", username.c_str()));
        if (s.users.size() >= options_.max_users) {
            return fail(Error::make(ENOSPC, "too many users (limit %zu)", options_.max_users));
        }
        Permissions admin;
        admin.admin = true;
        GAFFER_TRY(secret, add_key(s, t, admin, "admin key", "", std::nullopt, ""));
        s.add(seal(UserRec{username, hash, 0, s.keys.back()->id, json::JsonPtr(json_object()), ""}));
        return ok();
    }));
    return secret;
}

std::vector<std::pair<std::string, std::string>> Store::admins() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& u : state_.users) {
        if (u->user_type == 0)
            out.emplace_back(u->username, u->key_id);
    }
    return out;
}

// ---- persistence ----

Status Store::reload_if_changed() {
    uint64_t before = generation_;
    Status st = reload_unnotified();
    notify_since(before);
    return st;
}

Status Store::reload_unnotified() {
    FileLock lock(lock_fd_.get());
    GAFFER_RETURN_IF_ERROR(lock.acquire(path_, options_.wait_for_lock));
    return reload_locked();
}

Status Store::reload_locked() {
    struct stat st;
    if (::stat(path_.c_str(), &st) < 0) {
        // Removed behind our back: keep what we have; the next change writes it again.
        if (errno == ENOENT)
            return ok();
        return fail(Error::from_errno("stat '%s'", path_.c_str()));
    }
    FileSig now_sig{st.st_dev, st.st_ino, st.st_size, int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
    if (sig_ && *sig_ == now_sig)
        return ok();
    State state;
    FileSig sig;
    GAFFER_RETURN_IF_ERROR(load(&state, &sig));
    // Memory-only keys are not in the file: keep those whose parent and owner still exist
    // (in order, so a memory-only parent is kept before its sub-keys).
    for (const auto& k : state_.keys) {
        if (k->persistent || state.key(k->id))
            continue;
        if (!k->parent_id.empty() && !state.key(k->parent_id))
            continue;
        if (!k->owner.empty() && !state.user(k->owner))
            continue;
        state.add(k);
    }
    commit(std::move(state));
    sig_ = sig;
    log_debug("auth: reloaded state file '%s'", path_.c_str());
    return ok();
}

Status Store::load(State* ret_state, FileSig* ret_sig) const {
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path_.c_str()));
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
        return fail(Error::from_errno("stat '%s'", path_.c_str()));
    if (!S_ISREG(st.st_mode)) {
        return fail(Error::make(EINVAL, "state file '%s' is not a regular file", path_.c_str()));
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxStateBytes) {
        return fail(Error::make(EFBIG, "state file '%s' is larger than %zu bytes", path_.c_str(), kMaxStateBytes));
    }
    if ((st.st_mode & 077) != 0) {
        // Only the daemon's user may read it (security-defaults.md).
        if (::fchmod(fd.get(), 0600) < 0) {
            return fail(Error::from_errno("chmod 0600 '%s'", path_.c_str()));
        }
        log_debug("auth: tightened the mode of '%s' to 0600", path_.c_str());
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(Error::from_errno("read '%s'", path_.c_str()));
        }
        if (n == 0)
            break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > kMaxStateBytes) {
            return fail(Error::make(EFBIG, "state file '%s' is larger than %zu bytes", path_.c_str(), kMaxStateBytes));
        }
    }

    auto corrupt = [&](const std::string& why) {
        return fail(EINVAL, "state file '" + path_ + "' is corrupt: " + why);
    };
    auto parsed = json::parse(text);
    if (!parsed)
        return corrupt(parsed.error().context);
    const json_t* root = parsed->get();
    if (!json_is_object(root))
        return corrupt("not a JSON object");
    const json_t* version = json_object_get(root, "version");
    if (!json_is_integer(version) || json_integer_value(version) != kStateVersion) {
        return corrupt("\"version\" must be " + std::to_string(kStateVersion));
    }
    const json_t* keys = json_object_get(root, "keys");
    const json_t* users = json_object_get(root, "users");
    if (!json_is_array(keys))
        return corrupt("\"keys\" must be an array");
    if (!json_is_array(users))
        return corrupt("\"users\" must be an array");

    State s;
    size_t i;
    const json_t* e;
    json_array_foreach(keys, i, e) {
        std::string where = "keys[" + std::to_string(i) + "]";
        if (!json_is_object(e))
            return corrupt(where + " is not an object");
        KeyRec k;
        const json_t* id = json_object_get(e, "id");
        const json_t* hash = json_object_get(e, "hash");
        if (!json_is_string(id) || json_string_length(id) != kIdHexDigits || !is_lower_hex(json_text(id))) {
            return corrupt(where + ".id must be " + std::to_string(kIdHexDigits) + " lowercase hex digits");
        }
        k.id = json_text(id);
        if (!json_is_string(hash) || json_string_length(hash) != 2 * k.hash.size() || !is_lower_hex(json_text(hash))) {
            return corrupt(where + ".hash must be 64 lowercase hex digits");
        }
        auto raw = from_hex(json_text(hash));
        std::memcpy(k.hash.data(), raw->data(), k.hash.size());
        if (id_of(k.hash) != k.id)
            return corrupt(where + ".id does not match its hash");
        if (s.key(k.id))
            return corrupt(where + ".id is a duplicate");
        const json_t* label = json_object_get(e, "label");
        if (label) {
            if (!json_is_string(label) || !check_label(json_text(label))) {
                return corrupt(where + ".label must be a string of at most " + std::to_string(kMaxLabelBytes) +
                               " bytes");
            }
            k.label = json_text(label);
        }
        auto perms = Permissions::from_json(json_object_get(e, "permissions"));
        if (!perms)
            return corrupt(where + ": " + perms.error().context);
        k.permissions = std::move(*perms);
        const json_t* parent = json_object_get(e, "parent");
        if (parent && !json_is_null(parent)) {
            if (!json_is_string(parent) || !s.key(json_text(parent))) {
                return corrupt(where + ".parent must name an earlier key");
            }
            k.parent_id = json_text(parent);
        }
        const json_t* expires = json_object_get(e, "expires_at");
        if (expires && !json_is_null(expires)) {
            if (!json_is_integer(expires))
                return corrupt(where + ".expires_at must be an integer");
            k.expires_at = json_integer_value(expires);
        }
        const json_t* owner = json_object_get(e, "owner");
        if (owner && !json_is_null(owner)) {
            if (!json_is_string(owner))
                return corrupt(where + ".owner must be a string");
            k.owner = json_text(owner);
        }
        const json_t* created = json_object_get(e, "created_at");
        if (created && !json_is_null(created)) {
            if (!json_is_integer(created))
                return corrupt(where + ".created_at must be an integer");
            k.created_at = json_integer_value(created);
        }
        s.add(seal(std::move(k)));
    }
    json_array_foreach(users, i, e) {
        std::string where = "users[" + std::to_string(i) + "]";
        if (!json_is_object(e))
            return corrupt(where + " is not an object");
        UserRec u;
        const json_t* name = json_object_get(e, "username");
        if (!json_is_string(name))
            return corrupt(where + ".username must be a string");
        u.username = json_text(name);
        if (auto st_name = check_username(u.username); !st_name) {
            return corrupt(where + ".username: " + st_name.error().context);
        }
        if (s.user(u.username))
            return corrupt(where + ".username is a duplicate");
        const json_t* password = json_object_get(e, "password");
        if (!json_is_string(password) || !is_password_hash(json_text(password))) {
            return corrupt(where + ".password must be a PBKDF2 hash");
        }
        u.password_hash = json_text(password);
        const json_t* type = json_object_get(e, "user_type");
        if (!json_is_integer(type) || (json_integer_value(type) != 0 && json_integer_value(type) != 1)) {
            return corrupt(where + ".user_type must be 0 or 1");
        }
        u.user_type = static_cast<int>(json_integer_value(type));
        const json_t* key = json_object_get(e, "key");
        if (key && !json_is_null(key)) {
            // May name a deleted key (see delete_key), so only the shape is checked.
            if (!json_is_string(key) || json_string_length(key) > 64) {
                return corrupt(where + ".key must be a key id");
            }
            u.key_id = json_text(key);
        }
        auto extra = copy_extra(json_object_get(e, "extra"));
        if (!extra)
            return corrupt(where + ".extra: " + extra.error().context);
        u.extra = std::move(*extra);
        s.add(seal(std::move(u)));
    }

    *ret_state = std::move(s);
    *ret_sig =
        FileSig{st.st_dev, st.st_ino, st.st_size, int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
    return ok();
}

Status Store::save(const State& s, FileSig* ret_sig) const {
    // One record per line: readable, and the records were encoded when they were built.
    size_t size = 64;
    for (const auto& k : s.keys) size += k->persistent ? k->json.size() + 2 : 0;
    for (const auto& u : s.users) size += u->json.size() + 2;
    if (size > kMaxStateBytes) {
        return fail(Error::make(ENOSPC, "auth state would exceed %zu bytes", kMaxStateBytes));
    }
    std::string text;
    text.reserve(size);
    text += "{\"version\": " + std::to_string(kStateVersion) + ",\n\"keys\": [";
    bool first = true;
    for (const auto& k : s.keys) {
        if (!k->persistent)
            continue;  // memory only (store.h)
        text += first ? "\n" : ",\n";
        text += k->json;
        first = false;
    }
    text += "\n],\n\"users\": [";
    for (size_t i = 0; i < s.users.size(); ++i) {
        text += i == 0 ? "\n" : ",\n";
        text += s.users[i]->json;
    }
    text += "\n]}\n";

    std::string tmp = path_ + ".XXXXXX";
    UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (!fd)
        return fail(Error::from_errno("create a temporary file beside '%s'", path_.c_str()));
    bool renamed = false;
    struct Unlinker {
        const std::string& p;
        const bool& done;
        ~Unlinker() {
            if (!done)
                (void)::unlink(p.c_str());
        }
    } unlinker{tmp, renamed};

    if (::fchmod(fd.get(), 0600) < 0)
        return fail(Error::from_errno("chmod '%s'", tmp.c_str()));
    GAFFER_RETURN_IF_ERROR(write_all(fd.get(), text, tmp));
    if (::fsync(fd.get()) < 0)
        return fail(Error::from_errno("fsync '%s'", tmp.c_str()));
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
        return fail(Error::from_errno("stat '%s'", tmp.c_str()));
    if (::close(fd.release()) < 0)
        return fail(Error::from_errno("close '%s'", tmp.c_str()));
    if (::rename(tmp.c_str(), path_.c_str()) < 0) {
        return fail(Error::from_errno("rename '%s' to '%s'", tmp.c_str(), path_.c_str()));
    }
    renamed = true;
    // Make the rename itself durable. The new state is in place whatever happens here,
    // so a failure is only worth a debug line.
    std::string dir = dir_of(path_);
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd || ::fsync(dfd.get()) < 0)
        log_debug("auth: fsync '%s': %s", dir.c_str(), strerror(errno));

    *ret_sig =
        FileSig{st.st_dev, st.st_ino, st.st_size, int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
    return ok();
}

}  // namespace gaffer::auth
