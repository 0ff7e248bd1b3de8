// SPDX-License-Identifier: MIT
// Child program for tests/system/cgroup/cgroup_test.cc. Modes:
//   burn          spin on the CPU forever
//   idle          sleep forever (pause)
//   touch <MiB>   allocate and touch <MiB> MiB, print "ready", then sleep forever
//   orphan        fork a grandchild that calls setsid(), ignores SIGTERM, prints
//                 "ready <pid>" and sleeps forever; the helper itself exits 0 at once
// Everything it prints goes to stdout, one line, for the test to wait on.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

void say(const char* line) {
    // Unbuffered: the test waits for the line while the process lives on.
    (void)!write(STDOUT_FILENO, line, strlen(line));
}

[[noreturn]] void sleep_forever() {
    for (;;) pause();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "burn") == 0) {
        volatile unsigned long n = 0;
        for (;;) n = n + 1;
    }
    if (strcmp(argv[1], "idle") == 0)
        sleep_forever();
    if (strcmp(argv[1], "touch") == 0 && argc > 2) {
        size_t bytes = static_cast<size_t>(strtoul(argv[2], nullptr, 10)) << 20;
        auto* p = static_cast<volatile char*>(malloc(bytes));
        if (!p)
            return 3;
        long page = sysconf(_SC_PAGESIZE);
        for (size_t i = 0; i < bytes; i += static_cast<size_t>(page)) p[i] = 1;
        say("ready\n");
        sleep_forever();
    }
    if (strcmp(argv[1], "orphan") == 0) {
        pid_t pid = fork();
        if (pid < 0)
            return 4;
        if (pid > 0)
            return 0;
        if (setsid() < 0)
            _exit(5);
        signal(SIGTERM, SIG_IGN);
        char line[64];
        snprintf(line, sizeof line, "ready %d\n", static_cast<int>(getpid()));
        say(line);
        sleep_forever();
    }
    return 2;
}
