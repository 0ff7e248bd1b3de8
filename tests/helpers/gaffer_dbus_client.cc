// SPDX-License-Identifier: MIT
// gaffer-dbus-client: a small sd-bus client of org.gaffer1 for the integration tests and
// the bench (issue 13). busctl cannot use a file descriptor it receives, and spawning
// busctl per call measures busctl's start-up rather than the daemon, so this client keeps
// one connection and does the few things those need:
//
//   open-output ADDRESS PID LABEL EXPECT TIMEOUT_MS [manager|process]
//       OpenProcessOutput(u, s) on /org/gaffer1 (manager, the default) or OpenOutput(s) on
//       /org/gaffer1/process/PID, then reads the returned pipe and prints what it reads
//       until EXPECT appears. Exit 0: seen; 2: not within TIMEOUT_MS; 3: the call failed
//       (prints "error NAME: MESSAGE"); 4: the pipe ended first.
//       "open" is printed (and flushed) once the call has answered, before the first read.
//   hold-output ADDRESS PID LABEL HOLD_MS
//       OpenProcessOutput(u, s), prints "open", then holds the descriptor without
//       reading until stdin ends or HOLD_MS have passed (a reader that does not keep up);
//       then reads what is there without waiting and prints "read <bytes>".
//   write ADDRESS PID CHUNK_BYTES MAX_BYTES
//       WriteProcess(PID, CHUNK_BYTES bytes) again and again until MAX_BYTES are written
//       (prints "wrote N", exit 0) or a call fails (prints "error NAME: MESSAGE" and
//       "wrote N", exit 3): what a client that writes faster than the process reads
//       gets, without spawning busctl per call.
//   subscribe ADDRESS HOLD_MS
//       Subscribe(), prints "subscribed <its unique name>", then keeps the connection (a subscription ends
//       when its client leaves the bus) until stdin ends or HOLD_MS have passed.
//   bench-list ADDRESS SAMPLES BUDGET_S
//       ListProcesses() round trips, the reply read to its end.
//   bench-getjob ADDRESS JOB SAMPLES BUDGET_S
//       GetJob(JOB) then Get(org.gaffer1.Job, NumProcesses) on the returned path, timed
//       together.
//   The bench commands print one JSON line: {"samples_us": [...], "entries": N}; they
//   stop after SAMPLES round trips or once BUDGET_S seconds have passed (at least 5).
//
// Every wait is bounded; it is a test tool, so it may block (it has no event loop).
#include <poll.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kService = "org.gaffer1";
constexpr const char* kManagerPath = "/org/gaffer1";
constexpr const char* kManager = "org.gaffer1.Manager";
constexpr uint64_t kCallTimeoutUs = 10'000'000;

struct BusUnref {
    void operator()(sd_bus* b) const noexcept { sd_bus_flush_close_unref(b); }
};
struct MessageUnref {
    void operator()(sd_bus_message* m) const noexcept { sd_bus_message_unref(m); }
};
using BusPtr = std::unique_ptr<sd_bus, BusUnref>;
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

// Owns an sd_bus_error until the end of the scope.
struct BusError {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    BusError() = default;
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;
    ~BusError() { sd_bus_error_free(&e); }
};

int fail(const char* what, int r) {
    std::fprintf(stderr, "gaffer-dbus-client: %s: %s\n", what, std::strerror(-r));
    return 1;
}

// A bus client connection to address, or null after saying why on stderr.
BusPtr connect(const char* address) {
    sd_bus* raw = nullptr;
    if (sd_bus_new(&raw) < 0) {
        std::fprintf(stderr, "gaffer-dbus-client: sd_bus_new failed\n");
        return nullptr;
    }
    BusPtr bus(raw);
    if (sd_bus_set_address(bus.get(), address) < 0 || sd_bus_set_bus_client(bus.get(), 1) < 0 ||
        sd_bus_negotiate_fds(bus.get(), 1) < 0 || sd_bus_set_method_call_timeout(bus.get(), kCallTimeoutUs) < 0 ||
        sd_bus_start(bus.get()) < 0) {
        std::fprintf(stderr, "gaffer-dbus-client: cannot connect to %s\n", address);
        return nullptr;
    }
    return bus;
}

