// SPDX-License-Identifier: MIT
// Process statistics from the process's own cgroup (the whole tree it started), with
// /proc for what a cgroup does not know (vms, nice, username, cmdline) and as the
// fallback when there is no cgroup or a counter is missing.
//
// CgroupSampler keeps the previous CPU time of one process's group, so `cpu` is the
// percentage of one CPU used by the whole tree since the previous sample (0.0 on the
// first one, and again after the source changed). `mem_info1` (rss) is the group's
// memory (v2 memory.current, v1 memory.usage_in_bytes), else the leader's VmRSS;
// `ctime` (cpu_time) is the group's CPU time, else the leader's user+system time;
// `children` are the other members of the group, each from /proc with cpu 0.0.
// Nothing here runs unless someone asks: there is no timer.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "lib/model/job_spec.h"
#include "lib/stats/proc_stats.h"

namespace gaffer::cgroup {
class Tree;
struct Group;
struct Usage;
}  // namespace gaffer::cgroup

namespace gaffer::stats {

// Reported children are capped (a fork bomb must not make a stats reply huge).
inline constexpr size_t kMaxChildren = 4096;

class CgroupSampler {
public:
    // Samples the process `os_pid` through its group. With no tree or group, or when
    // the group cannot be read, this is exactly ProcSampler::sample().
    model::ProcessStats sample(cgroup::Tree* tree, cgroup::Group* group, pid_t os_pid,
                               std::chrono::steady_clock::time_point now);

    // The same from an already-read Usage (unit tests, or a caller that needs the Usage
    // itself, e.g. for oom_kills).
    model::ProcessStats sample(const cgroup::Usage& usage, pid_t os_pid, std::chrono::steady_clock::time_point now);

private:
    enum class CpuSource { kNone, kCgroup, kProc };
    std::optional<double> cpu_percent(CpuSource src, double cpu_seconds, std::chrono::steady_clock::time_point now);

    ProcSampler proc_;
    CpuSource last_source_ = CpuSource::kNone;
    double last_cpu_ = 0;
    std::chrono::steady_clock::time_point last_time_;
};

}  // namespace gaffer::stats
