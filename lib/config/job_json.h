// SPDX-License-Identifier: MIT
// Job config objects (reference §7.1) → model::JobSpec. This is the one validation path
// for jobs: the HTTP/D-Bus load and update routes call it with the client's object, and
// the INI loader (lib/config/ini.h) converts each job section into such an object and
// calls it too. Pure apart from NSS: a user or group name given as `uid`/`gid` is
// resolved here, at load time (getpwnam_r/getgrnam_r), never on the loop or in a child.
//
// Every failure is Error{EINVAL, "<member>: <reason>"}. Rules beyond the reference, all
// there so that a name or a value can never escape its use (cgroup directory names,
// log file names, URL path segments, execve arguments, timer arithmetic):
//   * session and job names: 1..100 bytes, no '.', no '/', no control characters;
//   * strings must not contain NUL bytes (jansson can carry them; execve cannot);
//   * stream labels (redirect_output, custom_streams): 1..64 bytes, no '/', no control
//     characters; custom_streams has at most 64 distinct labels;
//   * env names: non-empty, no '=' (env_from_json below);
//   * durations (graceful_timeout, ready_timeout, flapping window/retry_in) ≤ 1e9 s;
//   * numprocesses, flapping attempts and max_retry ≤ 1000000; log_backups ≤ 1000;
//     cpu_max ≤ 1000000 (percent of one CPU);
//   * capabilities are names like CAP_NET_BIND_SERVICE (any case) known to libcap;
//     they are stored upper-cased.
// `null` for an optional member means "not given" (the original's own clients send
// `"uid": null`, `"args": null`); unknown members are kept and echoed in config_json.
#pragma once

#include <jansson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/result.h"
#include "lib/model/job_spec.h"

namespace gaffer::config {

enum class JobJsonMode {
    kLoad,    // POST /jobs/<sid> and INI sections: `name` and `cmd` required
    kUpdate,  // PUT /jobs/<sid>/<job>: `cmd` required, `name` optional (the caller
              // checks it against the path; if absent, spec.name.job is empty)
};

// Validates `config` (a JSON object) and builds the JobSpec of job `session`.`name`.
// spec.config_json is the compact JSON of the object, keys in their original order,
// without `start` and `custom_channels`; `start` goes to spec.start (default true).
Result<model::JobSpec> job_from_json(const json_t* config, std::string_view session, JobJsonMode mode);

// Same; on failure *ret_member (when not null) is set to the member at fault ("session"
// for a bad session name, "" when the object as a whole is wrong). The INI loader uses it
// to point at the offending line.
Result<model::JobSpec> job_from_json(const json_t* config, std::string_view session, JobJsonMode mode,
                                     std::string* ret_member);

// An `env` object (job configs, the channel's load/update `env`, every commit `env`):
// the one rule for environment variables on every path. Names are non-empty and hold no
// '=' or NUL, values are strings without NUL; null or absent is an empty Env. Failure:
// Error{EINVAL, "env: <reason>"}.
Result<model::Env> env_from_json(const json_t* v);

// Session or job name check used above ("" when valid, else the reason). Exposed for the
// INI loader and the front ends, which validate names found in section headers and paths.
std::string name_problem(std::string_view name);

// "512K", "64M", "2G", "1T" (binary multiples, case-insensitive) or plain digits → bytes.
// nullopt on junk, on 0 and on overflow.
std::optional<uint64_t> parse_byte_size(std::string_view text);

}  // namespace gaffer::config
