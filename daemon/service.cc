// SPDX-License-Identifier: MIT
#include "daemon/service.h"

#include <fcntl.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>
#include <cstring>

#include "lib/base/log.h"
#include "lib/base/strutil.h"

namespace gaffer::daemon {

ServiceNotifier::ServiceNotifier(loop::Loop& loop) : loop_(loop) {
    const char* sock = getenv("NOTIFY_SOCKET");
    enabled_ = sock && *sock;
    uint64_t usec = 0;
    // unset_environment=0: jobs never see these variables anyway, because main.cc hands
    // jobs only manager::job_visible_environment(), which leaves them out.
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        watchdog_usec_ = usec;
        arm_watchdog();
    }
}

ServiceNotifier::~ServiceNotifier() {
    if (watchdog_timer_)
        loop_.cancel_timer(watchdog_timer_);
}

void ServiceNotifier::send(const std::string& state) {
    if (!enabled_)
        return;
    int r = sd_notify(0, state.c_str());
    if (r < 0)
        log_debug("sd_notify: %s", strerror(-r));
}

void ServiceNotifier::arm_watchdog() {
    watchdog_timer_ = loop_.add_timer(std::chrono::microseconds(watchdog_usec_ / 2), [this] {
        watchdog_timer_ = 0;
        send("WATCHDOG=1");
        arm_watchdog();
    });
}

void ServiceNotifier::ready(const std::string& status) {
    send("READY=1\nSTATUS=" + status);
}

void ServiceNotifier::reloading() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading the configuration");
}

void ServiceNotifier::status(const std::string& status) {
    send("STATUS=" + status);
}

void ServiceNotifier::stopping(const std::string& status) {
    send("STOPPING=1\nSTATUS=" + status);
}

std::vector<std::pair<int, std::string>> take_listen_fds() {
    std::vector<std::pair<int, std::string>> out;
    char** names = nullptr;
    int n = sd_listen_fds_with_names(1, &names);
    if (n <= 0)
        return out;
    for (int i = 0; i < n; ++i) {
        int fd = SD_LISTEN_FDS_START + i;
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        out.emplace_back(fd, names && names[i] ? names[i] : "");
    }
    if (names) {
        for (int i = 0; i < n; ++i) free(names[i]);
        free(names);
    }
    return out;
}

}  // namespace gaffer::daemon
