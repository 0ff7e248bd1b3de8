// SPDX-License-Identifier: MIT
// ChildGuard: kills and reaps, when it goes out of scope, every process a test started
// (style rule 24). Each process is tracked through a pidfd opened when it is added, so a
// recycled pid can never be hit. Header-only test helper.
//
// kill_all() sends SIGKILL to the process's whole process group (PIDFD_SIGNAL_PROCESS_GROUP,
// which still reaches the group after its leader is gone) and to the process itself,
// reaps it if it is our child, and otherwise waits (bounded) until its pidfd reports
// the exit.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

namespace gaffer::testutil {

class ChildGuard {
public:
    ChildGuard() = default;
    ChildGuard(const ChildGuard&) = delete;
    ChildGuard& operator=(const ChildGuard&) = delete;
    ~ChildGuard() { kill_all(); }

    // Tracks `pid`. Returns false when it is already gone (nothing to clean up then).
    bool add(pid_t pid) {
        if (pid <= 0)
            return false;
        int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (fd < 0)
            return false;
        entries_.push_back(fd);
        return true;
    }

    // Tracks a process through a pidfd the caller keeps owning (dup'ed here).
    bool add_pidfd(int pidfd) {
        int fd = ::fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return false;
        entries_.push_back(fd);
        return true;
    }

    void kill_all() {
        for (int fd : entries_) {
            (void)::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, PIDFD_SIGNAL_PROCESS_GROUP);
            (void)::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
            siginfo_t si{};
            if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &si, WEXITED) < 0) {
                // Not our child (or already reaped): wait until it has died at least.
                struct pollfd p {
                    fd, POLLIN, 0
                };
                (void)::poll(&p, 1, 5000);
            }
            (void)::close(fd);
        }
        entries_.clear();
    }

private:
    std::vector<int> entries_;
};

}  // namespace gaffer::testutil
