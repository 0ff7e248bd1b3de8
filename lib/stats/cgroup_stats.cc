// SPDX-License-Identifier: MIT
#include "lib/stats/cgroup_stats.h"

#include <cmath>
#include <cstdint>

#include "lib/cgroup/cgroup.h"

namespace gaffer::stats {

model::ProcessStats CgroupSampler::sample(cgroup::Tree* tree, cgroup::Group* group, pid_t os_pid,
                                          std::chrono::steady_clock::time_point now) {
    if (tree && group) {
        auto u = tree->usage(*group);
        if (u)
            return sample(*u, os_pid, now);
    }
    last_source_ = CpuSource::kNone;  // ProcSampler keeps its own previous sample
    return proc_.sample(os_pid, now);
}

model::ProcessStats CgroupSampler::sample(const cgroup::Usage& u, pid_t os_pid,
                                          std::chrono::steady_clock::time_point now) {
    model::ProcessStats s = process_snapshot(os_pid);
    s.os_pid = os_pid;
    if (u.memory_bytes) {
        s.rss = *u.memory_bytes;
        s.mem = memory_percent(*u.memory_bytes);
    }
    if (u.cpu_usec) {
        double secs = static_cast<double>(*u.cpu_usec) / 1e6;
        s.cpu_time = secs;
        s.cpu = cpu_percent(CpuSource::kCgroup, secs, now);
    } else if (s.cpu_time) {
        s.cpu = cpu_percent(CpuSource::kProc, *s.cpu_time, now);
    } else {
        last_source_ = CpuSource::kNone;
    }
    // Without a memory controller for this group (hybrid hosts without memory_max),
    // the tree's memory is the sum of its members' resident sets.
    uint64_t tree_rss = s.rss.value_or(0);
    for (pid_t m : u.members) {
        if (m == os_pid)
            continue;
        if (s.children.size() >= kMaxChildren)
            break;
        model::ProcessStats c = process_snapshot(m);
        c.cpu = 0.0;
        tree_rss += c.rss.value_or(0);
        s.children.push_back(std::move(c));
    }
    if (!u.memory_bytes && s.rss) {
        s.rss = tree_rss;
        s.mem = memory_percent(tree_rss);
    }
    return s;
}

std::optional<double> CgroupSampler::cpu_percent(CpuSource src, double cpu_seconds,
                                                 std::chrono::steady_clock::time_point now) {
    double pct = 0.0;
    if (last_source_ == src) {
        double dt = std::chrono::duration<double>(now - last_time_).count();
        if (dt > 0 && cpu_seconds >= last_cpu_)
            pct = std::round((cpu_seconds - last_cpu_) * 1000.0 / dt) / 10.0;
    }
    last_source_ = src;
    last_cpu_ = cpu_seconds;
    last_time_ = now;
    return pct;
}

}  // namespace gaffer::stats
