// SPDX-License-Identifier: MIT
#include "lib/manager/manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/cgroup/cgroup.h"
#include "lib/io/rotating_log.h"
#include "lib/job/job_fsm.h"
#include "lib/manager/errors.h"
#include "lib/manager/exec_plan.h"
#include "lib/manager/job_events.h"
#include "lib/manager/notify_socket.h"
#include "lib/manager/process_io.h"
#include "lib/proc/spawner.h"
#include "lib/stats/cgroup_stats.h"
#include "lib/stats/proc_stats.h"

namespace gaffer::manager {

using model::JobName;

namespace {

constexpr size_t kTrimAfterBytes = 1 << 20;  // freed job data that makes the heap be trimmed

size_t strings_bytes(const std::vector<std::string>& v) {
    size_t n = 0;
    for (const auto& s : v) n += s.size();
    return n;
}

size_t env_bytes(const model::Env& env) {
    size_t n = 0;
    for (const auto& [k, v] : env) n += k.size() + v.size();
    return n;
}

// Descriptors one spawn may hold at once: pipes (both ends), custom-stream sockets, the
// pidfd and the cgroup files; an upper bound for ordinary jobs.
constexpr unsigned kFdsPerSpawn = 16;

// Whether `n` more descriptors can be opened under the soft RLIMIT_NOFILE. The fd table's
// size (FDSize in /proc/self/status) bounds how many are open, so counting /proc/self/fd
// is needed only near the limit. Without /proc the answer is yes; when even the count
// cannot be opened, no.
bool fds_available(unsigned n) {
    struct rlimit rl {};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return true;
    if (rl.rlim_cur <= n)
        return false;
    const rlim_t max_open = rl.rlim_cur - n;
    {
        UniqueFd st(open("/proc/self/status", O_RDONLY | O_CLOEXEC));
        if (!st)
            return errno != EMFILE && errno != ENFILE;
        char buf[4096];
        ssize_t len = read(st.get(), buf, sizeof buf - 1);
        if (len > 0) {
            buf[len] = '\0';
            if (const char* p = strstr(buf, "\nFDSize:")) {
                if (strtoull(p + 8, nullptr, 10) <= max_open)
                    return true;
            }
        }
    }
    DIR* d = opendir("/proc/self/fd");
    if (!d)
        return errno != EMFILE && errno != ENFILE;
    rlim_t open_fds = 0;
    while (struct dirent* e = readdir(d)) {
        if (e->d_name[0] != '.')
            ++open_fds;
    }
    closedir(d);
    // The directory's own fd was counted and is closed again.
    return open_fds - 1 <= max_open;
}

double wall_now() {
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

std::chrono::steady_clock::duration seconds(double s) {
    if (s < 0)
        s = 0;
    if (s > 1e7)
        s = 1e7;
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

struct Manager::Impl {
    struct Proc {
        int pid = 0;
        JobName job;
        bool committed = false;
        proc::Child child;
        model::ProcessInfo info;
        double graceful_timeout = 10;
        bool stopping = false;
        bool leader_exited = false;
        loop::Loop::TimerId kill_timer = 0;
        loop::Clock::time_point started{};  // when spawn() returned (loop clock)
        loop::Loop::WatchId exit_watch = 0;
        std::optional<cgroup::Group> cg;
        loop::Loop::WatchId cg_watch = 0;
        stats::CgroupSampler sampler;
        bool notify = false;  // a notify job's process
        bool ready = true;    // false until READY=1 for notify processes
        loop::Loop::TimerId ready_timer = 0;
        loop::Loop::TimerId watchdog_timer = 0;
        double watchdog_sec = 0;
    };

    struct Job {
        // `spec.args` is always empty: the arguments live in `args`, which processes whose
        // argument list is the job's own share (a job's arguments can be as large as a
        // request body; three copies of them made a 1 MB job cost 3.5 MB).
        model::JobSpec spec;
        model::Env session_env;
        job::JobFsm fsm;
        std::vector<int> committed;  // live, not stopping
        loop::Loop::TimerId retry_timer = 0;
        int last_exit_status = 0;
        int last_term_signal = 0;
        std::map<std::string, std::shared_ptr<io::RotatingLog>> logs;  // "stdout"/"stderr"
        std::vector<gid_t> groups;                   // supplementary groups of spec.uid, resolved at load
        bool keep_groups = false;                    // the child keeps the daemon's gid and groups (resolve_user)
        model::Env user_env;                         // HOME, USER, LOGNAME of spec.uid
        std::shared_ptr<const model::Env> last_env;  // the newest process's, shared when equal
        std::shared_ptr<const std::vector<std::string>> last_args;  // likewise
        size_t config_size = 0;                                     // counted in Impl::config_bytes
        std::shared_ptr<const std::vector<std::string>> args;       // spec.args, moved here
        struct ExeCache {
            std::string name, path_var, cwd, resolved;  // resolved empty: nothing cached
        } exe_cache;
        Job(model::JobSpec s, model::Env e) : spec(std::move(s)), session_env(std::move(e)), fsm(spec) { take_args(); }
        void take_args() {
            args = std::make_shared<const std::vector<std::string>>(std::move(spec.args));
            spec.args.clear();
        }
        model::JobSpec full_spec() const {
            model::JobSpec s = spec;
            s.args = *args;
            return s;
        }
    };

    Impl(Manager& owner, loop::Loop& l, events::EventBus& bus, Options o)
        : self(owner),
          loop(l),
          emit(bus),
          io(l, [this](const ProcessIo::Chunk& c) { on_chunk(c); }),
          opts(std::move(o)) {
        if (opts.use_cgroups)
            cg_tree = cgroup::Tree::create(opts.cgroup_name.empty() ? "gaffer" : opts.cgroup_name);
    }

    ~Impl() {
        // Destroying the manager frees handles only; it never kills (style rule 9).
        for (auto& [pid, p] : procs) release_watches(*p);
        for (auto& j : jobs) cancel_timer(*j);
        if (trim_timer)
            loop.cancel_timer(trim_timer);
        // Remove empty cgroups left behind (populated ones stay, with their processes).
        if (cg_tree) {
            for (auto& [pid, p] : procs)
                if (p->cg)
                    (void)cg_tree->remove(*p->cg, p->job.qualified());
        }
    }

    Manager& self;
    loop::Loop& loop;
    JobEvents emit;  // every event the manager publishes (job_events.h)
    ProcessIo io;    // the processes' pipes, output subscriptions and stdin queues
    Options opts;
    std::unique_ptr<cgroup::Tree> cg_tree;
    std::unique_ptr<NotifySocket> notify_socket;
    int next_pid = 1;
    std::map<int, std::unique_ptr<Proc>> procs;  // ordered by pid = spawn order
    std::vector<std::unique_ptr<Job>> jobs;      // load order
    bool shutting_down = false;
    std::function<void()> shutdown_done;
    Counters counters;
    size_t config_bytes = 0;  // the sum of the jobs' config_size
    size_t freed_since_trim = 0;
    loop::Loop::TimerId trim_timer = 0;

    // glibc keeps what a big job freed in its heap (small chunks between live ones are
    // never given back by free()): once a megabyte of job data went away, malloc_trim
    // returns the free pages to the kernel, after the current turn (several unloads in
    // one turn make one trim). See docs/architecture.md, Memory.
    void note_freed(size_t bytes) {
        freed_since_trim += bytes;
        if (freed_since_trim < kTrimAfterBytes || trim_timer)
            return;
        trim_timer = loop.add_timer(loop::Clock::duration::zero(), [this] {
            trim_timer = 0;
            freed_since_trim = 0;
            (void)malloc_trim(0);
        });
    }

    // ---------- lookup ----------
    Job* find_job(const JobName& n) const {
        for (auto& j : jobs)
            if (j->spec.name == n)
                return j.get();
        return nullptr;
    }
    Result<Job*> get_job(const JobName& n) const {
        Job* j = find_job(n);
        if (!j)
            return fail(Error::make(ENOENT, "job '%s' not found", n.qualified().c_str()));
        return j;
    }
    Proc* find_proc(int pid) const {
        auto it = procs.find(pid);
        return it == procs.end() ? nullptr : it->second.get();
    }

    // ---------- spawning ----------
    // The PATH search of the job's last spawn is reused while its result is still an
    // executable file (one stat instead of one per PATH entry: 17 on a desktop).
    static std::string resolve_executable(Job& j, const std::string& name, const std::string& path_var,
                                          const std::string& cwd) {
        auto& c = j.exe_cache;
        if (name.find('/') == std::string::npos && c.name == name && c.path_var == path_var && c.cwd == cwd &&
            !c.resolved.empty()) {
            std::string check = c.resolved[0] == '/' || cwd.empty() ? c.resolved : cwd + "/" + c.resolved;
            struct stat st;
            if (::stat(check.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(check.c_str(), X_OK) == 0)
                return c.resolved;
        }
        std::string found = proc::find_executable(name, path_var, cwd);
        c = {name, path_var, cwd, found != name ? found : std::string()};
        return found;
    }

    // Shares the newest process's copy when equal (a job's processes usually get the same
    // arguments and environment: one copy per job, not one per process).
    template <typename T, typename V>
    static std::shared_ptr<const T> share(std::shared_ptr<const T>& last, V&& value, bool own) {
        if (last && *last == value)
            return last;
        auto made = std::make_shared<const T>(std::forward<V>(value));
        if (!own)
            last = made;
        return made;
    }

    // The plan of one spawn of `j` (exec_plan.h), with the PATH search done; fills the
    // process info members derived from it. `own_env`: a commit with extra variables,
    // whose environment no other process shares.
    Result<ExecPlan> build_exec(Job& j, const model::Env& env, bool own_env, model::ProcessInfo& info) const {
        const auto& s = j.spec;
        ExecDefaults defaults{opts.default_cwd, opts.child_umask, opts.child_nofile_soft};
        GAFFER_TRY(auto plan, plan_exec({s, *j.args, env, j.groups, j.keep_groups, j.logs.count("stdout") > 0,
                                         j.logs.count("stderr") > 0},
                                        defaults));
        if (plan.search_path)
            plan.exec.path = resolve_executable(j, plan.cmd, plan.path_var, plan.exec.cwd);
        info.cmd = plan.cmd;
        info.args = plan.args ? share(j.last_args, std::move(*plan.args), own_env) : j.args;
        info.env = share(j.last_env, env, own_env);
        info.uid = s.uid;
        info.gid = s.gid;
        info.redirect_output = s.redirect_output;
        info.redirect_input = s.redirect_input;
        info.custom_streams = s.custom_streams;
        return plan;
    }

    // The slot of a process of `j` spawned now: its live processes that are not
    // stopping (regular and committed) hold theirs.
    int free_slot(const Job& j) const {
        std::vector<int> held;
        auto hold = [&](int pid) {
            if (Proc* q = find_proc(pid); q && !q->leader_exited && !q->stopping)
                held.push_back(q->info.slot);
        };
        for (int pid : j.fsm.processes()) hold(pid);
        for (int pid : j.committed) hold(pid);
        return lowest_free_slot(held);
    }

    // Starts one process of `j`. On failure publishes spawn_error and returns the error.
    Result<int> spawn_process(Job& j, bool committed, std::optional<double> graceful, const model::Env* extra_env) {
        int pid = next_pid++;
        auto p = std::make_unique<Proc>();
        p->pid = pid;
        p->job = j.spec.name;
        p->committed = committed;
        p->graceful_timeout = graceful.value_or(j.spec.graceful_timeout);
        p->info.pid = pid;
        p->info.job = j.spec.name;
        p->info.commited = committed;

        auto spawn_fail = [&](proc::ExecStage stage, const Error& e) -> Result<int> {
            ++counters.spawn_failures;
            emit.spawn_error(j.spec.name, pid, proc::to_string(stage), e.code);
            log_warning("%s: cannot spawn process %d (%s stage): %s", j.spec.name.qualified().c_str(), pid,
                        proc::to_string(stage), strerror(e.code));
            // Translated here: the spawner's ENOENT or EACCES is no unknown job or refusal.
            return fail(spawn_failed(proc::to_string(stage), e));
        };

        if (opts.fd_reserve && !fds_available(opts.fd_reserve + kFdsPerSpawn))
            return spawn_fail(
                proc::ExecStage::kStdio,
                Error::make(EMFILE, "near the open-file limit: keeping %u descriptors for the API", opts.fd_reserve));
        if (j.spec.notify && !notify_socket) {
            auto ns = NotifySocket::create(
                loop, [this](pid_t sender, const NotifySocket::Fields& f) { on_notify(sender, f); });
            if (!ns)
                return spawn_fail(proc::ExecStage::kStdio, ns.error());
            notify_socket = std::move(ns).value();
        }
        p->info.slot = free_slot(j);
        model::Env env = plan_env(j.spec, opts.daemon_env, j.user_env, j.session_env, extra_env,
                                  j.spec.notify ? notify_socket->address() : std::string());
        if (j.spec.instance_env)
            apply_instance_env(env, j.spec.name.job, p->info.slot);  // before §7.3 substitution
        auto plan_r = build_exec(j, env, extra_env && !extra_env->empty(), p->info);
        if (!plan_r)
            return spawn_fail(proc::ExecStage::kExec, plan_r.error());
        ExecPlan plan = std::move(plan_r).value();
        proc::ExecSpec& ex = plan.exec;
        if (plan.notify) {
            p->notify = true;
            p->ready = false;
            p->watchdog_sec = plan.watchdog_sec;
        }

        // stdio plumbing: a pipe for stdin, one for each output (two equal labels share
        // one), a bidirectional socket for each custom stream at fd 3, 4, ... in the child.
        ProcessIo::Streams streams;
        std::vector<UniqueFd> child_ends;
        if (plan.stdin_pipe) {
            auto end = streams.add_stdin();
            if (!end)
                return spawn_fail(proc::ExecStage::kStdio, end.error());
            ex.stdin_fd = end->get();
            child_ends.push_back(std::move(end).value());
        }
        for (auto& o : plan.outputs) {
            if (o.shares_stdout) {
                ex.stderr_fd = ex.stdout_fd;
                continue;
            }
            auto end = plan.pty
                           ? streams.add_pty(std::move(o.label), std::move(o.log_key), plan.pty_cols, plan.pty_rows)
                           : streams.add_output(std::move(o.label), std::move(o.log_key));
            if (!end)
                return spawn_fail(proc::ExecStage::kStdio, end.error());
            (o.fd == 1 ? ex.stdout_fd : ex.stderr_fd) = end->get();
            child_ends.push_back(std::move(end).value());
        }
        for (const auto& name : plan.streams) {
            auto end = streams.add_custom_stream(name);
            if (!end)
                return spawn_fail(proc::ExecStage::kStdio, end.error());
            ex.extra_fds.push_back(end->get());
            child_ends.push_back(std::move(end).value());
        }

        // Its own cgroup (the whole tree accounted and stopped together), with the job's
        // resource limits. A limit that cannot be applied fails the spawn: running
        // without the limit the user asked for would be a silent lie.
        if (cg_tree) {
            auto g = cg_tree->create_group(plan.cgroup_name, pid, plan.limits);
            if (g) {
                p->cg = std::move(g).value();
                ex.cgroup_v2_dir_fd = p->cg->dir.get();
                ex.cgroup_v2_procs_fd = p->cg->procs.get();
                ex.cgroup_procs_fds = p->cg->v1_procs_fds();
            } else if (plan.limits.any()) {
                return spawn_fail(proc::ExecStage::kCgroup, g.error());
            } else {
                log_debug("no cgroup for process %d: %s", pid, g.error().message().c_str());
            }
        } else if (plan.limits.any()) {
            return spawn_fail(proc::ExecStage::kCgroup,
                              Error::make(EOPNOTSUPP, "resource limits need cgroups, which are disabled"));
        }

        proc::SpawnFailure failure;
        auto child = proc::spawn(ex, &failure);
        child_ends.clear();  // the child holds its ends now
        if (!child) {
            if (p->cg)
                (void)cg_tree->remove(*p->cg, j.spec.name.qualified());
            return spawn_fail(failure.stage, child.error());
        }
        p->child = std::move(child).value();
        if (p->cg)
            p->cg->close_join_fds();
        p->info.os_pid = p->child.pid;
        p->info.create_time = wall_now();
        p->started = loop.now();
        p->info.state = model::ProcState::kRunning;
        ++counters.spawned;

        Proc* raw = p.get();
        auto w = loop.watch(raw->child.pidfd.get(), POLLIN, [this, pid](uint32_t) { on_exit_ready(pid); });
        if (!w) {
            // Cannot observe its exit: stop it rather than lose track of it.
            (void)proc::send_signal(raw->child, SIGKILL, true);
            log_error(w.error(), "watch pidfd of process %d", pid);
        } else {
            raw->exit_watch = *w;
        }
        io.attach(pid, std::move(streams));
        procs.emplace(pid, std::move(p));

        if (raw->notify) {
            // Counts as running (and `spawn` fires) only once it says READY=1.
            raw->info.state = model::ProcState::kStarting;
            if (j.spec.ready_timeout)
                raw->ready_timer =
                    loop.add_timer(seconds(*j.spec.ready_timeout), [this, pid] { on_ready_timeout(pid); });
        } else {
            emit.spawned(raw->job, pid, raw->child.pid, raw->committed);
        }
        return pid;
    }

    // ---------- readiness (notify jobs) ----------
    Proc* notify_sender(pid_t sender) {
        for (auto& [pid, p] : procs)
            if (p->notify && !p->leader_exited && p->child.pid == sender)
                return p.get();
        // A helper process of the service (systemd-notify, a child): must be in its tree.
        for (auto& [pid, p] : procs)
            if (p->notify && !p->leader_exited && is_descendant(sender, p->child.pid))
                return p.get();
        return nullptr;
    }

    void on_notify(pid_t sender, const NotifySocket::Fields& f) {
        Proc* p = notify_sender(sender);
        if (!p) {
            log_debug("notify datagram from %d, which is no notify process of ours: ignored", static_cast<int>(sender));
            return;
        }
        if (p->stopping)
            return;
        auto has = [&](const char* k, const char* v) {
            auto it = f.find(k);
            return it != f.end() && it->second == v;
        };
        if (has("READY", "1") && !p->ready) {
            p->ready = true;
            p->info.state = model::ProcState::kRunning;
            if (p->ready_timer)
                loop.cancel_timer(p->ready_timer);
            p->ready_timer = 0;
            emit.spawned(p->job, p->pid, p->child.pid, p->committed);
            arm_watchdog(*p);
        }
        if (has("WATCHDOG", "1") && p->ready)
            arm_watchdog(*p);
    }

    void arm_watchdog(Proc& p) {
        if (p.watchdog_sec <= 0)
            return;
        if (p.watchdog_timer)
            loop.cancel_timer(p.watchdog_timer);
        int pid = p.pid;
        p.watchdog_timer = loop.add_timer(seconds(p.watchdog_sec), [this, pid] {
            Proc* q = find_proc(pid);
            if (!q)
                return;
            q->watchdog_timer = 0;
            log_warning("process %d (%s) missed its watchdog (%.3gs): restarting it", pid, q->job.qualified().c_str(),
                        q->watchdog_sec);
            emit.process("watchdog", q->job, pid, q->child.pid);
            restart_process(*q);
        });
    }

    void on_ready_timeout(int pid) {
        Proc* p = find_proc(pid);
        if (!p)
            return;
        p->ready_timer = 0;
        if (p->ready || p->stopping)
            return;
        log_warning("process %d (%s) did not send READY=1 in time: restarting it", pid, p->job.qualified().c_str());
        emit.process("ready_timeout", p->job, pid, p->child.pid);
        restart_process(*p);
    }

    // Stops a process and lets its job replace it when it has exited.
    void restart_process(Proc& p) {
        Job* j = find_job(p.job);
        int pid = p.pid;
        if (j && !p.committed)
            execute(*j, j->fsm.stop_process(pid));
        Proc* q = find_proc(pid);
        if (q && !q->stopping) {
            emit.stopping(q->job, pid);
            begin_stop(*q);
        }
    }

    // ---------- actions ----------
    void execute(Job& j, const job::Actions& actions) {
        for (const auto& a : actions) {
            switch (a.kind) {
                case job::Action::Kind::kSpawn:
                    for (int i = 0; i < a.count; ++i) {
                        if (shutting_down)
                            break;
                        auto r = spawn_process(j, false, std::nullopt, nullptr);
                        if (r) {
                            j.fsm.spawned(*r);
                        } else {
                            execute(j, j.fsm.spawn_failed(loop.now()));
                            if (!j.fsm.may_spawn())
                                break;  // the rest of this kSpawn waits for the back-off
                        }
                    }
                    break;
                case job::Action::Kind::kStop:
                    if (Proc* p = find_proc(a.pid)) {
                        emit.stopping(j.spec.name, a.pid);
                        begin_stop(*p);
                    }
                    break;
                case job::Action::Kind::kReap:
                    if (Proc* p = find_proc(a.pid)) {
                        emit.reaped(j.spec.name, a.pid, p->child.pid);
                        begin_stop(*p);
                    }
                    break;
                case job::Action::Kind::kArmRetry:
                case job::Action::Kind::kArmRespawn: {
                    cancel_timer(j);
                    bool retry = a.kind == job::Action::Kind::kArmRetry;
                    JobName name = j.spec.name;
                    j.retry_timer = loop.add_timer(
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(a.delay), [this, name, retry] {
                            Job* jj = find_job(name);
                            if (!jj)
                                return;
                            jj->retry_timer = 0;
                            execute(*jj, retry ? jj->fsm.retry_fired(loop.now()) : jj->fsm.respawn_fired(loop.now()));
                        });
                    break;
                }
                case job::Action::Kind::kCancelRetry:
                    cancel_timer(j);
                    break;
                case job::Action::Kind::kFlap:
                    log_warning("%s is flapping", j.spec.name.qualified().c_str());
                    emit.job("flap", j.spec.name);
                    break;
                case job::Action::Kind::kGaveUp:
                    log_warning("%s: flapping did not stop after %d retries; the job stays stopped",
                                j.spec.name.qualified().c_str(), j.spec.flapping ? j.spec.flapping->max_retry : 0);
                    emit.job_pair("stop", j.spec.name, "flapping");
                    if (give_up_hook)
                        give_up_hook(j.full_spec(), j.last_exit_status, j.last_term_signal);
                    break;
            }
        }
    }

    void cancel_timer(Job& j) {
        if (j.retry_timer)
            loop.cancel_timer(j.retry_timer);
        j.retry_timer = 0;
    }

    Manager::GiveUpHandler give_up_hook;

    // ---------- stopping ----------
    void begin_stop(Proc& p) {
        if (p.stopping)
            return;
        p.stopping = true;
        p.info.state = model::ProcState::kStopping;
        if (Job* j = find_job(p.job); j && p.committed) {
            auto& c = j->committed;
            c.erase(std::remove(c.begin(), c.end(), p.pid), c.end());
        }
        if (!p.leader_exited) {
            auto r = proc::send_signal(p.child, SIGTERM, true);
            if (!r)
                log_debug("SIGTERM to %d: %s", p.child.pid, r.error().message().c_str());
        }
        int pid = p.pid;
        p.kill_timer = loop.add_timer(seconds(p.graceful_timeout), [this, pid] {
            Proc* q = find_proc(pid);
            if (!q)
                return;
            q->kill_timer = 0;
            log_info("process %d (%s) did not stop in %.3gs: killing it", pid, q->job.qualified().c_str(),
                     q->graceful_timeout);
            if (!q->leader_exited)
                (void)proc::send_signal(q->child, SIGKILL, true);
            if (q->cg && cg_tree)
                (void)cg_tree->kill(*q->cg);
            if (q->leader_exited && !q->cg) {
                // No cgroup: the rest of its process group got its grace period too.
                (void)::kill(-q->child.pid, SIGKILL);
                finalize(pid);
            }
        });
    }

    // ---------- exits ----------
    void on_exit_ready(int pid) {
        Proc* p = find_proc(pid);
        if (!p || p->leader_exited)
            return;
        auto st = proc::try_reap(p->child);
        if (!st) {
            log_error(st.error(), "reap process %d", pid);
            return;
        }
        if (!st->exited)
            return;
        p->leader_exited = true;
        p->info.active = false;
        if (p->exit_watch)
            loop.unwatch(p->exit_watch);
        p->exit_watch = 0;
        ++counters.exited;
        io.drain(pid);
        p = find_proc(pid);  // an output callback may have changed the world
        if (!p)
            return;

        bool once = p->committed;
        JobName name = p->job;
        bool oom = p->cg && cg_tree && cg_tree->oom_killed(*p->cg);
        emit.exited(name, {pid, p->child.pid, st->exit_status, st->term_signal, once, oom});
        if (!p->stopping) {
            log_info("process %d (%s, os pid %d) exited: status %d, signal %d%s", pid, name.qualified().c_str(),
                     p->child.pid, st->exit_status, st->term_signal, oom ? " (out of memory)" : "");
        }

        bool was_stopping = p->stopping;
        bool committed = p->committed;
        // Leftovers of a crashed process (its children) are killed so the replacement
        // starts clean; a stopping process's children get their graceful time.
        bool wait_cgroup = p->cg && cg_tree && cg_tree->populated(*p->cg);
        if (wait_cgroup && !was_stopping)
            (void)cg_tree->kill(*p->cg);

        if (Job* j = find_job(name)) {
            j->last_exit_status = st->exit_status;
            j->last_term_signal = st->term_signal;
            if (committed) {
                auto& c = j->committed;
                c.erase(std::remove(c.begin(), c.end(), pid), c.end());
            } else {
                execute(*j, j->fsm.exited(pid, loop.now(), {p->started, st->term_signal}));
            }
        }

        p = find_proc(pid);
        if (!p)
            return;
        // Without a cgroup, a stopping process's group may outlive its leader (a child
        // that ignores SIGTERM): it stays "stopping" until the kill timer has SIGKILLed
        // the group. The group id cannot be reused while any member is alive.
        if (!p->cg && was_stopping && p->kill_timer && ::kill(-p->child.pid, 0) == 0)
            return;
        if (wait_cgroup && p->cg->events) {
            auto w = loop.watch(p->cg->events.get(), POLLPRI, [this, pid](uint32_t) {
                Proc* q = find_proc(pid);
                if (q && !(q->cg && cg_tree->populated(*q->cg)))
                    finalize(pid);
            });
            if (w) {
                p->cg_watch = *w;
                if (cg_tree->populated(*p->cg))
                    return;  // wait for "populated 0"
            }
        }
        finalize(pid);
    }

    void release_watches(Proc& p) {
        if (p.exit_watch)
            loop.unwatch(p.exit_watch);
        if (p.cg_watch)
            loop.unwatch(p.cg_watch);
        io.detach(p.pid);
        if (p.kill_timer)
            loop.cancel_timer(p.kill_timer);
        if (p.ready_timer)
            loop.cancel_timer(p.ready_timer);
        if (p.watchdog_timer)
            loop.cancel_timer(p.watchdog_timer);
        p.exit_watch = p.cg_watch = 0;
        p.kill_timer = p.ready_timer = p.watchdog_timer = 0;
    }

    void finalize(int pid) {
        auto it = procs.find(pid);
        if (it == procs.end())
            return;
        io.end_subscriptions(pid);
        it = procs.find(pid);
        if (it == procs.end())
            return;
        Proc& p = *it->second;
        release_watches(p);
        if (p.cg && cg_tree) {
            auto r = cg_tree->remove(*p.cg, p.job.qualified());
            if (!r)
                log_debug("%s", r.error().message().c_str());
        }
        // The last holder of a shared argument list or environment (its job is gone).
        size_t freed = 0;
        if (p.info.args && p.info.args.use_count() == 1)
            freed += strings_bytes(*p.info.args);
        if (p.info.env && p.info.env.use_count() == 1)
            freed += env_bytes(*p.info.env);
        procs.erase(it);
        if (freed)
            note_freed(freed);
        if (shutting_down && procs.empty() && shutdown_done) {
            auto done = std::move(shutdown_done);
            shutdown_done = nullptr;
            loop.post(std::move(done));
        }
    }

    // ---------- output ----------
    // Every chunk read from a process: to its job's log file and gafferd's console (the
    // subscribers get it from ProcessIo next).
    void on_chunk(const ProcessIo::Chunk& c) {
        Proc* p = find_proc(c.pid);
        if (!p)
            return;
        if (!c.log_key.empty()) {
            if (Job* j = find_job(p->job)) {
                auto it = j->logs.find(c.log_key);
                // Merged labels: stderr shares stdout's pipe, and goes to stdout's file.
                if (it != j->logs.end()) {
                    auto r = it->second->write(c.data);
                    if (!r)
                        log_debug("log file of %s: %s", p->job.qualified().c_str(), r.error().message().c_str());
                }
            }
        }
        if (self.output_handler_)
            self.output_handler_(OutputChunk{c.pid, p->job, c.label, c.data});
    }

    // ---------- info ----------
    model::JobInfo job_info(const Job& j) const {
        model::JobInfo info;
        info.name = j.spec.name;
        info.processes = j.fsm.processes();
        info.processes.insert(info.processes.end(), j.committed.begin(), j.committed.end());
        info.running = static_cast<int>(info.processes.size());
        info.running_out = static_cast<int>(j.committed.size());
        info.active = info.running > 0;
        info.max_processes = j.fsm.target();
        info.config_json = j.spec.config_json;
        info.stopped = j.fsm.stopped();
        info.flapping = j.fsm.flap_stopped();
        return info;
    }

    model::ProcessInfo process_info(const Proc& p) const {
        model::ProcessInfo i = p.info;
        i.active = !p.leader_exited;
        i.state = p.stopping ? model::ProcState::kStopping
                  : p.ready  ? model::ProcState::kRunning
                             : model::ProcState::kStarting;
        if (!p.committed)
            if (Job* j = find_job(p.job))
                i.restarts = j->fsm.restarts();
        return i;
    }

    void stop_committed(Job& j) {
        auto committed = j.committed;
        for (int pid : committed) {
            if (Proc* p = find_proc(pid)) {
                emit.stopping(j.spec.name, pid);
                begin_stop(*p);
            }
        }
        j.committed.clear();
    }
};

// A job's uid and gid as applied to its children (plan_identity). NSS is asked here, once,
// when the job is loaded: never in the child and never per spawn. Returns keep_groups.
namespace {
std::optional<UserEntry> lookup_user(uid_t uid, bool with_groups) {
    struct passwd pw, *res = nullptr;
    std::vector<char> buf(16384);
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || !res)
        return std::nullopt;
    UserEntry e{res->pw_name, res->pw_dir, res->pw_gid, {}};
    if (!with_groups)
        return e;
    int n = 64;
    std::vector<gid_t> g(static_cast<size_t>(n));
    if (getgrouplist(res->pw_name, res->pw_gid, g.data(), &n) >= 0) {
        g.resize(static_cast<size_t>(n));
        e.groups = std::move(g);
    }
    return e;
}

bool resolve_user(model::JobSpec& spec, std::vector<gid_t>& groups, model::Env& user_env) {
    const uid_t euid = geteuid();
    const gid_t egid = getegid();
    std::optional<UserEntry> entry;
    if (spec.uid)
        entry = lookup_user(*spec.uid, needs_group_list(spec.uid, spec.gid, euid, egid));
    Identity id = plan_identity(spec.uid, spec.gid, euid, egid, entry);
    spec.gid = id.gid;
    groups = std::move(id.groups);
    user_env = std::move(id.user_env);
    return id.keep_groups;
}
}  // namespace

// Opens the job's log files (stdout_file, stderr_file, or log_dir/<job>.<label>.log).
// Failing to open one is a configuration error of the job (EINVAL).
Result<std::map<std::string, std::shared_ptr<io::RotatingLog>>> open_logs(const model::JobSpec& spec) {
    std::map<std::string, std::shared_ptr<io::RotatingLog>> logs;
    for (int i = 0; i < 2; ++i) {
        const char* key = i == 0 ? "stdout" : "stderr";
        std::string path = i == 0 ? spec.stdout_file : spec.stderr_file;
        if (path.empty() && !spec.log_dir.empty()) {
            std::string label = static_cast<size_t>(i) < spec.redirect_output.size() ? spec.redirect_output[i] : key;
            path = io::log_path_for(spec.log_dir, spec.name.qualified(), label);
        }
        if (path.empty())
            continue;
        // Two equal labels share a pipe and so a file; two options naming one file too.
        bool shared = false;
        for (auto& [k, log] : logs) {
            if (log->path() == path) {
                logs[key] = log;
                shared = true;
                break;
            }
        }
        if (shared)
            continue;
        auto log = io::RotatingLog::open(path, spec.log_max_bytes, spec.log_backups, spec.log_beneath);
        if (!log)
            return fail(Error::make(EINVAL, "%s: cannot open log file: %s", key, log.error().message().c_str()));
        logs[key] = std::shared_ptr<io::RotatingLog>(std::move(log).value());
    }
    return logs;
}

namespace {
// Whether a job of `size` config bytes fits in place of one of `replaced` bytes. A job
// that does not grow always fits (the limits may have been lowered below what is loaded).
Status check_config_fits(const Limits& limits, size_t in_use, size_t replaced, size_t size) {
    if (size <= replaced)
        return ok();
    if (size > limits.max_config_bytes)
        return fail(Error::make(EFBIG, "the job's config takes %zu bytes, more than max_config_bytes (%zu)", size,
                                limits.max_config_bytes));
    if (in_use - replaced + size > limits.max_config_bytes)
        return fail(Error::make(ENOSPC,
                                "the loaded jobs' configs would take %zu bytes, more than max_config_bytes (%zu)",
                                in_use - replaced + size, limits.max_config_bytes));
    return ok();
}
}  // namespace

// ====================================================================================

Manager::Manager(loop::Loop& loop, events::EventBus& bus, Options options)
    : impl_(std::make_unique<Impl>(*this, loop, bus, std::move(options))) {}

Manager::~Manager() = default;

Status Manager::load(model::JobSpec spec, const model::Env& session_env) {
    if (impl_->shutting_down)
        return fail(Error::make(EPERM, "gafferd is shutting down"));
    if (impl_->find_job(spec.name))
        return fail(Error::make(EEXIST, "job '%s' already exists", spec.name.qualified().c_str()));
    const Limits& limits = impl_->opts.limits;
    if (impl_->jobs.size() >= limits.max_jobs)
        return fail(Error::make(ENOSPC, "%zu jobs are loaded, max_jobs is %zu", impl_->jobs.size(), limits.max_jobs));
    size_t size = config_size(spec, session_env);
    GAFFER_RETURN_IF_ERROR(check_config_fits(limits, impl_->config_bytes, 0, size));
    bool start = spec.start;
    GAFFER_TRY(auto logs, open_logs(spec));
    std::vector<gid_t> groups;
    model::Env user_env;
    bool keep_groups = resolve_user(spec, groups, user_env);
    auto job = std::make_unique<Impl::Job>(std::move(spec), session_env);
    Impl::Job& j = *job;
    j.groups = std::move(groups);
    j.keep_groups = keep_groups;
    j.logs = std::move(logs);
    j.user_env = std::move(user_env);
    j.config_size = size;
    impl_->config_bytes += size;
    impl_->jobs.push_back(std::move(job));
    impl_->emit.job("load", j.spec.name);
    if (!start) {
        j.fsm.set_stopped_at_load();
        return ok();
    }
    impl_->emit.job_pair("start", j.spec.name);
    impl_->execute(j, j.fsm.start(impl_->loop.now()));
    return ok();
}

Status Manager::unload(const JobName& name) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    impl_->emit.job("unload", name);
    impl_->emit.job_pair("stop", name);
    impl_->cancel_timer(*j);
    auto actions = j->fsm.stop();
    impl_->execute(*j, actions);
    impl_->stop_committed(*j);
    impl_->config_bytes -= j->config_size;
    // The spec's members and its config JSON: about twice its config size.
    size_t freed = 2 * j->config_size;
    auto& jobs = impl_->jobs;
    jobs.erase(std::remove_if(jobs.begin(), jobs.end(), [&](auto& p) { return p.get() == j; }), jobs.end());
    impl_->note_freed(freed);
    return ok();
}

Status Manager::update(model::JobSpec spec, const model::Env& session_env, bool exact_target) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(spec.name));
    bool start = spec.start;
    bool was_stopped = j->fsm.stopped();
    // The session env given at load time stays unless the update brings one (§14.13).
    size_t size = config_size(spec, session_env.empty() ? j->session_env : session_env);
    GAFFER_RETURN_IF_ERROR(check_config_fits(impl_->opts.limits, impl_->config_bytes, j->config_size, size));
    GAFFER_TRY(auto logs, open_logs(spec));
    j->logs = std::move(logs);
    j->keep_groups = resolve_user(spec, j->groups, j->user_env);
    j->spec = std::move(spec);
    j->take_args();
    j->last_args.reset();
    if (!session_env.empty())
        j->session_env = session_env;
    impl_->config_bytes = impl_->config_bytes - j->config_size + size;
    impl_->note_freed(2 * j->config_size);
    j->config_size = size;
    if (start && was_stopped)
        impl_->emit.job_pair("start", j->spec.name);
    auto actions = j->fsm.update(j->spec, start, exact_target);
    impl_->stop_committed(*j);
    impl_->execute(*j, actions);
    return ok();
}

Status Manager::start_job(const JobName& name) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    if (impl_->shutting_down)
        return fail(Error::make(EPERM, "gafferd is shutting down"));
    impl_->emit.job_pair("start", name);
    impl_->execute(*j, j->fsm.start(impl_->loop.now()));
    return ok();
}

