// SPDX-License-Identifier: MIT
#include "lib/console/writer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/base/log.h"

namespace gaffer::console {

ConsoleWriter::ConsoleWriter(loop::Loop& loop, int fd, size_t max_pending)
    : loop_(loop), fd_(fd), max_pending_(max_pending) {
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
        // A socket (journald's stream under systemd): send() with MSG_DONTWAIT.
        socket_ = true;
        nonblocking_ = true;
    } else if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
        std::string self = "/proc/self/fd/" + std::to_string(fd);
        own_ = UniqueFd(open(self.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
        if (own_) {
            fd_ = own_.get();
            nonblocking_ = true;
        } else {
            log_debug("console: cannot reopen stdout non-blocking (%s); writing it directly", strerror(errno));
        }
    }
}

ConsoleWriter::~ConsoleWriter() {
    drain(kDrainTimeout);
    if (watch_)
        loop_.unwatch(watch_);
}

void ConsoleWriter::write(std::string_view text) {
    if (broken_)
        return;
    if (off_ > 0 && off_ >= pending_.size() / 2) {
        pending_.erase(0, off_);
        off_ = 0;
    }
    if (pending() + text.size() + kNoticeRoom > max_pending_) {
        dropped_ += static_cast<uint64_t>(std::max<ptrdiff_t>(1, std::count(text.begin(), text.end(), '\n')));
        return;
    }
    if (dropped_ > reported_) {
        // Where lines went missing, say so (once there is room again).
        pending_ +=
            "gaffer: " + std::to_string(dropped_ - reported_) + " line(s) not shown: the terminal did not keep up\n";
        reported_ = dropped_;
    }
    pending_.append(text);
    update_pressure();
    if (!nonblocking_) {
        // A regular file: the write does not wait on a reader.
        flush_some();
        return;
    }
    if (!watch_ && flush_some() && pending() > 0)
        arm();
}

bool ConsoleWriter::flush_some() {
    while (pending() > 0) {
        ssize_t n = socket_ ? ::send(fd_, pending_.data() + off_, pending(), MSG_DONTWAIT | MSG_NOSIGNAL)
                            : ::write(fd_, pending_.data() + off_, pending());
        if (n > 0) {
            off_ += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        broken_ = true;  // EPIPE, EIO (a hung-up terminal), ...
        pending_.clear();
        off_ = 0;
        return false;
    }
    pending_.clear();
    off_ = 0;
    if (dropped_ > reported_) {
        std::string notice =
            "gaffer: " + std::to_string(dropped_ - reported_) + " line(s) not shown: the terminal did not keep up\n";
        reported_ = dropped_;
        pending_ = std::move(notice);
        return flush_some();
    }
    return true;
}

void ConsoleWriter::update_pressure() {
    bool want = pressed_ ? pending() > kLowWater : pending() >= kHighWater;
    if (want != pressed_) {
        pressed_ = want;
        if (pressure_)
            pressure_(want);
    }
}

void ConsoleWriter::arm() {
    auto w = loop_.watch(fd_, POLLOUT, [this](uint32_t) { on_writable(); });
    if (w)
        watch_ = *w;
    else
        drain(kDrainTimeout);  // cannot watch: write it the slow way rather than lose it
}

void ConsoleWriter::on_writable() {
    bool alive = flush_some();
    update_pressure();
    if (!alive || pending() == 0) {
        loop_.unwatch(watch_);
        watch_ = 0;
    }
}

void ConsoleWriter::drain(std::chrono::milliseconds max) {
    // Bounded by the reader's progress: gives up after `max` without a byte taken.
    auto deadline = std::chrono::steady_clock::now() + max;
    while (!broken_ && pending() > 0) {
        size_t before = pending();
        if (!flush_some() || pending() == 0)
            break;
        if (pending() < before)
            deadline = std::chrono::steady_clock::now() + max;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        struct pollfd p {
            fd_, POLLOUT, 0
        };
        poll(&p, 1, static_cast<int>(left.count()));
    }
}

}  // namespace gaffer::console
