// SPDX-License-Identifier: MIT
#include "lib/dbus/service.h"

#include <fcntl.h>
#include <poll.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/base/c_handle.h"
#include "lib/base/log.h"
#include "lib/base/unique_fd.h"
#include "lib/dbus/connection.h"
#include "lib/json/json.h"
#include "lib/manager/errors.h"
#include "lib/manager/manager.h"
#include "lib/ops/args.h"
#include "lib/ops/codec.h"

namespace gaffer::dbus {

namespace {

constexpr const char* kName = "org.gaffer1";
constexpr const char* kRoot = "/org/gaffer1";
constexpr const char* kJobPrefix = "/org/gaffer1/job";
constexpr const char* kProcPrefix = "/org/gaffer1/process";
constexpr const char* kManagerIface = "org.gaffer1.Manager";
constexpr const char* kJobIface = "org.gaffer1.Job";
constexpr const char* kProcIface = "org.gaffer1.Process";
// Calls waiting for their sender's credentials, all senders together.
constexpr size_t kMaxPendingCalls = 1024;
// Credentials cached (unique names seen); the oldest half goes when it is full.
constexpr size_t kMaxCachedPeers = 4096;
// Open OpenOutput pipes: all clients together, and per caller uid (reads are open to
// every local user: one of them must not take them all).
constexpr size_t kMaxOutputs = 512;
constexpr size_t kMaxOutputsPerUid = 32;

using MessagePtr = CPtr<sd_bus_message, sd_bus_message_unref>;
using SlotPtr = CPtr<sd_bus_slot, sd_bus_slot_unref>;

struct FreeStrv {
    void operator()(char** v) const {
        if (!v)
            return;
        for (char** p = v; *p; ++p) free(*p);
        free(v);
    }
};

std::string job_path(const std::string& qualified) {
    char* p = nullptr;
    if (sd_bus_path_encode(kJobPrefix, qualified.c_str(), &p) < 0 || !p)
        return kJobPrefix;
    std::string s(p);
    free(p);
    return s;
}

std::string process_path(int pid) {
    return std::string(kProcPrefix) + "/" + std::to_string(pid);
}

// The qualified job name a job path encodes; nullopt when it encodes none.
std::optional<std::string> job_of_path(const char* path) {
    char* name = nullptr;
    if (sd_bus_path_decode(path, kJobPrefix, &name) <= 0 || !name)
        return std::nullopt;
    std::string s(name);
    free(name);
    if (s.empty() || s.find('.') == std::string::npos)
        return std::nullopt;
    return s;
}

std::optional<int> pid_of_path(const char* path) {
    std::string_view p(path), prefix(kProcPrefix);
    if (p.size() <= prefix.size() + 1 || p.substr(0, prefix.size()) != prefix || p[prefix.size()] != '/')
        return std::nullopt;
    return ops::pid_from_segment(p.substr(prefix.size() + 1));
}

uint64_t usec_of(double seconds) {
    return seconds > 0 ? static_cast<uint64_t>(std::llround(seconds * 1e6)) : 0;
}

// The D-Bus error of an operation's failure: AccessDenied for the caller's rights, else
// the one table's column.
int reply_failure(sd_bus_message* m, const ops::Failure& f) {
    const char* name = f.access ? SD_BUS_ERROR_ACCESS_DENIED : manager::map_error(f.error).dbus_name;
    if (!f.access && manager::map_error(f.error).outcome == manager::Outcome::kInternal)
        log_warning("D-Bus: %s", f.error.message().c_str());
    std::string text = f.error.context.empty() ? f.error.message() : f.error.context;
    return sd_bus_reply_method_errorf(m, name, "%s", text.c_str());
}

int reply_bad(sd_bus_message* m, const std::string& why) {
    return sd_bus_reply_method_errorf(m, "org.gaffer1.Error.BadRequest", "%s", why.c_str());
}

// JSON values an operation's input points at, owned for the call.
struct Args {
    std::vector<json::JsonPtr> held;
    ops::Input in;

    const json_t* keep(json::JsonPtr v) {
        held.push_back(std::move(v));
        return held.back().get();
    }
    void job(const std::string& name) { in.job = keep(json::str(name)); }
    void pid(int pid) { in.pid = keep(json::take(json_integer(pid))); }
    void str(ops::Param p, std::string_view s) { in.at(p) = keep(json::str(s)); }
};

// Where a method finds its target: its first argument (Manager's by-name and by-pid
// forms) or its object's path (Job and Process objects).
enum class From { kArgument, kPath };

}  // namespace

struct Service::Impl {
    loop::Loop& loop;
    events::EventBus& bus;
    manager::Manager& manager;
    const ops::Policy& policy;
    ServiceOptions opts;
    std::unique_ptr<Connection> conn;
    std::vector<SlotPtr> slots;  // of the live connection
    events::EventBus::SubId events_sub = 0;

    // ---- callers ----
    struct Creds {
        uid_t uid;
        gid_t gid;
        uint64_t seq;
    };
    std::unordered_map<std::string, Creds> creds;
    uint64_t creds_seq = 0;
    using Handler = int (Impl::*)(sd_bus_message*, const ops::Caller&, From);
    struct Pending {
        MessagePtr msg;
        Handler handler;
        From from;
    };
    std::map<std::string, std::vector<Pending>> pending;  // by sender, waiting for creds
    size_t pending_count = 0;
    std::set<std::string> subscribers;

    // ---- change notification ----
    struct JobProps {
        bool active = false;
        uint32_t running = 0, numprocesses = 0;
        std::vector<int> pids;
        bool flapping = false;
        std::string config;
        bool operator==(const JobProps&) const = default;
    };
    std::unordered_map<std::string, JobProps> job_sent;
    std::unordered_map<int, std::string> state_sent;
    std::set<std::string> dirty_jobs;
    std::set<int> dirty_procs;
    bool manager_dirty = false;
    bool flush_posted = false;
    uint32_t njobs_sent = 0, nprocs_sent = 0;
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);

    // ---- OpenOutput pipes ----
    struct Output {
        UniqueFd fd;  // write end
        manager::Manager::OutputSubId sub = 0;
        loop::Loop::WatchId watch = 0;
        uid_t uid = 0;  // of the caller that opened it
    };
    std::unordered_map<uid_t, size_t> outputs_by_uid;
    std::map<uint64_t, Output> outputs;
    uint64_t next_output = 1;

    Impl(loop::Loop& l, events::EventBus& b, manager::Manager& m, const ops::Policy& p, ServiceOptions o)
        : loop(l), bus(b), manager(m), policy(p), opts(std::move(o)) {}