Status Manager::stop_job(const JobName& name) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    impl_->emit.job_pair("stop", name);
    impl_->execute(*j, j->fsm.stop());
    impl_->stop_committed(*j);
    return ok();
}

Status Manager::reload_job(const JobName& name) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    auto actions = j->fsm.reload(impl_->loop.now());
    impl_->stop_committed(*j);
    impl_->execute(*j, actions);
    return ok();
}

Result<int> Manager::scale(const JobName& name, const model::ScaleOp& op) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    impl_->emit.job("update", name);
    impl_->execute(*j, j->fsm.scale(op));
    return j->fsm.target();
}

Result<int> Manager::numprocesses(const JobName& name) const {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    return j->fsm.target();
}

bool Manager::has_job(const JobName& name) const {
    return impl_->find_job(name) != nullptr;
}

Result<model::JobInfo> Manager::info(const JobName& name) const {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    return impl_->job_info(*j);
}

Result<model::JobSpec> Manager::spec(const JobName& name) const {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    return j->full_spec();
}

Result<std::vector<int>> Manager::pids(const JobName& name) const {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    return j->fsm.processes();
}

std::vector<int> Manager::all_pids() const {
    std::vector<int> out;
    for (auto& [pid, p] : impl_->procs)
        if (!p->stopping)
            out.push_back(pid);
    return out;
}

