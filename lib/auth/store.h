// SPDX-License-Identifier: MIT
// Store: the API keys and users behind gafferd's HTTP API (reference §9,
// security-defaults.md "Keys and permissions").
//
// Invariants:
// - Secrets are never kept. A key is a random 32-hex secret (16 bytes from getrandom),
//   returned once by the call that creates it; the store keeps SHA-256(secret) and
//   compares digests in constant time. Passwords are kept as PBKDF2 hashes
//   (password.h). The state file therefore holds no secret and no password.
// - A key has a short non-secret id: the first 8 hex digits of SHA-256(secret), unique
//   in the store (a colliding secret is drawn again). Listings show ids.
// - An expired key is gone: no lookup finds it and the next change drops it from the
//   file. A sub-key never outlives its parent: it inherits the parent's expiry, and
//   deleting a key deletes its sub-keys, recursively.
// - Every change is all-or-nothing: it is applied to a copy, the whole state is written
//   (StateFile, store_file.h: temp file 0600, fsync, rename, fsync of the directory;
//   the store itself makes no syscall), and only then does the
//   in-memory state move on. A failed write leaves both the file and the store as they were.
//   Records are shared between the copies and keep their encoded line, so a change costs
//   pointer copies, one concatenation and the fsync (about 7 ms at 10000 keys here).
// - Cost on the loop: lookups by secret are one SHA-256 and a hash-map probe (< 1 us);
//   every password hash or check is one PBKDF2 run (about 14 ms, password.h).
// - A corrupt state file is an error at open (and at reload), never silently reset.
// - Bounded: at most Options::max_keys keys and max_users users (ENOSPC beyond), bounded
//   labels, user names, passwords, extras and state file size.
// - Several processes may share a file (gafferd and `gafferd --create-admin-user`):
//   changes take an flock on "<path>.lock" and first reload the file if another process
//   replaced it, so no change is lost. Reads use the state as last loaded or written;
//   call reload_if_changed() to pick up another process's changes without a change of
//   one's own.
// - Keys minted by mint_key_for_user (GET /auth), and the sub-keys of such keys, live in
//   memory only: minting never writes the file (so password logins cost no fsync and the
//   file cannot grow with them), other processes never see them, a reload keeps them, and
//   they end with the daemon (call /auth again after a restart). A user has at most
//   kMaxMintedPerUser live minted keys: minting one more drops the oldest (and its sub-keys).
// - Expired keys are dropped from memory and file by prune_expired(), which the daemon runs
//   when next_expiry() passes, and by every change.
// - Every committed change of the state (own or reloaded) increments generation() and then
//   runs the on_change() callbacks, so that live sessions re-resolve their rights by key
//   without polling.
//
// Error codes (lib/manager/errors.h map_auth_error maps them): EINVAL bad input, ENOENT
// unknown key or user, EEXIST existing user, ENOSPC limit reached, EBUSY the file locked by
// another process; EUCLEAN a corrupt state file, and others, are system errors.
// The store is single-threaded, like the rest of the daemon.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/auth/crypto.h"
#include "lib/auth/permissions.h"
#include "lib/auth/store_file.h"
#include "lib/auth/store_state.h"
#include "lib/base/result.h"
#include "lib/json/json.h"

namespace gaffer::auth {

// Metadata of a key; never its secret.
struct KeyInfo {
    std::string id;  // 8 lowercase hex digits, unique, not secret
    std::string label;
    Permissions permissions;
    std::string parent_id;              // "" when the key has no parent
    std::optional<int64_t> expires_at;  // seconds since the epoch; none = never
    std::string owner;                  // user a key was minted for ("" for others)
    int64_t created_at = 0;             // seconds since the epoch
    bool persistent = true;             // false: minted (or a sub-key of one), memory only

    // {"id", "label", "permissions", "parent"?, "expires_at"?, "owner"?, "created_at"}
    json::JsonPtr to_json() const;
};

struct User {
    std::string username;
    int user_type = 1;    // 0 = user (admin-type account), 1 = application
    std::string key_id;   // id of the bound key, "" for none; may name a deleted key
    json::JsonPtr extra;  // a JSON object (never null), the caller's copy

    // {"username", "user_type", "key": id or null, ...extra}. Never a password hash.
    json::JsonPtr to_json() const;
};

class Store {
public:
    using Clock = std::function<std::chrono::system_clock::time_point()>;