bool parse_u32(const char* s, uint32_t* ret) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX) {
        return false;
    }
    *ret = static_cast<uint32_t>(v);
    return true;
}

// Calls OpenProcessOutput(pid, label) on the manager (or OpenOutput(label) on the
// process's object) and prints "open". Returns the reply, which owns the descriptor
// (*ret_fd), or null after printing "error NAME: MESSAGE".
MessagePtr open_stream(sd_bus* bus, uint32_t pid, const char* label, bool via_process, int* ret_fd) {
    BusError error;
    sd_bus_message* raw = nullptr;
    int r;
    if (via_process) {
        std::string path = std::string(kManagerPath) + "/process/" + std::to_string(pid);
        r = sd_bus_call_method(bus, kService, path.c_str(), "org.gaffer1.Process", "OpenOutput", &error.e, &raw, "s",
                               label);
    } else {
        r = sd_bus_call_method(bus, kService, kManagerPath, kManager, "OpenProcessOutput", &error.e, &raw, "us", pid,
                               label);
    }
    MessagePtr reply(raw);
    if (r < 0) {
        std::printf("error %s: %s\n", error.e.name ? error.e.name : "?", error.e.message ? error.e.message : "");
        return nullptr;
    }
    r = sd_bus_message_read(reply.get(), "h", ret_fd);
    if (r < 0) {
        (void)fail("reading the reply", r);
        return nullptr;
    }
    std::printf("open\n");
    std::fflush(stdout);
    return reply;
}

// Waits until stdin ends or ms milliseconds have passed.
void wait_stdin_or(uint32_t ms) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return;
        }
        if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
            char buf[256];
            if (::read(STDIN_FILENO, buf, sizeof buf) <= 0) {
                return;
            }
        }
    }
}

int open_output(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: open-output ADDRESS PID LABEL EXPECT TIMEOUT_MS [manager|process]\n");
        return 1;
    }
    uint32_t pid = 0;
    uint32_t timeout_ms = 0;
    if (!parse_u32(argv[3], &pid) || !parse_u32(argv[6], &timeout_ms)) {
        std::fprintf(stderr, "gaffer-dbus-client: PID and TIMEOUT_MS are numbers\n");
        return 1;
    }
    BusPtr bus = connect(argv[2]);
    if (!bus) {
        return 1;
    }
    int fd = -1;
    MessagePtr reply = open_stream(bus.get(), pid, argv[4], argc > 7 && std::string_view(argv[7]) == "process", &fd);
    if (!reply) {
        return 3;
    }
    const std::string expect = argv[5];
    std::string seen;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            std::printf("timeout\n");
            return 2;
        }
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno != EINTR) {
            return fail("poll", -errno);
        }
        if (r <= 0) {
            continue;
        }
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            std::printf("eof\n");
            return 4;
        }
        std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
        std::fflush(stdout);
        // Bounded: only the tail that could still hold a split EXPECT is kept.
        seen.append(buf, static_cast<size_t>(n));
        if (seen.find(expect) != std::string::npos) {
            return 0;
        }
        if (seen.size() > expect.size()) {
            seen.erase(0, seen.size() - expect.size());
        }
    }
}

int hold_output(int argc, char** argv) {
    uint32_t pid = 0;
    uint32_t hold_ms = 0;
    if (argc < 6 || !parse_u32(argv[3], &pid) || !parse_u32(argv[5], &hold_ms)) {
        std::fprintf(stderr, "usage: hold-output ADDRESS PID LABEL HOLD_MS\n");
        return 1;
    }
    BusPtr bus = connect(argv[2]);
    if (!bus) {
        return 1;
    }
    int fd = -1;
    MessagePtr reply = open_stream(bus.get(), pid, argv[4], false, &fd);
    if (!reply) {
        return 3;
    }
    wait_stdin_or(hold_ms);
    size_t total = 0;
    char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) {
            break;
        }
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        total += static_cast<size_t>(n);
        if (total > (64u << 20)) {
            break;  // bounded: the writer may be faster than we read
        }
    }
    std::printf("read %zu\n", total);
    return 0;
}