std::vector<std::string> Manager::sessions() const {
    std::vector<std::string> out;
    for (auto& j : impl_->jobs)
        if (std::find(out.begin(), out.end(), j->spec.name.session) == out.end())
            out.push_back(j->spec.name.session);
    return out;
}

std::vector<std::string> Manager::jobs() const {
    std::vector<std::string> out;
    for (auto& j : impl_->jobs) out.push_back(j->spec.name.qualified());
    return out;
}

Result<std::vector<std::string>> Manager::jobs(std::string_view session) const {
    std::vector<std::string> out;
    for (auto& j : impl_->jobs)
        if (j->spec.name.session == session)
            out.push_back(j->spec.name.qualified());
    if (out.empty())
        return fail(Error::make(ENOENT, "session '%.*s' not found", static_cast<int>(session.size()), session.data()));
    return out;
}

Result<std::vector<model::ProcessInfo>> Manager::processes(const JobName& name) const {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    (void)j;
    std::vector<model::ProcessInfo> out;
    for (auto& [pid, p] : impl_->procs)
        if (p->job == name)
            out.push_back(impl_->process_info(*p));
    return out;
}

std::vector<model::ProcessInfo> Manager::all_processes() const {
    std::vector<model::ProcessInfo> out;
    for (auto& [pid, p] : impl_->procs) out.push_back(impl_->process_info(*p));
    return out;
}

