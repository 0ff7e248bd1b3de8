// SPDX-License-Identifier: MIT
#include "lib/ops/operations.h"

#include <iterator>
#include <string>
#include <vector>

#include "lib/config/job_json.h"
#include "lib/manager/manager.h"
#include "lib/ops/args.h"
#include "lib/ops/codec.h"

namespace gaffer::ops {

namespace {

constexpr Access kReadAll{Target::kAll, Right::kRead};
constexpr Access kReadSession{Target::kSession, Right::kRead};
constexpr Access kManageSession{Target::kSession, Right::kManage};
constexpr Access kReadJob{Target::kJob, Right::kRead};
constexpr Access kManageJob{Target::kJob, Right::kManage};
constexpr Access kReadProcess{Target::kProcess, Right::kRead};
constexpr Access kManageProcess{Target::kProcess, Right::kManage};
constexpr Access kWriteProcess{Target::kProcess, Right::kWrite};

constexpr unsigned kJob = kParamJob;
constexpr unsigned kPid = kParamPid;

// One row per Op, in its order (checked below).
constexpr Operation kTable[] = {
    {Op::kSessions, "sessions", kReadAll, 0, 0},
    {Op::kJobs, "jobs", kReadAll, 0, 0},
    {Op::kSessionJobs, "session_jobs", kReadSession, kParamSession, kParamSession},
    {Op::kLoad, "load", kManageSession, kParamSession | kParamConfig | kParamEnv | kParamStart, kParamConfig},
    {Op::kUpdate, "update", kManageJob, kJob | kParamSession | kParamConfig | kParamEnv | kParamStart, kParamConfig},
    {Op::kUnload, "unload", kManageJob, kJob | kParamSession, kJob},
    {Op::kJobExists, "job_exists", kReadJob, kJob | kParamSession, kJob},
    {Op::kInfo, "info", kReadJob, kJob | kParamSession, kJob},
    {Op::kStats, "stats", kReadJob, kJob | kParamSession, kJob},
    {Op::kNumprocesses, "numprocesses", kReadJob, kJob | kParamSession, kJob},
    {Op::kScale, "scale", kManageJob, kJob | kParamSession | kParamScale, kJob | kParamScale},
    {Op::kStartJob, "start_job", kManageJob, kJob | kParamSession, kJob},
    {Op::kStopJob, "stop_job", kManageJob, kJob | kParamSession, kJob},
    {Op::kReloadJob, "reload", kManageJob, kJob | kParamSession, kJob},
    {Op::kStopAll, "stopall", kManageJob, kJob | kParamSession, kJob},
    {Op::kKillAll, "killall", kManageJob, kJob | kParamSession | kParamSignal, kJob | kParamSignal},
    {Op::kPids, "pids", kReadJob, kJob | kParamSession, kJob},
    {Op::kProcesses, "processes", kReadJob, kJob | kParamSession, kJob},
    {Op::kCommit, "commit", kManageSession, kJob | kParamSession | kParamGracefulTimeout | kParamEnv, kJob},
    {Op::kAllPids, "all_pids", kReadAll, 0, 0},
    {Op::kAllProcesses, "all_processes", kReadAll, 0, 0},
    {Op::kProcessExists, "process_exists", kReadProcess, kPid, kPid},
    {Op::kProcessInfo, "process_info", kReadProcess, kPid, kPid},
    {Op::kProcessStats, "process_stats", kReadProcess, kPid, kPid},
    {Op::kStopProcess, "stop_process", kManageProcess, kPid, kPid},
    {Op::kKill, "kill", kManageProcess, kPid | kParamSignal, kPid | kParamSignal},
    {Op::kSend, "send", kWriteProcess, kPid | kParamData | kParamStream, kPid | kParamData},
};

constexpr bool table_in_order() {
    for (size_t i = 0; i < std::size(kTable); ++i) {
        if (static_cast<size_t>(kTable[i].op) != i)
            return false;
    }
    return std::size(kTable) == static_cast<size_t>(Op::kSend) + 1;
}
static_assert(table_in_order(), "kTable has one row per Op, in order");

const char* right_name(Right r) {
    switch (r) {
        case Right::kRead:
            return "read";
        case Right::kManage:
            return "manage";
        case Right::kWrite:
            return "write";
        case Right::kAdmin:
            return "admin";
    }
    return "?";
}

Failure bad(Param p, std::string message, bool missing = false) {
    return Failure{Error{EINVAL, std::move(message)}, p, missing};
}

Failure from(const Error& e) {
    return Failure{e};
}

json::JsonPtr object_with(const char* key, json::JsonPtr value) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), key, std::move(value));
    return o;
}