int write_stdin(int argc, char** argv) {
    uint32_t pid = 0;
    uint32_t chunk = 0;
    uint32_t max = 0;
    if (argc < 6 || !parse_u32(argv[3], &pid) || !parse_u32(argv[4], &chunk) || !parse_u32(argv[5], &max) ||
        chunk == 0 || chunk > (1u << 20)) {
        std::fprintf(stderr, "usage: write ADDRESS PID CHUNK_BYTES (1..1048576) MAX_BYTES\n");
        return 1;
    }
    BusPtr bus = connect(argv[2]);
    if (!bus) {
        return 1;
    }
    const std::string data(chunk, 'x');
    uint64_t total = 0;
    while (total < max) {
        sd_bus_message* raw = nullptr;
        int r = sd_bus_message_new_method_call(bus.get(), &raw, kService, kManagerPath, kManager, "WriteProcess");
        MessagePtr call(raw);
        if (r >= 0) {
            r = sd_bus_message_append(call.get(), "u", pid);
        }
        if (r >= 0) {
            r = sd_bus_message_append_array(call.get(), 'y', data.data(), data.size());
        }
        if (r < 0) {
            return fail("building WriteProcess", r);
        }
        BusError error;
        sd_bus_message* reply_raw = nullptr;
        r = sd_bus_call(bus.get(), call.get(), 0, &error.e, &reply_raw);
        MessagePtr reply(reply_raw);
        if (r < 0) {
            std::printf("error %s: %s\nwrote %llu\n", error.e.name ? error.e.name : "?",
                        error.e.message ? error.e.message : "", static_cast<unsigned long long>(total));
            return 3;
        }
        total += chunk;
    }
    std::printf("wrote %llu\n", static_cast<unsigned long long>(total));
    return 0;
}

int subscribe(int argc, char** argv) {
    uint32_t hold_ms = 0;
    if (argc < 4 || !parse_u32(argv[3], &hold_ms)) {
        std::fprintf(stderr, "usage: subscribe ADDRESS HOLD_MS\n");
        return 1;
    }
    BusPtr bus = connect(argv[2]);
    if (!bus) {
        return 1;
    }
    BusError error;
    sd_bus_message* raw = nullptr;
    int r = sd_bus_call_method(bus.get(), kService, kManagerPath, kManager, "Subscribe", &error.e, &raw, "");
    MessagePtr reply(raw);
    if (r < 0) {
        std::printf("error %s: %s\n", error.e.name ? error.e.name : "?", error.e.message ? error.e.message : "");
        return 3;
    }
    const char* unique = nullptr;
    r = sd_bus_get_unique_name(bus.get(), &unique);
    if (r < 0) {
        return fail("sd_bus_get_unique_name", r);
    }
    std::printf("subscribed %s\n", unique);
    std::fflush(stdout);
    // The connection stays open meanwhile. Incoming signals are not read: the bus
    // queues them for us.
    wait_stdin_or(hold_ms);
    return 0;
}

// Says on stderr why a call failed; returns -1 for the bench rounds.
int call_failed(const char* what, const sd_bus_error& error, int r) {
    std::fprintf(stderr, "gaffer-dbus-client: %s: %s: %s\n", what, error.name ? error.name : "?",
                 error.message ? error.message : std::strerror(-r));
    return -1;
}

