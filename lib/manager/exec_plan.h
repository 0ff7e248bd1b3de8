// SPDX-License-Identifier: MIT
#pragma once
// What a job's child becomes, computed without a system call: the user decision made
// when a job is loaded (groups, HOME/USER/LOGNAME), the environment, argv, cwd, identity,
// stdio and stream plumbing and the cgroup limits of one spawn. The manager supplies
// the results of its lookups (passwd entry, euid/egid, notify socket address, log files)
// and does the syscalls (pipes, cgroup, PATH search, spawn) with the plan.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "lib/base/result.h"
#include "lib/cgroup/cgroup.h"
#include "lib/model/job_spec.h"
#include "lib/proc/spawner.h"

namespace gaffer::manager {

// gafferd's environment (`envp`: its `environ`, NULL-terminated) as jobs with os_env see
// it: without what its own service manager addressed to gafferd alone (NOTIFY_SOCKET,
// WATCHDOG_*, LISTEN_*).
model::Env job_visible_environment(const char* const* envp);

// The passwd entry of a job's uid and that user's group list (getpwuid_r, getgrouplist).
struct UserEntry {
    std::string name;
    std::string home;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // empty when getgrouplist failed
};

// How a job's uid/gid are applied. A uid without a gid gets the user's primary group and
// supplementary groups, and HOME/USER/LOGNAME, as su and systemd's User= do (its number as
// the group without a passwd entry). A daemon that is not root cannot change groups
// (setgroups needs CAP_SETGID): a job asking only for the daemon's own uid and gid (or
// either, or neither) keeps the daemon's groups and the child changes none.
bool keeps_groups(std::optional<uid_t> uid, std::optional<gid_t> gid, uid_t euid, gid_t egid);
// Whether plan_identity uses UserEntry::groups (the only case getgrouplist is worth asking).
bool needs_group_list(std::optional<uid_t> uid, std::optional<gid_t> gid, uid_t euid, gid_t egid);

struct Identity {
    std::optional<gid_t> gid;   // the job's gid, or the one chosen for a bare uid
    std::vector<gid_t> groups;  // supplementary groups to set (empty: {gid})
    bool keep_groups = false;   // the child keeps the daemon's gid and groups
    model::Env user_env;        // HOME, USER, LOGNAME of the uid's entry
};
Identity plan_identity(std::optional<uid_t> uid, std::optional<gid_t> gid, uid_t euid, gid_t egid,
                       const std::optional<UserEntry>& entry);

// The child's environment, lowest to highest precedence: gafferd's (os_env only), the
// uid's HOME/USER/LOGNAME, the job's env, the session's env, the commit's (`extra`).
// A notify job then gets NOTIFY_SOCKET=`notify_address` (and WATCHDOG_USEC).
model::Env plan_env(const model::JobSpec& spec, const model::Env& daemon_env, const model::Env& user_env,
                    const model::Env& session_env, const model::Env* extra, const std::string& notify_address);

// Slots (ProcessInfo::slot): the lowest slot from 1 that is not in `held` (the slots of
// the job's live processes that are not stopping). A replacement therefore takes the
// dead process's slot back, a reload's new processes take the stopping ones' slots,
// and scaling up fills gaps. Linear in held.size().
int lowest_free_slot(const std::vector<int>& held);

// Foreman's per-instance environment (JobSpec::instance_env) for the process in `slot`
// of job `job` (its short name): PS=<job>.<slot>, and PORT=P+slot-1 when `env` holds a
// PORT that is a decimal integer P (1 to 9 digits); any other PORT is left as is.
void apply_instance_env(model::Env& env, const std::string& job, int slot);

// Daemon-wide settings of every child.
struct ExecDefaults {
    std::string default_cwd;              // a job without cwd
    int child_umask = -1;                 // -1: inherit
    std::optional<uint64_t> nofile_soft;  // the child's soft RLIMIT_NOFILE
};

// One of the child's stdout (fd 1) / stderr (fd 2): a pipe read by the daemon.
struct OutputPlan {
    int fd = 1;
    std::string label;           // what subscribers and the backlog see
    std::string log_key;         // "stdout"/"stderr": the log file it feeds, if any
    bool shares_stdout = false;  // fd 2 on the same pipe as fd 1 (equal labels)
};

struct ExecPlan {
    // Everything but the fds (stdio, extra_fds, cgroup) and, when `search_path`, the path.
    proc::ExecSpec exec;
    std::string cmd;  // argv[0]
    // The words after cmd. Unset: exactly the job's own argument list (shared, not copied).
    std::optional<std::vector<std::string>> args;
    bool search_path = false;  // exec.path is to be looked up for `cmd` in `path_var`
    std::string path_var;
    bool stdin_pipe = false;  // redirect_input: a pipe the daemon writes
    // stdout and stderr on one pseudo-terminal (JobSpec::pty): `outputs` is then stdout
    // (the first label, or "stdout" for a log file only) and stderr sharing it.
    bool pty = false;
    unsigned short pty_cols = 80;      // its window size: COLUMNS and LINES of the env when
    unsigned short pty_rows = 24;      // they are decimals 1..65535, else 80x24
    std::vector<OutputPlan> outputs;   // stdout first, then stderr, those with a pipe
    std::vector<std::string> streams;  // custom streams: sockets at fd 3, 4, ...
    std::string cgroup_name;           // the job's qualified name
    cgroup::Limits limits;
    bool notify = false;
    double watchdog_sec = 0;
};

// `args`: the job's arguments (spec.args is kept apart by the manager); `env`: plan_env's;
// `logged_stdout`/`logged_stderr`: the job has a log file for it. EINVAL for a cmd that
// does not split or is empty.
struct ExecInputs {
    const model::JobSpec& spec;
    const std::vector<std::string>& args;
    const model::Env& env;
    const std::vector<gid_t>& groups;  // Identity::groups (spec.gid is Identity::gid)
    bool keep_groups = false;          // Identity::keep_groups
    bool logged_stdout = false;
    bool logged_stderr = false;
};
Result<ExecPlan> plan_exec(const ExecInputs& in, const ExecDefaults& defaults);

}  // namespace gaffer::manager
