// SPDX-License-Identifier: MIT
// Keys and users (reference §9.3, rows 29–35) with the gafferd rules of
// security-defaults.md: secrets are shown once, in the answer that creates them; no read
// route returns a secret or a password hash (listings show the short key id);
// GET /auth mints a fresh key with the user's rights and a lifetime.
//
// Rights over keys and users (issue 11 §3): a caller never acts on a key or user whose
// rights it does not cover (auth::Permissions::covers), so create_key and create_user
// cannot be turned into more rights:
// - a key may read and delete itself and its sub-keys (at any depth); any other key only
//   with create_key and rights covering that key's permissions;
// - changing a user (PUT /users/<u>, its password, its key) or deleting it needs
//   create_user and rights covering what a login as that user yields
//   (Store::user_permissions: an admin user needs admin); a user may change its own
//   password.
// Password checks go through the LoginThrottle (login_throttle.h): 429 with Retry-After,
// and no PBKDF2, while the client address or the user name is in its delay.
#include <nettle/base64.h>

#include <cstring>
#include <optional>
#include <string>

#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/http/handlers.h"
#include "lib/manager/errors.h"

namespace gaffer::http::routes {

namespace {

constexpr size_t kMaxAuthorization = 4096;

bool can_create_key(const Ctx& c) {
    return c.rights.perms.can_create_key();
}
bool can_create_user(const Ctx& c) {
    return c.rights.perms.can_create_user();
}

// "Basic base64(user:password)" → {user, password}; the password may contain ':'.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header) {
    header = trim(header);
    if (header.size() > kMaxAuthorization || header.size() < 6)
        return std::nullopt;
    if (to_lower(header.substr(0, 6)) != "basic ")
        return std::nullopt;
    std::string_view b64 = trim(header.substr(6));
    if (b64.empty())
        return std::nullopt;
    std::string out(BASE64_DECODE_LENGTH(b64.size()), '\0');
    struct base64_decode_ctx ctx;
    base64_decode_init(&ctx);
    size_t len = out.size();
    if (!base64_decode_update(&ctx, &len, reinterpret_cast<uint8_t*>(out.data()), b64.size(), b64.data()) ||
        !base64_decode_final(&ctx)) {
        return std::nullopt;
    }
    out.resize(len);
    auto colon = out.find(':');
    if (colon == std::string::npos)
        return std::nullopt;
    return std::make_pair(out.substr(0, colon), out.substr(colon + 1));
}

// Key and user objects never carry a secret or a password hash (lib/auth guarantees it).
json::JsonPtr key_object(const auth::KeyInfo& k) {
    return k.to_json();
}
json::JsonPtr user_object(const auth::User& u) {
    return u.to_json();
}

bool is_secret_member(const char* k) {
    std::string l = to_lower(k);
    return l == "password" || l == "pwd" || l == "key" || l == "hash" || l == "password_hash";
}

// The member as a string; nullopt when absent or null; *ret_bad when of another type.
std::optional<std::string> string_member(const json_t* obj, const char* key, bool* ret_bad) {
    const json_t* v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return std::nullopt;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        *ret_bad = true;
        return std::nullopt;
    }
    return std::string(json_string_value(v));
}

// Is key `k` the request key or one of its sub-keys?
bool own_key(const Ctx& c, const auth::KeyInfo& k) {
    return c.rights.key && c.r.store->is_same_or_sub_key(k.id, c.rights.key->id);
}

// May the caller read and delete key `k` (see the banner)?
bool may_see_key(const Ctx& c, const auth::KeyInfo& k) {
    return own_key(c, k) || (can_create_key(c) && c.rights.perms.covers(k.permissions));
}

// The key behind /keys/<k> (secret or id) as the caller may see it. A key the caller may
// not see answers as an unknown one: 404 for callers with create_key, 403 for the others
// (so that nobody learns whether a secret or id exists).
std::optional<auth::KeyInfo> visible_key(const Ctx& c, std::string_view k, Response* ret_error) {
    auto key = c.r.store->find_key(k);
    if (!key)
        key = c.r.store->find_key_by_id(k);
    if (key && may_see_key(c, *key))
        return key;
    if (can_create_key(c))
        *ret_error = error_response(404, "not_found", "no such key");
    else
        *ret_error = forbidden("create_key permission required");
    return std::nullopt;
}

// Does the request key belong to user `u` (minted for it, or bound to it)?
bool owns(const Ctx& c, const auth::User& u) {
    if (!c.rights.key)
        return false;
    auto owner = c.r.store->user_for_key(*c.rights.key);
    return owner && owner->username == u.username;
}

