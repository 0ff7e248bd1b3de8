// SPDX-License-Identifier: MIT
// Process statistics from /proc (the fallback source; cgroup accounting comes with the
// statistics issue). ProcSampler keeps the previous CPU time of one process so that
// `cpu` is a percentage since the previous sample (0.0 on the first one). Nothing here
// runs unless someone asks: there is no timer.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "lib/model/job_spec.h"

namespace gaffer::stats {

struct ProcStat {
    pid_t pid = 0;
    std::string comm;
    char state = '?';
    pid_t ppid = 0;
    double utime = 0, stime = 0;  // seconds
    long nice = 0;
    uint64_t vsize = 0;  // bytes
    uint64_t rss = 0;    // bytes
};

// Parses the text of /proc/<pid>/stat (comm may contain spaces and parentheses).
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// `bytes` as a percentage of physical memory, rounded to 1 decimal (reference §3.8
// `mem`); nullopt when MemTotal is unknown.
std::optional<double> memory_percent(uint64_t bytes);

// One process from /proc, without `cpu` (that needs two samples) and without children:
// rss, vms, mem, cpu_time, nice, username and cmdline, each left unset (or empty) when
// the process is gone.
model::ProcessStats process_snapshot(pid_t os_pid);

class ProcSampler {
public:
    // Samples `os_pid` and its descendants (children are listed with os pids).
    model::ProcessStats sample(pid_t os_pid, std::chrono::steady_clock::time_point now);

private:
    std::optional<double> last_cpu_;
    std::chrono::steady_clock::time_point last_time_;
};

// "10M", "512B" (reference §3.8).
std::string human_size(uint64_t bytes);
// "0:00.12", "1:02:03.45" (reference §3.8, with the hours fix).
std::string format_ctime(double seconds);

}  // namespace gaffer::stats
