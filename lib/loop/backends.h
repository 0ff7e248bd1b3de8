// SPDX-License-Identifier: MIT
// Backend factories (internal to lib/loop).
#pragma once

#include <memory>

#include "lib/loop/loop.h"

namespace gaffer::loop {
Result<std::unique_ptr<Loop>> make_uring_loop();
Result<std::unique_ptr<Loop>> make_epoll_loop();
}  // namespace gaffer::loop