    ~Impl() {
        *alive = false;
        if (events_sub)
            bus.unsubscribe(events_sub);
        for (auto& [id, out] : outputs) {
            if (out.watch)
                loop.unwatch(out.watch);
            if (out.sub)
                manager.unsubscribe_output(out.sub);
        }
        slots.clear();
        conn.reset();
    }

    sd_bus* b() const { return conn ? conn->bus() : nullptr; }
    ops::Context ctx() { return ops::Context{manager, policy}; }

    // ---------- connection ----------
    void on_connected(sd_bus* bus_) {
        slots.clear();
        creds.clear();
        subscribers.clear();
        job_sent.clear();
        state_sent.clear();
        auto add = [&](int r, sd_bus_slot* s, const char* what) {
            if (r < 0)
                log_warning("D-Bus: %s: %s", what, strerror(-r));
            else
                slots.emplace_back(s);
        };
        sd_bus_slot* s = nullptr;
        add(sd_bus_add_object_vtable(bus_, &s, kRoot, kManagerIface, kManagerVtable, this), s, "Manager object");
        s = nullptr;
        add(sd_bus_add_fallback_vtable(bus_, &s, kJobPrefix, kJobIface, kJobVtable, &Impl::find_job, this), s,
            "job objects");
        s = nullptr;
        add(sd_bus_add_node_enumerator(bus_, &s, kJobPrefix, &Impl::enumerate_jobs, this), s, "job enumerator");
        s = nullptr;
        add(sd_bus_add_fallback_vtable(bus_, &s, kProcPrefix, kProcIface, kProcessVtable, &Impl::find_process, this), s,
            "process objects");
        s = nullptr;
        add(sd_bus_add_node_enumerator(bus_, &s, kProcPrefix, &Impl::enumerate_processes, this), s,
            "process enumerator");
        s = nullptr;
        add(sd_bus_add_object_manager(bus_, &s, kRoot), s, "ObjectManager");
        s = nullptr;
        add(sd_bus_match_signal_async(bus_, &s, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                      "NameOwnerChanged", &Impl::on_name_owner_changed, nullptr, this),
            s, "NameOwnerChanged match");
        s = nullptr;
        add(sd_bus_request_name_async(bus_, &s, kName, 0, &Impl::on_name_reply, this), s, "RequestName");
        // What is loaded now is what clients see from now on.
        for (const auto& q : manager.jobs()) job_sent[q] = job_props(model::JobName::parse(q)).value_or(JobProps{});
        for (const auto& p : manager.all_processes()) state_sent[p.pid] = model::to_string(p.state);
        njobs_sent = static_cast<uint32_t>(manager.jobs().size());
        nprocs_sent = static_cast<uint32_t>(manager.process_count());
    }

    void on_lost(sd_bus*) {
        slots.clear();
        asked.clear();
        for (auto& [sender, calls] : pending) pending_count -= calls.size();
        pending.clear();
    }

    static int on_name_reply(sd_bus_message* m, void*, sd_bus_error*) {
        const sd_bus_error* e = sd_bus_message_get_error(m);
        if (e) {
            log_warning("D-Bus: could not own the name %s: %s", kName, e->message ? e->message : e->name);
            return 0;
        }
        uint32_t r = 0;
        if (sd_bus_message_read(m, "u", &r) >= 0 && r != 1 && r != 4)
            log_warning("D-Bus: the name %s is owned by another connection (reply %u)", kName, r);
        else
            log_info("D-Bus: owns %s", kName);
        return 0;
    }

    static int on_name_owner_changed(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto* self = static_cast<Impl*>(userdata);
        const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
            return 0;
        if (name && name[0] == ':' && (!new_owner || !*new_owner)) {
            self->creds.erase(name);
            self->subscribers.erase(name);
            if (auto it = self->pending.find(name); it != self->pending.end()) {
                self->pending_count -= it->second.size();
                self->pending.erase(it);
            }
        }
        return 0;
    }

    // ---------- callers ----------
    ops::Caller caller_of(const Creds& c) const {
        ops::Caller who;
        // As on the unix socket (security-defaults.md): root and the daemon's user may do
        // everything, everyone else may read.
        if (c.uid == 0 || c.uid == opts.daemon_uid)
            who.perms.admin = true;
        else
            who.perms.read = {"*"};
        who.peer_uid = c.uid;
        who.peer_gid = c.gid;
        return who;
    }