json::JsonPtr ok_object() {
    return object_with("ok", json::take(json_true()));
}

std::string_view str_of(const json_t* v) {
    return json_is_string(v) ? std::string_view(json_string_value(v), json_string_length(v)) : std::string_view();
}

// What the dispatcher resolved and parsed, for the handlers.
struct Args {
    std::string session = "default";
    model::JobName job;
    int pid = 0;
    model::ProcessInfo process;
    std::optional<model::JobSpec> spec;
    model::Env env;
    model::ScaleOp scale{};
    int signal = 0;
    std::optional<double> graceful;
    std::vector<std::string> data;
    std::string stream = "stdin";
    bool compat04 = false;
};

using Handler = Result<json::JsonPtr> (*)(manager::Manager& m, Args& a);

template <typename T>
Result<json::JsonPtr> ok_if(const Result<T>& r) {
    if (!r)
        return fail(r.error());
    return ok_object();
}

Result<json::JsonPtr> ok_if(const Status& s) {
    if (!s)
        return fail(s.error());
    return ok_object();
}

// The handlers: the manager call and the result's shape. Rights and arguments are
// already checked.
constexpr Handler kHandlers[] = {
    // kSessions
    [](manager::Manager& m, Args&) -> Result<json::JsonPtr> {
        return object_with("sessions", json::strings(m.sessions()));
    },
    // kJobs
    [](manager::Manager& m, Args&) -> Result<json::JsonPtr> { return object_with("jobs", json::strings(m.jobs())); },
    // kSessionJobs
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(auto list, m.jobs(a.session));
        json::JsonPtr o = object_with("sessionid", json::str(a.session));
        json::set(o.get(), "jobs", json::strings(list));
        return o;
    },
    // kLoad
    [](manager::Manager& m, Args& a) { return ok_if(m.load(std::move(*a.spec), a.env)); },
    // kUpdate
    [](manager::Manager& m, Args& a) { return ok_if(m.update(std::move(*a.spec), a.env)); },
    // kUnload
    [](manager::Manager& m, Args& a) { return ok_if(m.unload(a.job)); },
    // kJobExists
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        if (!m.has_job(a.job))
            return fail(Error::make(ENOENT, "job '%s' not found", a.job.qualified().c_str()));
        return ok_object();
    },
    // kInfo
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(auto info, m.info(a.job));
        return encode_job_info(info);
    },
    // kStats
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(auto stats, m.job_stats(a.job));
        if (a.compat04)
            return encode_job_stats(compat_name(a.job), stats, StatsFlavor::kCompat04);
        return encode_job_stats(a.job.qualified(), stats, StatsFlavor::kHead);
    },
    // kNumprocesses
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(int n, m.numprocesses(a.job));
        return object_with("numprocesses", json::take(json_integer(n)));
    },
    // kScale
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(int n, m.scale(a.job, a.scale));
        return object_with("numprocesses", json::take(json_integer(n)));
    },
    // kStartJob, kStopJob, kReloadJob, kStopAll
    [](manager::Manager& m, Args& a) { return ok_if(m.start_job(a.job)); },
    [](manager::Manager& m, Args& a) { return ok_if(m.stop_job(a.job)); },
    [](manager::Manager& m, Args& a) { return ok_if(m.reload_job(a.job)); },
    [](manager::Manager& m, Args& a) { return ok_if(m.stopall(a.job)); },
    // kKillAll
    [](manager::Manager& m, Args& a) { return ok_if(m.killall(a.job, a.signal)); },
    // kPids
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(auto pids, m.pids(a.job));
        return object_with("pids", json::ints(pids));
    },
    // kProcesses
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(auto ps, m.processes(a.job));
        return encode_process_list(ps);
    },
    // kCommit
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(int pid, m.commit(a.job, a.graceful, a.env));
        return object_with("pid", json::take(json_integer(pid)));
    },
    // kAllPids
    [](manager::Manager& m, Args&) -> Result<json::JsonPtr> { return object_with("pids", json::ints(m.all_pids())); },
    // kAllProcesses
    [](manager::Manager& m, Args&) -> Result<json::JsonPtr> { return encode_process_list(m.all_processes()); },
    // kProcessExists
    [](manager::Manager&, Args&) -> Result<json::JsonPtr> { return ok_object(); },
    // kProcessInfo
    [](manager::Manager&, Args& a) -> Result<json::JsonPtr> { return encode_process_info(a.process); },
    // kProcessStats
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        GAFFER_TRY(auto s, m.process_stats(a.pid));
        if (a.compat04) {
            json::JsonPtr o = encode_process_stats_entry(s, StatsFlavor::kCompat04);
            json::set(o.get(), "name", json::str(compat_name(a.job)));
            return o;
        }
        return object_with("stats", encode_process_stats_entry(s, StatsFlavor::kHead));
    },
    // kStopProcess
    [](manager::Manager& m, Args& a) { return ok_if(m.stop_process(a.pid)); },
    // kKill: signalling a process that already exited is a silent success (§3.7).
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        Status st = m.kill(a.pid, a.signal);
        if (!st && st.error().code != ESRCH)
            return fail(st.error());
        return ok_object();
    },
    // kSend: each part whole and in order.
    [](manager::Manager& m, Args& a) -> Result<json::JsonPtr> {
        for (const auto& part : a.data) GAFFER_RETURN_IF_ERROR(m.send(a.pid, part, a.stream));
        return ok_object();
    },
};
static_assert(std::size(kHandlers) == std::size(kTable), "one handler per operation");

