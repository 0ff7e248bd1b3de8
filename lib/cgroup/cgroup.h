// SPDX-License-Identifier: MIT
// Cgroup tree of one daemon: a cgroup per process, under one per job, so a process's
// whole tree is accounted and stopped together (cgroup.kill reaches grandchildren that
// left the process group with setsid).
//
// Layout: <base>/jobs/<session>.<job>/<pid>/, the daemon itself in <base>/supervisor
// when it owns a delegated cgroup (pure v2's "no internal processes" rule). <base> is
// the daemon's own cgroup when delegated (systemd Delegate=yes), else
// <mount>/<name>-<daemon pid> so two daemons never share directories.
//
// Modes: kV2 (cgroup2 at /sys/fs/cgroup), kHybrid (cgroup2 at /sys/fs/cgroup/unified
// beside v1 controllers), kNone (no cgroup2, or no rights). Everything degrades to
// process groups when a step fails; nothing here is fatal to the daemon.
#pragma once

#include <memory>
#include <string>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"

namespace gaffer::cgroup {

enum class Mode { kNone, kHybrid, kV2 };
const char* to_string(Mode mode);
// Looks at the mounts only (no rights needed).
Mode detect_mode();

// One process's cgroup directory. Destroying it closes fds only; Tree::remove() rmdirs.
struct Group {
    std::string path;
    UniqueFd procs;   // cgroup.procs, O_WRONLY: the child writes "0" to join
    UniqueFd events;  // cgroup.events, for POLLPRI "populated" notifications
};

class Tree {
public:
    // Never fails: returns a tree whose mode() is kNone when cgroups cannot be used.
    static std::unique_ptr<Tree> create(const std::string& name);
    ~Tree();

    Mode mode() const { return mode_; }
    const std::string& base() const { return base_; }

    Result<Group> create_group(const std::string& job, int pid);
    // SIGKILLs every process in the group (cgroup.kill, or each pid of cgroup.procs).
    Status kill(const Group& g);
    // True while any process is in the group (reads cgroup.events).
    bool populated(const Group& g);
    // rmdir the group (and its job directory when that is empty). EBUSY if populated.
    Status remove(Group& g, const std::string& job);

private:
    Mode mode_ = Mode::kNone;
    std::string base_;
    bool created_base_ = false;
};

}  // namespace gaffer::cgroup