    static constexpr size_t kMaxKeys = 10000;
    static constexpr size_t kMaxUsers = 10000;
    static constexpr size_t kMaxLabelBytes = auth::kMaxLabelBytes;
    static constexpr size_t kMaxUsernameBytes = auth::kMaxUsernameBytes;
    static constexpr size_t kMaxPasswordBytes = auth::kMaxPasswordBytes;
    static constexpr size_t kMaxExtraBytes = auth::kMaxExtraBytes;  // compact JSON of `extra`
    static constexpr size_t kMaxStateBytes = auth::kMaxStateBytes;  // the whole state file
    // Live keys minted for one user (mint_key_for_user); the oldest goes first.
    static constexpr size_t kMaxMintedPerUser = 16;

    struct Options {
        size_t max_keys = kMaxKeys;
        size_t max_users = kMaxUsers;
        Clock clock;  // empty: std::chrono::system_clock::now
        // Whether a change or a reload waits for another process's lock on the state file.
        // A command-line tool may (`gafferd --create-admin-user`); the daemon must not block
        // its event loop, so it tries once and fails with EBUSY (503: try again) instead.
        // open() always waits: nothing is served yet.
        bool wait_for_lock = true;
    };

    // Opens the state file at `path`, a JSON file. When it does not exist, missing
    // parent directories are created 0700 and an empty state is written, mode 0600.
    // An existing file that is group- or world-accessible is tightened to 0600.
    // A file that is not valid state is EUCLEAN naming the file and the fault.
    static Result<std::unique_ptr<Store>> open(const std::string& path);
    static Result<std::unique_ptr<Store>> open(const std::string& path, Options options);

    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;
    ~Store();

    const std::string& path() const { return file_.path(); }

    // --- keys ---

    // Creates a key with a new random secret and returns the secret (the only time it
    // is seen). `parent_secret`, when given, must be a live key (ENOENT); the new key is
    // its sub-key and inherits its expiry. EINVAL for a label over kMaxLabelBytes or not
    // UTF-8; ENOSPC past max_keys. Permissions are stored as given: whether the caller
    // may grant them (create_key, admin, Permissions::covers) is the route's decision.
    Result<std::string> create_key(const Permissions& permissions, std::string label,
                                   std::optional<std::string> parent_secret);
    // The live key whose secret this is (SHA-256, constant-time digest compare).
    std::optional<KeyInfo> find_key(std::string_view secret) const;
    std::optional<KeyInfo> find_key_by_id(std::string_view id) const;
    // Deletes a key given by secret or by id, and its sub-keys recursively. ENOENT if
    // neither names a live key. Users bound to a deleted key keep its id (so a type-0
    // user never falls back to admin rights): mint_key_for_user then fails for them.
    Status delete_key(std::string_view secret_or_id);
    // Live keys in creation order.
    std::vector<KeyInfo> keys() const;
    // Live direct sub-keys of key `id`, in creation order.
    std::vector<KeyInfo> sub_keys(std::string_view id) const;
    // True when key `id` is `ancestor_id` or one of its sub-keys at any depth.
    bool is_same_or_sub_key(std::string_view id, std::string_view ancestor_id) const;
    // Drops expired keys from memory and, if any of them was in the file, from the file.
    Status prune_expired();
    // The earliest expires_at of any key in memory (expired or not); none when no key expires.
    std::optional<int64_t> next_expiry() const;

    // --- users ---

    // EINVAL on an empty, over-long, non-UTF-8 user name or one with ':', '/' or a
    // control character (Basic auth and the /users/<u> routes could not name it), on an
    // empty or over-long password, on user_type other than 0 or 1, or on `extra` that is
    // neither null nor an object or is larger than kMaxExtraBytes. EEXIST if the user
    // exists; ENOENT if `key_secret` is given and names no live key; ENOSPC past max_users.
    // `extra` is copied; its members "username", "password", "user_type" and "key" are
    // dropped (they are not extra, and "key" could carry a secret).
    Status create_user(const std::string& username, const std::string& password, int user_type,
                       std::optional<std::string> key_secret, json::JsonPtr extra);
    std::optional<User> get_user(std::string_view username) const;
    // Users in creation order.
    std::vector<User> users() const;
    // Deletes the user and the keys minted for it (mint_key_for_user), not its bound key
    // (other users may share it). ENOENT if unknown.
    Status delete_user(std::string_view username);
    // ENOENT for an unknown user, EINVAL for an empty or over-long password.
    Status set_password(std::string_view username, std::string_view password);
    // Binds the live key `key_secret` to the user and drops the keys minted for the user
    // (their rights came from the previous binding). ENOENT for an unknown user or key.
    Status set_user_key(std::string_view username, std::string_view key_secret);
    // The user when the password matches. Unknown users cost the same PBKDF2 work as
    // wrong passwords; both compare in constant time.
    std::optional<User> authenticate(std::string_view username, std::string_view password) const;
    // The user a key belongs to: the user it was minted for, else the first user bound to
    // it. Routes use it for "the user owning the request key".
    std::optional<User> user_for_key(const KeyInfo& key) const;
    // What a login as `username` yields (the rights of the keys /auth mints for it): its
    // bound key's permissions; none if that key is gone; {"admin": true} for a type-0 user
    // without a key; none for a type-1 user without a key or an unknown user.
    Permissions user_permissions(std::string_view username) const;

