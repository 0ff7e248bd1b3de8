// SPDX-License-Identifier: MIT
#include "lib/loop/signals.h"

#include <unistd.h>

namespace gaffer::loop {

Result<std::unique_ptr<SignalSource>> SignalSource::create(Loop& loop, std::initializer_list<int> signals,
                                                           Handler handler) {
    std::unique_ptr<SignalSource> s(new SignalSource(loop));
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : signals) sigaddset(&mask, sig);
    if (sigprocmask(SIG_BLOCK, &mask, &s->old_mask_) < 0)
        return fail(Error::from_errno("sigprocmask"));
    s->fd_.reset(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!s->fd_)
        return fail(Error::from_errno("signalfd"));
    s->handler_ = std::move(handler);
    auto* raw = s.get();
    GAFFER_TRY(auto id, loop.watch(s->fd_.get(), POLLIN, [raw](uint32_t) { raw->on_ready(); }));
    s->watch_ = id;
    return s;
}

SignalSource::~SignalSource() {
    if (watch_)
        loop_.unwatch(watch_);
    fd_.reset();
    (void)sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

void SignalSource::on_ready() {
    struct signalfd_siginfo si[8];
    for (;;) {
        ssize_t n = read(fd_.get(), si, sizeof si);
        if (n <= 0)
            return;  // EAGAIN: drained
        for (size_t i = 0; i < static_cast<size_t>(n) / sizeof si[0]; ++i) handler_(si[i]);
    }
}

}  // namespace gaffer::loop