Result<int> Manager::commit(const JobName& name, std::optional<double> graceful_timeout, const model::Env& env) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    if (impl_->shutting_down)
        return fail(Error::make(EPERM, "gafferd is shutting down"));
    if (graceful_timeout && (*graceful_timeout < 0 || !std::isfinite(*graceful_timeout)))
        return fail(Error::make(EINVAL, "graceful_timeout must be a number >= 0"));
    GAFFER_TRY(int pid, impl_->spawn_process(*j, true, graceful_timeout, &env));
    j->committed.push_back(pid);
    return pid;
}

Status Manager::stopall(const JobName& name) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    impl_->execute(*j, j->fsm.stop_all_replace());
    impl_->stop_committed(*j);
    return ok();
}

Status Manager::killall(const JobName& name, int sig) {
    GAFFER_TRY(Impl::Job * j, impl_->get_job(name));
    impl_->emit.job_killed(name, sig);
    std::vector<int> all = j->fsm.processes();
    all.insert(all.end(), j->committed.begin(), j->committed.end());
    for (int pid : all) {
        Impl::Proc* p = impl_->find_proc(pid);
        if (!p || p->leader_exited)
            continue;
        auto r = proc::send_signal(p->child, sig, false);
        if (!r)
            log_debug("signal %d to %d: %s", sig, p->child.pid, r.error().message().c_str());
        impl_->emit.process_killed(name, pid);
    }
    return ok();
}

