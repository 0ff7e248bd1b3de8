// SPDX-License-Identifier: MIT
// SignalSource: blocks a set of signals and delivers them through a signalfd watched by
// the loop. The blocked mask is inherited across exec, so every spawned child resets it
// (lib/proc does).
#pragma once

#include <signal.h>
#include <sys/signalfd.h>

#include <functional>
#include <initializer_list>

#include "lib/base/unique_fd.h"
#include "lib/loop/loop.h"

namespace gaffer::loop {

class SignalSource {
public:
    using Handler = std::function<void(const struct signalfd_siginfo&)>;
    ~SignalSource();
    static Result<std::unique_ptr<SignalSource>> create(Loop& loop, std::initializer_list<int> signals,
                                                        Handler handler);

private:
    SignalSource(Loop& loop) : loop_(loop) {}
    void on_ready();
    Loop& loop_;
    UniqueFd fd_;
    Loop::WatchId watch_ = 0;
    Handler handler_;
    sigset_t old_mask_;
};

}  // namespace gaffer::loop
