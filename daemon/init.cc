// SPDX-License-Identifier: MIT
#include "daemon/init.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/base/log.h"

namespace gaffer::daemon {

InitDuties::InitDuties(manager::Manager& manager, bool pid1) : manager_(manager) {
    if (!pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        log_warning("cannot become a child subreaper: %s", strerror(errno));
}

void InitDuties::on_sigchld() {
    // SIGCHLD coalesces: loop until no exited child is left. Bounded so a fork storm
    // cannot keep the loop here forever; the next SIGCHLD continues.
    for (int i = 0; i < 100000; ++i) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
            return;
        pid_t pid = si.si_pid;
        if (manager_.reap_os_pid(pid))
            continue;
        siginfo_t done;
        memset(&done, 0, sizeof done);
        if (waitid(P_PID, static_cast<id_t>(pid), &done, WEXITED | WNOHANG) < 0)
            return;
        ++orphans_;
        log_debug("reaped orphan %d (status %d)", static_cast<int>(pid), done.si_status);
    }
}

void InitDuties::forward(int sig) {
    manager_.signal_all(sig);
}

}  // namespace gaffer::daemon