Result<model::ProcessInfo> Manager::process_info(int pid) const {
    Impl::Proc* p = impl_->find_proc(pid);
    if (!p)
        return fail(Error::make(ENOENT, "process %d not found", pid));
    return impl_->process_info(*p);
}

Status Manager::stop_process(int pid) {
    Impl::Proc* p = impl_->find_proc(pid);
    if (!p)
        return fail(Error::make(ENOENT, "process %d not found", pid));
    if (p->stopping)
        return ok();
    Impl::Job* j = impl_->find_job(p->job);
    if (j && !p->committed) {
        impl_->execute(*j, j->fsm.stop_process(pid));
        if (!p->stopping) {  // not in the job's list any more: stop it anyway
            impl_->emit.stopping(p->job, pid);
            impl_->begin_stop(*p);
        }
    } else {
        impl_->emit.stopping(p->job, pid);
        impl_->begin_stop(*p);
    }
    return ok();
}

Status Manager::kill(int pid, int sig) {
    Impl::Proc* p = impl_->find_proc(pid);
    if (!p)
        return fail(Error::make(ENOENT, "process %d not found", pid));
    if (!p->leader_exited) {
        auto r = proc::send_signal(p->child, sig, false);
        if (!r)
            return fail(r.error());
    }
    impl_->emit.process_killed(p->job, pid);
    return ok();
}