bool has_right(const Caller& caller, Right right, Target target, std::string_view what) {
    const auth::Permissions& p = caller.perms;
    if (right == Right::kAdmin)
        return p.admin;
    if (target == Target::kAll)
        return right == Right::kRead ? p.can_read("*") : right == Right::kManage ? p.manage_all() : p.can_write("*");
    std::string w(what);
    switch (right) {
        case Right::kRead:
            return p.can_read(w);
        case Right::kManage:
            return p.can_manage(w);
        case Right::kWrite:
            return p.can_write(w);
        case Right::kAdmin:
            break;
    }
    return false;
}

std::optional<Failure> denied(Right right, Target target, std::string_view what) {
    std::string msg;
    if (right == Right::kAdmin)
        msg = "admin permission required";
    else if (target == Target::kAll)
        msg = std::string(right_name(right)) + " permission on every job required";
    else
        msg = std::string(right_name(right)) + " permission on '" + std::string(what) + "' required";
    return Failure{Error{EPERM, std::move(msg)}, Param{}, false, false, true};
}

// Step 1 and 2: the target and the right on it. Fills a.session, a.job, a.pid, a.process.
std::optional<Failure> resolve_and_check(const Context& ctx, const Caller& caller, const Operation& row,
                                         const Access& access, const Input& in, Args& a) {
    if (row.params & kParamSession) {
        if (in.session && !json_is_null(in.session)) {
            if (!json_is_string(in.session) || json_string_length(in.session) == 0)
                return bad(kParamSession, "sessionid: expected a session name");
            a.session = std::string(str_of(in.session));
        } else if (row.required & kParamSession) {
            return bad(kParamSession, "sessionid: missing", true);
        }
    }
    if (row.params & kParamJob) {
        if (in.job) {
            if (in.literal_job && json_is_string(in.job)) {
                a.job = model::JobName{a.session, std::string(str_of(in.job))};
            } else if (auto j = job_from_json(in.job, a.session)) {
                a.job = std::move(*j);
            } else {
                return bad(kParamJob, "job: expected a job name (\"sid.job\", or \"job\")");
            }
        } else if (row.op == Op::kUpdate && json_is_object(in.config)) {
            // The job a config names, in the session given.
            if (auto j = job_from_json(json_object_get(in.config, "name"), a.session))
                a.job = std::move(*j);
        } else if (row.required & kParamJob) {
            return bad(kParamJob, "job: missing", true);
        }
        if (!in.session && !a.job.job.empty())
            a.session = a.job.session;
    }
    if (row.params & kParamPid) {
        if (!in.pid)
            return bad(kParamPid, "pid: missing", true);
        auto pid = pid_from_json(in.pid);
        if (!pid)
            return bad(kParamPid, "pid: expected a process id");
        a.pid = *pid;
    }
    switch (access.target) {
        case Target::kAll:
            if (!has_right(caller, access.right, Target::kAll, "*"))
                return denied(access.right, Target::kAll, "*");
            return std::nullopt;
        case Target::kSession:
            if (!has_right(caller, access.right, Target::kSession, a.session))
                return denied(access.right, Target::kSession, a.session);
            return std::nullopt;
        case Target::kJob: {
            std::string q = a.job.qualified();
            if (!has_right(caller, access.right, Target::kJob, q))
                return denied(access.right, Target::kJob, q);
            return std::nullopt;
        }
        case Target::kProcess: {
            auto info = ctx.manager.process_info(a.pid);
            if (!info) {
                // Rights before existence: without the right on every job, an unknown pid
                // is refused like the pid of a job the caller may not see.
                if (!has_right(caller, access.right, Target::kAll, "*")) {
                    return Failure{
                        Error{EPERM, std::string(right_name(access.right)) + " permission on the job of process " +
                                         std::to_string(a.pid) + " required"},
                        Param{}, false, false, true};
                }
                return from(info.error());
            }
            std::string q = info->job.qualified();
            if (!has_right(caller, access.right, Target::kJob, q))
                return denied(access.right, Target::kJob, q);
            a.job = info->job;
            a.process = std::move(*info);
            return std::nullopt;
        }
    }
    return std::nullopt;
}

