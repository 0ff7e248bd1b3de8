// SPDX-License-Identifier: MIT
// Service-manager integration of gafferd itself (systemd's service protocol through
// libsystemd's sd_notify/sd_listen_fds): READY=1 once every endpoint listens and the
// start-up jobs are spawned, STATUS= summaries, RELOADING=1/READY=1 around a SIGHUP
// reload, STOPPING=1 on shutdown and WATCHDOG=1 every half WATCHDOG_USEC. Every call is
// a no-op when NOTIFY_SOCKET is unset, so this costs nothing outside systemd.
#pragma once

#include <string>
#include <vector>

#include "lib/loop/loop.h"

namespace gaffer::daemon {

class ServiceNotifier {
public:
    explicit ServiceNotifier(loop::Loop& loop);
    ~ServiceNotifier();

    void ready(const std::string& status);
    void reloading();
    void status(const std::string& status);
    void stopping(const std::string& status);
    bool enabled() const { return enabled_; }

private:
    void send(const std::string& state);
    void arm_watchdog();

    loop::Loop& loop_;
    bool enabled_ = false;
    uint64_t watchdog_usec_ = 0;
    loop::Loop::TimerId watchdog_timer_ = 0;
};

// Sockets passed by systemd socket activation (LISTEN_FDS), CLOEXEC set; empty when
// none. Names from LISTEN_FDNAMES are returned alongside (may be empty strings).
std::vector<std::pair<int, std::string>> take_listen_fds();

}  // namespace gaffer::daemon
