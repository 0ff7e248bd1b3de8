// SPDX-License-Identifier: MIT
// paced_writer: the child of the Procfile bench (bench/procfile_bench.py).
//
//   paced_writer NAME LINES_PER_S LINE_LEN COUNT_DIR
//
// Writes one line at once ("BL NAME 0 first ..."), then LINES_PER_S lines a second of
// LINE_LEN bytes (newline included), each with its own write(2), so that whoever reads
// the pipe sees every line as soon as it is written (the "flush each line" of a
// well-behaved program). Every line carries "BL NAME SEQ " so that the bench can count
// lines per process and spot gaps, whatever prefix or colour the tool adds.
//
// Pacing: lines are written in 1 ms ticks against an absolute schedule; when the reader
// is slower (the pipe is full and write blocks), the writer falls behind, and a debt of
// more than 100 ms is dropped rather than burst out later, so the rate the bench sees is
// what the tool sustains.
//
// On SIGTERM, SIGINT or SIGHUP (or EPIPE) it stops and writes "LINES BYTES" (lines and
// bytes fully written) to COUNT_DIR/NAME.PID, for the bench's loss check.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

static long long ns_of(const struct timespec* t) {
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static int write_line(const char* buf, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(1, buf + off, len - off);
        if (n < 0) {
            if (errno == EINTR) {
                if (stop_flag && off == 0)
                    return -1;
                continue;
            }
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: paced_writer NAME LINES_PER_S LINE_LEN COUNT_DIR\n");
        return 2;
    }
    const char* name = argv[1];
    long rate = atol(argv[2]);
    long len = atol(argv[3]);
    const char* dir = argv[4];
    if (rate < 1 || len < 40 || len > 4000 || strlen(name) > 64) {
        fprintf(stderr, "paced_writer: bad arguments\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;  // no SA_RESTART: a blocked write returns EINTR
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char line[4096];
    long long lines = 0, bytes = 0;
    // The first line: at once.
    int n = snprintf(line, sizeof line, "BL %s 0 first\n", name);
    if (write_line(line, (size_t)n) == 0) {
        lines = 1;
        bytes = n;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long start = ns_of(&t0), due_lines = 0;
    unsigned long long seq = 1;
    while (!stop_flag) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long elapsed = ns_of(&now) - start;
        long long target = elapsed / 1000000LL * rate / 1000;  // lines due by the last 1 ms tick
        if (target - due_lines > rate / 10)
            due_lines = target - rate / 10;  // drop a debt > 100 ms
        while (due_lines < target && !stop_flag) {
            int h = snprintf(line, sizeof line, "BL %s %llu ", name, seq);
            long fill = len - 1 - h;
            if (fill < 0)
                fill = 0;
            memset(line + h, 'a' + (int)(seq % 26), (size_t)fill);
            line[h + fill] = '\n';
            if (write_line(line, (size_t)(h + fill + 1)) != 0) {
                stop_flag = 1;
                break;
            }
            lines++;
            bytes += h + fill + 1;
            seq++;
            due_lines++;
        }
        struct timespec next = {0, 0};
        long long next_ns = start + (elapsed / 1000000LL + 1) * 1000000LL;
        next.tv_sec = next_ns / 1000000000LL;
        next.tv_nsec = next_ns % 1000000000LL;
        while (!stop_flag && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%ld", dir, name, (long)getpid());
    FILE* f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "%lld %lld\n", lines, bytes);
    fclose(f);
    return 0;
}
