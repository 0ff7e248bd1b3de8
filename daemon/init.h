// SPDX-License-Identifier: MIT
// Init duties, as tini and dumb-init perform them, for gafferd running as PID 1 of a
// container (detected from getpid() == 1, or forced with --init) or as a child
// subreaper anywhere (--subreaper): every orphan that lands on us is reaped (no
// zombies, ever), and SIGUSR1/SIGUSR2 are forwarded to every supervised process.
// SIGTERM/SIGINT/SIGQUIT still shut down gracefully and SIGHUP still reloads: as PID 1
// the kernel ignores default actions, so these are all handled explicitly.
#pragma once

#include "lib/manager/manager.h"

namespace gaffer::daemon {

class InitDuties {
public:
    // Becomes a child subreaper unless already PID 1. Never fails: a refused prctl is
    // logged and only the direct children are reaped then.
    InitDuties(manager::Manager& manager, bool pid1);

    // SIGCHLD: reap every exited child. Ours go through the manager (their pidfd), any
    // other one is an orphan and is reaped here. Peeks with WNOWAIT so that a managed
    // child's status is never stolen.
    void on_sigchld();
    // SIGUSR1/SIGUSR2 as PID 1: forwarded to every supervised process.
    void forward(int sig);
    uint64_t orphans_reaped() const { return orphans_; }

private:
    manager::Manager& manager_;
    uint64_t orphans_ = 0;
};

}  // namespace gaffer::daemon
