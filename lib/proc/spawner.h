// SPDX-License-Identifier: MIT
// Spawner: starts one child process, vfork-style, and hands back a pidfd for it.
//
// The child is created with clone3(CLONE_VM|CLONE_VFORK|CLONE_PIDFD|CLONE_INTO_CGROUP)
// (x86_64; elsewhere, or when refused, glibc's clone without the cgroup) on a small
// dedicated stack, so the cost does not grow with the daemon's size (no page tables are
// copied) and the pidfd exists before anything could reap the pid. Between clone and
// execve the child only makes raw, async-signal-safe system calls and allocates
// nothing; because it shares our memory it reports a failure by writing {stage, errno}
// into a struct the parent reads once clone returns (the parent is suspended until the
// child has exec'd or exited). A failed child is reaped here, before spawn() returns.
//
// Child hygiene: empty signal mask, ignored signals reset to default, own process group
// (or own session with `new_session`), only fds 0..2 (+ extra_fds at 3, 4, ...) open,
// born in its v2 cgroup, or joining cgroups by writing "0" to their cgroup.procs; the
// soft RLIMIT_NOFILE given by `nofile_soft`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"

namespace gaffer::proc {

// Where a spawn failed; the names are those of the `spawn_error` event.
enum class ExecStage : int { kNone = 0, kFork, kCgroup, kStdio, kCwd, kGid, kUid, kCaps, kExec };
const char* to_string(ExecStage stage);

struct ExecSpec {
    std::string path;               // executable (absolute, relative to cwd, or bare: searched in PATH)
    std::vector<std::string> argv;  // argv[0] first
    std::vector<std::string> envp;  // "KEY=VALUE"
    std::string cwd;                // empty: inherit
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::vector<gid_t> groups;  // supplementary groups with a uid change (default: {gid})
    int umask = -1;             // -1: inherit
    int stdin_fd = -1;          // -1: /dev/null
    int stdout_fd = -1;
    int stderr_fd = -1;
    std::vector<int> extra_fds;  // become fds 3, 4, ...
    // The v2 cgroup to start in: its directory (clone3 CLONE_INTO_CGROUP, the child is
    // born there) and its cgroup.procs (written by the child when clone3 is refused).
    int cgroup_v2_dir_fd = -1;
    int cgroup_v2_procs_fd = -1;
    std::vector<int> cgroup_procs_fds;  // more cgroup.procs files to join (v1 controllers on hybrid hosts)
    bool new_session = false;           // setsid() instead of setpgid(0, 0)
    bool no_new_privs = false;
    std::vector<int> ambient_caps;  // capabilities kept across the uid change (CAP_* numbers)
    bool drop_bounding = false;     // drop every other capability from the bounding set
    // The child's soft RLIMIT_NOFILE (the hard limit is kept): gafferd raises its own soft
    // limit to the hard one, its children get the one it was started with (programs
    // using select() break with fds above 1024). Unset: inherit.
    std::optional<uint64_t> nofile_soft;
};

struct Child {
    pid_t pid = 0;
    UniqueFd pidfd;
};

struct SpawnFailure {
    ExecStage stage = ExecStage::kNone;
    int err = 0;
};

// Looks `name` up in the colon-separated `path_var` the way execvp would (the first
// executable regular file); names containing '/' are returned unchanged. When nothing
// is found the name is returned as is, and execve reports ENOENT at the exec stage.
std::string find_executable(const std::string& name, const std::string& path_var, const std::string& cwd);

// Starts the child. On failure `ret_failure` says at which stage; the Error carries the
// same errno and a context naming the stage.
Result<Child> spawn(const ExecSpec& spec, SpawnFailure* ret_failure);

// Signals the process (or, with `group`, its whole process group) through the pidfd,
// so a recycled pid can never be hit. ESRCH (already gone) is reported as success.
Status send_signal(const Child& child, int sig, bool group);

struct ExitStatus {
    int exit_status = 0;  // exit code, or 0 when killed
    int term_signal = 0;  // signal number, or 0
    bool exited = false;  // false while the child still runs
};
// Non-blocking reap through the pidfd.
Result<ExitStatus> try_reap(const Child& child);

}  // namespace gaffer::proc
