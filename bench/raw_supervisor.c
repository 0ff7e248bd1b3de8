// SPDX-License-Identifier: MIT
// raw_supervisor: the physical baseline of the benchmarks (bench/README.md).
//
// The least a process supervisor has to do: posix_spawn each child, keep a pidfd for
// it, wait for all of them in one epoll loop, restart the ones that die, stop them
// with SIGTERM then SIGKILL after a grace period, and answer a tiny control interface
// so that "reported running by the peer's own API" applies to it like to the others.
// No config files, no logging, no cgroups, no per-process bookkeeping beyond a table.
//
//   raw_supervisor serve SOCKET         run the supervisor on a unix socket
//   raw_supervisor ctl SOCKET CMD...    send one command, print the answer (the "CLI")
//   raw_supervisor writer BYTES RESULT  the output scenario's child: writes BYTES of log
//                                       lines to stdout through stdio, then writes its
//                                       elapsed seconds to the file RESULT
//
// Protocol: one line per command, words separated by single spaces (%XX in a word is
// the byte XX, so "%20" is a space); every answer is "ok" or "err <why>", optional
// lines, then a line ".".
//   add NAME N GRACE_MS OUT RESTART ARGV...
//                                    spawn N children of ARGV (OUT: "-" = /dev/null,
//                                    else stdout is captured into file OUT; RESTART:
//                                    "always" or "never")
//   scale NAME N                     spawn or stop children to reach N
//   stop NAME                        target 0: SIGTERM each, SIGKILL after GRACE_MS
//   remove NAME                      stop, then forget the group once it is empty
//   status [NAME]                    one line per child: NAME ID PID running|stopping
//   ping                             ok
//   quit                             stop everything, exit once every child is reaped
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

enum { MAX_ARGS = 32, MAX_GROUPS = 256, LINE_MAX_LEN = 4096 };

typedef struct Group {
    char name[64];
    char* argv[MAX_ARGS + 1];
    int target;
    int grace_ms;
    int out_fd;  // capture file, or -1
    int restart;
    int removed;
    int used;
} Group;

typedef struct Proc {
    int group;
    long id;
    pid_t pid;
    int pidfd;
    int out_fd;        // read end of the stdout pipe, or -1
    int stopping;
    int64_t kill_at;   // ms, monotonic; 0 = none
    struct Proc* next;
} Proc;

typedef struct Client {
    int fd;
    char in[LINE_MAX_LEN];
    size_t in_len;
    char* out;
    size_t out_len, out_cap, out_off;
} Client;

// epoll tags: the low 2 bits of a heap pointer say what it is; the listening socket and
// the signalfd point at two static ints instead.
#define TAG_PIDFD 0x0u
#define TAG_PIPE 0x1u
#define TAG_CLIENT 0x2u

static Group groups[MAX_GROUPS];
static Proc* procs;
static long next_id = 1;
static int ep = -1;
static int quitting;
static int devnull = -1;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char* what) {
    perror(what);
    exit(1);
}