// nullopt when the caller may change or delete user `name` (see the banner), else the 403.
// An unknown user yields no rights, so the caller learns of it only through the 404.
std::optional<Response> need_cover_user(const Ctx& c, std::string_view name) {
    if (!can_create_user(c))
        return forbidden("create_user permission required");
    if (!c.rights.perms.covers(c.r.store->user_permissions(name)))
        return forbidden("changing this user needs rights that cover the user's");
    return std::nullopt;
}

// Validated POST/PUT user body.
struct UserBody {
    std::string username, password;
    int user_type = 1;
    std::optional<std::string> key;
    json::JsonPtr extra;
};

std::optional<UserBody> parse_user_body(const Ctx& c, const std::string& path_user, Response* ret_error) {
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj) {
        *ret_error = error_response(400, "bad_request", why);
        return std::nullopt;
    }
    UserBody b;
    bool bad = false;
    auto username = string_member(obj->get(), "username", &bad);
    auto password = string_member(obj->get(), "password", &bad);
    b.key = string_member(obj->get(), "key", &bad);
    if (bad) {
        *ret_error = error_response(400, "bad_request", "username, password and key must be strings");
        return std::nullopt;
    }
    if (!path_user.empty()) {
        if (username && *username != path_user) {
            *ret_error = error_response(400, "bad_request", "username conflicts with the path");
            return std::nullopt;
        }
        username = path_user;
    }
    if (!username || username->empty() || !password || password->empty()) {
        *ret_error = error_response(400, "bad_request", "username and password are required");
        return std::nullopt;
    }
    b.username = *username;
    b.password = *password;
    const json_t* t = json_object_get(obj->get(), "user_type");
    if (t && !json_is_null(t)) {
        if (!json_is_integer(t) || (json_integer_value(t) != 0 && json_integer_value(t) != 1)) {
            *ret_error = error_response(400, "bad_request", "user_type: expected 0 (user) or 1 (application)");
            return std::nullopt;
        }
        b.user_type = static_cast<int>(json_integer_value(t));
    }
    if (b.user_type == 0 && !c.rights.perms.admin) {
        *ret_error = forbidden("user_type 0 needs admin permission");
        return std::nullopt;
    }
    if (b.key && !c.r.store->find_key(*b.key)) {
        *ret_error = error_response(400, "bad_request", "key: unknown API key");
        return std::nullopt;
    }
    b.extra = json::take(json_object());
    const char* k;
    json_t* v;
    json_object_foreach(obj->get(), k, v) {
        std::string name = k;
        if (name == "username" || name == "password" || name == "user_type" || name == "key")
            continue;
        if (is_secret_member(k))
            continue;
        json_object_set(b.extra.get(), k, v);
    }
    return b;
}

// Secret answers: {"ok": true, "api_key": K} plus X-Api-Key (and Location for POST /keys).
Response secret_response(std::string secret) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "ok", json::take(json_true()));
    json::set(o.get(), "api_key", json::str(secret));
    Response r = json_response(200, std::move(o));
    r.set_header("X-Api-Key", secret);
    r.set_header("Cache-Control", "no-store");
    return r;
}

// The new key's permissions from a body member (absent: no rights at all). Creating an
// admin key needs admin.
std::optional<auth::Permissions> permissions_member(const Ctx& c, const json_t* obj, Response* ret_error) {
    const json_t* p = json_object_get(obj, "permissions");
    auth::Permissions perms;
    if (p && !json_is_null(p)) {
        auto parsed = auth::Permissions::from_json(p);
        if (!parsed) {
            *ret_error = error_response(400, "bad_request", parsed.error().context);
            return std::nullopt;
        }
        perms = std::move(*parsed);
    }
    if (perms.admin && !c.rights.perms.admin) {
        *ret_error = forbidden("creating an admin key needs admin permission");
        return std::nullopt;
    }
    // A key never hands out more than its creator has (no escalation through sub-keys).
    if (!c.rights.perms.covers(perms)) {
        *ret_error = forbidden("a key cannot grant rights its creator does not have");
        return std::nullopt;
    }
    return perms;
}

