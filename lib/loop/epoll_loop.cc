// SPDX-License-Identifier: MIT
// The epoll backend: level-triggered epoll, one registration per watched fd.
#include <sys/epoll.h>

#include <vector>

#include "lib/base/unique_fd.h"
#include "lib/loop/backends.h"

namespace gaffer::loop {
namespace {

class EpollLoop final : public Loop {
public:
    explicit EpollLoop(UniqueFd ep) : ep_(std::move(ep)) {}
    const char* backend_name() const override { return "epoll"; }

    Result<WatchId> watch(int fd, uint32_t events, FdCallback cb) override {
        WatchId id = next_id_++;
        struct epoll_event ev {};
        ev.events = to_epoll(events);
        ev.data.u64 = id;
        if (epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
            return fail(Error::from_errno("epoll_ctl(ADD, %d)", fd));
        watches_.emplace(id, Watch{fd, std::move(cb)});
        return id;
    }

    Status modify(WatchId id, uint32_t events) override {
        auto it = watches_.find(id);
        if (it == watches_.end())
            return fail(Error::make(ENOENT, "no watch %lu", static_cast<unsigned long>(id)));
        struct epoll_event ev {};
        ev.events = to_epoll(events);
        ev.data.u64 = id;
        if (epoll_ctl(ep_.get(), EPOLL_CTL_MOD, it->second.fd, &ev) < 0)
            return fail(Error::from_errno("epoll_ctl(MOD, %d)", it->second.fd));
        return ok();
    }

    void unwatch(WatchId id) override {
        auto it = watches_.find(id);
        if (it == watches_.end())
            return;
        (void)epoll_ctl(ep_.get(), EPOLL_CTL_DEL, it->second.fd, nullptr);
        watches_.erase(it);
    }

protected:
    Status wait_and_dispatch(int timeout_ms) override {
        struct epoll_event evs[64];
        int n = epoll_wait(ep_.get(), evs, 64, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                return ok();
            return fail(Error::from_errno("epoll_wait"));
        }
        for (int i = 0; i < n; ++i) {
            auto it = watches_.find(evs[i].data.u64);
            if (it == watches_.end())
                continue;                   // removed by an earlier callback
            FdCallback cb = it->second.cb;  // the callback may unwatch itself
            cb(from_epoll(evs[i].events));
        }
        return ok();
    }

private:
    struct Watch {
        int fd;
        FdCallback cb;
    };
    static uint32_t to_epoll(uint32_t ev) {
        uint32_t r = 0;
        if (ev & POLLIN)
            r |= EPOLLIN;
        if (ev & POLLOUT)
            r |= EPOLLOUT;
        if (ev & POLLPRI)
            r |= EPOLLPRI;
        return r;
    }
    static uint32_t from_epoll(uint32_t ev) {
        uint32_t r = 0;
        if (ev & EPOLLIN)
            r |= POLLIN;
        if (ev & EPOLLOUT)
            r |= POLLOUT;
        if (ev & EPOLLPRI)
            r |= POLLPRI;
        if (ev & EPOLLERR)
            r |= POLLERR;
        if (ev & EPOLLHUP)
            r |= POLLHUP;
        return r;
    }

    UniqueFd ep_;
    std::unordered_map<WatchId, Watch> watches_;
    WatchId next_id_ = 1;
};

}  // namespace

Result<std::unique_ptr<Loop>> make_epoll_loop() {
    UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
    if (!ep)
        return fail(Error::from_errno("epoll_create1"));
    return std::unique_ptr<Loop>(new EpollLoop(std::move(ep)));
}

}  // namespace gaffer::loop
