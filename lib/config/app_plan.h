// SPDX-License-Identifier: MIT
// The app plan of the `gaffer` Procfile tool (issue 14): from a parsed Procfile, the
// concurrency options, the port base and the resolved environment, the processes that
// run (name `type.N`, PORT, PS) and the gafferd jobs that run them. Pure: no I/O.
//
// Concurrency (`-c`, repeatable; each value a comma-separated list): entries `type=N`,
// N a decimal 0..kMaxInstances (0 disables the type); `all=N` sets every type, a named
// entry overrides it whatever the order; for a type named twice the last wins; types not
// named run 1 instance. A malformed entry (`web`, `web=abc`, `web=-1`, an empty entry) or
// an unknown type is an error, unlike the original (§12.1), which ignored them.
//
// PORT (as foreman): the base is `port` (-p) if given, else PORT of `env` (which holds
// the .env files' values over the inherited environment), else 5000; instance N of the
// type at index i (Procfile order, disabled types counted, so ports never move when a
// type is disabled) gets base + 100*i + (N-1). At most kMaxInstances instances per type,
// so that two types never share a port; every port must be at most 65535. Each process
// gets PS=type.N as foreman sets it.
//
// Jobs: one model::JobSpec per Procfile type, in Procfile order, also for disabled types
// (numprocesses 0, so that scaling one up later needs no load): session `session`, job
// name the type, numprocesses the instances, cwd `cwd`, os_env false, env the whole of
// `env` plus PORT and PS of instance 1, and instance_env true: the manager gives the
// process in slot N PS=type.N and PORT=PORT+N-1, so every instance gets the PORT and PS
// of its PlannedProcess (and a replacement those of the process it replaces).
// The command: §12.1 splits it into words (cmd, then args, no shell), while foreman runs
// it through /bin/sh when it holds shell syntax (as Ruby's spawn does). gaffer does both:
// a command that needs_shell() is run as `sh -c "<command>"` (JobSpec::shell), any other
// is split as §12.1 says and exec'd directly, with gafferd's own `$NAME`/`${NAME}`
// substitution (§7.3) giving the same result as the shell would. Loading a shell job
// into a gafferd node needs full rights (security-defaults.md); local mode runs the
// engine in-process. Every job goes through config::job_from_json (one validation path),
// so JobSpec::config_json is set.
// Every failure is Error{EINVAL, reason}.
#pragma once

#include <jansson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/config/procfile.h"
#include "lib/model/job_spec.h"

namespace gaffer::config {

inline constexpr int kMaxInstances = 100;
inline constexpr int kDefaultPortBase = 5000;

// Instances per Procfile entry (same order) from the -c values.
Result<std::vector<int>> parse_concurrency(const std::vector<std::string>& specs, const Procfile& procfile);

// True when `command` uses shell syntax that word splitting and §7.3 substitution cannot
// reproduce: outside quotes one of | & ; < > ( ) ` * ? [ ] { } ~ or a newline, a word
// starting with '#'; a '$' that is not $NAME or ${NAME}, or any '$' or '`' inside single
// quotes or after a backslash; a first word that assigns (NAME=...) or is a shell
// keyword or builtin (if, for, while, until, case, '!', cd, export, exec, eval, set,
// source, '.', ulimit, umask, trap, unset, alias, wait, read, shift).
bool needs_shell(std::string_view command);

struct PlannedProcess {
    std::string type;  // the Procfile name
    int instance = 1;  // N, from 1
    std::string name;  // "type.N", the value of PS
    int port = 0;      // the value of PORT
};

struct AppPlanInputs {
    std::string session;                   // the app name (§12.1: the root's base name)
    std::string cwd;                       // the app root, every job's working directory
    model::Env env;                        // inherited environment overlaid by the .env files
    std::vector<std::string> concurrency;  // the -c values
    std::optional<int> port;               // -p
    // Job config members (docs/http-api.md) every job gets before its own (name, cmd,
    // args, shell, numprocesses, cwd, os_env, env win): e.g. redirect_output,
    // graceful_timeout, flapping. Borrowed; may be null.
    const json_t* job_defaults = nullptr;
};

struct AppPlan {
    int port_base = kDefaultPortBase;
    std::vector<PlannedProcess> processes;  // Procfile order, then instance order
    std::vector<model::JobSpec> jobs;       // one per Procfile entry, Procfile order
};

Result<AppPlan> plan_app(const Procfile& procfile, const AppPlanInputs& in);

}  // namespace gaffer::config
