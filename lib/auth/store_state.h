// SPDX-License-Identifier: MIT
// StoreState: the key/user store's state as plain data, shared by the key API (store.h)
// and the state file codec (store_file.h), and the rules each field obeys. No I/O here.
//
// Invariants:
// - Records are immutable once sealed and shared between the committed state and the
//   copy a change works on, so a change costs O(records) pointer copies, not deep copies.
//   `json` is the record's compact line in the state file, encoded once by seal(), so
//   that writing the file is a concatenation.
// - In `keys` a parent precedes its sub-keys (the parser checks it, Store keeps it);
//   key_index and user_index map ids and names to positions (reindex() after erasing).
// - The check_* functions are the one place that says what a valid user name, password,
//   label, user type and extra object are: the API checks client input with them and the
//   parser checks the file with them. They fail with EINVAL and a reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/auth/crypto.h"
#include "lib/auth/permissions.h"
#include "lib/base/result.h"
#include "lib/json/json.h"

namespace gaffer::auth {

// ---- limits (Store re-exports them) ----
inline constexpr size_t kMaxLabelBytes = 1024;
inline constexpr size_t kMaxUsernameBytes = 256;
inline constexpr size_t kMaxPasswordBytes = 4096;
inline constexpr size_t kMaxExtraBytes = 16384;      // compact JSON of a user's `extra`
inline constexpr size_t kMaxStateBytes = 64u << 20;  // the whole state file
inline constexpr size_t kKeyIdHexDigits = 8;         // a key id: the first digits of SHA-256(secret)

struct KeyRec {
    std::string id;
    Sha256 hash{};
    std::string label;
    Permissions permissions;
    std::string parent_id;
    std::optional<int64_t> expires_at;
    std::string owner;
    int64_t created_at = 0;
    bool persistent = true;  // false: memory only (never saved, kept across reloads)
    std::string json;        // set by seal()
};

struct UserRec {
    std::string username;
    std::string password_hash;
    int user_type = 1;
    std::string key_id;
    json::JsonPtr extra;  // a JSON object, never handed out (callers get deep copies)
    std::string json;     // set by seal()
};

using KeyPtr = std::shared_ptr<const KeyRec>;
using UserPtr = std::shared_ptr<const UserRec>;

// Encodes the record's line and freezes it.
KeyPtr seal(KeyRec k);
UserPtr seal(UserRec u);
// A modifiable copy of a sealed user record, to seal again (shares the immutable extra).
UserRec edit(const UserRec& u);

struct StoreState {
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Index = std::unordered_map<std::string, size_t, StringHash, std::equal_to<>>;

    std::vector<KeyPtr> keys;    // creation order; a parent precedes its sub-keys
    std::vector<UserPtr> users;  // creation order
    Index key_index;             // id → keys[i]
    Index user_index;            // username → users[i]

    void reindex();
    void add(KeyPtr k);
    void add(UserPtr u);
    const KeyRec* key(std::string_view id) const;
    const UserRec* user(std::string_view name) const;
    // Replaces the user record of the same name.
    void replace(UserPtr u);
};

// The id of the key whose secret has this digest.
std::string key_id_of(const Sha256& hash);

// ---- field rules (EINVAL with a reason) ----
// Not empty, at most kMaxUsernameBytes, UTF-8, no control character, ':' or '/' (Basic
// auth and the /users/<u> routes could not name it).
Status check_username(std::string_view name);
// Not empty, at most kMaxPasswordBytes.
Status check_password(std::string_view password);
// At most kMaxLabelBytes, UTF-8, no NUL.
Status check_label(std::string_view label);
// 0 (user) or 1 (application).
Status check_user_type(int64_t user_type);
// A private, immutable copy of a user's extra members: null or absent gives {}; else an
// object whose compact JSON is at most kMaxExtraBytes once the reserved members
// "username", "password", "user_type" and "key" are dropped.
Result<json::JsonPtr> copy_extra(const json_t* extra);

}  // namespace gaffer::auth
