// SPDX-License-Identifier: MIT
// The operations layer: one table of what can be done to jobs and processes, which every
// front end (the HTTP routes, the /channel commands, D-Bus methods) calls instead of the
// manager. A row names the operation, the right it needs and on what, the parameters it
// takes, and the handler: the manager call and the shape of its result. The dispatcher
// (call()) does the rest, once, in this order, for every front end:
//   1. resolve the target (a job, a session, a process, every job) from the input;
//   2. check the caller's right on it (403 before anything is parsed or changed; for a
//      process, rights before existence: a caller without the right on every job gets
//      403 for an unknown pid too, so it learns nothing);
//   3. parse and validate every other parameter (scale specs, signals, graceful timeouts,
//      env objects, job configs: lib/ops/args.h, one parser each);
//   4. admit what a caller without full rights asks (lib/ops/policy.h);
//   5. run the handler; the manager's errors come back as they are (lib/manager/errors.h
//      codes), and a front end turns each into its wire form with the one error table.
// Handlers never check rights or parse; front ends never call the manager for these.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/base/result.h"
#include "lib/json/json.h"
#include "lib/model/job_spec.h"
#include "lib/ops/policy.h"

namespace gaffer::manager {
class Manager;
}

namespace gaffer::ops {

enum class Op {
    kSessions,       // → {"sessions": [...]}
    kJobs,           // → {"jobs": [qualified names]}
    kSessionJobs,    // session → {"sessionid": s, "jobs": [...]}
    kLoad,           // session, config[, env, start] → {"ok": true}
    kUpdate,         // config[, job, session, env, start] → {"ok": true}
    kUnload,         // job → {"ok": true}
    kJobExists,      // job → {"ok": true}, else not_found
    kInfo,           // job → §3.4 info object
    kStats,          // job → §3.5 stats object
    kNumprocesses,   // job → {"numprocesses": n}
    kScale,          // job, scale → {"numprocesses": n}
    kStartJob,       // job → {"ok": true}
    kStopJob,        // job → {"ok": true}
    kReloadJob,      // job → {"ok": true}
    kStopAll,        // job → {"ok": true} (SIGTERM every process; the job replaces them)
    kKillAll,        // job, signal → {"ok": true}
    kPids,           // job → {"pids": [...]}
    kProcesses,      // job → {"processes": [...]}
    kCommit,         // job[, graceful_timeout, env] → {"pid": n}
    kAllPids,        // → {"pids": [...]}
    kAllProcesses,   // → {"processes": [...]}
    kProcessExists,  // pid → {"ok": true}, else not_found
    kProcessInfo,    // pid → §3.7 process object
    kProcessStats,   // pid → {"stats": {...}}
    kStopProcess,    // pid → {"ok": true}
    kKill,           // pid, signal → {"ok": true} (a process that already exited: ok, §3.7)
    kSend,           // pid, data[, stream] → {"ok": true}
};

// What an operation's right is checked on.
enum class Target { kAll, kSession, kJob, kProcess };
enum class Right { kRead, kManage, kWrite, kAdmin };
struct Access {
    Target target;
    Right right;
};

// Parameters, as a bit set.
enum Param : unsigned {
    kParamSession = 1u << 0,
    kParamJob = 1u << 1,
    kParamPid = 1u << 2,
    kParamConfig = 1u << 3,
    kParamEnv = 1u << 4,
    kParamStart = 1u << 5,
    kParamScale = 1u << 6,
    kParamSignal = 1u << 7,
    kParamGracefulTimeout = 1u << 8,
    kParamData = 1u << 9,
    kParamStream = 1u << 10,
};
// The name a parameter has in error messages ("scale: ..."), and in the channel's kwargs.
const char* param_name(Param p);

// What a front end hands an operation: the raw values of its parameters as JSON (null
// pointers for those it does not give). The front end owns them for the call.
struct Input {
    // A job: "sid.job", or "job" in `session` ("default" when no session is given). With
    // `literal_job` the string is the job's own name in `session` (an HTTP path segment),
    // dots and all.
    const json_t* job = nullptr;
    const json_t* session = nullptr;
    bool literal_job = false;
    const json_t* pid = nullptr;               // an integer or a decimal string
    const json_t* config = nullptr;            // a job config object (reference §7)
    const json_t* env = nullptr;               // {"NAME": "value", ...}
    const json_t* start = nullptr;             // a boolean: overrides the config's `start`
    const json_t* scale = nullptr;             // an integer or "+n", "-n", "=n", "n"
    const json_t* signal = nullptr;            // a number or a name
    const json_t* graceful_timeout = nullptr;  // seconds
    const json_t* data = nullptr;              // a string, or a list of strings
    const json_t* stream = nullptr;            // a stream name (default "stdin")
    // The 0.4 shapes of results (reference §4.3) for kStats and kProcessStats: names as
    // templates ("web", "G:web"), processes as {"id": pid, "pid": os_pid}.
    bool compat04 = false;
    // Non-empty when the front end could not decode its arguments (an HTTP body that is
    // not JSON): the operation fails with this bad_request after the rights check, as
    // any other bad argument.
    std::string unreadable;

    // The member that holds parameter `p`.
    const json_t*& at(Param p);
};

// Why an operation did not run, or failed.
struct Failure {
    Error error;           // a code of lib/manager/errors.h (EINVAL, EPERM, ENOENT, ...)
    Param param{};         // with EINVAL: the parameter at fault (0: none)
    bool missing = false;  // with EINVAL: that parameter was not given
    bool ran = false;      // the operation ran: the error is the manager's
    bool access = false;   // EPERM for the caller's rights (not for what it asked)
};

struct Answer {
    json::JsonPtr result;            // on success
    std::optional<Failure> failure;  // otherwise
    // The job the operation acted on, once resolved (a process's job for a pid).
    std::optional<model::JobName> job;
    bool ok() const { return !failure.has_value(); }
};

struct Operation {
    Op op;
    const char* name;  // also the /channel command and D-Bus method name
    Access access;
    unsigned params;    // the parameters it takes
    unsigned required;  // of those, the ones it needs
};

// The table row of `op`.
const Operation& operation(Op op);
// The row named `name`, or null.
const Operation* find_operation(std::string_view name);

// What every operation runs against.
struct Context {
    manager::Manager& manager;
    const Policy& policy;
};

// The access check alone, for a front end's own targets (listings of the 0.4 routes,
// subscriptions): nullopt when `caller` has `right` on `what` (a qualified job, a session
// or "*"), else the EPERM failure with the message every front end shows.
std::optional<Failure> check_right(const Caller& caller, Right right, Target target, std::string_view what);

// Step 2 alone for an operation on every job (Target::kAll: the listings), for a front
// end that reads the manager's typed values itself where the JSON result would be the
// cost (D-Bus ListProcesses): nullopt when `caller` has the row's right.
std::optional<Failure> authorize_listing(const Caller& caller, Op op);

// Runs `op` for `caller` on `input` (steps 1–5 above). `access` overrides the row's (a
// front end whose contract fixes a stricter right for a command, e.g. /channel's `load`
// needs admin).
Answer call(const Context& ctx, const Caller& caller, Op op, const Input& input,
            std::optional<Access> access = std::nullopt);

}  // namespace gaffer::ops