// Times `round()` until `samples` round trips or `budget_s` seconds (at least 5 samples).
template <typename Round>
int bench(uint32_t samples, uint32_t budget_s, Round round) {
    std::vector<double> us;
    long entries = -1;
    // A warm-up round trip: the first one pays for the match of the reply and caches.
    if (round(&entries) < 0) {
        return 1;
    }
    const auto t_end = std::chrono::steady_clock::now() + std::chrono::seconds(budget_s);
    for (uint32_t i = 0; i < samples; i++) {
        if (i >= 5 && std::chrono::steady_clock::now() > t_end) {
            break;
        }
        const auto t0 = std::chrono::steady_clock::now();
        if (round(&entries) < 0) {
            return 1;
        }
        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("{\"entries\": %ld, \"samples_us\": [", entries);
    for (size_t i = 0; i < us.size(); i++) {
        std::printf("%s%.1f", i ? ", " : "", us[i]);
    }
    std::printf("]}\n");
    return 0;
}

// Reads a ListProcesses reply to its end; returns the number of entries or -errno.
long read_processes(sd_bus_message* m) {
    int r = sd_bus_message_enter_container(m, 'a', "(uusstbo)");
    if (r < 0) {
        return r;
    }
    long n = 0;
    for (;;) {
        uint32_t pid = 0;
        uint32_t os_pid = 0;
        const char* job = nullptr;
        const char* state = nullptr;
        uint64_t create_time = 0;
        int committed = 0;
        const char* path = nullptr;
        r = sd_bus_message_read(m, "(uusstbo)", &pid, &os_pid, &job, &state, &create_time, &committed, &path);
        if (r < 0) {
            return r;
        }
        if (r == 0) {
            break;
        }
        n++;
    }
    return n;
}

int bench_list(int argc, char** argv) {
    uint32_t samples = 0;
    uint32_t budget = 0;
    if (argc < 5 || !parse_u32(argv[3], &samples) || !parse_u32(argv[4], &budget)) {
        std::fprintf(stderr, "usage: bench-list ADDRESS SAMPLES BUDGET_S\n");
        return 1;
    }
    BusPtr bus = connect(argv[2]);
    if (!bus) {
        return 1;
    }
    return bench(samples, budget, [&](long* entries) {
        BusError error;
        sd_bus_message* raw = nullptr;
        int r = sd_bus_call_method(bus.get(), kService, kManagerPath, kManager, "ListProcesses", &error.e, &raw, "");
        MessagePtr reply(raw);
        if (r < 0) {
            return call_failed("ListProcesses", error.e, r);
        }
        long n = read_processes(reply.get());
        if (n < 0) {
            (void)fail("reading ListProcesses", static_cast<int>(n));
            return -1;
        }
        *entries = n;
        return 0;
    });
}

int bench_getjob(int argc, char** argv) {
    uint32_t samples = 0;
    uint32_t budget = 0;
    if (argc < 6 || !parse_u32(argv[4], &samples) || !parse_u32(argv[5], &budget)) {
        std::fprintf(stderr, "usage: bench-getjob ADDRESS JOB SAMPLES BUDGET_S\n");
        return 1;
    }
    BusPtr bus = connect(argv[2]);
    if (!bus) {
        return 1;
    }
    const char* job = argv[3];
    return bench(samples, budget, [&](long* entries) {
        BusError error;
        sd_bus_message* raw = nullptr;
        int r = sd_bus_call_method(bus.get(), kService, kManagerPath, kManager, "GetJob", &error.e, &raw, "s", job);
        MessagePtr reply(raw);
        const char* path = nullptr;
        if (r >= 0) {
            r = sd_bus_message_read(reply.get(), "o", &path);
        }
        uint32_t n = 0;
        if (r >= 0) {
            r = sd_bus_get_property_trivial(bus.get(), kService, path, "org.gaffer1.Job", "NumProcesses", &error.e, 'u',
                                            &n);
        }
        if (r < 0) {
            std::fprintf(stderr, "gaffer-dbus-client: GetJob + NumProcesses: %s: %s\n",
                         error.e.name ? error.e.name : "?", error.e.message ? error.e.message : std::strerror(-r));
            return -1;
        }
        *entries = n;
        return 0;
    });
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view cmd = argc > 1 ? argv[1] : "";
    if (cmd == "open-output") {
        return open_output(argc, argv);
    }
    if (cmd == "hold-output") {
        return hold_output(argc, argv);
    }
    if (cmd == "write") {
        return write_stdin(argc, argv);
    }
    if (cmd == "subscribe") {
        return subscribe(argc, argv);
    }
    if (cmd == "bench-list") {
        return bench_list(argc, argv);
    }
    if (cmd == "bench-getjob") {
        return bench_getjob(argc, argv);
    }
    std::fprintf(
        stderr,
        "usage: gaffer-dbus-client open-output|hold-output|write|subscribe|bench-list|bench-getjob ADDRESS ...\n"
        "(see the comment at the top of tests/helpers/gaffer_dbus_client.cc)\n");
    return 1;
}
