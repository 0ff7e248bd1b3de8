// SPDX-License-Identifier: MIT
// Cgroup tree of one daemon: a cgroup per process, under one per job, so a process's
// whole tree is accounted, limited and stopped together (cgroup.kill reaches
// grandchildren that left the process group with setsid).
//
// Layout: <base>/jobs/<session>.<job>/<pid>/, the daemon itself in <base>/supervisor
// when it owns a delegated cgroup (pure v2's "no internal processes" rule). <base> is
// the daemon's own cgroup when delegated (systemd Delegate=yes), else
// <mount>/<name>-<daemon pid> so two daemons never share directories.
//
// Modes: kV2 (cgroup2 at /sys/fs/cgroup), kHybrid (cgroup2 at /sys/fs/cgroup/unified
// beside v1 controllers), kNone (no cgroup2, or no rights). On a hybrid host the memory,
// cpu and pids controllers live in v1 hierarchies: each process then also gets
// <v1 own cgroup>/<name>-<daemon pid>/jobs/<job>/<pid>/ in each of them (created under
// the daemon's OWN v1 cgroup, read from /proc/self/cgroup), and the child joins every
// one of them before exec (Group::v1_procs_fds()); the v2 group it is born in. CPU time always comes from the v2
// cpu.stat, which exists without the cpu controller.
//
// Invariants: nothing here is fatal to the daemon and a failing step degrades (to fewer
// statistics, or to process groups in the manager); the one exception is a resource
// limit, which is either applied or reported as an Error (EOPNOTSUPP when no controller
// can enforce it), never silently dropped. Destroying a Group closes fds only; rmdir
// happens in Tree::remove(). lib/ logs at debug only.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"

namespace gaffer::cgroup {

enum class Mode { kNone, kHybrid, kV2 };
const char* to_string(Mode mode);
// Looks at the mounts only (no rights needed).
Mode detect_mode();

// The controllers gafferd uses, and where each one is served on this host.
enum class Controller : int { kMemory = 0, kCpu = 1, kPids = 2 };
inline constexpr int kControllerCount = 3;
const char* to_string(Controller c);
enum class Source { kNone, kV2, kV1 };
const char* to_string(Source s);

// Per-process resource limits (reference §7.1 and §16). They apply to the process's own
// cgroup, so they cover its descendants too.
struct Limits {
    // bytes of RAM, swap excluded: v2 memory.max with memory.swap.max 0, v1
    // memory.limit_in_bytes with memory.memsw.limit_in_bytes equal to it.
    std::optional<uint64_t> memory_max;
    std::optional<double> cpu_max_percent;  // percent of one CPU (150 = one and a half)
    std::optional<uint64_t> pids_max;       // tasks
    bool any() const { return memory_max || cpu_max_percent || pids_max; }
};

// The stat files Tree::usage() reads, each through a kept-open fd when the budget allows.
enum class Stat : int {
    kCpuStat = 0,  // v2 cpu.stat
    kProcs,        // v2 cgroup.procs (read side)
    kMemCurrent,   // v2 memory.current / v1 memory.usage_in_bytes
    kMemPeak,      // v2 memory.peak / v1 memory.max_usage_in_bytes
    kMemEvents,    // v2 memory.events / v1 memory.oom_control
    kMemStat,      // v2 or v1 memory.stat
    kPidsCurrent,  // v2 or v1 pids.current
};
inline constexpr int kStatCount = 7;

// One process's cgroup directories. Destroying it closes fds only; Tree::remove() rmdirs.
struct Group {
    std::string path;  // the v2 directory
    UniqueFd dir;      // the v2 directory, O_DIRECTORY: the child is born in it (CLONE_INTO_CGROUP)
    UniqueFd procs;    // v2 cgroup.procs, O_WRONLY: else the child writes "0" to join
    UniqueFd events;   // v2 cgroup.events, for POLLPRI "populated" notifications

    // Hybrid hosts: the v1 directory per controller (empty when that controller is not
    // used from v1) and its cgroup.procs, O_WRONLY, for the child to join.
    std::array<std::string, kControllerCount> v1_path;
    std::array<UniqueFd, kControllerCount> v1_procs;

    // Kept-open O_RDONLY fds of the stat files (indexed by Stat), opened lazily by
    // Tree::usage() within the Tree's fd budget and read with pread from offset 0;
    // Tree::remove() closes them and gives them back to the budget.
    // `stat_missing` has bit i set once file i proved absent (or has no source here).
    std::array<UniqueFd, kStatCount> stat_fds;
    uint32_t stat_missing = 0;

    // Every cgroup.procs the child must join, v2 first.
    std::vector<int> procs_fds() const;
    // The v1 ones only (for ExecSpec::cgroup_procs_fds when the v2 group goes through
    // ExecSpec::cgroup_v2_dir_fd / cgroup_v2_procs_fd).
    std::vector<int> v1_procs_fds() const;
    // Closes the cgroup.procs write fds once the child has joined (after spawn()); the
    // group still works for usage(), kill(), populated() and remove().
    void close_join_fds();
};

// A snapshot of one group (the process and all its descendants).
struct Usage {
    std::optional<uint64_t> cpu_usec;      // cumulative user+system CPU time
    std::optional<uint64_t> memory_bytes;  // memory.current / memory.usage_in_bytes
    std::optional<uint64_t> memory_peak;   // memory.peak / memory.max_usage_in_bytes
    std::optional<uint64_t> memory_anon;   // memory.stat anon (v2) / total_rss (v1)
    std::optional<uint64_t> pids;          // pids.current, else the number of members
    std::vector<pid_t> members;            // cgroup.procs: every process of the tree
    uint64_t oom_kills = 0;                // memory.events / memory.oom_control oom_kill
};

class Tree {
public:
    // Never fails: returns a tree whose mode() is kNone when cgroups cannot be used.
    static std::unique_ptr<Tree> create(const std::string& name);
    ~Tree();
    Tree(const Tree&) = delete;
    Tree& operator=(const Tree&) = delete;

