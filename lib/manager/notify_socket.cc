// SPDX-License-Identifier: MIT
#include "lib/manager/notify_socket.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "lib/base/log.h"
#include "lib/base/strutil.h"

namespace gaffer::manager {

NotifySocket::Fields NotifySocket::parse(std::string_view d) {
    Fields f;
    if (d.find('\0') != std::string_view::npos)
        return f;
    for (const auto& line : split_any(d, "\n")) {
        size_t eq = line.find('=');
        if (eq == std::string::npos || eq == 0)
            continue;
        std::string key = line.substr(0, eq);
        if (f.size() >= kMaxFields && !f.count(key))
            continue;
        f.emplace(std::move(key), line.substr(eq + 1));
    }
    return f;
}

Result<std::unique_ptr<NotifySocket>> NotifySocket::create(loop::Loop& loop, Handler handler) {
    std::unique_ptr<NotifySocket> s(new NotifySocket(loop));
    s->handler_ = std::move(handler);
    s->fd_.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!s->fd_)
        return fail(Error::from_errno("socket(AF_UNIX, SOCK_DGRAM)"));
    s->address_ = "@gaffer-notify-" + std::to_string(getpid());
    struct sockaddr_un sa {};
    sa.sun_family = AF_UNIX;
    // Abstract namespace: sun_path[0] = '\0', the name follows, no terminator.
    memcpy(sa.sun_path + 1, s->address_.data() + 1, s->address_.size() - 1);
    socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + s->address_.size());
    if (bind(s->fd_.get(), reinterpret_cast<struct sockaddr*>(&sa), len) < 0)
        return fail(Error::from_errno("bind notify socket '%s'", s->address_.c_str()));
    int one = 1;
    if (setsockopt(s->fd_.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
        return fail(Error::from_errno("setsockopt(SO_PASSCRED)"));
    auto* raw = s.get();
    GAFFER_TRY(auto id, loop.watch(s->fd_.get(), POLLIN, [raw](uint32_t) { raw->on_readable(); }));
    s->watch_ = id;
    return s;
}

NotifySocket::~NotifySocket() {
    if (watch_)
        loop_.unwatch(watch_);
}

void NotifySocket::on_readable() {
    // A bounded number per wake-up, so a flood cannot starve the rest of the loop.
    for (int i = 0; i < 64; ++i) {
        char buf[kMaxDatagram + 1];
        struct iovec iov = {buf, sizeof buf};
        alignas(struct cmsghdr) char ctrl[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
        struct msghdr msg {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctrl;
        msg.msg_controllen = sizeof ctrl;
        ssize_t n = recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
            return;  // EAGAIN: drained
        pid_t sender = 0;
        bool had_fds = false;
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                sender = cred.pid;
            } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                had_fds = true;
                size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t k = 0; k < nfds; ++k) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
                    (void)close(fd);
                }
            }
        }
        bool truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || static_cast<size_t>(n) > kMaxDatagram;
        if (n == 0 || truncated || had_fds || sender <= 0) {
            ++dropped_;
            log_debug("notify socket: dropped a datagram (%zd bytes, sender %d%s%s)", n, static_cast<int>(sender),
                      truncated ? ", oversized" : "", had_fds ? ", with fds" : "");
            continue;
        }
        handler_(sender, parse(std::string_view(buf, static_cast<size_t>(n))));
    }
}

bool is_descendant(pid_t pid, pid_t root) {
    for (int depth = 0; depth < 64 && pid > 1; ++depth) {
        if (pid == root)
            return true;
        auto text = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
        if (!text)
            return false;
        size_t close = text->rfind(')');
        if (close == std::string::npos)
            return false;
        auto fields = split_any(std::string_view(*text).substr(close + 1), " ");
        if (fields.size() < 2)
            return false;
        auto ppid = parse_int(fields[1]);
        if (!ppid)
            return false;
        pid = static_cast<pid_t>(*ppid);
    }
    return pid == root;
}

}  // namespace gaffer::manager