Status Manager::send(int pid, std::string_view data, const std::string& stream) {
    return impl_->io.send(pid, data, stream);
}

Result<std::vector<std::string>> Manager::stream_labels(int pid) const {
    return impl_->io.stream_labels(pid);
}

Result<Manager::OutputSubId> Manager::subscribe_output(int pid, const std::string& label,
                                                       std::function<void(std::string_view)> on_chunk,
                                                       std::function<void()> on_end) {
    return impl_->io.subscribe(pid, label, std::move(on_chunk), std::move(on_end));
}

void Manager::unsubscribe_output(OutputSubId id) {
    impl_->io.unsubscribe(id);
}

Result<std::string> Manager::stream_backlog(int pid, const std::string& label, size_t max_bytes) const {
    return impl_->io.backlog(pid, label, max_bytes);
}

Result<model::ProcessStats> Manager::process_stats(int pid) {
    Impl::Proc* p = impl_->find_proc(pid);
    if (!p)
        return fail(Error::make(ENOENT, "process %d not found", pid));
    ++impl_->counters.stat_reads;
    model::ProcessStats s =
        p->sampler.sample(impl_->cg_tree.get(), p->cg ? &*p->cg : nullptr, p->child.pid, impl_->loop.now());
    s.pid = pid;
    return s;
}

