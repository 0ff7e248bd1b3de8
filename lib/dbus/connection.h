// SPDX-License-Identifier: MIT
// Connection: one sd-bus connection driven by gafferd's event loop (io_uring or epoll),
// never by a blocking call. The bus fd is watched for what sd_bus_get_events() asks, and
// a timer follows sd_bus_get_timeout(); each wake-up runs sd_bus_process() until it has
// nothing left (linux-primitives.md §5). A connection that fails or is closed by the bus
// is dropped and made again with back-off (0.5 s doubling to 30 s); `on_connected` runs
// on every new connection (register objects, request the name), `on_lost` when one ends.
//
// Addresses: "system" (the system bus: DBUS_SYSTEM_BUS_ADDRESS or
// unix:path=/run/dbus/system_bus_socket), "user" (DBUS_SESSION_BUS_ADDRESS), or a D-Bus
// address ("unix:path=/tmp/bus").
#pragma once

#include <systemd/sd-bus.h>

#include <functional>
#include <memory>
#include <string>

#include "lib/base/c_handle.h"
#include "lib/base/result.h"
#include "lib/loop/loop.h"

namespace gaffer::dbus {

using BusPtr = CPtr<sd_bus, sd_bus_flush_close_unref>;

// The address `spec` names ("system", "user" or an address); EINVAL/ENOENT when it
// names none.
Result<std::string> resolve_address(const std::string& spec);

class Connection {
public:
    using Callback = std::function<void(sd_bus* bus)>;

    Connection(loop::Loop& loop, std::string address, Callback on_connected, Callback on_lost);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Connects now (and again after each loss). Fails only when the first attempt cannot
    // even start (a bad address); later failures are retried.
    Status start();
    // The live connection, or null between connections.
    sd_bus* bus() const { return bus_.get(); }
    const std::string& address() const { return address_; }
    // Runs what sd-bus has queued (messages to send) at the end of this loop turn: after
    // a change that emits signals outside a bus callback.
    void kick();

private:
    Status connect();
    void drop(int error);
    void process();
    void rearm();
    void schedule_reconnect();

    loop::Loop& loop_;
    std::string address_;
    Callback on_connected_;
    Callback on_lost_;
    BusPtr bus_;
    loop::Loop::WatchId watch_ = 0;
    uint32_t watched_events_ = 0;
    loop::Loop::TimerId timer_ = 0;
    loop::Loop::TimerId reconnect_timer_ = 0;
    std::chrono::milliseconds backoff_{500};
    bool kick_posted_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace gaffer::dbus
