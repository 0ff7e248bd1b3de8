// SPDX-License-Identifier: MIT
#include "lib/proc/spawner.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern "C" {
#include <sys/pidfd.h>
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)  // kernel 6.9; FIXME(glibc 2.40) drop
#endif

namespace gaffer::proc {

const char* to_string(ExecStage s) {
    switch (s) {
        case ExecStage::kNone:
            return "none";
        case ExecStage::kFork:
            return "fork";
        case ExecStage::kCgroup:
            return "cgroup";
        case ExecStage::kStdio:
            return "stdio";
        case ExecStage::kCwd:
            return "cwd";
        case ExecStage::kGid:
            return "gid";
        case ExecStage::kUid:
            return "uid";
        case ExecStage::kCaps:
            return "caps";
        case ExecStage::kExec:
            return "exec";
    }
    return "unknown";
}

std::string find_executable(const std::string& name, const std::string& path_var, const std::string& cwd) {
    if (name.empty() || name.find('/') != std::string::npos)
        return name;
    size_t i = 0;
    while (i <= path_var.size()) {
        size_t j = path_var.find(':', i);
        if (j == std::string::npos)
            j = path_var.size();
        // An empty PATH element means the current directory.
        std::string dir = j > i ? path_var.substr(i, j - i) : std::string(1, '.');
        std::string cand = dir + "/" + name;
        std::string check = (cand[0] == '/' || cwd.empty()) ? cand : cwd + "/" + cand;
        struct stat st;
        if (::stat(check.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(check.c_str(), X_OK) == 0)
            return cand;
        i = j + 1;
    }
    return name;
}

namespace {

constexpr size_t kStackSize = 128 * 1024;
constexpr int kMaxTargets = 3 + 64;  // stdio + at most 64 custom streams (the config's cap)

// The kernel's struct sigaction (x86_64 and most 64-bit ABIs): what rt_sigaction takes.
struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

// Everything the child needs, laid out by the parent before clone. The child reads it
// and writes only `stage`/`err` (shared memory, CLONE_VM).
struct ChildArgs {
    const char* path;
    char* const* argv;
    char* const* envp;
    const char* cwd;
    int uid;  // -1: unchanged
    int gid;
    const gid_t* groups;
    int n_groups;
    int umask;
    int fds[3];
    const int* extra;
    int n_extra;
    const int* cgroup_fds;  // cgroup.procs files to join by writing "0"
    int n_cgroup_fds;
    int cgroup_v2_procs;  // -1: none, or already born in it (clone3 CLONE_INTO_CGROUP)
    bool new_session;
    bool no_new_privs;
    const int* caps;
    int n_caps;
    bool drop_bounding;
    bool set_nofile;
    struct rlimit nofile;
    volatile int stage;
    volatile int err;
    int devnull;
};

[[noreturn]] __attribute__((no_sanitize("address", "undefined"))) void child_fail(ChildArgs* a, ExecStage s) {
    a->err = errno;
    a->stage = static_cast<int>(s);
    syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

__attribute__((no_sanitize("address", "undefined"))) int child_main(void* p) {
    auto* a = static_cast<ChildArgs*>(p);

    // A clean slate for signals: the daemon blocks the ones it reads through signalfd,
    // and a blocked or ignored signal survives execve.
    sigset_t empty;
    sigemptyset(&empty);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, _NSIG / 8);
    // Raw rt_sigaction: glibc's sigaction refuses 32 and 33 (its own reserved signals),
    // and an ignored 32 inherited from whoever started gafferd must not reach the job.
    for (int sig = 1; sig <= 64; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        KernelSigaction old{};
        if (syscall(SYS_rt_sigaction, sig, nullptr, &old, sizeof(uint64_t)) == 0 && old.handler == SIG_IGN) {
            KernelSigaction dfl{};
            dfl.handler = SIG_DFL;
            (void)syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(uint64_t));
        }
    }

    // Joining by a write costs the kernel an RCU grace period per call (milliseconds);
    // clone3 with CLONE_INTO_CGROUP makes the v2 one free, v1 hierarchies still pay.
    if (a->cgroup_v2_procs >= 0 && write(a->cgroup_v2_procs, "0", 1) != 1)
        child_fail(a, ExecStage::kCgroup);
    for (int i = 0; i < a->n_cgroup_fds; ++i)
        if (write(a->cgroup_fds[i], "0", 1) != 1)
            child_fail(a, ExecStage::kCgroup);

    if (a->new_session) {
        if (setsid() < 0)
            child_fail(a, ExecStage::kFork);
    } else if (setpgid(0, 0) < 0) {
        child_fail(a, ExecStage::kFork);
    }

    // Move every source fd above the target range first, so that dup2 into 0..n never
    // clobbers a source that happens to sit at a low number.
    int n_targets = 3 + a->n_extra;
    int moved[kMaxTargets];
    for (int i = 0; i < n_targets && i < kMaxTargets; ++i) {
        int src = i < 3 ? a->fds[i] : a->extra[i - 3];
        if (src < 0)
            src = a->devnull;
        moved[i] = fcntl(src, F_DUPFD_CLOEXEC, n_targets);
        if (moved[i] < 0)
            child_fail(a, ExecStage::kStdio);
    }
    for (int i = 0; i < n_targets && i < kMaxTargets; ++i) {
        if (dup2(moved[i], i) < 0)
            child_fail(a, ExecStage::kStdio);  // dup2 clears CLOEXEC
    }
    // Close everything else (fds inherited without CLOEXEC by the daemon included).
    if (syscall(SYS_close_range, n_targets, ~0U, 0) < 0) {
        for (int fd = n_targets; fd < 65536; ++fd) (void)close(fd);
    }

    if (a->cwd && chdir(a->cwd) < 0)
        child_fail(a, ExecStage::kCwd);

    if (a->umask >= 0)
        (void)umask(static_cast<mode_t>(a->umask));
    // Only ever lowers the soft limit, which needs no privilege; a failure leaves the
    // child with gafferd's (higher) limit, which is no reason to refuse the spawn.
    if (a->set_nofile)
        (void)syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &a->nofile, nullptr);

    if (a->gid >= 0) {
        gid_t g = static_cast<gid_t>(a->gid);
        if (a->n_groups > 0) {
            if (syscall(SYS_setgroups, a->n_groups, a->groups) < 0)
                child_fail(a, ExecStage::kGid);
        } else if (syscall(SYS_setgroups, 1, &g) < 0) {
            child_fail(a, ExecStage::kGid);
        }
        if (syscall(SYS_setresgid, g, g, g) < 0)
            child_fail(a, ExecStage::kGid);
    }

    if (a->drop_bounding) {
        for (int c = 0; c <= CAP_LAST_CAP; ++c) {
            bool keep = false;
            for (int k = 0; k < a->n_caps; ++k) keep = keep || a->caps[k] == c;
            if (!keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                child_fail(a, ExecStage::kCaps);
        }
    }
    if (a->n_caps > 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        child_fail(a, ExecStage::kCaps);

    if (a->uid >= 0) {
        uid_t u = static_cast<uid_t>(a->uid);
        if (syscall(SYS_setresuid, u, u, u) < 0)
            child_fail(a, ExecStage::kUid);
    }

    if (a->n_caps > 0) {
        struct __user_cap_header_struct hdr {};
        struct __user_cap_data_struct data[2]{};
        hdr.version = _LINUX_CAPABILITY_VERSION_3;
        for (int k = 0; k < a->n_caps; ++k) {
            int c = a->caps[k];
            data[c / 32].permitted |= 1u << (c % 32);
            data[c / 32].effective |= 1u << (c % 32);
            data[c / 32].inheritable |= 1u << (c % 32);
        }
        if (syscall(SYS_capset, &hdr, data) < 0)
            child_fail(a, ExecStage::kCaps);
        for (int k = 0; k < a->n_caps; ++k)
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, a->caps[k], 0, 0) < 0)
                child_fail(a, ExecStage::kCaps);
    }

    if (a->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(a, ExecStage::kCaps);

    execve(a->path, a->argv, a->envp);
    child_fail(a, ExecStage::kExec);
}

#if defined(__x86_64__)
// clone3 with CLONE_VM and a new stack returns, in the child, on that stack: no C
// function can make the call and survive it, so this one is written in assembly, the
// way libc's clone is. gaffer_clone3(args, size, fn, arg): in the child, runs fn(arg)
// and exits with its result; in the parent, returns the syscall's result (pid or
// -errno).
extern "C" long gaffer_clone3(struct clone_args* args, size_t size, int (*fn)(void*), void* arg);
asm(R"(
    .pushsection .text
    .p2align 4
    .type gaffer_clone3, @function
gaffer_clone3:
    .cfi_startproc
    movq %rdx, %r8
    movq %rcx, %r9
    movl $435, %eax
    syscall
    testq %rax, %rax
    jz 1f
    ret
1:
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r9, %rdi
    call *%r8
    movl %eax, %edi
    movl $60, %eax
    syscall
    hlt
    .cfi_endproc
    .size gaffer_clone3, .-gaffer_clone3
    .popsection
)");
constexpr bool kHaveClone3 = true;
static_assert(SYS_clone3 == 435 && SYS_exit == 60, "x86_64 system call numbers");
#else
// Elsewhere the child joins its v2 cgroup by writing to cgroup.procs.
extern "C" long gaffer_clone3(struct clone_args*, size_t, int (*)(void*), void*) {
    return -ENOSYS;
}
constexpr bool kHaveClone3 = false;
#endif

// Set once clone3 proved unusable (ENOSYS: kernel < 5.7, or a seccomp filter refusing
// it), so later spawns go straight to clone.
bool g_clone3_broken = !kHaveClone3;

void* child_stack() {
    // One stack serves every spawn: CLONE_VFORK keeps us suspended until the child is
    // done with it, and the loop is single-threaded.
    static void* stack = [] {
        void* s = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        return s == MAP_FAILED ? nullptr : s;
    }();
    return stack;
}

int devnull_fd() {
    static int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    return fd;
}

}  // namespace

Result<Child> spawn(const ExecSpec& spec, SpawnFailure* ret_failure) {
    SpawnFailure local;
    SpawnFailure& failure = ret_failure ? *ret_failure : local;
    failure = {};
    auto fail_at = [&](ExecStage stage, int err) {
        failure = {stage, err};
        return fail(Error::make(err, "spawn '%s': %s stage", spec.path.c_str(), to_string(stage)));
    };

    if (spec.argv.empty())
        return fail_at(ExecStage::kExec, EINVAL);
    if (spec.extra_fds.size() > kMaxTargets - 3)
        return fail_at(ExecStage::kStdio, EMFILE);
    int devnull = devnull_fd();
    if (devnull < 0)
        return fail_at(ExecStage::kStdio, errno);
    void* stack = child_stack();
    if (!stack)
        return fail_at(ExecStage::kFork, ENOMEM);

    std::vector<char*> argv, envp;
    argv.reserve(spec.argv.size() + 1);
    for (const auto& s : spec.argv) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    envp.reserve(spec.envp.size() + 1);
    for (const auto& s : spec.envp) envp.push_back(const_cast<char*>(s.c_str()));
    envp.push_back(nullptr);

    ChildArgs a{};
    a.path = spec.path.c_str();
    a.argv = argv.data();
    a.envp = envp.data();
    a.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
    a.uid = spec.uid ? static_cast<int>(*spec.uid) : -1;
    a.gid = spec.gid ? static_cast<int>(*spec.gid) : -1;
    a.groups = spec.groups.data();
    a.n_groups = static_cast<int>(spec.groups.size());
    a.umask = spec.umask;
    a.fds[0] = spec.stdin_fd;
    a.fds[1] = spec.stdout_fd;
    a.fds[2] = spec.stderr_fd;
    a.extra = spec.extra_fds.data();
    a.n_extra = static_cast<int>(spec.extra_fds.size());
    a.cgroup_fds = spec.cgroup_procs_fds.data();
    a.n_cgroup_fds = static_cast<int>(spec.cgroup_procs_fds.size());
    a.cgroup_v2_procs = spec.cgroup_v2_procs_fd;
    a.new_session = spec.new_session;
    a.no_new_privs = spec.no_new_privs;
    a.caps = spec.ambient_caps.data();
    a.n_caps = static_cast<int>(spec.ambient_caps.size());
    a.drop_bounding = spec.drop_bounding;
    if (spec.nofile_soft && getrlimit(RLIMIT_NOFILE, &a.nofile) == 0) {
        a.nofile.rlim_cur = std::min<rlim_t>(*spec.nofile_soft, a.nofile.rlim_max);
        a.set_nofile = true;
    }
    a.stage = 0;
    a.err = 0;
    a.devnull = devnull;

    int pidfd = -1;
    pid_t pid = -1;
    errno = ENOSYS;
    if (spec.cgroup_v2_dir_fd >= 0 && !g_clone3_broken) {
        // Born in its cgroup: no migration afterwards (see the child's join).
        struct clone_args ca;
        memset(&ca, 0, sizeof ca);
        ca.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_INTO_CGROUP;
        ca.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
        ca.exit_signal = SIGCHLD;
        ca.stack = reinterpret_cast<uintptr_t>(stack);
        ca.stack_size = kStackSize;
        ca.cgroup = static_cast<uint64_t>(spec.cgroup_v2_dir_fd);
        a.cgroup_v2_procs = -1;
        long r = gaffer_clone3(&ca, sizeof ca, child_main, &a);
        if (r >= 0) {
            pid = static_cast<pid_t>(r);
        } else {
            errno = static_cast<int>(-r);
            if (errno == ENOSYS || errno == EPERM)
                g_clone3_broken = true;
            // Any refusal (EBUSY: the group has controllers of its own; E2BIG; an
            // older kernel): the classic way below, joining by a write.
            a.cgroup_v2_procs = spec.cgroup_v2_procs_fd;
            a.stage = 0;
            pidfd = -1;
        }
    }
    if (pid < 0) {
        pid = clone(child_main, static_cast<char*>(stack) + kStackSize, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                    &a, &pidfd);
    }
    if (pid < 0 && (errno == EINVAL || errno == EPERM || errno == ENOSYS)) {
        // FIXME(kernel 5.2): no CLONE_PIDFD (or a seccomp filter refusing it): spawn
        // without it and open the pidfd afterwards; the child cannot have been reaped
        // in between because only we reap, and only through pidfds.
        a.stage = 0;
        pid = clone(child_main, static_cast<char*>(stack) + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
        if (pid > 0) {
            pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
            if (pidfd < 0) {
                int err = errno;
                (void)::kill(pid, SIGKILL);
                (void)waitpid(pid, nullptr, 0);
                return fail_at(ExecStage::kFork, err);
            }
            (void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
        }
    }
    if (pid < 0)
        return fail_at(ExecStage::kFork, errno);
    Child child{pid, UniqueFd(pidfd)};
    if (a.stage != 0) {
        // The child has exited with 127 already; collect it so no zombie is left.
        siginfo_t si;
        (void)waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(child.pidfd.get()), &si, WEXITED);
        return fail_at(static_cast<ExecStage>(a.stage), a.err);
    }
    return child;
}

Status send_signal(const Child& child, int sig, bool group) {
    if (!child.pidfd)
        return fail(Error::make(EBADF, "no pidfd"));
    if (group) {
        if (pidfd_send_signal(child.pidfd.get(), sig, nullptr, PIDFD_SIGNAL_PROCESS_GROUP) == 0)
            return ok();
        if (errno == ESRCH)
            return ok();
        if (errno != EINVAL)
            return fail(Error::from_errno("pidfd_send_signal(%d, group)", child.pid));
        // Older kernels: the leader is not reaped yet (we hold its status), so its pid
        // still names its process group.
        if (::kill(-child.pid, sig) == 0 || errno == ESRCH) {
            if (errno == ESRCH)
                (void)pidfd_send_signal(child.pidfd.get(), sig, nullptr, 0);
            return ok();
        }
    }
    if (pidfd_send_signal(child.pidfd.get(), sig, nullptr, 0) == 0 || errno == ESRCH)
        return ok();
    return fail(Error::from_errno("pidfd_send_signal(%d)", child.pid));
}

Result<ExitStatus> try_reap(const Child& child) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(child.pidfd.get()), &si, WEXITED | WNOHANG) < 0)
        return fail(Error::from_errno("waitid(%d)", child.pid));
    ExitStatus st;
    if (si.si_pid == 0)
        return st;
    st.exited = true;
    if (si.si_code == CLD_EXITED) {
        st.exit_status = si.si_status;
    } else {
        st.term_signal = si.si_status;
    }
    return st;
}

}  // namespace gaffer::proc