// A store failure through the one table (manager::map_auth_error). Client mistakes are
// answered with the store's reason; an internal failure is logged once, here, and
// answered with the error's full message.
Response store_error(const Error& e) {
    const manager::ErrorMapping& m = manager::map_auth_error(e);
    if (m.outcome == manager::Outcome::kInternal) {
        log_warning("http: auth store: %s", e.message().c_str());
        return error_response(m.http_status, m.name, e.message());
    }
    Response r = error_response(m.http_status, m.name, e.context);
    // auth.json is locked by another process (gafferd --create-admin-user): the daemon
    // does not wait for it on its loop.
    if (m.outcome == manager::Outcome::kBusy)
        r.set_header("Retry-After", "1");
    return r;
}

}  // namespace

// ---- row 29 ----

Response auth(Ctx& c) {
    auto header = c.req.header("authorization");
    if (!header)
        return error_response(401, "unauthorized", "Basic credentials required");
    auto creds = basic_credentials(*header);
    if (!creds)
        return error_response(401, "unauthorized", "malformed Basic credentials");
    // Unix-socket callers are told apart by uid.
    std::string client = c.req.peer.kind == EndpointKind::kUnix
                             ? "uid " + std::to_string(c.req.peer.uid.value_or(static_cast<uid_t>(-1)))
                             : c.req.peer.address;
    auto& throttle = c.r.login_throttle;
    if (auto wait = throttle.admit(client, creds->first); wait.count() > 0) {
        Response r = error_response(429, "too_many_requests", "too many failed logins: retry later");
        r.set_header("Retry-After", std::to_string(wait.count()));
        return r;
    }
    auto user = c.r.store->authenticate(creds->first, creds->second);
    if (!user) {
        throttle.failed(client, creds->first);
        return error_response(401, "unauthorized", "bad user name or password");
    }
    throttle.succeeded(client, creds->first);
    auto key = c.r.store->mint_key_for_user(user->username, c.r.opts.auth_key_ttl);
    if (!key)
        return store_error(key.error());
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "api_key", json::str(*key));
    Response r = json_response(200, std::move(o));
    r.set_header("X-Api-Key", *key);
    r.set_header("Cache-Control", "no-store");
    return r;
}

// ---- rows 30–31 ----

Response keys_list(Ctx& c) {
    if (auto d = c.need_admin())
        return *d;
    bool full = false;
    if (auto v = c.req.query_value("include_keys"))
        full = parse_bool(*v).value_or(false);
    json::JsonPtr arr = json::take(json_array());
    for (const auto& k : c.r.store->keys()) {
        json_array_append_new(arr.get(), full ? key_object(k).release() : json::str(k.id).release());
    }
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "keys", std::move(arr));
    return json_response(200, std::move(o));
}

Response keys_create(Ctx& c) {
    if (!can_create_key(c))
        return forbidden("create_key permission required");
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "bad_request", why);
    Response err;
    auto perms = permissions_member(c, obj->get(), &err);
    if (!perms)
        return err;
    bool bad = false;
    auto label = string_member(obj->get(), "label", &bad);
    auto parent = string_member(obj->get(), "parent", &bad);
    if (bad)
        return error_response(400, "bad_request", "label and parent must be strings");
    if (parent && !c.r.store->find_key(*parent))
        return error_response(400, "bad_request", "parent: unknown API key");
    auto secret = c.r.store->create_key(*perms, label.value_or(""), parent);
    if (!secret)
        return store_error(secret.error());
    Response r = secret_response(*secret);
    std::string host(c.req.header("host").value_or("localhost"));
    r.set_header("Location", std::string(c.req.peer.tls ? "https" : "http") + "://" + host + "/keys/" + *secret);
    return r;
}

Response key_get(Ctx& c) {
    Response err;
    auto key = visible_key(c, c.seg[1], &err);
    if (!key)
        return err;
    json::JsonPtr o = key_object(*key);
    if (auto v = c.req.query_value("include_keys"); v && parse_bool(*v).value_or(false)) {
        json::JsonPtr subs = json::take(json_array());
        for (const auto& s : c.r.store->sub_keys(key->id)) {
            if (may_see_key(c, s))
                json_array_append_new(subs.get(), key_object(s).release());
        }
        json::set(o.get(), "keys", std::move(subs));
    }
    return json_response(200, std::move(o));
}

Response key_delete(Ctx& c) {
    Response err;
    auto key = visible_key(c, c.seg[1], &err);
    if (!key)
        return err;
    Status st = c.r.store->delete_key(key->id);
    if (!st)
        return store_error(st.error());
    return ok_response(200);
}

// ---- rows 32–35 ----

