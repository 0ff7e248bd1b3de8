// SPDX-License-Identifier: MIT
// The one table that maps manager errors to what front ends answer. Manager methods
// fail with these codes only: ENOENT (unknown job/session/pid), EEXIST (conflict),
// EINVAL (bad value), EPERM (not allowed), ESRCH (process already gone), ENODATA (no
// redirected output), ENXIO (no such stream), EPIPE (stream closed), ENOBUFS (queue
// full), ENOSPC (max_jobs or max_config_bytes reached), EFBIG (one job's config larger
// than max_config_bytes), kSpawnFailed (the process could not be started: Error::cause
// is the spawner's errno, Error::stage its stage); anything else is an internal failure.
// Lower layers' errno values are translated into these at the manager boundary, so that a
// spawner's ENOENT (missing executable) never reads as an unknown job.
#pragma once

#include <cerrno>
#include <cstring>
#include <iterator>

#include "lib/base/result.h"

namespace gaffer::manager {

// The code of a spawn failure (ECHILD: "the child could not be made"; no manager method
// fails with ECHILD otherwise).
inline constexpr int kSpawnFailed = ECHILD;

enum class Outcome {
    kNotFound,
    kConflict,
    kBadRequest,
    kForbidden,
    kSpawnFailed,
    kIoNotRedirected,
    kIoNotFound,
    kStreamClosed,
    kStreamFull,
    kInsufficientStorage,
    kConfigTooLarge,
    kExists,        // the key/user store: the user exists
    kLimitReached,  // the key/user store: max keys or users reached
    kBusy,          // the key/user store: its file is locked by another process; try again
    kInternal,
};

struct ErrorMapping {
    Outcome outcome;
    int http_status;           // the HTTP status, also the channel's "errno"
    const char* name;          // HTTP: the "error" member of gaffer's JSON error bodies
    const char* channel_name;  // /channel: the "reason" of gaffer:command_error (reference
                               // §5.2 fixes bad_command and stream_not_found); null: the
                               // error's own text, as the reference has it for failures
    const char* dbus_name;     // D-Bus: the error name of the reply (org.gaffer1(5))
};

// One row per outcome, in the order of Outcome.
inline constexpr ErrorMapping kErrorTable[] = {
    {Outcome::kNotFound, 404, "not_found", "not_found", "org.gaffer1.Error.NotFound"},
    {Outcome::kConflict, 409, "process_conflict", "process_conflict", "org.gaffer1.Error.Conflict"},
    {Outcome::kBadRequest, 400, "bad_request", "bad_command", "org.gaffer1.Error.BadRequest"},
    {Outcome::kForbidden, 403, "forbidden", "forbidden", "org.gaffer1.Error.Forbidden"},
    {Outcome::kSpawnFailed, 500, "spawn_failed", "spawn_failed", "org.gaffer1.Error.SpawnFailed"},
    {Outcome::kIoNotRedirected, 400, "io_not_redirected", "io_not_redirected", "org.gaffer1.Error.NotRedirected"},
    {Outcome::kIoNotFound, 404, "io_not_found", "stream_not_found", "org.gaffer1.Error.NotFound"},
    {Outcome::kStreamClosed, 410, "stream_closed", "stream_closed", "org.gaffer1.Error.StreamClosed"},
    {Outcome::kStreamFull, 503, "stream_full", "stream_full", "org.gaffer1.Error.StreamFull"},
    {Outcome::kInsufficientStorage, 507, "insufficient_storage", "insufficient_storage",
     "org.gaffer1.Error.LimitExceeded"},
    {Outcome::kConfigTooLarge, 413, "config_too_large", "config_too_large", "org.gaffer1.Error.LimitExceeded"},
    {Outcome::kExists, 409, "conflict", "conflict", "org.gaffer1.Error.Conflict"},
    {Outcome::kLimitReached, 409, "limit_reached", "limit_reached", "org.gaffer1.Error.LimitExceeded"},
    {Outcome::kBusy, 503, "busy", "busy", "org.gaffer1.Error.Busy"},
    {Outcome::kInternal, 500, "internal_error", nullptr, "org.gaffer1.Error.Internal"},
};

constexpr bool error_table_in_order() {
    for (int i = 0; i < static_cast<int>(std::size(kErrorTable)); ++i) {
        if (static_cast<int>(kErrorTable[i].outcome) != i)
            return false;
    }
    return std::size(kErrorTable) == static_cast<size_t>(Outcome::kInternal) + 1;
}
static_assert(error_table_in_order(), "kErrorTable has one row per Outcome, in order");

inline Outcome outcome_of(const Error& e) {
    switch (e.code) {
        case ENOENT:
        case ESRCH:
            return Outcome::kNotFound;
        case EEXIST:
            return Outcome::kConflict;
        case EINVAL:
            return Outcome::kBadRequest;
        case EPERM:
        case EACCES:
            return Outcome::kForbidden;
        case kSpawnFailed:
            return Outcome::kSpawnFailed;
        case ENODATA:
            return Outcome::kIoNotRedirected;
        case ENXIO:
            return Outcome::kIoNotFound;
        case EPIPE:
            return Outcome::kStreamClosed;
        case ENOBUFS:
            return Outcome::kStreamFull;
        case ENOSPC:
            return Outcome::kInsufficientStorage;
        case EFBIG:
            return Outcome::kConfigTooLarge;
        default:
            return Outcome::kInternal;
    }
}

inline const ErrorMapping& map_error(const Error& e) {
    return kErrorTable[static_cast<int>(outcome_of(e))];
}

// The key/user store (lib/auth/store.h) fails with its own codes: EINVAL, ENOENT and
// EPERM/EACCES as the manager's, EEXIST (a user exists), ENOSPC (max keys or users, not
// a full disk of jobs), EBUSY (its file is locked by another process: the daemon never
// waits for that lock on its loop); anything else, a corrupt state file (EUCLEAN)
// included, is an internal failure.
inline Outcome auth_outcome_of(const Error& e) {
    switch (e.code) {
        case EEXIST:
            return Outcome::kExists;
        case ENOSPC:
            return Outcome::kLimitReached;
        case EBUSY:
            return Outcome::kBusy;
        case ENOENT:
        case EINVAL:
        case EPERM:
        case EACCES:
            return outcome_of(e);
        default:
            return Outcome::kInternal;
    }
}

inline const ErrorMapping& map_auth_error(const Error& e) {
    return kErrorTable[static_cast<int>(auth_outcome_of(e))];
}

// A spawn failure as the manager reports it: `cause` is the spawner's error.
inline Error spawn_failed(const char* stage, const Error& cause) {
    Error e = Error::make(kSpawnFailed, "cannot start the process (%s stage): %s", stage, strerror(cause.code));
    e.cause = cause.code;
    e.stage = stage;
    return e;
}

}  // namespace gaffer::manager
