// SPDX-License-Identifier: MIT
// Permission checks and the JSON codec of key permissions; see permissions.h.
#include "lib/auth/permissions.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace gaffer::auth {

namespace {

// Whether one list grants `target`: "*", the exact target, or the target's session.
bool list_grants(const std::vector<std::string>& list, std::string_view target) {
    std::string_view session = target.substr(0, target.find('.'));
    for (const auto& e : list) {
        if (e == "*" || e == target || e == session)
            return true;
    }
    return false;
}

bool has_star(const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), "*") != list.end();
}

Result<bool> parse_flag(const json_t* obj, const char* name) {
    const json_t* v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return false;
    if (!json_is_boolean(v))
        return fail(Error::make(EINVAL, "permissions.%s must be a boolean", name));
    return json_is_true(v) ? true : false;
}

Result<std::vector<std::string>> parse_list(const json_t* obj, const char* name) {
    std::vector<std::string> out;
    const json_t* v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return out;
    if (!json_is_array(v)) {
        return fail(Error::make(EINVAL, "permissions.%s must be an array of strings", name));
    }
    if (json_array_size(v) > Permissions::kMaxEntries) {
        return fail(Error::make(EINVAL, "permissions.%s has more than %zu entries", name, Permissions::kMaxEntries));
    }
    size_t i;
    const json_t* e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0) {
            return fail(Error::make(EINVAL, "permissions.%s[%zu] must be a non-empty string", name, i));
        }
        if (json_string_length(e) > Permissions::kMaxEntryBytes) {
            return fail(Error::make(EINVAL, "permissions.%s[%zu] is longer than %zu bytes", name, i,
                                    Permissions::kMaxEntryBytes));
        }
        std::string s(json_string_value(e), json_string_length(e));
        if (s.find('\0') != std::string::npos) {
            return fail(Error::make(EINVAL, "permissions.%s[%zu] contains a NUL byte", name, i));
        }
        out.push_back(std::move(s));
    }
    return out;
}

bool is_decimal(std::string_view s) {
    if (s.empty())
        return false;
    for (char ch : s) {
        if (ch < '0' || ch > '9')
            return false;
    }
    return true;
}

// (uid_t)-1 means "unchanged" to setresuid(2), so it is never a user.
constexpr uint64_t kMaxUid = UINT32_MAX - 1ull;

// One `uids` entry: an integer, or a string (digits count as the number, as the job
// option `uid` takes them). Numbers are kept as their decimal text without leading zeros.
Result<std::string> parse_uid_entry(const json_t* e, size_t i) {
    if (json_is_integer(e)) {
        json_int_t v = json_integer_value(e);
        if (v < 0 || static_cast<uint64_t>(v) > kMaxUid) {
            return fail(Error::make(EINVAL, "permissions.uids[%zu] is not a valid uid", i));
        }
        return std::to_string(v);
    }
    if (!json_is_string(e) || json_string_length(e) == 0) {
        return fail(Error::make(EINVAL, "permissions.uids[%zu] must be a uid or a user name", i));
    }
    if (json_string_length(e) > Permissions::kMaxEntryBytes) {
        return fail(
            Error::make(EINVAL, "permissions.uids[%zu] is longer than %zu bytes", i, Permissions::kMaxEntryBytes));
    }
    std::string s(json_string_value(e), json_string_length(e));
    if (s.find('\0') != std::string::npos) {
        return fail(Error::make(EINVAL, "permissions.uids[%zu] contains a NUL byte", i));
    }
    if (!is_decimal(s))
        return s;
    uint64_t v = 0;
    for (char ch : s) {
        v = v * 10 + static_cast<uint64_t>(ch - '0');
        if (v > kMaxUid)
            return fail(Error::make(EINVAL, "permissions.uids[%zu] is not a valid uid", i));
    }
    return std::to_string(v);
}

Result<std::vector<std::string>> parse_uids(const json_t* obj) {
    std::vector<std::string> out;
    const json_t* v = json_object_get(obj, "uids");
    if (!v || json_is_null(v))
        return out;
    if (!json_is_array(v)) {
        return fail(Error::make(EINVAL, "permissions.uids must be an array of uids and user names"));
    }
    if (json_array_size(v) > Permissions::kMaxEntries) {
        return fail(Error::make(EINVAL, "permissions.uids has more than %zu entries", Permissions::kMaxEntries));
    }
    size_t i;
    const json_t* e;
    json_array_foreach(v, i, e) {
        GAFFER_TRY(auto entry, parse_uid_entry(e, i));
        out.push_back(std::move(entry));
    }
    return out;
}

}  // namespace

