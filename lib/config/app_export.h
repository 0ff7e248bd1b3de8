// SPDX-License-Identifier: MIT
// Exporters of the `gaffer` Procfile tool (issue 14: `gaffer export`, `gaffer env`): an
// app plan (lib/config/app_plan.h) → the files of another supervisor, and an environment
// → `KEY=value` lines. Pure apart from the PATH look-up of commands for systemd and
// supervisord (access(2), never on the loop: the CLI calls this).
//
// Invariants, for every format:
//   * Exactness: what the target runs is what gafferd would run for the plan (argv or
//     `sh -c`, environment, working directory, PORT and PS of every instance). What the
//     target cannot express exactly (a newline where its syntax has none, a name it does
//     not accept, a value its parser would cut) is refused with Error{EINVAL, "<format>:
//     <job>: <what>"}: a broken file is never returned.
//   * Only the types in ExportInputs::only (all when empty) are exported, in plan order;
//     a name in `only` that the plan does not have is an error.
//   * File names are relative; a systemd instance's drop-in has one directory component
//     ("<app>-<type>@<port>.service.d/50-ps.conf"): the caller creates it.
//
// ini: one file "<app>.ini", one [job:<app>.<type>] section per type, written from each
//   job's config object (JobSpec::config_json, the one validation path) so that
//   `gafferd -c` loads back the same jobs; `os_env` is always written (the INI default
//   is true). Limits of gafferd's INI reader (ini.h): a line holds at most 199 bytes,
//   values lose blanks at both ends, " ;" starts a comment, and a newline can only be
//   written as an indented continuation line (no empty line, no line starting with ';'
//   or '#').
// json: one file "<app>.json", {"jobs":[<config object>...]}: each element is what
//   POST /jobs/<app> accepts (the job's config_json, plus instance_env when set).
// systemd: foreman's layout. "<app>.target" wants every instance; per type a template
//   "<app>-<type>@.service" (the instance name is its PORT: Environment=PORT=%i) and per
//   instance a drop-in setting PS=<type>.<N>, which no specifier can compute. ExecStart
//   is `/bin/sh -c "<command>"` for shell jobs, else the argv with argv[0] made absolute
//   (relative to the root when it holds a '/', else looked up in the job's PATH, as
//   gafferd does) and gafferd's $NAME/${NAME} references (§7.3) written as systemd's
//   ${NAME} when NAME is in the environment, literal otherwise. Environment names must
//   be [A-Za-z_][A-Za-z0-9_]* (systemd's rule); the app name must be valid in a unit
//   name; os_env jobs are refused (a unit has no "environment of the daemon").
// supervisord: one file "<app>.conf", [group:<app>] and one [program:<app>-<type>-<N>]
//   per instance with its literal PORT and PS (as foreman's supervisord exporter does:
//   %(process_num)d cannot give both PORT = base+N-1 and PS = type.N). Values are read
//   by Python's configparser with ';'/'#' inline comments and %(...)s expansion, the
//   command is split with shlex (POSIX), the environment with supervisord's
//   KEY="val",... reader (no escapes, quotes stripped at both ends).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/config/app_plan.h"
#include "lib/model/job_spec.h"

namespace gaffer::config {

enum class ExportFormat { kIni, kJson, kSystemd, kSupervisord };

// "ini", "json", "systemd", "supervisord"; nullopt for anything else.
std::optional<ExportFormat> parse_export_format(std::string_view name);

struct ExportInputs {
    std::string app;                // session / app name
    std::string root;               // absolute app root (cwd of every process)
    const AppPlan* plan = nullptr;  // jobs (one per Procfile type, in order) and processes
    std::vector<std::string> only;  // export only these types (empty: all)
    std::string user;               // systemd/supervisord: run as this user (empty: none)
    std::string gaffer_path;        // unused: every format runs the commands directly
};

struct ExportFile {
    std::string name;  // relative file name ("myapp.ini", "myapp.target", "myapp-web@.service", ...)
    std::string content;
};

Result<std::vector<ExportFile>> export_app(ExportFormat format, const ExportInputs& in);

// `gaffer env [type]`: one `KEY=value` line per variable, sorted by key, the value
// shell-quoted only when needed (POSIX sh single quotes, '\'' for a quote: the line can
// be pasted into sh). Values of secret keys (is_secret_key) are `****` unless
// show_secrets.
std::string format_env(const model::Env& env, bool show_secrets);

// True when the name contains SECRET, TOKEN, PASSWORD or KEY in any case.
bool is_secret_key(std::string_view key);

}  // namespace gaffer::config
