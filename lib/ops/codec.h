// SPDX-License-Identifier: MIT
// Codec: the JSON shapes of the gaffer API (HTTP, /channel, D-Bus) (reference §3.4, §3.5, §3.6, §3.7, §3.8,
// §4.3) built from model values. Pure functions: no manager, no I/O, so every shape has
// a unit test of its own.
//
// Rules kept here: a statistic the OS refused to report is the string "N/A"; job stats
// aggregates are all "N/A" when any process lacks a number or there is no process (the
// original's "N","/","A" bug); sizes are "<int><unit>" with binary units; CPU time is
// M:SS.cc below an hour and H:MM:SS.cc above.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/json/json.h"
#include "lib/model/job_spec.h"

namespace gaffer::ops {

// "512B", "10K", "120M", ... (integer part of bytes / 1024^k, largest unit <= value).
std::string human_size(uint64_t bytes);
// Accumulated CPU seconds → "M:SS.cc", or "H:MM:SS.cc" from one hour on. Negative or
// non-finite input gives "0:00.00".
std::string format_ctime(double seconds);

// The stored config object of a job (§3.4 `config`): config_json parsed, with the short
// job name in `name` when the client left it out, never `start` or `custom_channels`.
json::JsonPtr encode_config(const std::string& config_json, std::string_view short_name);

// §3.4 job info.
json::JsonPtr encode_job_info(const model::JobInfo& info);
// §3.7 process info (GET /<pid>).
json::JsonPtr encode_process_info(const model::ProcessInfo& p);
// One entry of GET /jobs/<sid>/<job>/processes and GET /processes?full=1 (§3.6).
json::JsonPtr encode_process_entry(const model::ProcessInfo& p);
// {"processes": [entries]}.
json::JsonPtr encode_process_list(const std::vector<model::ProcessInfo>& ps);

enum class StatsFlavor {
    kHead,      // per-process entries carry "pid" (internal) and "os_pid"
    kCompat04,  // 0.4: "id" (internal) and "pid" (OS pid)
};
// §3.8 fields of one sample (mem_info1, mem_info2, cpu, mem, ctime, username, nice,
// cmdline, children). Children entries carry "pid" = OS pid, as in 0.4.
json::JsonPtr encode_process_stats(const model::ProcessStats& s);
// The same plus the identity members of `flavor`.
json::JsonPtr encode_process_stats_entry(const model::ProcessStats& s, StatsFlavor flavor);
// §3.5 job stats: {"name", "stats": [...], "mem", "max_mem", "min_mem", "cpu", "max_cpu",
// "min_cpu"}.
json::JsonPtr encode_job_stats(std::string_view name, const std::vector<model::ProcessStats>& stats,
                               StatsFlavor flavor);

// 0.4 template names (§4): job `default.N` is "N", job `G.N` is "G:N".
std::string compat_name(const model::JobName& name);
// The inverse: "G:N" → G.N; "s.j" → s.j (a HEAD name is accepted too); "N" → default.N.
model::JobName parse_compat_name(std::string_view name);

}  // namespace gaffer::ops
