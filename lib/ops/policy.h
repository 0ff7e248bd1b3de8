// SPDX-License-Identifier: MIT
// Who calls an operation, and the rules of security-defaults.md "Jobs created through the
// API" that every front end applies the same way.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "lib/auth/permissions.h"
#include "lib/auth/store.h"
#include "lib/model/job_spec.h"

namespace gaffer::manager {
class Manager;
}

namespace gaffer::ops {

// Who is calling and what they may do.
struct Caller {
    auth::Permissions perms;
    // The key that authenticated the caller, if one did.
    std::optional<auth::KeyInfo> key;
    // The peer's uid/gid on a unix socket (SO_PEERCRED); nullopt on TCP. A job "of the
    // caller" may run as them.
    std::optional<uid_t> peer_uid;
    std::optional<gid_t> peer_gid;
};

// What the daemon is, for the rules below.
struct Policy {
    uid_t daemon_uid = 0;
    gid_t daemon_gid = 0;
    // [gaffer] log_root: the directory beneath which callers without full rights may put
    // log files (absolute, no trailing '/'); empty: they may set none.
    std::string log_root;
};

// The rule for a caller without full (admin) rights: nothing it could not do itself.
// nullopt when allowed, else the reason of the refusal. admit_job_spec() also confines an
// admitted job's log files to log_root (JobSpec::log_beneath), so that what the kernel
// opens later is what was checked now.
// - A job runs as its `uid`, else as the daemon's user. The caller may use its own uid on
//   the unix socket, the uids its key lists (auth::Permissions::uids), and, when the
//   daemon is not root, the daemon's uid (no job of such a daemon can run as anyone else).
//   A `gid` may be given only when it is the caller's own gid (the peer's; the daemon's
//   when the daemon is not root); without one the uid's primary group applies.
// - shell, capabilities, os_env (the daemon's environment) and critical (which stops
//   the daemon, every other session's jobs with it) need full rights.
// - Log files (stdout_file, stderr_file, log_dir and the files it would hold) must lie
//   beneath log_root after normalisation (relative paths are taken from the daemon's
//   working directory, as the manager opens them): no ".." component, no symbolic link
//   beneath log_root, an existing file must be a regular file with one link. Without a
//   log_root a caller without full rights can set no log file.
std::optional<std::string> admit_job_spec(const Policy& policy, const Caller& caller, model::JobSpec& spec);
// A commit with an environment puts caller-chosen variables (LD_PRELOAD...) in a process of
// an existing job: allowed only when the caller may use that job's uid.
std::optional<std::string> commit_env_denial(const Policy& policy, const Caller& caller,
                                             const manager::Manager& manager, const model::JobName& job);

}  // namespace gaffer::ops