    // Runs `h` for the sender of `m` once its credentials are known.
    int with_caller(sd_bus_message* m, Handler h, From from) {
        const char* sender = sd_bus_message_get_sender(m);
        if (!sender) {
            // A direct (peer-to-peer) connection has no bus driver to ask: not ours.
            return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED, "no sender");
        }
        if (auto it = creds.find(sender); it != creds.end())
            return (this->*h)(m, caller_of(it->second), from);
        if (pending_count >= kMaxPendingCalls)
            return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_LIMITS_EXCEEDED, "too many calls waiting");
        auto& calls = pending[sender];
        bool ask = calls.empty();
        calls.push_back(Pending{MessagePtr(sd_bus_message_ref(m)), h, from});
        ++pending_count;
        if (ask) {
            int r = ask_credentials(sender);
            if (r < 0) {
                log_warning("D-Bus: asking the credentials of %s: %s", sender, strerror(-r));
                fail_pending(sender, "the caller's credentials are unknown");
            }
        }
        return 1;
    }

    // GetConnectionCredentials(sender), answered to on_credentials, which finds the
    // sender again by the call's cookie.
    int ask_credentials(const char* sender) {
        sd_bus_message* raw = nullptr;
        int r = sd_bus_message_new_method_call(b(), &raw, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                               "org.freedesktop.DBus", "GetConnectionCredentials");
        if (r < 0)
            return r;
        MessagePtr call(raw);
        if ((r = sd_bus_message_append(raw, "s", sender)) < 0)
            return r;
        if ((r = sd_bus_call_async(b(), nullptr, raw, &Impl::on_credentials, this, 0)) < 0)
            return r;
        uint64_t cookie = 0;
        if ((r = sd_bus_message_get_cookie(raw, &cookie)) < 0)
            return r;
        asked[cookie] = sender;
        return 0;
    }

    void fail_pending(const std::string& sender, const char* why) {
        auto it = pending.find(sender);
        if (it == pending.end())
            return;
        auto calls = std::move(it->second);
        pending.erase(it);
        pending_count -= calls.size();
        for (auto& c : calls) (void)sd_bus_reply_method_errorf(c.msg.get(), SD_BUS_ERROR_ACCESS_DENIED, "%s", why);
    }

    static int on_credentials(sd_bus_message* reply, void* userdata, sd_bus_error*) {
        auto* self = static_cast<Impl*>(userdata);
        std::string sender;
        uint64_t cookie = 0;
        (void)sd_bus_message_get_reply_cookie(reply, &cookie);
        if (auto it = self->asked.find(cookie); it != self->asked.end()) {
            sender = std::move(it->second);
            self->asked.erase(it);
        }
        if (sender.empty())
            return 0;
        if (sd_bus_message_is_method_error(reply, nullptr)) {
            self->fail_pending(sender, "the caller's credentials are unknown");
            return 0;
        }
        std::optional<uid_t> uid;
        std::optional<gid_t> gid;
        if (sd_bus_message_enter_container(reply, 'a', "{sv}") > 0) {
            while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                const char* key = nullptr;
                if (sd_bus_message_read(reply, "s", &key) < 0)
                    break;
                if (key && strcmp(key, "UnixUserID") == 0) {
                    uint32_t u = 0;
                    if (sd_bus_message_read(reply, "v", "u", &u) >= 0)
                        uid = u;
                } else if (key && strcmp(key, "UnixGroupIDs") == 0 &&
                           sd_bus_message_enter_container(reply, 'v', "au") > 0) {
                    const void* p = nullptr;
                    size_t n = 0;
                    if (sd_bus_message_read_array(reply, 'u', &p, &n) >= 0 && n >= sizeof(uint32_t))
                        gid = *static_cast<const uint32_t*>(p);
                    (void)sd_bus_message_exit_container(reply);
                } else {
                    (void)sd_bus_message_skip(reply, "v");
                }
                (void)sd_bus_message_exit_container(reply);
            }
            (void)sd_bus_message_exit_container(reply);
        }
        if (!uid) {
            self->fail_pending(sender, "the bus did not tell the caller's uid");
            return 0;
        }
        if (self->creds.size() >= kMaxCachedPeers)
            self->evict_creds();
        self->creds[sender] = Creds{*uid, gid.value_or(static_cast<gid_t>(-1)), ++self->creds_seq};
        auto it = self->pending.find(sender);
        if (it == self->pending.end())
            return 0;
        auto calls = std::move(it->second);
        self->pending.erase(it);
        self->pending_count -= calls.size();
        ops::Caller who = self->caller_of(self->creds[sender]);
        for (auto& c : calls) (void)(self->*c.handler)(c.msg.get(), who, c.from);
        return 0;
    }
    std::unordered_map<uint64_t, std::string> asked;  // credential calls by cookie

    void evict_creds() {
        std::vector<std::pair<uint64_t, std::string>> by_age;
        for (auto& [name, c] : creds) by_age.emplace_back(c.seq, name);
        std::sort(by_age.begin(), by_age.end());
        for (size_t i = 0; i < by_age.size() / 2; ++i) creds.erase(by_age[i].second);
    }

    // ---------- objects ----------
    static int find_job(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*) {
        auto* self = static_cast<Impl*>(userdata);
        auto q = job_of_path(path);
        if (!q || !self->manager.has_job(model::JobName::parse(*q)))
            return 0;
        *found = self;
        return 1;
    }

    static int find_process(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*) {
        auto* self = static_cast<Impl*>(userdata);
        auto pid = pid_of_path(path);
        if (!pid || !self->manager.process_info(*pid))
            return 0;
        *found = self;
        return 1;
    }

    static int enumerate(std::vector<std::string> paths, char*** out) {
        char** v = static_cast<char**>(calloc(paths.size() + 1, sizeof(char*)));
        if (!v)
            return -ENOMEM;
        for (size_t i = 0; i < paths.size(); ++i) {
            v[i] = strdup(paths[i].c_str());
            if (!v[i]) {
                FreeStrv()(v);
                return -ENOMEM;
            }
        }
        *out = v;
        return 0;
    }

    static int enumerate_jobs(sd_bus*, const char*, void* userdata, char*** out, sd_bus_error*) {
        auto* self = static_cast<Impl*>(userdata);
        std::vector<std::string> paths;
        for (const auto& q : self->manager.jobs()) paths.push_back(job_path(q));
        return enumerate(std::move(paths), out);
    }

    static int enumerate_processes(sd_bus*, const char*, void* userdata, char*** out, sd_bus_error*) {
        auto* self = static_cast<Impl*>(userdata);
        std::vector<std::string> paths;
        for (int pid : self->manager.all_pids()) paths.push_back(process_path(pid));
        return enumerate(std::move(paths), out);
    }

    // ---------- properties ----------
    std::optional<JobProps> job_props(const model::JobName& name) {
        auto info = manager.info(name);
        if (!info)
            return std::nullopt;
        JobProps p;
        p.active = info->active;
        p.running = static_cast<uint32_t>(info->running);
        p.numprocesses = static_cast<uint32_t>(info->max_processes);
        p.pids = info->processes;
        p.flapping = info->flapping;
        p.config = json::dump(ops::encode_config(info->config_json, name.job).get());
        return p;
    }

    static int get_manager_prop(sd_bus*, const char*, const char*, const char* prop, sd_bus_message* reply,
                                void* userdata, sd_bus_error*) {
        auto* self = static_cast<Impl*>(userdata);
        std::string_view p(prop);
        if (p == "Version")
            return sd_bus_message_append(reply, "s", self->opts.version.c_str());
        if (p == "LoopBackend")
            return sd_bus_message_append(reply, "s", self->loop.backend_name());
        if (p == "CgroupMode")
            return sd_bus_message_append(reply, "s", self->manager.cgroup_mode());
        if (p == "NJobs")
            return sd_bus_message_append(reply, "u", static_cast<uint32_t>(self->manager.jobs().size()));
        return sd_bus_message_append(reply, "u", static_cast<uint32_t>(self->manager.process_count()));
    }

    static int get_job_prop(sd_bus*, const char* path, const char*, const char* prop, sd_bus_message* reply,
                            void* userdata, sd_bus_error* err) {
        auto* self = static_cast<Impl*>(userdata);
        auto q = job_of_path(path);
        model::JobName name = model::JobName::parse(q.value_or(""));
        std::string_view p(prop);
        if (p == "Name")
            return sd_bus_message_append(reply, "s", name.qualified().c_str());
        if (p == "Session")
            return sd_bus_message_append(reply, "s", name.session.c_str());
        auto props = self->job_props(name);
        if (!props)
            return sd_bus_error_setf(err, "org.gaffer1.Error.NotFound", "job '%s' not found", q.value_or("").c_str());
        if (p == "Active")
            return sd_bus_message_append(reply, "b", props->active);
        if (p == "Running")
            return sd_bus_message_append(reply, "u", props->running);
        if (p == "NumProcesses")
            return sd_bus_message_append(reply, "u", props->numprocesses);
        if (p == "Flapping")
            return sd_bus_message_append(reply, "b", props->flapping);
        if (p == "Config")
            return sd_bus_message_append(reply, "s", props->config.c_str());
        std::vector<uint32_t> pids(props->pids.begin(), props->pids.end());
        return sd_bus_message_append_array(reply, 'u', pids.data(), pids.size() * sizeof(uint32_t));
    }

    static int get_process_prop(sd_bus*, const char* path, const char*, const char* prop, sd_bus_message* reply,
                                void* userdata, sd_bus_error* err) {
        auto* self = static_cast<Impl*>(userdata);
        auto pid = pid_of_path(path);
        auto info = pid ? self->manager.process_info(*pid) : Result<model::ProcessInfo>(fail(ENOENT, ""));
        if (!info)
            return sd_bus_error_setf(err, "org.gaffer1.Error.NotFound", "process %s not found", path);
        std::string_view p(prop);
        if (p == "Pid")
            return sd_bus_message_append(reply, "u", static_cast<uint32_t>(info->pid));
        if (p == "OsPid")
            return sd_bus_message_append(reply, "u", static_cast<uint32_t>(info->os_pid));
        if (p == "Job")
            return sd_bus_message_append(reply, "s", info->job.qualified().c_str());
        if (p == "JobPath")
            return sd_bus_message_append(reply, "o", job_path(info->job.qualified()).c_str());
        if (p == "CreateTime")
            return sd_bus_message_append(reply, "t", usec_of(info->create_time));
        if (p == "Committed")
            return sd_bus_message_append(reply, "b", info->commited);
        return sd_bus_message_append(reply, "s", model::to_string(info->state));
    }

    // ---------- events: signals and change notification ----------
    void on_event(const std::string& type, const json_t* msg) {
        // The base events only: the job.<name>.<type> and proc.<pid>.<type> copies say
        // the same again.
        if (type.rfind("job.", 0) == 0 || type.rfind("proc.", 0) == 0)
            return;
        sd_bus* bus_ = b();
        const json_t* n = json_object_get(msg, "name");
        std::string job = json_is_string(n) ? json_string_value(n) : "";
        const json_t* pj = json_object_get(msg, "pid");
        int pid = json_is_integer(pj) ? static_cast<int>(json_integer_value(pj)) : 0;
        if (bus_) {
            if (type == "load" && !job.empty()) {
                std::string path = job_path(job);
                (void)sd_bus_emit_signal(bus_, kRoot, kManagerIface, "JobNew", "so", job.c_str(), path.c_str());
                (void)sd_bus_emit_interfaces_added(bus_, path.c_str(), kJobIface, nullptr);
                if (auto props = job_props(model::JobName::parse(job)))
                    job_sent[job] = *props;
            } else if (type == "unload" && !job.empty()) {
                std::string path = job_path(job);
                (void)sd_bus_emit_signal(bus_, kRoot, kManagerIface, "JobRemoved", "so", job.c_str(), path.c_str());
                (void)sd_bus_emit_interfaces_removed(bus_, path.c_str(), kJobIface, nullptr);
                job_sent.erase(job);
                dirty_jobs.erase(job);
            } else if (type == "spawn" && pid > 0) {
                std::string path = process_path(pid);
                (void)sd_bus_emit_signal(bus_, kRoot, kManagerIface, "ProcessNew", "uo", static_cast<uint32_t>(pid),
                                         path.c_str());
                if (auto info = manager.process_info(pid)) {
                    (void)sd_bus_emit_interfaces_added(bus_, path.c_str(), kProcIface, nullptr);
                    state_sent[pid] = model::to_string(info->state);
                }
            } else if (type == "exit" && pid > 0) {
                std::string path = process_path(pid);
                int status = static_cast<int>(json_integer_value(json_object_get(msg, "exit_status")));
                int sig = static_cast<int>(json_integer_value(json_object_get(msg, "term_signal")));
                (void)sd_bus_emit_signal(bus_, kRoot, kManagerIface, "ProcessRemoved", "uoii",
                                         static_cast<uint32_t>(pid), path.c_str(), sig ? -1 : status, sig);
                (void)sd_bus_emit_interfaces_removed(bus_, path.c_str(), kProcIface, nullptr);
                state_sent.erase(pid);
                dirty_procs.erase(pid);
            }
            if (!subscribers.empty()) {
                std::string text = json::dump(msg);
                std::string base = type;
                (void)sd_bus_emit_signal(bus_, kRoot, kManagerIface, "Event", "ss", base.c_str(), text.c_str());
            }
        }
        if (!job.empty() && type != "unload")
            dirty_jobs.insert(job);
        if (pid > 0 && type != "exit")
            dirty_procs.insert(pid);
        manager_dirty = true;
        schedule_flush();
        if (conn)
            conn->kick();
    }

    void schedule_flush() {
        if (flush_posted)
            return;
        flush_posted = true;
        loop.post([this, a = alive] {
            if (!*a)
                return;
            flush_posted = false;
            flush();
        });
    }

    static void emit_changed(sd_bus* bus_, const std::string& path, const char* iface,
                             const std::vector<const char*>& names) {
        if (names.empty())
            return;
        std::vector<char*> v;
        for (const char* n : names) v.push_back(const_cast<char*>(n));
        v.push_back(nullptr);
        (void)sd_bus_emit_properties_changed_strv(bus_, path.c_str(), iface, v.data());
    }

    // Once per loop turn: each object that changed says which properties did.
    void flush() {
        sd_bus* bus_ = b();
        auto jobs = std::move(dirty_jobs);
        auto procs = std::move(dirty_procs);
        dirty_jobs.clear();
        dirty_procs.clear();
        bool mgr = std::exchange(manager_dirty, false);
        if (!bus_)
            return;
        for (const auto& q : jobs) {
            auto now = job_props(model::JobName::parse(q));
            if (!now)
                continue;  // gone: JobRemoved said it
            auto& was = job_sent[q];
            std::vector<const char*> changed;
            if (now->active != was.active)
                changed.push_back("Active");
            if (now->running != was.running)
                changed.push_back("Running");
            if (now->numprocesses != was.numprocesses)
                changed.push_back("NumProcesses");
            if (now->pids != was.pids)
                changed.push_back("Pids");
            if (now->flapping != was.flapping)
                changed.push_back("Flapping");
            if (now->config != was.config)
                changed.push_back("Config");
            was = std::move(*now);
            emit_changed(bus_, job_path(q), kJobIface, changed);
        }
        for (int pid : procs) {
            auto info = manager.process_info(pid);
            if (!info)
                continue;
            std::string state = model::to_string(info->state);
            auto& was = state_sent[pid];
            if (state != was) {
                was = state;
                emit_changed(bus_, process_path(pid), kProcIface, {"State"});
            }
        }
        if (mgr) {
            auto njobs = static_cast<uint32_t>(manager.jobs().size());
            auto nprocs = static_cast<uint32_t>(manager.process_count());
            std::vector<const char*> changed;
            if (njobs != njobs_sent)
                changed.push_back("NJobs");
            if (nprocs != nprocs_sent)
                changed.push_back("NProcesses");
            njobs_sent = njobs;
            nprocs_sent = nprocs;
            emit_changed(bus_, kRoot, kManagerIface, changed);
        }
        conn->kick();
    }

    // ---------- methods ----------
    // The target of a job method: its first argument, or its object's path.
    bool read_job(sd_bus_message* m, From from, Args& a) {
        if (from == From::kArgument) {
            const char* name = nullptr;
            if (sd_bus_message_read(m, "s", &name) < 0)
                return false;
            a.job(name);
            return true;
        }
        auto q = job_of_path(sd_bus_message_get_path(m));
        if (!q)
            return false;
        model::JobName n = model::JobName::parse(*q);
        a.str(ops::kParamSession, n.session);
        a.str(ops::kParamJob, n.job);
        a.in.literal_job = true;
        return true;
    }

    bool read_pid(sd_bus_message* m, From from, Args& a) {
        if (from == From::kArgument) {
            uint32_t pid = 0;
            if (sd_bus_message_read(m, "u", &pid) < 0)
                return false;
            a.pid(static_cast<int>(std::min<uint32_t>(pid, 999999999)));
            return true;
        }
        auto pid = pid_of_path(sd_bus_message_get_path(m));
        if (!pid)
            return false;
        a.pid(*pid);
        return true;
    }

    // Runs `op`; answers its failure, or calls `ok` with its result.
    template <typename Ok>
    int run(sd_bus_message* m, const ops::Caller& who, ops::Op op, Args& a, Ok ok) {
        ops::Answer ans = ops::call(ctx(), who, op, a.in);
        if (!ans.ok())
            return reply_failure(m, *ans.failure);
        return ok(ans);
    }

    int reply_empty(sd_bus_message* m, const ops::Caller& who, ops::Op op, Args& a) {
        return run(m, who, op, a, [&](ops::Answer&) { return sd_bus_reply_method_return(m, nullptr); });
    }

    int reply_json(sd_bus_message* m, const ops::Caller& who, ops::Op op, Args& a) {
        return run(m, who, op, a, [&](ops::Answer& ans) {
            std::string s = json::dump(ans.result.get());
            return sd_bus_reply_method_return(m, "s", s.c_str());
        });
    }

    int reply_u(sd_bus_message* m, const ops::Caller& who, ops::Op op, Args& a, const char* member) {
        return run(m, who, op, a, [&](ops::Answer& ans) {
            auto v = static_cast<uint32_t>(json_integer_value(json_object_get(ans.result.get(), member)));
            return sd_bus_reply_method_return(m, "u", v);
        });
    }

    int bad_target(sd_bus_message* m) { return reply_bad(m, "invalid arguments"); }

    // A method return holding an array of `element`s, one per member of `items` (a JSON
    // array), each appended by `append(reply, item)`; a member it skips returns 0.
    template <typename Append>
    static int reply_array(sd_bus_message* m, const char* element, const json_t* items, Append append) {
        sd_bus_message* r = nullptr;
        int rc = sd_bus_message_new_method_return(m, &r);
        if (rc < 0)
            return rc;
        MessagePtr reply(r);
        if ((rc = sd_bus_message_open_container(r, 'a', element)) < 0)
            return rc;
        size_t i;
        json_t* item;
        json_array_foreach(items, i, item) {
            if ((rc = append(r, item)) < 0)
                return rc;
        }
        if ((rc = sd_bus_message_close_container(r)) < 0)
            return rc;
        return sd_bus_send(nullptr, r, nullptr);
    }

    int m_list_sessions(sd_bus_message* m, const ops::Caller& who, From) {
        Args a;
        return run(m, who, ops::Op::kSessions, a, [&](ops::Answer& ans) {
            return reply_array(m, "s", json_object_get(ans.result.get(), "sessions"), [](sd_bus_message* r, json_t* v) {
                return sd_bus_message_append(r, "s", json_string_value(v));
            });
        });
    }

    int m_list_jobs(sd_bus_message* m, const ops::Caller& who, From) {
        Args a;
        return run(m, who, ops::Op::kJobs, a, [&](ops::Answer& ans) {
            return reply_array(
                m, "(ssbuuo)", json_object_get(ans.result.get(), "jobs"), [this](sd_bus_message* r, json_t* v) {
                    model::JobName name = model::JobName::parse(json_string_value(v));
                    auto info = manager.info(name);
                    if (!info)
                        return 0;  // unloaded meanwhile
                    std::string q = name.qualified(), path = job_path(q);
                    return sd_bus_message_append(r, "(ssbuuo)", q.c_str(), name.session.c_str(), info->active,
                                                 static_cast<uint32_t>(info->running),
                                                 static_cast<uint32_t>(info->max_processes), path.c_str());
                });
        });
    }

    // The typed values, after the operation's right: 1000 processes through JSON cost
    // about 1 ms more (bench row 10).
    int m_list_processes(sd_bus_message* m, const ops::Caller& who, From) {
        if (auto f = ops::authorize_listing(who, ops::Op::kAllProcesses))
            return reply_failure(m, *f);
        sd_bus_message* r = nullptr;
        int rc = sd_bus_message_new_method_return(m, &r);
        if (rc < 0)
            return rc;
        MessagePtr reply(r);
        if ((rc = sd_bus_message_open_container(r, 'a', "(uusstbo)")) < 0)
            return rc;
        std::string path = kProcPrefix;
        path += '/';
        const size_t prefix = path.size();
        for (const auto& p : manager.all_processes()) {
            path.resize(prefix);
            path += std::to_string(p.pid);
            std::string job = p.job.qualified();
            if ((rc = sd_bus_message_append(r, "(uusstbo)", static_cast<uint32_t>(p.pid),
                                            static_cast<uint32_t>(p.os_pid), job.c_str(), model::to_string(p.state),
                                            usec_of(p.create_time), p.commited, path.c_str())) < 0)
                return rc;
        }
        if ((rc = sd_bus_message_close_container(r)) < 0)
            return rc;
        return sd_bus_send(nullptr, r, nullptr);
    }

    int m_get_job(sd_bus_message* m, const ops::Caller& who, From from) {
        Args a;
        if (!read_job(m, from, a))
            return bad_target(m);
        return run(m, who, ops::Op::kJobExists, a, [&](ops::Answer& ans) {
            return sd_bus_reply_method_return(m, "o", job_path(ans.job->qualified()).c_str());
        });
    }

    int m_get_process(sd_bus_message* m, const ops::Caller& who, From from) {
        Args a;
        if (!read_pid(m, from, a))
            return bad_target(m);
        return run(m, who, ops::Op::kProcessExists, a, [&](ops::Answer&) {
            return sd_bus_reply_method_return(m, "o",
                                              process_path(static_cast<int>(json_integer_value(a.in.pid))).c_str());
        });
    }

    // A config_json argument, parsed.
    bool read_config(sd_bus_message* m, Args& a, std::string* why) {
        const char* text = nullptr;
        if (sd_bus_message_read(m, "s", &text) < 0) {
            *why = "invalid arguments";
            return false;
        }
        auto parsed = json::parse(text);
        if (!parsed) {
            *why = "config_json: " + parsed.error().context;
            return false;
        }
        a.in.config = a.keep(std::move(*parsed));
        return true;
    }

    int m_load_job(sd_bus_message* m, const ops::Caller& who, From) {
        Args a;
        const char* session = nullptr;
        if (sd_bus_message_read(m, "s", &session) < 0)
            return bad_target(m);
        a.str(ops::kParamSession, session);
        std::string why;
        if (!read_config(m, a, &why))
            a.in.unreadable = why;  // after the rights check, as every bad argument
        return run(m, who, ops::Op::kLoad, a, [&](ops::Answer&) {
            const json_t* name = json_object_get(a.in.config, "name");
            model::JobName job{session, json_is_string(name) ? json_string_value(name) : ""};
            return sd_bus_reply_method_return(m, "o", job_path(job.qualified()).c_str());
        });
    }

    int m_update_job(sd_bus_message* m, const ops::Caller& who, From from) {
        Args a;
        if (!read_job(m, from, a))
            return bad_target(m);
        std::string why;
        if (!read_config(m, a, &why))
            a.in.unreadable = why;
        if (from == From::kArgument) {
            // "sid.job" or "job" (default session): the session is the name's.
            auto name = ops::job_from_json(a.in.job, "default");
            if (name) {
                a.str(ops::kParamSession, name->session);
                a.str(ops::kParamJob, name->job);
                a.in.literal_job = true;
            }
        }
        return reply_empty(m, who, ops::Op::kUpdate, a);
    }

    // The methods that take a target (a job or a pid), at most one string argument, and
    // answer nothing, the result as JSON text, or one of its counts.
    enum class Reply { kEmpty, kJson, kNumprocesses };
    template <ops::Op Op, bool kByPid, ops::Param kExtra, Reply kReply>
    int simple(sd_bus_message* m, const ops::Caller& who, From from) {
        Args a;
        bool read = kByPid ? read_pid(m, from, a) : read_job(m, from, a);
        if (read && kExtra != ops::Param{}) {
            const char* v = nullptr;
            read = sd_bus_message_read(m, "s", &v) >= 0;
            if (read)
                a.str(kExtra, v);
        }
        if (!read)
            return bad_target(m);
        switch (kReply) {
            case Reply::kEmpty:
                return reply_empty(m, who, Op, a);
            case Reply::kJson:
                return reply_json(m, who, Op, a);
            case Reply::kNumprocesses:
                break;
        }
        return reply_u(m, who, Op, a, "numprocesses");
    }
    template <ops::Op Op>
    int m_job_action(sd_bus_message* m, const ops::Caller& who, From from) {
        return simple<Op, false, ops::Param{}, Reply::kEmpty>(m, who, from);
    }
    int m_scale_job(sd_bus_message* m, const ops::Caller& who, From from) {
        return simple<ops::Op::kScale, false, ops::kParamScale, Reply::kNumprocesses>(m, who, from);
    }
    int m_signal_job(sd_bus_message* m, const ops::Caller& who, From from) {
        return simple<ops::Op::kKillAll, false, ops::kParamSignal, Reply::kEmpty>(m, who, from);
    }
    int m_job_stats(sd_bus_message* m, const ops::Caller& who, From from) {
        return simple<ops::Op::kStats, false, ops::Param{}, Reply::kJson>(m, who, from);
    }
    int m_stop_process(sd_bus_message* m, const ops::Caller& who, From from) {
        return simple<ops::Op::kStopProcess, true, ops::Param{}, Reply::kEmpty>(m, who, from);
    }
    int m_signal_process(sd_bus_message* m, const ops::Caller& who, From from) {
        return simple<ops::Op::kKill, true, ops::kParamSignal, Reply::kEmpty>(m, who, from);
    }
    int m_process_stats(sd_bus_message* m, const ops::Caller& who, From from) {
        return simple<ops::Op::kProcessStats, true, ops::Param{}, Reply::kJson>(m, who, from);
    }

    // Commit options a{sv}: graceful_timeout (d), env (a{ss}).
    std::optional<std::string> read_commit_options(sd_bus_message* m, Args& a) {
        if (sd_bus_message_enter_container(m, 'a', "{sv}") <= 0)
            return "options: expected a{sv}";
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
            const char* key = nullptr;
            if (sd_bus_message_read(m, "s", &key) < 0)
                return "options: expected a{sv}";
            std::string k(key);
            const char* contents = nullptr;
            (void)sd_bus_message_peek_type(m, nullptr, &contents);
            std::string type = contents ? contents : "";
            if (k == "graceful_timeout") {
                if (type != "d")
                    return "graceful_timeout: expected a d (seconds)";
                double d = 0;
                if (sd_bus_message_read(m, "v", "d", &d) < 0)
                    return "graceful_timeout: expected a d (seconds)";
                a.in.graceful_timeout = a.keep(json::take(json_real(d)));
            } else if (k == "env") {
                if (type != "a{ss}")
                    return "env: expected an a{ss}";
                json::JsonPtr env = json::take(json_object());
                if (sd_bus_message_enter_container(m, 'v', "a{ss}") <= 0 ||
                    sd_bus_message_enter_container(m, 'a', "{ss}") <= 0)
                    return "env: expected an a{ss}";
                const char *name = nullptr, *value = nullptr;
                while (sd_bus_message_read(m, "{ss}", &name, &value) > 0) {
                    json::JsonPtr v = json::take(json_string(value));
                    if (!v)
                        return "env: values must be UTF-8";
                    json::set(env.get(), name, std::move(v));
                }
                (void)sd_bus_message_exit_container(m);
                (void)sd_bus_message_exit_container(m);
                a.in.env = a.keep(std::move(env));
            } else {
                return "unknown option '" + k + "' (graceful_timeout, env)";
            }
            (void)sd_bus_message_exit_container(m);
        }
        (void)sd_bus_message_exit_container(m);
        return std::nullopt;
    }

    int m_commit_job(sd_bus_message* m, const ops::Caller& who, From from) {
        Args a;
        if (!read_job(m, from, a))
            return bad_target(m);
        if (auto why = read_commit_options(m, a))
            a.in.unreadable = *why;
        return reply_u(m, who, ops::Op::kCommit, a, "pid");
    }

    int m_write_process(sd_bus_message* m, const ops::Caller& who, From from) {
        Args a;
        const void* data = nullptr;
        size_t n = 0;
        if (!read_pid(m, from, a) || sd_bus_message_read_array(m, 'y', &data, &n) < 0)
            return bad_target(m);
        a.in.data = a.keep(json::take(json_stringn_nocheck(static_cast<const char*>(data ? data : ""), n)));
        return reply_empty(m, who, ops::Op::kSend, a);
    }

    int m_open_output(sd_bus_message* m, const ops::Caller& who, From from) {
        Args a;
        const char* label = nullptr;
        if (!read_pid(m, from, a) || sd_bus_message_read(m, "s", &label) < 0)
            return bad_target(m);
        // The read right on the process's job (rights before existence), as STREAM: topics.
        ops::Answer found = ops::call(ctx(), who, ops::Op::kProcessExists, a.in);
        if (!found.ok())
            return reply_failure(m, *found.failure);
        uid_t uid = who.peer_uid.value_or(0);
        if (outputs.size() >= kMaxOutputs || outputs_by_uid[uid] >= kMaxOutputsPerUid) {
            return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                              "too many open outputs (%zu per uid, %zu in all)", kMaxOutputsPerUid,
                                              kMaxOutputs);
        }
        int pid = static_cast<int>(json_integer_value(a.in.pid));
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
            return reply_failure(m, ops::Failure{Error::from_errno("pipe")});
        UniqueFd rd(fds[0]), wr(fds[1]);
        uint64_t id = next_output++;
        auto sub = manager.subscribe_output(
            pid, label,
            [this, id](std::string_view data) {
                auto it = outputs.find(id);
                if (it == outputs.end())
                    return;
                // Never wait for the reader: what does not fit now is lost, as for an
                // HTTP subscriber that cannot keep up.
                if (::write(it->second.fd.get(), data.data(), data.size()) < 0 && errno == EPIPE)
                    loop.post([this, id, a = alive] {
                        if (*a)
                            close_output(id);
                    });
            },
            [this, id] {
                auto it = outputs.find(id);
                if (it != outputs.end())
                    it->second.sub = 0;  // the subscription is gone
                close_output(id);
            });
        if (!sub)
            return reply_failure(m, ops::Failure{sub.error()});
        Output& out = outputs[id];
        out.fd = std::move(wr);
        out.sub = *sub;
        out.uid = uid;
        ++outputs_by_uid[uid];
        // The reader closing its end shows as POLLERR on ours.
        auto w = loop.watch(out.fd.get(), 0, [this, id](uint32_t) { close_output(id); });
        if (w)
            out.watch = *w;
        return sd_bus_reply_method_return(m, "h", rd.get());
    }

    void close_output(uint64_t id) {
        auto it = outputs.find(id);
        if (it == outputs.end())
            return;
        if (it->second.watch)
            loop.unwatch(it->second.watch);
        if (it->second.sub)
            manager.unsubscribe_output(it->second.sub);
        if (auto n = outputs_by_uid.find(it->second.uid); n != outputs_by_uid.end() && --n->second == 0)
            outputs_by_uid.erase(n);
        outputs.erase(it);
    }

    int m_reload(sd_bus_message* m, const ops::Caller& who, From) {
        if (auto f = ops::check_right(who, ops::Right::kAdmin, ops::Target::kAll, "*"))
            return reply_failure(m, *f);
        if (opts.reload)
            loop.post(opts.reload);
        return sd_bus_reply_method_return(m, nullptr);
    }

    int m_subscribe(sd_bus_message* m, const ops::Caller&, From) {
        subscribers.insert(sd_bus_message_get_sender(m));
        return sd_bus_reply_method_return(m, nullptr);
    }

    int m_unsubscribe(sd_bus_message* m, const ops::Caller&, From) {
        subscribers.erase(sd_bus_message_get_sender(m));
        return sd_bus_reply_method_return(m, nullptr);
    }

    // ---------- vtables ----------
    template <Handler H, From F>
    static int call(sd_bus_message* m, void* userdata, sd_bus_error*) {
        return static_cast<Impl*>(userdata)->with_caller(m, H, F);
    }

    static const sd_bus_vtable kManagerVtable[];
    static const sd_bus_vtable kJobVtable[];
    static const sd_bus_vtable kProcessVtable[];
};

