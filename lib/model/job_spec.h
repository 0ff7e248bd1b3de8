// SPDX-License-Identifier: MIT
// Plain values describing jobs ("process templates") and their processes, shared by the
// parsers, the job state machines, the manager and the front ends. No I/O here.
//
// A JobSpec is always valid once built by lib/config (validate() passed); the raw
// config object the client gave is kept verbatim in `config_json` so that GET
// /jobs/<sid>/<job> can echo it (minus `start`).
#pragma once

#include <sys/types.h>

#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"

namespace gaffer::model {

using Env = std::map<std::string, std::string>;

// "session.job" (the first '.' separates; else the first '/'; else session "default").
struct JobName {
    std::string session = "default";
    std::string job;

    static JobName parse(std::string_view qualified);
    std::string qualified() const { return session + "." + job; }
    bool operator==(const JobName&) const = default;
    bool operator<(const JobName& o) const { return session != o.session ? session < o.session : job < o.job; }
};

// §7.5 of the reference. Positional INI order: attempts window retry_in max_retry.
struct Flapping {
    int attempts = 2;
    double window = 1.0;    // seconds
    double retry_in = 7.0;  // seconds
    int max_retry = 5;
    bool operator==(const Flapping&) const = default;
};

struct JobSpec {
    JobName name;
    std::string cmd;
    std::vector<std::string> args;
    Env env;
    bool os_env = false;
    // As given (number or name, for echoing) and as resolved at load time.
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::string cwd;  // empty: gafferd's cwd
    bool shell = false;
    bool detach = false;
    int numprocesses = 1;
    std::vector<std::string> redirect_output;  // label for stdout, then stderr
    bool redirect_input = false;
    std::vector<std::string> custom_streams;
    double graceful_timeout = 10.0;  // seconds
    std::optional<Flapping> flapping;
    int priority = INT_MAX;
    bool start = true;  // load-time only

    // gafferd extensions.
    std::string stdout_file, stderr_file, log_dir;
    // Set by the HTTP front end (never from a config or a request) for a job loaded
    // without full rights: its log files are opened beneath this directory only
    // (io::RotatingLog, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS). Empty: no confinement.
    std::string log_beneath;
    uint64_t log_max_bytes = 50ull << 20;
    int log_backups = 5;
    std::optional<uint64_t> memory_max;
    std::optional<double> cpu_max;
    std::optional<uint64_t> pids_max;
    bool notify = false;
    std::optional<double> ready_timeout;
    std::optional<double> watchdog_sec;  // notify jobs: WATCHDOG=1 expected this often
    bool critical = false;
    std::vector<std::string> capabilities;
    bool no_new_privs = false;
    // Foreman's per-process environment: the process in slot N (ProcessInfo::slot) gets
    // PS=<job>.<N> and, when the job's PORT is a decimal P, PORT=P+N-1.
    bool instance_env = false;
    // stdout and stderr on a fresh pseudo-terminal (one stream, the first output label),
    // so that stdio line-buffers; needs redirect_output or a stdout log target.
    bool pty = false;

    // The config object as given (JSON text, without `start`).
    std::string config_json;

    // Equality of everything that affects processes (used by SIGHUP's diff).
    bool same_config(const JobSpec& o) const { return config_json == o.config_json && uid == o.uid && gid == o.gid; }
};

// Process states in listings (§3.6 extension).
enum class ProcState { kStarting, kRunning, kStopping, kExited };
const char* to_string(ProcState s);

struct ProcessInfo {
    int pid = 0;  // internal
    pid_t os_pid = 0;
    JobName job;
    std::string cmd;  // after splitting and substitution
    // After splitting and substitution; shared by the processes of a job that got the
    // same ones, as `env` (a job's argument list can be as large as a request body).
    std::shared_ptr<const std::vector<std::string>> args;
    // Effective; shared by the processes of a job that got the same one (it is most of
    // a process's memory in the daemon: the whole inherited environment).
    std::shared_ptr<const Env> env;
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    double create_time = 0;  // seconds since the epoch
    bool commited = false;
    std::vector<std::string> redirect_output;
    bool redirect_input = false;
    std::vector<std::string> custom_streams;
    bool active = true;
    ProcState state = ProcState::kRunning;
    int restarts = 0;
    int slot = 0;  // 1-based instance number within its job (0: not assigned)
};

struct JobInfo {
    JobName name;
    bool active = false;
    int running = 0;
    int running_out = 0;
    int max_processes = 0;
    std::vector<int> processes;
    std::string config_json;
    bool stopped = false;
    // Flapping stopped it: it waits for a retry, or gave up (reference §7.5).
    bool flapping = false;
};

}  // namespace gaffer::model

namespace gaffer::model {

// One sample of a process's resource use (reference §3.8). Fields the OS refused to
// report are nullopt and encoded as "N/A".
struct ProcessStats {
    int pid = 0;  // internal (0 for children)
    pid_t os_pid = 0;
    std::optional<uint64_t> rss;     // bytes
    std::optional<uint64_t> vms;     // bytes
    std::optional<double> cpu;       // percent of one CPU since the previous sample
    std::optional<double> mem;       // RSS as percent of physical memory
    std::optional<double> cpu_time;  // user+system seconds
    std::string username;
    int nice = 0;
    std::string cmdline;  // basename of argv[0]
    std::vector<ProcessStats> children;
};

}  // namespace gaffer::model