// Step 3 and 4: every other parameter, then the admission of what a caller without full
// rights asks.
std::optional<Failure> parse_rest(const Context& ctx, const Caller& caller, const Operation& row, const Input& in,
                                  Args& a) {
    unsigned given = row.params;
    auto missing = [&](Param p, const json_t* v) { return (row.required & p) && (!v || json_is_null(v)); };
    if (given & kParamConfig) {
        if (missing(kParamConfig, in.config))
            return bad(kParamConfig, "config: missing", true);
        if (!json_is_object(in.config))
            return bad(kParamConfig, "invalid process config");
        bool by_path = row.op == Op::kUpdate && in.job;
        if (by_path) {
            // The config may repeat the job's name, never name another one.
            const json_t* given_name = json_object_get(in.config, "name");
            if (given_name && !json_is_null(given_name) &&
                (!json_is_string(given_name) || str_of(given_name) != a.job.job))
                return bad(kParamConfig, "template name conflict with the path");
        }
        std::string member;
        auto spec = config::job_from_json(in.config, a.session,
                                          by_path ? config::JobJsonMode::kUpdate : config::JobJsonMode::kLoad, &member);
        if (!spec) {
            if (by_path && member == "cmd")
                return bad(kParamConfig, "invalid process config");
            if (spec.error().code != EINVAL)
                return from(spec.error());
            return bad(kParamConfig, spec.error().context);
        }
        if (by_path)
            spec->name = a.job;
        a.spec = std::move(*spec);
    }
    if (given & kParamStart) {
        if (in.start && !json_is_null(in.start)) {
            if (!json_is_boolean(in.start))
                return bad(kParamStart, "start: expected true or false");
            a.spec->start = json_is_true(in.start);
        }
    }
    if (given & kParamEnv) {
        auto env = config::env_from_json(in.env);
        if (!env)
            return bad(kParamEnv, env.error().context);
        a.env = std::move(*env);
    }
    if (given & kParamScale) {
        auto op = scale_from_json(in.scale);
        if (!op) {
            return bad(kParamScale,
                       in.scale ? "scale: expected an integer or \"+n\", \"-n\", \"=n\", \"n\"" : "scale: missing",
                       !in.scale);
        }
        a.scale = *op;
    }
    if (given & kParamSignal) {
        auto sig = signal_from_json(in.signal);
        if (!sig)
            return bad(kParamSignal, "signal: expected a signal number or name", !in.signal);
        a.signal = *sig;
    }
    if (given & kParamGracefulTimeout) {
        auto g = graceful_timeout_from_json(in.graceful_timeout);
        if (!g)
            return bad(kParamGracefulTimeout, g.error().context);
        a.graceful = *g;
    }
    if (given & kParamData) {
        if (json_is_string(in.data)) {
            a.data.emplace_back(str_of(in.data));
        } else if (json_is_array(in.data)) {
            size_t i;
            json_t* v;
            json_array_foreach(in.data, i, v) {
                if (!json_is_string(v))
                    return bad(kParamData, "data: expected a string or a list of strings");
                a.data.emplace_back(str_of(v));
            }
        } else {
            return bad(kParamData, in.data ? "data: expected a string or a list of strings" : "data: missing",
                       !in.data);
        }
    }
    if (given & kParamStream) {
        if (in.stream && !json_is_null(in.stream)) {
            if (!json_is_string(in.stream) || json_string_length(in.stream) == 0)
                return bad(kParamStream, "stream: expected a stream name");
            a.stream = std::string(str_of(in.stream));
        }
    }
    // Admission (policy.h): the job a caller without full rights may have, the env it
    // may put in a commit.
    if (a.spec) {
        if (auto why = admit_job_spec(ctx.policy, caller, *a.spec))
            return Failure{Error{EPERM, *why}};
    }
    if (row.op == Op::kCommit && !a.env.empty()) {
        if (auto why = commit_env_denial(ctx.policy, caller, ctx.manager, a.job))
            return Failure{Error{EPERM, *why}};
    }
    return std::nullopt;
}

}  // namespace

