// SPDX-License-Identifier: MIT
// The key and user store: the key/user API, covering rules, expiry and change callbacks.
// The state file (format, lock, atomic write) is store_file.cc: no syscall here. See
// store.h for the invariants.
#include "lib/auth/store.h"

#include <algorithm>
#include <cerrno>
#include <set>

#include "lib/auth/password.h"
#include "lib/base/log.h"

namespace gaffer::auth {

namespace {

constexpr size_t kSecretBytes = 16;  // 32 hex characters, as in the original
constexpr int kKeyDrawAttempts = 16;

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

// ---- construction ----

Store::Store(StateFile file, Options options) : file_(std::move(file)), options_(std::move(options)) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    return open(path, Options{});
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, Options options) {
    GAFFER_TRY(StateFile file, StateFile::open(path));
    std::unique_ptr<Store> store(new Store(std::move(file), std::move(options)));
    // Always waits: open() runs before anything is served (the daemon opens the store
    // before its loop runs), and another writer holds the lock only to write.
    GAFFER_TRY(StateFile::Lock lock, store->file_.lock(true));
    auto loaded = store->file_.read();
    if (loaded) {
        store->state_ = std::move(loaded->state);
        store->sig_ = loaded->sig;
        return store;
    }
    if (loaded.error().code != ENOENT)
        return fail(loaded.error());
    // No file yet: write the empty state now, so that a path we cannot write fails at
    // start-up rather than at the first POST /keys.
    GAFFER_TRY(store->sig_, store->file_.write(store->state_));
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

const KeyRec* Store::live_key_by_secret(const State& s, std::string_view secret, int64_t t) const {
    // The index lookup depends only on the digest of the candidate, which its sender
    // can compute anyway; the digests themselves are compared in constant time.
    Sha256 hash = sha256(secret);
    const KeyRec* k = s.key(key_id_of(hash));
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
        std::string id = key_id_of(hash);
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
    GAFFER_TRY(StateFile::Lock lock, file_.lock(options_.wait_for_lock));
    GAFFER_RETURN_IF_ERROR(reload_locked());
    State next = state_;
    int64_t t = now();
    purge_expired(next, t);
    GAFFER_RETURN_IF_ERROR(change(next, t));
    next.reindex();
    GAFFER_TRY(FileSig sig, file_.write(next));
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
    GAFFER_TRY(StateFile::Lock lock, file_.lock(options_.wait_for_lock));
    return reload_locked();
}

Status Store::reload_locked() {
    GAFFER_TRY(std::optional<FileSig> now_sig, file_.stat());
    // Removed behind our back: keep what we have; the next change writes it again.
    if (!now_sig || (sig_ && *sig_ == *now_sig))
        return ok();
    GAFFER_TRY(StateFile::Loaded loaded, file_.read());
    State& state = loaded.state;
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
    sig_ = loaded.sig;
    log_debug("auth: reloaded state file '%s'", file_.path().c_str());
    return ok();
}

}  // namespace gaffer::auth