static void ep_add(int fd, uint32_t events, void* ptr) {
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

// ---- output buffer of a client ----

static void out_append(Client* c, const char* s, size_t n) {
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
        while (cap < c->out_len + n) cap *= 2;
        c->out = realloc(c->out, cap);
        if (!c->out) die("realloc");
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
}

static void out_printf(Client* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(Client* c, const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) out_append(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

// ---- children ----

static int count_running(int g) {
    int n = 0;
    for (Proc* p = procs; p; p = p->next)
        if (p->group == g && !p->stopping) n++;
    return n;
}

static int spawn_one(int g) {
    Group* gr = &groups[g];
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    sigset_t none, all;
    int pipefd[2] = {-1, -1};
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    if (gr->out_fd >= 0) {
        if (pipe2(pipefd, O_CLOEXEC) < 0) return -1;
        fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    } else {
        posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    }
    posix_spawn_file_actions_adddup2(&fa, devnull, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, gr->argv[0], &fa, &attr, gr->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (pipefd[1] >= 0) close(pipefd[1]);
    if (rc != 0) {
        if (pipefd[0] >= 0) close(pipefd[0]);
        errno = rc;
        return -1;
    }
    // Nothing else reaps, so the pid cannot be recycled before this.
    int pfd = pidfd_open(pid, 0);
    if (pfd < 0) die("pidfd_open");
    Proc* p = calloc(1, sizeof *p);
    if (!p) die("calloc");
    p->group = g;
    p->id = next_id++;
    p->pid = pid;
    p->pidfd = pfd;
    p->out_fd = pipefd[0];
    p->next = procs;
    procs = p;
    ep_add(pfd, EPOLLIN, (void*)((uintptr_t)p | TAG_PIDFD));
    if (p->out_fd >= 0) ep_add(p->out_fd, EPOLLIN, (void*)((uintptr_t)p | TAG_PIPE));
    return 0;
}

static void stop_proc(Proc* p) {
    if (p->stopping) return;
    p->stopping = 1;
    pidfd_send_signal(p->pidfd, SIGTERM, NULL, 0);
    kill(-p->pid, SIGCONT);
    p->kill_at = now_ms() + groups[p->group].grace_ms;
    if (p->kill_at == 0) p->kill_at = 1;
}

// Spawn or stop children of group g to reach its target (newest stopped first).
static int reconcile(int g) {
    Group* gr = &groups[g];
    int running = count_running(g);
    while (running < gr->target && !quitting) {
        if (spawn_one(g) < 0) return -1;
        running++;
    }
    while (running > gr->target) {
        Proc* newest = NULL;  // the list is newest first
        for (Proc* p = procs; p; p = p->next)
            if (p->group == g && !p->stopping) {
                newest = p;
                break;
            }
        if (!newest) break;
        stop_proc(newest);
        running--;
    }
    return 0;
}

static void close_pipe(Proc* p) {
    epoll_ctl(ep, EPOLL_CTL_DEL, p->out_fd, NULL);
    close(p->out_fd);
    p->out_fd = -1;
}

// Moves what the pipe holds into the capture file (splice: no copy through user space).
static void drain_pipe(Proc* p) {
    int out = groups[p->group].out_fd;
    while (p->out_fd >= 0) {
        ssize_t n = -1;
        if (out >= 0) n = splice(p->out_fd, NULL, out, NULL, 1 << 20, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (out < 0 || (n < 0 && errno == EINVAL)) {  // no capture file, or no splice
            char buf[65536];
            n = read(p->out_fd, buf, sizeof buf);
            if (n > 0 && out >= 0 && write(out, buf, (size_t)n) < 0) n = -1;
        }
        if (n > 0) continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        close_pipe(p);  // EOF or error
    }
}

static void reap(Proc* p) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG);
    if (r < 0 && errno == EINTR) return;
    if (r == 0 && si.si_pid == 0) return;  // not exited yet
    if (p->out_fd >= 0) {
        drain_pipe(p);
        if (p->out_fd >= 0) close_pipe(p);  // a grandchild may hold the pipe open
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, p->pidfd, NULL);
    close(p->pidfd);
    int g = p->group;
    for (Proc** pp = &procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    int was_stopping = p->stopping;
    free(p);
    Group* gr = &groups[g];
    if (!was_stopping && !gr->restart && gr->target > 0) gr->target--;
    reconcile(g);  // an unexpected exit: restart at once
    if (gr->removed && gr->target == 0) {
        int left = 0;
        for (Proc* q = procs; q; q = q->next) left += q->group == g;
        if (!left) {
            for (int i = 0; gr->argv[i]; i++) free(gr->argv[i]);
            if (gr->out_fd >= 0) close(gr->out_fd);
            memset(gr, 0, sizeof *gr);
        }
    }
}

// ---- commands ----

static int find_group(const char* name) {
    for (int i = 0; i < MAX_GROUPS; i++)
        if (groups[i].used && !groups[i].removed && strcmp(groups[i].name, name) == 0) return i;
    return -1;
}

static void percent_decode(char* w) {
    char* out = w;
    for (char* in = w; *in; in++) {
        if (in[0] == '%' && in[1] && in[2]) {
            char hex[3] = {in[1], in[2], 0};
            *out++ = (char)strtol(hex, NULL, 16);
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = 0;
}

static void command(Client* c, char* line) {
    char* words[MAX_ARGS + 8];
    int n = 0;
    for (char* save = NULL, *w = strtok_r(line, " ", &save); w && n < MAX_ARGS + 7; w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    words[n] = NULL;
    for (int i = 0; i < n; i++) percent_decode(words[i]);
    if (n == 0) {
        out_printf(c, "err empty\n.\n");
        return;
    }
    const char* cmd = words[0];
    if (strcmp(cmd, "ping") == 0) {
        out_printf(c, "ok\n.\n");
    } else if (strcmp(cmd, "add") == 0 && n >= 7) {
        if (find_group(words[1]) >= 0) {
            out_printf(c, "err exists\n.\n");
            return;
        }
        int g = -1;
        for (int i = 0; i < MAX_GROUPS; i++)
            if (!groups[i].used) {
                g = i;
                break;
            }
        if (g < 0) {
            out_printf(c, "err too many groups\n.\n");
            return;
        }
        Group* gr = &groups[g];
        memset(gr, 0, sizeof *gr);
        gr->used = 1;
        snprintf(gr->name, sizeof gr->name, "%s", words[1]);
        gr->target = atoi(words[2]);
        gr->grace_ms = atoi(words[3]);
        gr->out_fd = -1;
        if (strcmp(words[4], "-") != 0) {
            gr->out_fd = open(words[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (gr->out_fd < 0) {
                out_printf(c, "err open %s\n.\n", strerror(errno));
                gr->used = 0;
                return;
            }
        }
        gr->restart = strcmp(words[5], "never") != 0;
        for (int i = 6, j = 0; i < n && j < MAX_ARGS; i++, j++) gr->argv[j] = strdup(words[i]);
        if (reconcile(g) < 0)
            out_printf(c, "err spawn %s\n.\n", strerror(errno));
        else
            out_printf(c, "ok\n.\n");
    } else if ((strcmp(cmd, "scale") == 0 && n == 3) || (strcmp(cmd, "stop") == 0 && n == 2) ||
               (strcmp(cmd, "remove") == 0 && n == 2)) {
        int g = find_group(words[1]);
        if (g < 0) {
            out_printf(c, "err no such group\n.\n");
            return;
        }
        groups[g].target = cmd[1] == 'c' ? atoi(words[2]) : 0;
        if (cmd[0] == 'r') {
            groups[g].removed = 1;
            int left = 0;
            for (Proc* q = procs; q; q = q->next) left += q->group == g;
            if (!left) {
                for (int i = 0; groups[g].argv[i]; i++) free(groups[g].argv[i]);
                if (groups[g].out_fd >= 0) close(groups[g].out_fd);
                memset(&groups[g], 0, sizeof groups[g]);
                out_printf(c, "ok\n.\n");
                return;
            }
        }
        if (reconcile(g) < 0)
            out_printf(c, "err spawn %s\n.\n", strerror(errno));
        else
            out_printf(c, "ok\n.\n");
    } else if (strcmp(cmd, "status") == 0 && n <= 2) {
        out_printf(c, "ok\n");
        for (Proc* p = procs; p; p = p->next) {
            const char* name = groups[p->group].name;
            if (n == 2 && strcmp(name, words[1]) != 0) continue;
            out_printf(c, "%s %ld %d %s\n", name, p->id, (int)p->pid, p->stopping ? "stopping" : "running");
        }
        out_printf(c, ".\n");
    } else if (strcmp(cmd, "quit") == 0) {
        quitting = 1;
        for (int g = 0; g < MAX_GROUPS; g++) groups[g].target = 0;
        for (Proc* p = procs; p; p = p->next) stop_proc(p);
        out_printf(c, "ok\n.\n");
    } else {
        out_printf(c, "err unknown command\n.\n");
    }
}

static void client_close(Client* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    free(c);
}

static void client_flush(Client* c) {
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            c->out_off = c->out_len = 0;
            return;
        }
        c->out_off += (size_t)n;
    }
    uint32_t want = EPOLLIN | (c->out_off < c->out_len ? EPOLLOUT : 0);
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    struct epoll_event ev = {.events = want, .data.ptr = (void*)((uintptr_t)c | TAG_CLIENT)};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void client_event(Client* c, uint32_t events) {
    if (events & EPOLLOUT) client_flush(c);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len - 1);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            client_close(c);
            return;
        }
        if (n < 0) break;
        c->in_len += (size_t)n;
        char* nl;
        while ((nl = memchr(c->in, '\n', c->in_len))) {
            *nl = 0;
            command(c, c->in);
            size_t used = (size_t)(nl - c->in) + 1;
            memmove(c->in, nl + 1, c->in_len - used);
            c->in_len -= used;
        }
        if (c->in_len == sizeof c->in - 1) {  // a line too long: drop the client
            client_close(c);
            return;
        }
    }
    client_flush(c);
}

static int serve(const char* path) {
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) die("/dev/null");
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    unlink(path);
    if (bind(lfd, (struct sockaddr*)&sa, sizeof sa) < 0 || listen(lfd, 128) < 0) die("bind");
    ep = epoll_create1(EPOLL_CLOEXEC);
    static int listen_tag, signal_tag;
    ep_add(lfd, EPOLLIN, &listen_tag);
    ep_add(sfd, EPOLLIN, &signal_tag);
    struct epoll_event evs[256];
    for (;;) {
        if (quitting && !procs) break;
        int timeout = -1;
        int64_t now = now_ms();
        for (Proc* p = procs; p; p = p->next)
            if (p->stopping && p->kill_at) {
                int64_t left = p->kill_at - now;
                if (left <= 0) {
                    pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
                    kill(-p->pid, SIGKILL);
                    p->kill_at = 0;
                } else if (timeout < 0 || left < timeout) {
                    timeout = (int)left;
                }
            }
        int n = epoll_wait(ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            void* ptr = evs[i].data.ptr;
            if (ptr == &listen_tag) {
                for (;;) {
                    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                    if (cfd < 0) break;
                    Client* c = calloc(1, sizeof *c);
                    c->fd = cfd;
                    ep_add(cfd, EPOLLIN, (void*)((uintptr_t)c | TAG_CLIENT));
                }
            } else if (ptr == &signal_tag) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == sizeof si) {
                    quitting = 1;
                    for (int g = 0; g < MAX_GROUPS; g++) groups[g].target = 0;
                    for (Proc* p = procs; p; p = p->next) stop_proc(p);
                }
            } else {
                uintptr_t v = (uintptr_t)ptr;
                unsigned tag = (unsigned)(v & 3u);
                void* obj = (void*)(v & ~(uintptr_t)3u);
                if (tag == TAG_CLIENT)
                    client_event(obj, evs[i].events);
                else if (tag == TAG_PIPE)
                    drain_pipe(obj);
                else
                    reap(obj);
            }
        }
    }
    unlink(path);
    return 0;
}

// ---- the CLI ----

static int ctl(const char* path, int argc, char** argv) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr*)&sa, sizeof sa) < 0) die("connect");
    char line[LINE_MAX_LEN];
    size_t len = 0;
    for (int i = 0; i < argc; i++) {
        int n = snprintf(line + len, sizeof line - len, "%s%s", i ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof line - len - 1) return 2;
        len += (size_t)n;
    }
    line[len++] = '\n';
    if (write(fd, line, len) != (ssize_t)len) die("write");
    // Read until a line ".".
    char buf[65536];
    size_t have = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0) break;
        have += (size_t)n;
        char* start = buf;
        char* nl;
        int done = 0;
        while ((nl = memchr(start, '\n', (size_t)(buf + have - start)))) {
            *nl = 0;
            if (strcmp(start, ".") == 0) {
                done = 1;
                break;
            }
            if (strncmp(start, "err", 3) == 0) rc = 1;
            if (strcmp(start, "ok") != 0) puts(start);
            start = nl + 1;
        }
        if (done) break;
        have = (size_t)(buf + have - start);
        memmove(buf, start, have);
    }
    close(fd);
    return rc;
}

// ---- the output child ----

static int writer(long long bytes, const char* result) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long written = 0;
    unsigned long req = 0;
    while (written < bytes) {
        int n = printf("2026-01-01T00:00:00.%06lu INFO worker=7 request=%lu method=GET path=/api/v1/items/%lu "
                       "status=200 bytes=%lu\n",
                       req % 1000000, req, req * 7919 % 100000, req * 31 % 65536);
        if (n < 0) return 1;
        written += n;
        req++;
    }
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    FILE* f = fopen(result, "w");
    if (!f) return 1;
    fprintf(f, "%lld %.6f\n", written, secs);
    fclose(f);
    return 0;
}

int main(int argc, char** argv) {
    if (argc >= 3 && strcmp(argv[1], "serve") == 0) return serve(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "ctl") == 0) return ctl(argv[2], argc - 3, argv + 3);
    if (argc == 4 && strcmp(argv[1], "writer") == 0) return writer(atoll(argv[2]), argv[3]);
    fprintf(stderr,
            "usage: raw_supervisor serve SOCKET | ctl SOCKET CMD... | writer BYTES RESULT\n");
    return 2;
}
