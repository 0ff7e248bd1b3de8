// SPDX-License-Identifier: MIT
// The loop backends a system test runs on. meson runs every system test once per
// backend with GAFFER_LOOP=epoll|io_uring, which narrows the list to that one; run by
// hand without it, a test covers both. Header-only test helper.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lib/loop/loop.h"

namespace gaffer::testutil {

inline std::vector<loop::Backend> test_backends() {
    const char* env = getenv("GAFFER_LOOP");
    if (env && strcmp(env, "epoll") == 0)
        return {loop::Backend::kEpoll};
    if (env && strcmp(env, "io_uring") == 0)
        return {loop::Backend::kIoUring};
    return {loop::Backend::kIoUring, loop::Backend::kEpoll};
}

inline std::string backend_name(const ::testing::TestParamInfo<loop::Backend>& info) {
    return info.param == loop::Backend::kIoUring ? "io_uring" : "epoll";
}

}  // namespace gaffer::testutil