Result<std::vector<model::ProcessStats>> Manager::job_stats(const JobName& name) {
    GAFFER_TRY(auto info, this->info(name));
    std::vector<model::ProcessStats> out;
    for (int pid : info.processes) {
        auto s = process_stats(pid);
        if (s)
            out.push_back(std::move(s).value());
    }
    return out;
}

bool Manager::reap_os_pid(pid_t os_pid) {
    for (auto& [pid, p] : impl_->procs) {
        if (p->child.pid == os_pid && !p->leader_exited) {
            impl_->on_exit_ready(pid);
            return true;
        }
    }
    return false;
}

void Manager::signal_all(int sig) {
    std::vector<int> pids;
    for (auto& [pid, p] : impl_->procs)
        if (!p->leader_exited)
            pids.push_back(pid);
    for (int pid : pids) (void)kill(pid, sig);
}

void Manager::set_give_up_handler(GiveUpHandler handler) {
    impl_->give_up_hook = std::move(handler);
}

void Manager::shutdown(std::function<void()> done) {
    auto& im = *impl_;
    im.shutting_down = true;
    im.shutdown_done = std::move(done);
    // Every job at once: SIGTERM now, SIGKILL after each one's graceful_timeout.
    for (auto& j : im.jobs) {
        im.cancel_timer(*j);
        if (!j->fsm.stopped())
            im.emit.job_pair("stop", j->spec.name);
        im.execute(*j, j->fsm.stop());
        im.stop_committed(*j);
    }
    for (auto& [pid, p] : im.procs) im.begin_stop(*p);
    if (im.procs.empty() && im.shutdown_done) {
        auto d = std::move(im.shutdown_done);
        im.shutdown_done = nullptr;
        im.loop.post(std::move(d));
    }
}

