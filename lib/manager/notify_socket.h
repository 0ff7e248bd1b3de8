// SPDX-License-Identifier: MIT
// NotifySocket: the datagram socket that jobs with `notify = true` get as their
// NOTIFY_SOCKET (systemd's notification protocol: "READY=1", "WATCHDOG=1",
// "STATUS=..." lines). It lives in the abstract namespace ("@gaffer-notify-<pid>"), so
// nothing is left on disk, and asks for SO_PASSCRED so every datagram carries the
// sender's pid; the manager then checks that the sender belongs to the process.
// Datagrams are size-capped (oversized, empty, credential-less ones and any that carry
// file descriptors are dropped, the descriptors closed); nothing a client sends can
// crash or block the daemon.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"
#include "lib/loop/loop.h"

namespace gaffer::manager {

class NotifySocket {
public:
    static constexpr size_t kMaxDatagram = 4096;
    static constexpr size_t kMaxFields = 64;  // distinct keys kept from one datagram
    using Fields = std::map<std::string, std::string>;
    using Handler = std::function<void(pid_t sender, const Fields& fields)>;

    static Result<std::unique_ptr<NotifySocket>> create(loop::Loop& loop, Handler handler);
    ~NotifySocket();
    // The NOTIFY_SOCKET value to give children ("@gaffer-notify-1234").
    const std::string& address() const { return address_; }
    uint64_t dropped() const { return dropped_; }

    // Parses "KEY=VALUE\n..." as systemd does (sd_notify(3)). Pure, for tests and fuzzing.
    // Lines without '=' or with an empty key are ignored, as are keys beyond the first
    // kMaxFields. A key given twice keeps its first value (systemd looks tags up with
    // strv_find_startswith, which finds the first). A datagram holding a NUL byte is
    // ignored as a whole (no fields), as systemd ignores it: "READY=1\0..." is no
    // READY=1.
    static Fields parse(std::string_view datagram);

private:
    NotifySocket(loop::Loop& loop) : loop_(loop) {}
    void on_readable();

    loop::Loop& loop_;
    UniqueFd fd_;
    loop::Loop::WatchId watch_ = 0;
    std::string address_;
    Handler handler_;
    uint64_t dropped_ = 0;
};

// True if `pid` is `root` or one of its descendants (walks the ppid chain in /proc).
bool is_descendant(pid_t pid, pid_t root);

}  // namespace gaffer::manager
