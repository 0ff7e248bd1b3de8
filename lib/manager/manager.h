// SPDX-License-Identifier: MIT
// Manager: the one API over jobs and processes (reference §5.2 command table). It is
// the only code that owns processes: the HTTP and D-Bus front ends and gafferd's main
// call these methods and read the EventBus; they never touch a pid.
//
// Every method runs on the loop thread, returns at once (no method blocks or waits for
// a process), and reports failures as Error values with the codes of errors.h.
// Processes are spawned synchronously inside the call (vfork-style, ~0.1 ms each), so
// GET right after a load already lists them. Exits are observed through pidfds.
//
// Naming: `pid` is gaffer's internal process id (from 1, never reused); `os_pid` is
// the kernel's.
//
// Bounds (Limits): at most `max_jobs` jobs, whose configurations take at most
// `max_config_bytes` together. A job's configuration size (config_size()) is the length
// of its compact config JSON (JobSpec::config_json, what GET /jobs/<sid>/<job> echoes)
// plus the names and values of its load-time session environment. A load or update
// beyond them fails with ENOSPC, one job larger than the whole budget with EFBIG, and
// nothing changes; an update that does not grow a job always passes. Jobs loaded
// before the limits were lowered stay.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/events/event_bus.h"
#include "lib/loop/loop.h"
#include "lib/model/job_spec.h"
#include "lib/model/values.h"

namespace gaffer::manager {

struct Limits {
    size_t max_jobs = 1024;
    size_t max_config_bytes = 16u << 20;
};

struct Options {
    std::string default_cwd;  // where jobs without `cwd` run (gafferd's cwd)
    model::Env daemon_env;    // gafferd's environment, for jobs with os_env
    bool use_cgroups = true;  // a cgroup per process where the host allows it
    std::string cgroup_name;  // cgroup2 directory name for this daemon (default: "gaffer")
    int child_umask = -1;     // umask for every child (-1: inherit gafferd's)
    Limits limits;
    // Soft RLIMIT_NOFILE for every child (unset: inherit gafferd's; see ExecSpec).
    std::optional<uint64_t> child_nofile_soft;
    // File descriptors kept free for the rest of the daemon (the HTTP API above all): a
    // spawn that could leave fewer under RLIMIT_NOFILE fails at its stdio stage with
    // EMFILE (spawn_error, then the job's usual back-off) before opening anything.
    unsigned fd_reserve = 0;
};

// A chunk of process output, as read from its pipe (no line assembly).
struct OutputChunk {
    int pid;
    const model::JobName& job;
    const std::string& label;
    std::string_view data;
};

struct Counters {
    uint64_t spawned = 0;
    uint64_t spawn_failures = 0;
    uint64_t exited = 0;
    uint64_t stat_reads = 0;  // test hook: an idle daemon must make none
};

class Manager {
public:
    Manager(loop::Loop& loop, events::EventBus& bus, Options options);
    ~Manager();
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;

    // ---- jobs ----
    // Loads a job; spawns its processes when spec.start. EEXIST if it exists; ENOSPC or
    // EFBIG beyond the limits.
    // `session_env` (the API's load-time env) overrides the job's env for its processes.
    Status load(model::JobSpec spec, const model::Env& session_env = {});
    Status unload(const model::JobName& name);
    // PUT semantics (§3.3): replaces the config; with spec.start a stopped job starts.
    // The target becomes max(spec.numprocesses, current target), or exactly
    // spec.numprocesses with `exact_target` (a config file's reload: the file says how
    // many). ENOSPC or EFBIG when the new config does not fit the limits.
    Status update(model::JobSpec spec, const model::Env& session_env = {}, bool exact_target = false);
    Status start_job(const model::JobName& name);
    Status stop_job(const model::JobName& name);
    Status reload_job(const model::JobName& name);
    // Returns the new target.
    Result<int> scale(const model::JobName& name, const model::ScaleOp& op);
    Result<int> numprocesses(const model::JobName& name) const;
    bool has_job(const model::JobName& name) const;
    Result<model::JobInfo> info(const model::JobName& name) const;
    Result<model::JobSpec> spec(const model::JobName& name) const;
    // Regular processes only (§3.6).
    Result<std::vector<int>> pids(const model::JobName& name) const;
    // Every tracked process, regular and committed, in spawn order (§3.6 GET /pids).
    std::vector<int> all_pids() const;
    std::vector<std::string> sessions() const;
    std::vector<std::string> jobs() const;  // qualified names, load order
    Result<std::vector<std::string>> jobs(std::string_view session) const;
    // Every process of the job including stopping ones (the `processes` extension).
    Result<std::vector<model::ProcessInfo>> processes(const model::JobName& name) const;
    std::vector<model::ProcessInfo> all_processes() const;
    // One-off process, never restarted, not counted against numprocesses.
    Result<int> commit(const model::JobName& name, std::optional<double> graceful_timeout, const model::Env& env);
    // SIGTERM (graceful stop) every process; the job replaces regular ones.
    Status stopall(const model::JobName& name);
    // Signal every process of the job (regular and committed).
    Status killall(const model::JobName& name, int sig);