void Manager::pause_output(bool paused) {
    impl_->io.set_paused(paused);
}

void Manager::kill_all_now() {
    std::vector<int> leftover_groups;
    for (auto& [pid, p] : impl_->procs) {
        bool has_cgroup = p->cg && impl_->cg_tree;
        if (!p->leader_exited) {
            (void)proc::send_signal(p->child, SIGKILL, true);
        } else if (!has_cgroup) {
            // Its main process is reaped (the pidfd no longer reaches the group), and it
            // is only still here while its process group lives on: the group id cannot
            // have been reused. As when its kill timer fires, it is done once KILLed.
            (void)::kill(-p->child.pid, SIGKILL);
            leftover_groups.push_back(pid);
        }
        if (has_cgroup)
            (void)impl_->cg_tree->kill(*p->cg);
    }
    for (int pid : leftover_groups) impl_->finalize(pid);
}

bool Manager::shutting_down() const {
    return impl_->shutting_down;
}
size_t Manager::process_count() const {
    return impl_->procs.size();
}
const Limits& Manager::limits() const {
    return impl_->opts.limits;
}
void Manager::set_limits(const Limits& limits) {
    impl_->opts.limits = limits;
}
size_t Manager::config_bytes() const {
    return impl_->config_bytes;
}

size_t Manager::config_size(const model::JobSpec& spec, const model::Env& session_env) {
    size_t n = spec.config_json.size();
    for (const auto& [k, v] : session_env) n += k.size() + v.size();
    return n;
}
const Counters& Manager::counters() const {
    return impl_->counters;
}
const char* Manager::cgroup_mode() const {
    return impl_->cg_tree ? cgroup::to_string(impl_->cg_tree->mode()) : "none";
}

}  // namespace gaffer::manager
