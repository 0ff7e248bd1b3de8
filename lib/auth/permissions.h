// SPDX-License-Identifier: MIT
// Permissions of an API key (reference §9.2).
//
//   {"admin": false, "create_key": false, "create_user": false,
//    "manage": ["mysession", "other.job"], "write": [], "read": ["*"], "uids": [1000, "www-data"]}
//
// `admin` implies everything, including create_key and create_user. The target lists
// nest: manage ⊇ write ⊇ read, so a read check looks in all three lists and a write
// check in write and manage. A list entry is "*" (everything), a session id (covers that
// session and every job in it) or "sid.job" (that job only). A target is "sid" or
// "sid.job"; the session is the text before the first '.', as in reference §2.6.
// `uids` (a gafferd extension, issue 11) lists the users whose uid a job loaded with the
// key may run as when the caller has no full rights: numbers or user names, kept as
// given (a name is matched against the name of the job's uid, which the caller looks up).
// `register` (a gaffer_lookupd extension, issue 15) lists the node names a key may
// IDENTIFY as on a lookupd's /ws ("*" = any name); admin implies any name. It is written
// by to_json only when not empty, so gafferd's key objects keep their seven members.
// Checks are pure functions of the value: no I/O, no allocation.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/json/json.h"

namespace gaffer::auth {

struct Permissions {
    bool admin = false;
    bool create_key = false;
    bool create_user = false;
    std::vector<std::string> manage, write, read;
    // uids a job may name (see above); decimal strings for numbers, else user names.
    std::vector<std::string> uids;
    // Node names the key may register as on a lookupd (see above).
    std::vector<std::string> register_names;

    // Bounds on what a client may send (a key object can never grow the daemon).
    static constexpr size_t kMaxEntries = 1024;    // per list
    static constexpr size_t kMaxEntryBytes = 512;  // per entry

    // admin, or "*" in manage.
    bool manage_all() const;
    bool can_read(std::string_view target) const;
    bool can_write(std::string_view target) const;
    bool can_manage(std::string_view target) const;
    // admin implies these.
    bool can_create_key() const { return admin || create_key; }
    bool can_create_user() const { return admin || create_user; }
    // Whether a job may run as `uid` (whose user name is `user_name`, empty when unknown)
    // by these rights alone: admin, or `uids` lists the number or the name.
    bool may_use_uid(uid_t uid, std::string_view user_name) const;
    // Whether `uids` has an entry that is a user name (then may_use_uid needs the name).
    bool has_uid_names() const;
    // Whether the key may IDENTIFY as node `name` on a lookupd: admin, "*" or the name
    // in `register`.
    bool can_register(std::string_view name) const;
    // Whether the key may IDENTIFY as some node (admin or a non-empty `register`).
    bool may_register() const { return admin || !register_names.empty(); }

    // True when every right of `other` is also a right of *this (admin covers all; an
    // "admin" `other` is covered only by an admin; a uid entry of `other` only by the same
    // entry, as written, in `uids`; a `register` name only by can_register). Routes use it to refuse a key that
    // would give its creator more than the creator has.
    bool covers(const Permissions& other) const;

    // Parses a permissions object. A null pointer or JSON null is "no rights" (the
    // original defaulted a missing "permissions" to {}); absent or null members take
    // their defaults; unknown members are ignored. Anything else of the wrong shape is
    // EINVAL naming the member ("permissions.manage[2] must be a non-empty string").
    static Result<Permissions> from_json(const json_t* j);
    // All seven members, always, lists in their stored order; uids as integers where
    // they are numbers; an eighth, "register", when it is not empty.
    json::JsonPtr to_json() const;
    // Everything: admin, create_key, create_user, and "*" in every list.
    static Permissions full();

    bool operator==(const Permissions&) const = default;
};

}  // namespace gaffer::auth
