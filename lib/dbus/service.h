// SPDX-License-Identifier: MIT
// Service: gafferd's control surface on D-Bus, org.gaffer1 (man org.gaffer1(5)), a mirror
// of the HTTP API with the same operations, rights, errors and events:
//   /org/gaffer1                      org.gaffer1.Manager (+ ObjectManager)
//   /org/gaffer1/job/<escaped sid.job> org.gaffer1.Job
//   /org/gaffer1/process/<pid>        org.gaffer1.Process
// Every method is an adapter over the operations table (lib/ops/operations.h): it reads
// its arguments, runs the operation for the caller, and answers its result or the error
// of the one table's D-Bus column (lib/manager/errors.h). Job and process objects are
// served by fallback vtables and node enumerators: nothing is allocated per object.
//
// Rights are those of the unix socket: the caller's uid is asked of the bus driver
// (GetConnectionCredentials, asynchronously, cached per unique name until it leaves the
// bus); uid 0 or the daemon's uid have full rights, everyone else may read. A call that
// arrives before its sender's credentials waits for them (at most kMaxPendingCalls in
// all; beyond, LimitsExceeded).
//
// PropertiesChanged is coalesced: what changed in one loop turn is emitted once, after
// it, with only the properties whose values differ from the last ones sent.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "lib/base/result.h"
#include "lib/events/event_bus.h"
#include "lib/loop/loop.h"
#include "lib/ops/operations.h"

namespace gaffer::manager {
class Manager;
}

namespace gaffer::dbus {

struct ServiceOptions {
    std::string version;
    uid_t daemon_uid = 0;
    gid_t daemon_gid = 0;
    // Manager.Reload(): re-read the configuration, as SIGHUP.
    std::function<void()> reload;
};

class Service {
public:
    // `policy` must outlive the service.
    Service(loop::Loop& loop, events::EventBus& bus, manager::Manager& manager, const ops::Policy& policy,
            ServiceOptions options);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    // Connects to `address` (dbus::resolve_address's result) and keeps connected.
    Status start(const std::string& address);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace gaffer::dbus