namespace {
constexpr uint64_t kUnpriv = SD_BUS_VTABLE_UNPRIVILEGED;
constexpr uint64_t kConst = SD_BUS_VTABLE_PROPERTY_CONST;
constexpr uint64_t kEmits = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;
using I = Service::Impl;
constexpr From kArg = From::kArgument;
constexpr From kPath = From::kPath;
}  // namespace

#define GAFFER_CALL(method, from) (&I::call<&I::method, from>)

const sd_bus_vtable Service::Impl::kManagerVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", &I::get_manager_prop, 0, kConst),
    SD_BUS_PROPERTY("LoopBackend", "s", &I::get_manager_prop, 0, kConst),
    SD_BUS_PROPERTY("CgroupMode", "s", &I::get_manager_prop, 0, kConst),
    SD_BUS_PROPERTY("NJobs", "u", &I::get_manager_prop, 0, kEmits),
    SD_BUS_PROPERTY("NProcesses", "u", &I::get_manager_prop, 0, kEmits),
    SD_BUS_METHOD_WITH_ARGS("ListSessions", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", sessions),
                            GAFFER_CALL(m_list_sessions, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("ListJobs", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssbuuo)", jobs),
                            GAFFER_CALL(m_list_jobs, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("ListProcesses", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(uusstbo)", processes),
                            GAFFER_CALL(m_list_processes, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("GetJob", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", path), GAFFER_CALL(m_get_job, kArg),
                            kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("GetProcess", SD_BUS_ARGS("u", pid), SD_BUS_RESULT("o", path),
                            GAFFER_CALL(m_get_process, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("LoadJob", SD_BUS_ARGS("s", session, "s", config_json), SD_BUS_RESULT("o", path),
                            GAFFER_CALL(m_load_job, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("StartJob", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_job_action<ops::Op::kStartJob>, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("StopJob", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_job_action<ops::Op::kStopJob>, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("ReloadJob", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_job_action<ops::Op::kReloadJob>, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("ScaleJob", SD_BUS_ARGS("s", name, "s", spec), SD_BUS_RESULT("u", numprocesses),
                            GAFFER_CALL(m_scale_job, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("SignalJob", SD_BUS_ARGS("s", name, "s", signal), SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_signal_job, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("CommitJob", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_RESULT("u", pid),
                            GAFFER_CALL(m_commit_job, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("UpdateJob", SD_BUS_ARGS("s", name, "s", config_json), SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_update_job, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("UnloadJob", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_job_action<ops::Op::kUnload>, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("GetJobStats", SD_BUS_ARGS("s", name), SD_BUS_RESULT("s", stats_json),
                            GAFFER_CALL(m_job_stats, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("StopProcess", SD_BUS_ARGS("u", pid), SD_BUS_NO_RESULT, GAFFER_CALL(m_stop_process, kArg),
                            kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("SignalProcess", SD_BUS_ARGS("u", pid, "s", signal), SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_signal_process, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("WriteProcess", SD_BUS_ARGS("u", pid, "ay", data), SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_write_process, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("GetProcessStats", SD_BUS_ARGS("u", pid), SD_BUS_RESULT("s", stats_json),
                            GAFFER_CALL(m_process_stats, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("OpenProcessOutput", SD_BUS_ARGS("u", pid, "s", label), SD_BUS_RESULT("h", fd),
                            GAFFER_CALL(m_open_output, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, GAFFER_CALL(m_reload, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Subscribe", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, GAFFER_CALL(m_subscribe, kArg), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Unsubscribe", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, GAFFER_CALL(m_unsubscribe, kArg), kUnpriv),
    SD_BUS_SIGNAL_WITH_ARGS("JobNew", SD_BUS_ARGS("s", name, "o", path), 0),
    SD_BUS_SIGNAL_WITH_ARGS("JobRemoved", SD_BUS_ARGS("s", name, "o", path), 0),
    SD_BUS_SIGNAL_WITH_ARGS("ProcessNew", SD_BUS_ARGS("u", pid, "o", path), 0),
    SD_BUS_SIGNAL_WITH_ARGS("ProcessRemoved", SD_BUS_ARGS("u", pid, "o", path, "i", exit_status, "i", term_signal), 0),
    SD_BUS_SIGNAL_WITH_ARGS("Event", SD_BUS_ARGS("s", type, "s", json), 0),
    SD_BUS_VTABLE_END,
};

const sd_bus_vtable Service::Impl::kJobVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", &I::get_job_prop, 0, kConst),
    SD_BUS_PROPERTY("Session", "s", &I::get_job_prop, 0, kConst),
    SD_BUS_PROPERTY("Active", "b", &I::get_job_prop, 0, kEmits),
    SD_BUS_PROPERTY("Running", "u", &I::get_job_prop, 0, kEmits),
    SD_BUS_PROPERTY("NumProcesses", "u", &I::get_job_prop, 0, kEmits),
    SD_BUS_PROPERTY("Pids", "au", &I::get_job_prop, 0, kEmits),
    SD_BUS_PROPERTY("Flapping", "b", &I::get_job_prop, 0, kEmits),
    SD_BUS_PROPERTY("Config", "s", &I::get_job_prop, 0, kEmits),
    SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_job_action<ops::Op::kStartJob>, kPath), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_job_action<ops::Op::kStopJob>, kPath), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_job_action<ops::Op::kReloadJob>, kPath), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Scale", SD_BUS_ARGS("s", spec), SD_BUS_RESULT("u", numprocesses),
                            GAFFER_CALL(m_scale_job, kPath), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Signal", SD_BUS_ARGS("s", signal), SD_BUS_NO_RESULT, GAFFER_CALL(m_signal_job, kPath),
                            kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Commit", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("u", pid),
                            GAFFER_CALL(m_commit_job, kPath), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Update", SD_BUS_ARGS("s", config_json), SD_BUS_NO_RESULT, GAFFER_CALL(m_update_job, kPath),
                            kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Unload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                            GAFFER_CALL(m_job_action<ops::Op::kUnload>, kPath), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("GetStats", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", stats_json), GAFFER_CALL(m_job_stats, kPath),
                            kUnpriv),
    SD_BUS_VTABLE_END,
};

const sd_bus_vtable Service::Impl::kProcessVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Pid", "u", &I::get_process_prop, 0, kConst),
    SD_BUS_PROPERTY("OsPid", "u", &I::get_process_prop, 0, kConst),
    SD_BUS_PROPERTY("Job", "s", &I::get_process_prop, 0, kConst),
    SD_BUS_PROPERTY("JobPath", "o", &I::get_process_prop, 0, kConst),
    SD_BUS_PROPERTY("CreateTime", "t", &I::get_process_prop, 0, kConst),
    SD_BUS_PROPERTY("Committed", "b", &I::get_process_prop, 0, kConst),
    SD_BUS_PROPERTY("State", "s", &I::get_process_prop, 0, kEmits),
    SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, GAFFER_CALL(m_stop_process, kPath), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Signal", SD_BUS_ARGS("s", signal), SD_BUS_NO_RESULT, GAFFER_CALL(m_signal_process, kPath),
                            kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("Write", SD_BUS_ARGS("ay", data), SD_BUS_NO_RESULT, GAFFER_CALL(m_write_process, kPath),
                            kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("GetStats", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", stats_json),
                            GAFFER_CALL(m_process_stats, kPath), kUnpriv),
    SD_BUS_METHOD_WITH_ARGS("OpenOutput", SD_BUS_ARGS("s", label), SD_BUS_RESULT("h", fd),
                            GAFFER_CALL(m_open_output, kPath), kUnpriv),
    SD_BUS_VTABLE_END,
};

#undef GAFFER_CALL

Service::Service(loop::Loop& loop, events::EventBus& bus, manager::Manager& manager, const ops::Policy& policy,
                 ServiceOptions options)
    : impl_(std::make_unique<Impl>(loop, bus, manager, policy, std::move(options))) {
    impl_->events_sub =
        bus.subscribe(".", [im = impl_.get()](const std::string& type, const json_t* msg) { im->on_event(type, msg); });
}

Service::~Service() = default;

Status Service::start(const std::string& address) {
    Impl* im = impl_.get();
    im->conn = std::make_unique<Connection>(
        im->loop, address, [im](sd_bus* b) { im->on_connected(b); }, [im](sd_bus* b) { im->on_lost(b); });
    return im->conn->start();
}

}  // namespace gaffer::dbus