Response users_list(Ctx& c) {
    if (auto d = c.need_admin())
        return *d;
    bool full = false;
    if (auto v = c.req.query_value("include_user"))
        full = parse_bool(*v).value_or(false);
    json::JsonPtr arr = json::take(json_array());
    for (const auto& u : c.r.store->users()) {
        json_array_append_new(arr.get(), full ? user_object(u).release() : json::str(u.username).release());
    }
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "users", std::move(arr));
    return json_response(200, std::move(o));
}

Response users_create(Ctx& c) {
    if (!can_create_user(c))
        return forbidden("create_user permission required");
    Response err;
    auto body = parse_user_body(c, c.seg.size() > 1 ? c.seg[1] : std::string(), &err);
    if (!body)
        return err;
    Status st =
        c.r.store->create_user(body->username, body->password, body->user_type, body->key, std::move(body->extra));
    if (!st)
        return store_error(st.error());
    return ok_response(200);
}

Response user_get(Ctx& c) {
    auto user = c.r.store->get_user(c.seg[1]);
    bool allowed = can_create_user(c) || (user && owns(c, *user));
    if (!allowed) {
        // HEAD: unauthorised callers get 404 (§9.3); GET: 403 whether or not the user exists.
        if (c.is_head())
            return error_response(404, "not_found");
        return forbidden("create_user permission required");
    }
    if (!user)
        return error_response(404, "not_found", "no such user");
    return json_response(200, user_object(*user));
}

Response user_update(Ctx& c) {
    const std::string& name = c.seg[1];
    if (auto d = need_cover_user(c, name))
        return *d;
    Response err;
    auto body = parse_user_body(c, name, &err);
    if (!body)
        return err;
    if (!c.r.store->get_user(name))
        return error_response(404, "not_found", "no such user");
    // PUT replaces the user; everything was validated above, so the re-creation can only
    // fail on I/O.
    Status st = c.r.store->delete_user(name);
    if (!st)
        return store_error(st.error());
    st = c.r.store->create_user(body->username, body->password, body->user_type, body->key, std::move(body->extra));
    if (!st)
        return store_error(st.error());
    return ok_response(200);
}

Response user_delete(Ctx& c) {
    if (auto d = need_cover_user(c, c.seg[1]))
        return *d;
    Status st = c.r.store->delete_user(c.seg[1]);
    if (!st)
        return store_error(st.error());
    return ok_response(200);
}

Response user_password(Ctx& c) {
    const std::string& name = c.seg[1];
    auto user = c.r.store->get_user(name);
    if (!(user && owns(c, *user))) {
        if (auto d = need_cover_user(c, name))
            return *d;
    }
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "bad_request", why);
    bool bad = false;
    auto password = string_member(obj->get(), "password", &bad);
    if (bad || !password || password->empty())
        return error_response(400, "bad_request", "password: required");
    if (!user)
        return error_response(404, "not_found", "no such user");
    Status st = c.r.store->set_password(name, *password);
    if (!st)
        return store_error(st.error());
    return ok_response(200);
}

Response user_key(Ctx& c) {
    const std::string& name = c.seg[1];
    if (auto d = need_cover_user(c, name))
        return *d;
    std::string why;
    auto obj = parse_object(c.req.body, &why);
    if (!obj)
        return error_response(400, "bad_request", why);
    bool bad = false;
    auto key = string_member(obj->get(), "key", &bad);
    if (bad)
        return error_response(400, "bad_request", "key: expected a string");
    const json_t* perms_member = json_object_get(obj->get(), "permissions");
    if (!key && (!perms_member || json_is_null(perms_member))) {
        return error_response(400, "bad_request", "key (an existing key) or permissions (for a new key) required");
    }
    if (!c.r.store->get_user(name))
        return error_response(404, "not_found", "no such user");
    if (key) {
        if (!c.r.store->find_key(*key))
            return error_response(400, "bad_request", "key: unknown API key");
        Status st = c.r.store->set_user_key(name, *key);
        if (!st)
            return store_error(st.error());
        return ok_response(200);
    }
    // A new key for the user: its secret is shown here, once.
    if (!can_create_key(c))
        return forbidden("create_key permission required");
    Response err;
    auto perms = permissions_member(c, obj->get(), &err);
    if (!perms)
        return err;
    auto secret = c.r.store->create_key(*perms, "user " + name, std::nullopt);
    if (!secret)
        return store_error(secret.error());
    Status st = c.r.store->set_user_key(name, *secret);
    if (!st) {
        (void)c.r.store->delete_key(*secret);
        return store_error(st.error());
    }
    return secret_response(*secret);
}

}  // namespace gaffer::http::routes
