// SPDX-License-Identifier: MIT
// The `gaffer` CLI (man/gaffer.1, reference §11.1, §11.2, issue 14): its command line,
// the project it works on (Procfile, root, .env files, app name) and the node it talks
// to. Commands are rows of a table (main.cc); each gets a Session.
//
// Command line: `gaffer [global options] <command> [options and arguments]`; global
// options are accepted after the command too. An option is `--name`, `--name=value`,
// `--name value`, `-x value` or `-xvalue`; `--` ends the options. A command's own options
// win over a global one with the same short letter (`-p` is the port of start/export but
// the password of login/user:add and a parameter of run).
//
// Exit status: 0 success; 1 a failure (usage, bad Procfile/.env, HTTP error, ...),
// messages on stderr as "gaffer: ..."; for `start --exit-on-fail` the failed process's
// status.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl/client/http_client.h"
#include "ctl/client/invocation.h"
#include "lib/base/result.h"
#include "lib/config/app_plan.h"
#include "lib/config/procfile.h"
#include "lib/model/job_spec.h"

namespace gaffer::cli {

enum ExitCode : int { kExitOk = 0, kExitFailure = 1 };

struct Option {
    const char* name;      // long name without "--"
    char short_name;       // 0: none
    const char* arg_name;  // nullptr: a flag
    const char* help;
    bool repeatable = false;
};

using Invocation = client::Invocation;

struct Globals {
    std::optional<std::string> procfile;  // -f
    std::optional<std::string> root;      // -d/--root/--directory
    std::vector<std::string> env_files;   // -e, in order
    std::optional<std::string> endpoint;  // -g/--gafferd-http-address/--endpoint
    std::optional<std::string> api_key;
    std::string certfile, keyfile, cacert;
    bool insecure = false;
};

struct Session;

struct Command {
    const char* name;
    const char* usage;    // after the command name
    const char* summary;  // one line
    std::span<const Option> options;
    int min_args;
    int max_args;  // -1: no limit
    int (*run)(Session& s, const Invocation& inv);
    // After the first positional every word is an argument (`run <cmd> -x ...`).
    bool args_verbatim = false;
};

// The project: where the Procfile is and what it says, with the environment.
struct Project {
    std::string procfile_path;  // absolute; empty if there is none (and none was needed)
    std::string root;           // absolute
    std::string app;            // the session name
    config::Procfile procfile;
    model::Env inherited;  // gaffer's own environment
    model::Env dotenv;     // the .env files' values only (interpolated against inherited)
    // inherited overlaid by dotenv: what a local process gets.
    model::Env merged() const;
};

struct Session {
    Globals globals;
    const Command* command = nullptr;
    FILE* out = stdout;
    FILE* err = stderr;

    // Prints "gaffer: <message>" on stderr; returns kExitFailure.
    int fail(const std::string& message) const;
    int fail(const Error& e) const { return fail(e.message()); }

    // The project, loaded once. `need_procfile`: a missing Procfile is an error (else the
    // project has no entries). `app` (--app) overrides the name ("." = the project's).
    Result<const Project*> project(bool need_procfile, bool strict, const std::optional<std::string>& app);
    // The app plan of the project: `env` chooses what the jobs carry (the merged
    // environment for local runs, only the .env values for a node).
    enum class PlanEnv { kLocal, kNode };
    // `job_defaults`: AppPlanInputs::job_defaults.
    Result<config::AppPlan> plan(const Project& p, const Invocation& inv, PlanEnv env,
                                 const json_t* job_defaults = nullptr) const;

    // The HTTP client: to the endpoint of -g if given, else to the control socket of a
    // `gaffer start` running in the project root (`<root>/.gaffer/gaffer.sock`) when it
    // answers, else to $GAFFER_ENDPOINT, else http://127.0.0.1:5000. The key: --api-key,
    // else $GAFFER_API_KEY, else the user settings file's [node "<url>"] key.
    Result<client::HttpClient*> http();
    // The TLS options for a server at `url`: --certfile/--keyfile/--cacert/--insecure, else
    // the settings file's [node "<url>"] certfile, keyfile, cacert.
    client::TlsOptions tls_for(const std::string& url) const;
    // libcurl's process-wide initialisation, once, before any request (http() does it).
    Status init_curl();
    // The endpoint text the client talks to (after http()).
    const std::string& endpoint_text() const { return endpoint_text_; }

private:
    std::unique_ptr<Project> project_;
    std::optional<client::CurlGlobal> curl_;
    std::optional<client::HttpClient> http_;
    std::string endpoint_text_;
};

// `<root>/.gaffer`, where a running `gaffer start` keeps its control socket.
std::string control_dir(const std::string& root);
std::string control_socket(const std::string& root);

// The user settings file: $GAFFER_CONFIG, else ~/.gaffer/gaffer.ini.
std::string user_config_path();
// The value of `key` in section [node "<url>"] of the user settings file, if any.
std::optional<std::string> user_node_setting(const std::string& url, const std::string& key);
// Sets `key` in [node "<url>"] (creating the file 0600 and its directory 0700).
Status set_user_node_setting(const std::string& url, const std::string& key, const std::string& value);

// Reference §11.1: ^[a-z][a-z0-9_+-]*$.
bool valid_app_name(std::string_view name);

// Command tables of each file, joined by main.cc.
std::span<const Command> local_commands();   // start, dev:start, run (local), dev:run
std::span<const Command> tool_commands();    // check, env, export
std::span<const Command> node_commands();    // load, unload, ps, scale, ... (the node API)
std::span<const Command> lookup_commands();  // lookup, lookup:* (gaffer_lookupd, lookup.cc)

// `run`: HEAD's `run <job>` (a one-off process of a job on the node, §11.1) when its one
// argument names a job (`app.job`, `app/job` or a Procfile entry); else 0.4's `run
// <cmd...>`, a one-off local command with the project's environment (as dev:run).
int run_on_node(Session& s, const Invocation& inv);
int run_locally(Session& s, const Invocation& inv);

}  // namespace gaffer::cli