    // ---- processes ----
    Result<model::ProcessInfo> process_info(int pid) const;
    Status stop_process(int pid);
    Status kill(int pid, int sig);
    // Queues bytes for the process's stdin, or for one of its custom streams (EPERM if
    // stdin is not redirected, ENXIO for an unknown stream, EPIPE once it is closed;
    // bounded queue, ENOBUFS when full). Writes are delivered whole and in order, even
    // with several writers.
    Status send(int pid, std::string_view data, const std::string& stream = "stdin");

    // ---- statistics ----
    Result<model::ProcessStats> process_stats(int pid);
    Result<std::vector<model::ProcessStats>> job_stats(const model::JobName& name);

    // ---- output and input streams ----
    // A process's readable streams: its redirect_output labels (a label given twice is
    // one merged stream) followed by its custom streams.
    Result<std::vector<std::string>> stream_labels(int pid) const;
    // Subscribes to the chunks read from `label` of `pid` from now on ("" = the first
    // redirected label). `on_end` runs once when the stream ends (the process exited and
    // its pipe was drained, or it was forgotten); the subscription is gone by then.
    // Callbacks run on the loop and must not block; a subscriber that cannot keep up
    // bounds its own queue (lib/io BoundedQueue) and drops, the child never waits.
    // Errors: ENOENT unknown pid; ENODATA the process has no redirected output;
    // ENXIO no stream of that name.
    using OutputSubId = uint64_t;
    Result<OutputSubId> subscribe_output(int pid, const std::string& label,
                                         std::function<void(std::string_view data)> on_chunk,
                                         std::function<void()> on_end);
    void unsubscribe_output(OutputSubId id);
    // The most recent output of a stream (at most `max_bytes`, from a line start when
    // possible; each stream keeps 64 KiB). Same errors as subscribe_output.
    Result<std::string> stream_backlog(int pid, const std::string& label, size_t max_bytes) const;

    // Stops or resumes reading every process's output (ProcessIo::set_paused): for a
    // console that cannot keep up; the children's writes then wait on their pipes.
    void pause_output(bool paused);

    // One handler for every chunk of every process (gafferd's -vv console).
    using OutputHandler = std::function<void(const OutputChunk&)>;
    void set_output_handler(OutputHandler handler) { output_handler_ = std::move(handler); }

    // ---- init duties (PID 1, --subreaper) ----
    // Reaps `os_pid` through its pidfd and dispatches its exit at once if it is one of
    // ours and still unreaped; false for any other pid (an orphan: the caller reaps it).
    bool reap_os_pid(pid_t os_pid);
    // Sends `sig` to every live process (regular and committed), e.g. SIGUSR1 forwarded
    // by gafferd as PID 1. Publishes proc.<pid>.kill like kill().
    void signal_all(int sig);

    // Called when a job gives up for good (flapping exhausted max_retry), with the
    // exit status and signal of its last process (0 when it never ran).
    using GiveUpHandler = std::function<void(const model::JobSpec& spec, int exit_status, int term_signal)>;
    void set_give_up_handler(GiveUpHandler handler);

    // ---- lifecycle ----
    // Stops every job in parallel (SIGTERM, SIGKILL after graceful_timeout) and calls
    // `done` once every process has exited. Later loads are refused (EPERM).
    void shutdown(std::function<void()> done);
    bool shutting_down() const;
    // SIGKILL to every process's group and cgroup at once (a second shutdown signal).
    void kill_all_now();
    size_t process_count() const;
    const Counters& counters() const;
    // The limits in force; set_limits() changes them for later loads (SIGHUP).
    const Limits& limits() const;
    void set_limits(const Limits& limits);
    // The sum of the loaded jobs' config_size().
    size_t config_bytes() const;
    static size_t config_size(const model::JobSpec& spec, const model::Env& session_env = {});
    // The cgroup layout in use: "v2", "hybrid" or "none".
    const char* cgroup_mode() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    OutputHandler output_handler_;
};

}  // namespace gaffer::manager
