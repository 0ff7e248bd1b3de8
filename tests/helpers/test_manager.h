// SPDX-License-Identifier: MIT
// A real Manager on a real Loop for unit and system tests: cgroups off, jobs without `cwd`
// run in "/". Header-only; call it from a fixture's SetUp (it ASSERTs).
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "lib/events/event_bus.h"
#include "lib/loop/loop.h"
#include "lib/manager/manager.h"

namespace gaffer::testing {

inline void make_test_manager(std::unique_ptr<loop::Loop>& loop, std::unique_ptr<events::EventBus>& bus,
                              std::unique_ptr<manager::Manager>& manager) {
    auto l = loop::Loop::create();
    ASSERT_TRUE(l) << l.error().message();
    loop = std::move(*l);
    bus = std::make_unique<events::EventBus>(*loop);
    manager::Options o;
    o.default_cwd = "/";
    o.use_cgroups = false;
    manager = std::make_unique<manager::Manager>(*loop, *bus, o);
}

}  // namespace gaffer::testing
