// SPDX-License-Identifier: MIT
// The store's records, their encoding and the field rules. See store_state.h.
#include "lib/auth/store_state.h"

#include <cerrno>

#include "lib/base/utf8.h"

namespace gaffer::auth {

namespace {

bool valid_utf8(std::string_view s) {
    return gaffer::sanitize_utf8(s) == s;
}

}  // namespace

// ---- records ----

KeyPtr seal(KeyRec k) {
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

UserPtr seal(UserRec u) {
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

UserRec edit(const UserRec& u) {
    // The extra object is never modified once sealed, so the copy shares it.
    return UserRec{u.username, u.password_hash, u.user_type, u.key_id, json::ref(u.extra.get()), ""};
}

// ---- StoreState ----

void StoreState::reindex() {
    key_index.clear();
    user_index.clear();
    key_index.reserve(keys.size());
    user_index.reserve(users.size());
    for (size_t i = 0; i < keys.size(); ++i) key_index.emplace(keys[i]->id, i);
    for (size_t i = 0; i < users.size(); ++i) user_index.emplace(users[i]->username, i);
}

void StoreState::add(KeyPtr k) {
    key_index.emplace(k->id, keys.size());
    keys.push_back(std::move(k));
}

void StoreState::add(UserPtr u) {
    user_index.emplace(u->username, users.size());
    users.push_back(std::move(u));
}

const KeyRec* StoreState::key(std::string_view id) const {
    auto it = key_index.find(id);
    return it == key_index.end() ? nullptr : keys[it->second].get();
}

const UserRec* StoreState::user(std::string_view name) const {
    auto it = user_index.find(name);
    return it == user_index.end() ? nullptr : users[it->second].get();
}

void StoreState::replace(UserPtr u) {
    auto it = user_index.find(u->username);
    if (it != user_index.end())
        users[it->second] = std::move(u);
}

std::string key_id_of(const Sha256& hash) {
    return to_hex(hash.data(), kKeyIdHexDigits / 2);
}

// ---- field rules ----

Status check_username(std::string_view name) {
    if (name.empty())
        return fail(EINVAL, "username must not be empty");
    if (name.size() > kMaxUsernameBytes)
        return fail(Error::make(EINVAL, "username is longer than %zu bytes", kMaxUsernameBytes));
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
    if (password.size() > kMaxPasswordBytes)
        return fail(Error::make(EINVAL, "password is longer than %zu bytes", kMaxPasswordBytes));
    return ok();
}

Status check_label(std::string_view label) {
    if (label.size() > kMaxLabelBytes)
        return fail(Error::make(EINVAL, "label is longer than %zu bytes", kMaxLabelBytes));
    if (label.find('\0') != std::string_view::npos)
        return fail(EINVAL, "label contains a NUL byte");
    if (!valid_utf8(label))
        return fail(EINVAL, "label is not valid UTF-8");
    return ok();
}

Status check_user_type(int64_t user_type) {
    if (user_type != 0 && user_type != 1)
        return fail(EINVAL, "user_type must be 0 or 1");
    return ok();
}

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
    if (json::dump(copy.get()).size() > kMaxExtraBytes)
        return fail(Error::make(EINVAL, "extra user members are larger than %zu bytes", kMaxExtraBytes));
    return copy;
}

}  // namespace gaffer::auth