    Mode mode() const { return mode_; }
    const std::string& base() const { return base_; }
    // Where `c` is served: v2 files, a v1 hierarchy (hybrid hosts) or nowhere.
    Source source(Controller c) const { return source_[static_cast<int>(c)]; }
    // The v1 base directory of `c` (<own v1 cgroup>/<name>-<pid>), empty unless kV1.
    const std::string& v1_base(Controller c) const { return v1_base_[static_cast<int>(c)]; }

    // Creates the process's group(s) and applies `limits`. A limit no controller can
    // enforce is EOPNOTSUPP, an invalid one EINVAL; nothing is left behind on failure.
    Result<Group> create_group(const std::string& job, int pid, const Limits& limits);
    Result<Group> create_group(const std::string& job, int pid) { return create_group(job, pid, Limits{}); }

    // SIGKILLs every process in the group: v2 cgroup.kill (which also reaches processes
    // forked meanwhile); without it (kernel < 5.14), each member listed by the v2 and v1
    // cgroup.procs files.
    Status kill(const Group& g);
    // True while any process is in the group (reads cgroup.events).
    bool populated(const Group& g);
    // rmdir the group, its v1 directories, and the job directories when they are empty.
    // EBUSY if populated. Closes every fd of the group.
    Status remove(Group& g, const std::string& job);

    // Reads the group's counters (pread on kept fds). Fails only when the group itself
    // is gone or there are no cgroups; a missing counter is a nullopt field.
    Result<Usage> usage(Group& g);
    // True once the kernel OOM-killed a process of the group (v2 memory.events or v1
    // memory.oom_control "oom_kill" > 0). Call it before remove().
    bool oom_killed(Group& g);

    // Test hook: the number of usage() calls.
    uint64_t stat_reads() const { return stat_reads_; }
    // At most this many stat fds are kept open across all groups (the daemon's fd limit
    // is small); groups beyond it read their files by path. Default: 1/8 of RLIMIT_NOFILE.
    void set_stat_fd_budget(size_t n) { stat_fd_budget_ = n; }
    size_t kept_stat_fds() const { return kept_stat_fds_; }

private:
    Tree() = default;
    std::string stat_path(const Group& g, Stat s) const;
    Result<std::string> read_stat(Group& g, Stat s);
    void open_stat_fds(Group& g);
    void close_stat_fds(Group& g);
    Status apply_limits(Group& g, const Limits& limits);

    Mode mode_ = Mode::kNone;
    std::string base_;
    bool created_base_ = false;
    std::array<Source, kControllerCount> source_{};
    std::array<std::string, kControllerCount> v1_base_;
    uint64_t stat_reads_ = 0;
    size_t stat_fd_budget_ = 0;
    size_t kept_stat_fds_ = 0;
};

// ---- Pure parsers (unit-tested on fixtures from pure v2 and hybrid hosts) ----

// "key value" lines (cpu.stat, memory.events, memory.stat, memory.oom_control,
// pids.events). Lines whose value is not an unsigned integer are skipped.
std::map<std::string, uint64_t> parse_flat_keyed(std::string_view text);
// usage_usec of a v2 cpu.stat.
std::optional<uint64_t> parse_cpu_stat(std::string_view text);
// A single-value file (memory.current, pids.current, memory.max): nullopt for "max".
std::optional<uint64_t> parse_single_value(std::string_view text);
// cgroup.procs: one pid per line.
std::vector<pid_t> parse_procs(std::string_view text);

struct MemoryStat {
    std::optional<uint64_t> anon;  // v2 anon, v1 total_rss (rss without hierarchy)
    std::optional<uint64_t> file;  // v2 file, v1 total_cache (cache without hierarchy)
};
MemoryStat parse_memory_stat(std::string_view text, bool v1);

// /proc/<pid>/cgroup: the "0::<path>" line and the v1 "N:ctl1,ctl2:<path>" lines
// (named hierarchies keep their "name=" key, e.g. "name=systemd").
struct ProcCgroup {
    std::optional<std::string> v2_path;
    std::map<std::string, std::string> v1;  // controller -> path
};
ProcCgroup parse_proc_cgroup(std::string_view text);

// The v1 hierarchies of /proc/self/mountinfo: controller -> {mount point, root of the
// mount inside the hierarchy}. A controller's directory for the cgroup path P is
// mount_point + (P without the `root` prefix).
struct V1Mount {
    std::string mount_point;
    std::string root;
};
std::map<std::string, V1Mount> parse_v1_mounts(std::string_view mountinfo);
// The directory of cgroup path `path` in `m`, or nullopt when `path` is outside the mount.
std::optional<std::string> v1_dir(const V1Mount& m, const std::string& path);

// The value written to v2 cpu.max ("<quota> <period>") and to v1 cpu.cfs_quota_us for a
// percentage of one CPU; period 100 ms, quota at least 1 ms. nullopt if not > 0 or absurd.
std::optional<uint64_t> cpu_quota_usec(double percent, uint64_t period_usec = 100000);

}  // namespace gaffer::cgroup