const char* param_name(Param p) {
    switch (p) {
        case kParamSession:
            return "sessionid";
        case kParamJob:
            return "job";
        case kParamPid:
            return "pid";
        case kParamConfig:
            return "config";
        case kParamEnv:
            return "env";
        case kParamStart:
            return "start";
        case kParamScale:
            return "scale";
        case kParamSignal:
            return "signal";
        case kParamGracefulTimeout:
            return "graceful_timeout";
        case kParamData:
            return "data";
        case kParamStream:
            return "stream";
    }
    return "";
}

const json_t*& Input::at(Param p) {
    switch (p) {
        case kParamSession:
            return session;
        case kParamJob:
            return job;
        case kParamPid:
            return pid;
        case kParamConfig:
            return config;
        case kParamEnv:
            return env;
        case kParamStart:
            return start;
        case kParamScale:
            return scale;
        case kParamSignal:
            return signal;
        case kParamGracefulTimeout:
            return graceful_timeout;
        case kParamData:
            return data;
        case kParamStream:
            return stream;
    }
    return stream;  // unreachable: every Param is listed
}

const Operation& operation(Op op) {
    return kTable[static_cast<size_t>(op)];
}

const Operation* find_operation(std::string_view name) {
    for (const auto& row : kTable) {
        if (name == row.name)
            return &row;
    }
    return nullptr;
}

std::optional<Failure> check_right(const Caller& caller, Right right, Target target, std::string_view what) {
    if (has_right(caller, right, target, what))
        return std::nullopt;
    return denied(right, target, what);
}

std::optional<Failure> authorize_listing(const Caller& caller, Op op) {
    const Access& access = operation(op).access;
    if (access.target != Target::kAll)
        return Failure{Error{EINVAL, std::string(operation(op).name) + " is not a listing"}};
    return check_right(caller, access.right, Target::kAll, "*");
}

Answer call(const Context& ctx, const Caller& caller, Op op, const Input& input, std::optional<Access> access) {
    const Operation& row = operation(op);
    Args a;
    a.compat04 = input.compat04;
    Answer ans;
    if (auto f = resolve_and_check(ctx, caller, row, access.value_or(row.access), input, a)) {
        ans.failure = std::move(*f);
        return ans;
    }
    if (!input.unreadable.empty()) {
        ans.failure = bad(Param{}, input.unreadable);
        return ans;
    }
    if (auto f = parse_rest(ctx, caller, row, input, a)) {
        ans.failure = std::move(*f);
        return ans;
    }
    if (!a.job.job.empty())
        ans.job = a.job;
    auto r = kHandlers[static_cast<size_t>(op)](ctx.manager, a);
    if (!r) {
        ans.failure = from(r.error());
        ans.failure->ran = true;
    } else
        ans.result = std::move(*r);
    return ans;
}

}  // namespace gaffer::ops
