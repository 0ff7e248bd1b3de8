// SPDX-License-Identifier: MIT
// gafferd.ini (reference §10.3, 0.4 forms of §10.4): text → DaemonConfig. Read with
// libinih through our own line reader, so that every option keeps its file and line,
// and a broken config is reported as Error{EINVAL, "<file>:<line>: <what>"}.
//
// Syntax (libinih, close to Python's configparser):
//   * `[section]`, `name = value` or `name: value`, whole-line comments with ';' or '#',
//     inline comments with ';' after whitespace only (`cmd = a;b` keeps "a;b").
//   * A line may hold at most 199 bytes (libinih's INI_MAX_LINE); a longer line is an
//     error. Long values continue on indented lines, joined with "\n".
//   * Option names are case-insensitive (lower-cased), except inline environment
//     variables (`env:PATH = ...`) and [webhooks] event names, which keep their case.
//     Section names keep their case; the prefixes job:, process:, env:, endpoint: and
//     the fixed sections gaffer, ssl, webhooks are case-insensitive.
//   * An option given twice in a section (or in a section repeated in the same or an
//     included file) takes the last value.
//
// Jobs: `[job:NAME]` or `[process:NAME]`; NAME is `job` (session "default") or
// `session:job`, `session/job`, `session.job` — session first (§10.3 fixes the original's
// inverted order). Sections without a non-empty `cmd` are ignored. Every option is turned
// into a typed member of a job config object which goes through config::job_from_json (one
// validation path), so INI jobs accept exactly the members of §7.1; `os_env` defaults to
// true here. `[env:NAME]` replaces the whole environment of job NAME (inline `env:X`
// options included), wherever it appears. Unknown options are kept in the job's config
// and reported in DaemonConfig::warnings.
//
// [gaffer] `include` (whitespace-separated files or glob(3) patterns) and `include_dir`
// (whitespace-separated directories, searched recursively for *.ini, in sorted order) are
// relative to the directory of the file that names them, followed recursively, and merged
// after that file. A file already read is skipped (no include cycles). A plain path that
// does not exist is an error; a pattern that matches nothing is not. Unknown [gaffer]
// options are ignored (forward compatibility); a known option with a bad value is an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.h"
#include "lib/model/job_spec.h"

namespace gaffer::config {

// One 0.4 `[endpoint:NAME]` section named by `[gaffer] http_endpoints`.
struct Endpoint {
    std::string name;
    std::vector<std::string> binds;  // bind, comma-separated; "unix:/path" allowed
    int backlog = 128;
    std::string certfile, keyfile;
};

struct DaemonConfig {
    std::string path;                        // the file read
    std::vector<std::string> binds;          // [gaffer] bind, comma separated; empty = not set
    std::vector<Endpoint> endpoints;         // [gaffer] http_endpoints = a, b → [endpoint:a] ...
    std::vector<std::string> cors_origins;   // [gaffer] cors_origins (comma separated)
    std::vector<std::string> allowed_hosts;  // [gaffer] allowed_hosts (comma separated)
    std::optional<int> backlog;
    std::optional<int> max_connections_per_client;  // [gaffer]: per client address (unix: uid) and endpoint
    std::optional<bool> daemonize, require_key;
    std::string pidfile, error_log, log_level, plugins_dir, broadcast_address, state_dir, webhook_secret;
    // [gaffer] max_jobs (a positive integer) and max_config_bytes (bytes, or 512K, 16M,
    // 1G): the manager's limits (lib/manager/manager.h Limits); unset: its defaults.
    std::optional<uint64_t> max_jobs, max_config_bytes;
    // [gaffer] log_root: where callers without full rights may put job log files
    // (absolute; stored without a trailing '/'). Empty: not set.
    std::string log_root;
    // [gaffer] dbus_address: system, user or a D-Bus address. Empty: not set.
    std::string dbus_address;
    std::vector<std::string> lookupd_addresses;  // every [gaffer] option starting with lookupd_address
    // The etcd registry (issue 15, lib/etcd): [gaffer] registry = etcd://host:port[,...]
    // (checked by gafferd: lib/etcd/codec.h parse_endpoints), node_name (the name this node
    // registers under; empty: the FQDN) and lookupd_heartbeat (seconds, > 0; the lease TTL
    // is 3 of them).
    std::string registry, node_name;
    std::optional<double> lookupd_heartbeat;
    // Registration with gaffer_lookupd (lib/announce): [gaffer] lookupd_key (sent as
    // X-Api-Key) and the client TLS options of [lookup_ssl] (cacert or ca_certs, certfile,
    // keyfile). node_name and lookupd_heartbeat above serve both registrations.
    std::string lookupd_key;
    std::string lookup_cacert, lookup_certfile, lookup_keyfile;
    std::string certfile, keyfile;  // [ssl] certfile/keyfile (else [gaffer] certfile/keyfile)
    std::vector<std::pair<std::string, std::string>> webhooks;  // [webhooks] event = url, file order
    std::vector<std::string> webhook_locations;                 // "file:line" of each entry of webhooks
    std::vector<model::JobSpec> jobs;                           // stable-sorted by priority ascending
    // Things worth a log line that do not stop the load ("<file>:<line>: unknown option
    // 'numprocess' in [job:web]"). The caller logs them.
    std::vector<std::string> warnings;
};

struct IniOptions {
    // false: `include`/`include_dir` are ignored and nothing but the given text is read
    // (the fuzzer uses this).
    bool follow_includes = true;
};

// Reads `path` and everything it includes.
Result<DaemonConfig> load_ini_file(const std::string& path);
// Parses `text` as if read from `filename`; includes are relative to `base_dir`.
Result<DaemonConfig> parse_ini(std::string_view text, const std::string& filename, const std::string& base_dir,
                               const IniOptions& options = {});

}  // namespace gaffer::config