bool Permissions::may_use_uid(uid_t uid, std::string_view user_name) const {
    if (admin)
        return true;
    std::string number = std::to_string(uid);
    for (const auto& e : uids) {
        if (e == number || (!user_name.empty() && e == user_name))
            return true;
    }
    return false;
}

bool Permissions::has_uid_names() const {
    return std::any_of(uids.begin(), uids.end(), [](const std::string& e) { return !is_decimal(e); });
}

bool Permissions::manage_all() const {
    return admin || has_star(manage);
}

bool Permissions::can_manage(std::string_view target) const {
    return admin || list_grants(manage, target);
}

bool Permissions::can_write(std::string_view target) const {
    return can_manage(target) || list_grants(write, target);
}

bool Permissions::can_read(std::string_view target) const {
    return can_write(target) || list_grants(read, target);
}

bool Permissions::covers(const Permissions& other) const {
    if (admin)
        return true;
    if (other.admin)
        return false;
    if (other.create_key && !create_key)
        return false;
    if (other.create_user && !create_user)
        return false;
    // A "*" entry of `other` is a target only "*" grants, so this also handles "*".
    for (const auto& t : other.manage) {
        if (!can_manage(t))
            return false;
    }
    for (const auto& t : other.write) {
        if (!can_write(t))
            return false;
    }
    for (const auto& t : other.read) {
        if (!can_read(t))
            return false;
    }
    for (const auto& u : other.uids) {
        if (std::find(uids.begin(), uids.end(), u) == uids.end())
            return false;
    }
    // "*" is a name only "*" (or admin) grants, as for the target lists.
    for (const auto& n : other.register_names) {
        if (!can_register(n))
            return false;
    }
    return true;
}

bool Permissions::can_register(std::string_view name) const {
    if (admin)
        return true;
    return std::any_of(register_names.begin(), register_names.end(),
                       [&](const std::string& e) { return e == "*" || e == name; });
}

Result<Permissions> Permissions::from_json(const json_t* j) {
    Permissions p;
    if (!j || json_is_null(j))
        return p;
    if (!json_is_object(j))
        return fail(Error::make(EINVAL, "permissions must be a JSON object"));
    GAFFER_TRY(p.admin, parse_flag(j, "admin"));
    GAFFER_TRY(p.create_key, parse_flag(j, "create_key"));
    GAFFER_TRY(p.create_user, parse_flag(j, "create_user"));
    GAFFER_TRY(p.manage, parse_list(j, "manage"));
    GAFFER_TRY(p.write, parse_list(j, "write"));
    GAFFER_TRY(p.read, parse_list(j, "read"));
    GAFFER_TRY(p.uids, parse_uids(j));
    GAFFER_TRY(p.register_names, parse_list(j, "register"));
    return p;
}

json::JsonPtr Permissions::to_json() const {
    json::JsonPtr o(json_object());
    json::set(o.get(), "admin", json::JsonPtr(json_boolean(admin)));
    json::set(o.get(), "create_key", json::JsonPtr(json_boolean(create_key)));
    json::set(o.get(), "create_user", json::JsonPtr(json_boolean(create_user)));
    json::set(o.get(), "manage", json::strings(manage));
    json::set(o.get(), "write", json::strings(write));
    json::set(o.get(), "read", json::strings(read));
    json::JsonPtr u(json_array());
    for (const auto& e : uids) {
        json_t* v = is_decimal(e) ? json_integer(static_cast<json_int_t>(std::strtoull(e.c_str(), nullptr, 10)))
                                  : json_stringn(e.data(), e.size());
        json_array_append_new(u.get(), v);
    }
    json::set(o.get(), "uids", std::move(u));
    if (!register_names.empty())
        json::set(o.get(), "register", json::strings(register_names));
    return o;
}

Permissions Permissions::full() {
    Permissions p;
    p.admin = p.create_key = p.create_user = true;
    p.manage = {"*"};
    p.write = {"*"};
    p.read = {"*"};
    return p;
}

}  // namespace gaffer::auth
