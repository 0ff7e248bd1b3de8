// SPDX-License-Identifier: MIT
// The key/user store's state file (security-defaults.md "Keys and permissions"): its
// format, as a pure parser and serializer, and StateFile, which owns every syscall the
// store makes: the cross-process lock, reading, and the atomic write.
//
// The format, version 1, one record per line so that it stays readable:
//   {"version": 1,
//   "keys": [
//   {"id", "hash", "label", "permissions", "parent"?, "expires_at"?, "owner"?, "created_at"},
//   ...],
//   "users": [
//   {"username", "password" (a PBKDF2 hash), "user_type", "key"?, "extra"},
//   ...]}
// A key's id is the first 8 hex digits of its hash and unique; a parent precedes its
// sub-keys; user names are unique. Secrets and passwords are never in the file.
//
// Invariants:
// - parse_state() and serialize_state() do no I/O. parse_state() accepts only records
//   that obey the field rules of store_state.h, in an order the store keeps, and fails
//   with EINVAL and the first fault ("keys[2].parent must name an earlier key"), or EFBIG
//   past kMaxStateBytes; for any state it accepts, parse(serialize(s)) serializes to the
//   same text (tests/fuzz/fuzz_key_store.cc checks it). StateFile::read() turns its
//   EINVAL into EUCLEAN naming the file: a broken file is nobody's bad input.
// - serialize_state() writes the persistent keys only (memory-only keys never reach the
//   file, store.h).
// - A write is atomic and durable: a temporary file "<path>.XXXXXX" (mode 0600) is
//   written, fsynced and renamed over the file, then the directory is fsynced. A failed
//   write leaves the old file as it was and no temporary file behind.
// - The lock is an flock on "<path>.lock", held for one change (reload, change, write).
//   lock(false) tries once and fails with EBUSY at once: the daemon takes it so on its
//   event loop, where it must never sleep. lock(true) waits; only a command-line tool, or
//   the daemon before its loop runs (Store::open), may ask for that.
// - Every fd is O_CLOEXEC (the lock file also O_NOFOLLOW, the state O_NOCTTY); a state
//   file that is group- or world-accessible is tightened to 0600 when read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/auth/store_state.h"
#include "lib/base/result.h"
#include "lib/base/unique_fd.h"

namespace gaffer::auth {

inline constexpr int kStateVersion = 1;

// The state a file's text holds. EINVAL with the fault as the error's context (the
// caller names the file), EFBIG past kMaxStateBytes.
Result<StoreState> parse_state(std::string_view text);
// The file's text for `s` (its persistent keys and its users).
std::string serialize_state(const StoreState& s);

// What identifies the file as last read or written, to notice another writer.
struct FileSig {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileSig&) const = default;
};

class StateFile {
public:
    // Holds the flock for one change; destroying it releases the lock.
    class Lock {
    public:
        Lock(Lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
        Lock& operator=(Lock&&) = delete;
        Lock(const Lock&) = delete;
        ~Lock();

    private:
        friend class StateFile;
        explicit Lock(int fd) : fd_(fd) {}
        int fd_;
    };

    struct Loaded {
        StoreState state;
        FileSig sig;
    };

    // Creates the missing directories of `path` (0700) and opens "<path>.lock" (0600).
    // EINVAL for an empty path.
    static Result<StateFile> open(std::string path);

    StateFile(StateFile&&) = default;
    StateFile& operator=(StateFile&&) = default;

    const std::string& path() const { return path_; }

    // The lock: `wait` blocks until it is free; else one try, EBUSY if another process
    // holds it.
    Result<Lock> lock(bool wait) const;
    // The file's signature now; none when the file does not exist.
    Result<std::optional<FileSig>> stat() const;
    // Reads and parses the file. ENOENT when it does not exist; EUCLEAN naming the file
    // and the fault when it is not a regular file or not valid state (the parser's
    // EINVAL is no caller's bad input); EFBIG past kMaxStateBytes.
    Result<Loaded> read() const;
    // Replaces the file with `s`, atomically (see the banner). ENOSPC when the text would
    // exceed kMaxStateBytes. Returns the new file's signature.
    Result<FileSig> write(const StoreState& s) const;

private:
    StateFile(std::string path, UniqueFd lock_fd) : path_(std::move(path)), lock_fd_(std::move(lock_fd)) {}

    std::string path_;
    UniqueFd lock_fd_;
};

}  // namespace gaffer::auth