    // A fresh key for `username` labelled "auth <user>", owned by the user and expiring
    // after `ttl` (EINVAL unless ttl > 0), kept in memory only (see the banner; at most
    // kMaxMintedPerUser per user, the oldest dropped). Its permissions: those of the user's key,
    // whose sub-key it becomes (so deleting that key revokes it, and it never outlives
    // it); a type-0 user without a key gets {"admin": true}; a type-1 user without a key
    // gets no rights. ENOENT for an unknown user or a bound key that no longer exists.
    Result<std::string> mint_key_for_user(std::string_view username, std::chrono::seconds ttl);

    // --- admin bootstrap (`gafferd --create-admin-user`, `--list-admins`) ---

    // Creates the key {"admin": true} labelled "admin key" and the type-0 user bound to it,
    // in one change; returns the key's secret. Errors as create_user.
    Result<std::string> create_admin(const std::string& username, const std::string& password);
    // (username, key id or "") of every type-0 user, in creation order.
    std::vector<std::pair<std::string, std::string>> admins() const;

    // Rereads the file if another process replaced it since this store last read or
    // wrote it. EUCLEAN (and no change) if the new file is corrupt; so is every change
    // until the file is repaired (a change never overwrites a corrupt file).
    Status reload_if_changed();

    // --- change notification ---

    // Incremented by every committed change of the state, own or reloaded.
    uint64_t generation() const { return generation_; }
    using ChangeId = uint64_t;
    // Runs `fn` after every committed change (after generation() moved). Callbacks may call
    // any const member and cancel_on_change(); they must not change the store.
    ChangeId on_change(std::function<void()> fn);
    void cancel_on_change(ChangeId id);

private:
    using State = StoreState;

    Store(StateFile file, Options options);

    int64_t now() const;
    bool live(const KeyRec& k, int64_t now) const;
    KeyInfo info(const KeyRec& k) const;
    User user_value(const UserRec& u) const;
    const KeyRec* live_key_by_secret(const State& s, std::string_view secret, int64_t now) const;

    // Runs `change` on a copy of the (freshly reloaded) state, writes and commits it, then
    // notifies.
    Status mutate(const std::function<Status(State&, int64_t now)>& change);
    Status mutate_locked(const std::function<Status(State&, int64_t now)>& change);
    // The new key is memory-only when `persistent` is false or its parent is memory-only.
    Result<std::string> add_key(State& s, int64_t now, Permissions permissions, std::string label,
                                std::string parent_id, std::optional<int64_t> expires_at, std::string owner,
                                bool persistent = true);
    // Installs `next` as the state (a change committed) and bumps the generation.
    void commit(State next);
    // Runs the on_change callbacks if the generation moved since `before`.
    void notify_since(uint64_t before);
    static void drop_keys(State& s, std::vector<std::string> roots);
    // True when key `id` is `ancestor_id` or one of its sub-keys in `s`.
    static bool descends(const State& s, std::string_view id, std::string_view ancestor_id);
    // Drops the expired keys (only the memory-only ones with `memory_only`).
    static void purge_expired(State& s, int64_t now, bool memory_only = false);

    // Rereads the file if its signature moved; the caller holds the lock.
    Status reload_locked();
    // reload_if_changed() without the callbacks (the caller runs them).
    Status reload_unnotified();

    StateFile file_;  // every syscall of the store goes through it
    Options options_;
    State state_;
    std::optional<FileSig> sig_;  // none: the file is missing
    uint64_t generation_ = 0;
    ChangeId next_change_id_ = 1;
    std::vector<std::pair<ChangeId, std::function<void()>>> listeners_;
};

}  // namespace gaffer::auth
