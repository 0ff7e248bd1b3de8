// SPDX-License-Identifier: MIT
// The state file: the pure codec, then the lock, the read and the atomic write. See
// store_file.h.
#include "lib/auth/store_file.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/auth/password.h"
#include "lib/base/log.h"

namespace gaffer::auth {

namespace {

std::string json_text(const json_t* s) {
    return std::string(json_string_value(s), json_string_length(s));
}

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Unexpected corrupt(const std::string& why) {
    return fail(EINVAL, why);
}

Result<KeyPtr> parse_key(const json_t* e, const std::string& where, const StoreState& s) {
    if (!json_is_object(e))
        return corrupt(where + " is not an object");
    KeyRec k;
    const json_t* id = json_object_get(e, "id");
    const json_t* hash = json_object_get(e, "hash");
    if (!json_is_string(id) || json_string_length(id) != kKeyIdHexDigits || !is_lower_hex(json_text(id)))
        return corrupt(where + ".id must be " + std::to_string(kKeyIdHexDigits) + " lowercase hex digits");
    k.id = json_text(id);
    if (!json_is_string(hash) || json_string_length(hash) != 2 * k.hash.size() || !is_lower_hex(json_text(hash)))
        return corrupt(where + ".hash must be 64 lowercase hex digits");
    auto raw = from_hex(json_text(hash));
    if (!raw || raw->size() != k.hash.size())
        return corrupt(where + ".hash must be 64 lowercase hex digits");
    std::memcpy(k.hash.data(), raw->data(), k.hash.size());
    if (key_id_of(k.hash) != k.id)
        return corrupt(where + ".id does not match its hash");
    if (s.key(k.id))
        return corrupt(where + ".id is a duplicate");
    const json_t* label = json_object_get(e, "label");
    if (label) {
        if (!json_is_string(label) || !check_label(json_text(label))) {
            return corrupt(where + ".label must be a string of at most " + std::to_string(kMaxLabelBytes) + " bytes");
        }
        k.label = json_text(label);
    }
    auto perms = Permissions::from_json(json_object_get(e, "permissions"));
    if (!perms)
        return corrupt(where + ": " + perms.error().context);
    k.permissions = std::move(*perms);
    const json_t* parent = json_object_get(e, "parent");
    if (parent && !json_is_null(parent)) {
        if (!json_is_string(parent) || !s.key(json_text(parent)))
            return corrupt(where + ".parent must name an earlier key");
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
    return seal(std::move(k));
}

Result<UserPtr> parse_user(const json_t* e, const std::string& where, const StoreState& s) {
    if (!json_is_object(e))
        return corrupt(where + " is not an object");
    UserRec u;
    const json_t* name = json_object_get(e, "username");
    if (!json_is_string(name))
        return corrupt(where + ".username must be a string");
    u.username = json_text(name);
    if (Status st = check_username(u.username); !st)
        return corrupt(where + ".username: " + st.error().context);
    if (s.user(u.username))
        return corrupt(where + ".username is a duplicate");
    const json_t* password = json_object_get(e, "password");
    if (!json_is_string(password) || !is_password_hash(json_text(password)))
        return corrupt(where + ".password must be a PBKDF2 hash");
    u.password_hash = json_text(password);
    const json_t* type = json_object_get(e, "user_type");
    if (!json_is_integer(type) || !check_user_type(json_integer_value(type)))
        return corrupt(where + ".user_type must be 0 or 1");
    u.user_type = static_cast<int>(json_integer_value(type));
    const json_t* key = json_object_get(e, "key");
    if (key && !json_is_null(key)) {
        // May name a deleted key (Store::delete_key), so only the shape is checked.
        if (!json_is_string(key) || json_string_length(key) > 64)
            return corrupt(where + ".key must be a key id");
        u.key_id = json_text(key);
    }
    auto extra = copy_extra(json_object_get(e, "extra"));
    if (!extra)
        return corrupt(where + ".extra: " + extra.error().context);
    u.extra = std::move(*extra);
    return seal(std::move(u));
}

FileSig sig_of(const struct stat& st) {
    return FileSig{st.st_dev, st.st_ino, st.st_size, int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
}

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
        if (::mkdir(prefix.c_str(), 0700) < 0 && errno != EEXIST)
            return fail(Error::from_errno("mkdir '%s'", prefix.c_str()));
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

// ---- the format ----

Result<StoreState> parse_state(std::string_view text) {
    if (text.size() > kMaxStateBytes)
        return fail(Error::make(EFBIG, "larger than %zu bytes", kMaxStateBytes));
    auto parsed = json::parse(text);
    if (!parsed)
        return corrupt(parsed.error().context);
    const json_t* root = parsed->get();
    if (!json_is_object(root))
        return corrupt("not a JSON object");
    const json_t* version = json_object_get(root, "version");
    if (!json_is_integer(version) || json_integer_value(version) != kStateVersion)
        return corrupt("\"version\" must be " + std::to_string(kStateVersion));
    const json_t* keys = json_object_get(root, "keys");
    const json_t* users = json_object_get(root, "users");
    if (!json_is_array(keys))
        return corrupt("\"keys\" must be an array");
    if (!json_is_array(users))
        return corrupt("\"users\" must be an array");

    StoreState s;
    size_t i;
    const json_t* e;
    json_array_foreach(keys, i, e) {
        GAFFER_TRY(KeyPtr k, parse_key(e, "keys[" + std::to_string(i) + "]", s));
        s.add(std::move(k));
    }
    json_array_foreach(users, i, e) {
        GAFFER_TRY(UserPtr u, parse_user(e, "users[" + std::to_string(i) + "]", s));
        s.add(std::move(u));
    }
    return s;
}

std::string serialize_state(const StoreState& s) {
    // The records were encoded when they were sealed: this is a concatenation.
    size_t size = 64;
    for (const auto& k : s.keys) size += k->persistent ? k->json.size() + 2 : 0;
    for (const auto& u : s.users) size += u->json.size() + 2;
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
    return text;
}

// ---- the file ----

StateFile::Lock::~Lock() {
    if (fd_ >= 0)
        (void)::flock(fd_, LOCK_UN);
}

Result<StateFile> StateFile::open(std::string path) {
    if (path.empty())
        return fail(EINVAL, "the auth state file path is empty");
    GAFFER_RETURN_IF_ERROR(make_dirs(dir_of(path)));
    std::string lock_path = path + ".lock";
    UniqueFd lock_fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock_fd)
        return fail(Error::from_errno("open '%s'", lock_path.c_str()));
    return StateFile(std::move(path), std::move(lock_fd));
}

Result<StateFile::Lock> StateFile::lock(bool wait) const {
    while (::flock(lock_fd_.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK)
            return fail(Error::make(EBUSY, "state file '%s' is locked by another process", path_.c_str()));
        return fail(Error::from_errno("flock '%s'", path_.c_str()));
    }
    return Lock(lock_fd_.get());
}

Result<std::optional<FileSig>> StateFile::stat() const {
    struct stat st;
    if (::stat(path_.c_str(), &st) < 0) {
        if (errno == ENOENT)
            return std::optional<FileSig>();
        return fail(Error::from_errno("stat '%s'", path_.c_str()));
    }
    return std::optional<FileSig>(sig_of(st));
}

Result<StateFile::Loaded> StateFile::read() const {
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path_.c_str()));
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
        return fail(Error::from_errno("stat '%s'", path_.c_str()));
    if (!S_ISREG(st.st_mode))
        return fail(Error::make(EUCLEAN, "state file '%s' is not a regular file", path_.c_str()));
    auto too_big = [&] {
        return fail(Error::make(EFBIG, "state file '%s' is larger than %zu bytes", path_.c_str(), kMaxStateBytes));
    };
    if (static_cast<uint64_t>(st.st_size) > kMaxStateBytes)
        return too_big();
    if ((st.st_mode & 077) != 0) {
        // Only the daemon's user may read it (security-defaults.md).
        if (::fchmod(fd.get(), 0600) < 0)
            return fail(Error::from_errno("chmod 0600 '%s'", path_.c_str()));
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
        if (text.size() > kMaxStateBytes)
            return too_big();
    }
    // The text is invalid, but no caller's input is: EUCLEAN, so that nobody answers a
    // client "bad request" for it.
    auto state = parse_state(text);
    if (!state)
        return fail(EUCLEAN, "state file '" + path_ + "' is corrupt: " + state.error().context);
    return Loaded{std::move(*state), sig_of(st)};
}

Result<FileSig> StateFile::write(const StoreState& s) const {
    std::string text = serialize_state(s);
    if (text.size() > kMaxStateBytes)
        return fail(Error::make(ENOSPC, "auth state would exceed %zu bytes", kMaxStateBytes));

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
    if (::rename(tmp.c_str(), path_.c_str()) < 0)
        return fail(Error::from_errno("rename '%s' to '%s'", tmp.c_str(), path_.c_str()));
    renamed = true;
    // Make the rename itself durable. The new state is in place whatever happens here,
    // so a failure is only worth a debug line.
    std::string dir = dir_of(path_);
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd || ::fsync(dfd.get()) < 0)
        log_debug("auth: fsync '%s': %s", dir.c_str(), strerror(errno));
    return sig_of(st);
}

}  // namespace gaffer::auth
