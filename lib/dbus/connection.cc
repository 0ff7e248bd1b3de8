// SPDX-License-Identifier: MIT
#include "lib/dbus/connection.h"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "lib/base/log.h"

namespace gaffer::dbus {

namespace {

constexpr std::chrono::milliseconds kMaxBackoff{30000};

uint64_t now_monotonic_usec() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

Result<std::string> resolve_address(const std::string& spec) {
    if (spec == "system") {
        const char* a = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        return std::string(a && *a ? a : "unix:path=/run/dbus/system_bus_socket");
    }
    if (spec == "user" || spec == "session") {
        const char* a = getenv("DBUS_SESSION_BUS_ADDRESS");
        if (!a || !*a)
            return fail(ENOENT, "the user bus: DBUS_SESSION_BUS_ADDRESS is not set");
        return std::string(a);
    }
    if (spec.find(':') == std::string::npos)
        return fail(EINVAL, "'" + spec + "' is not a D-Bus address (system, user, or e.g. unix:path=/run/bus)");
    return spec;
}

Connection::Connection(loop::Loop& loop, std::string address, Callback on_connected, Callback on_lost)
    : loop_(loop), address_(std::move(address)), on_connected_(std::move(on_connected)), on_lost_(std::move(on_lost)) {}

Connection::~Connection() {
    *alive_ = false;
    if (reconnect_timer_)
        loop_.cancel_timer(reconnect_timer_);
    if (timer_)
        loop_.cancel_timer(timer_);
    if (watch_)
        loop_.unwatch(watch_);
    // bus_ goes last: sd_bus_flush_close_unref sends what is queued (never waits for an
    // answer) and closes the fd.
}

Status Connection::start() {
    Status st = connect();
    if (!st) {
        if (st.error().code == EINVAL)
            return st;
        log_warning("D-Bus: %s; trying again", st.error().message().c_str());
        schedule_reconnect();
    }
    return ok();
}

Status Connection::connect() {
    sd_bus* raw = nullptr;
    int r = sd_bus_new(&raw);
    if (r < 0)
        return fail(Error{-r, "sd_bus_new"});
    BusPtr bus(raw);
    if ((r = sd_bus_set_address(bus.get(), address_.c_str())) < 0)
        return fail(Error{EINVAL, "D-Bus address '" + address_ + "': " + strerror(-r)});
    (void)sd_bus_set_bus_client(bus.get(), 1);
    // Credentials come from the bus driver (asynchronously), not from each message.
    (void)sd_bus_negotiate_creds(bus.get(), 1, SD_BUS_CREDS_UNIQUE_NAME);
    (void)sd_bus_set_connected_signal(bus.get(), 0);
    // A unix socket connect does not block; the Hello exchange goes through the loop.
    if ((r = sd_bus_start(bus.get())) < 0)
        return fail(Error{-r, "connecting to " + address_ + ": " + strerror(-r)});
    int fd = sd_bus_get_fd(bus.get());
    auto w = loop_.watch(fd, POLLIN, [this](uint32_t) { process(); });
    if (!w)
        return fail(w.error());
    bus_ = std::move(bus);
    watch_ = *w;
    watched_events_ = POLLIN;
    backoff_ = std::chrono::milliseconds(500);
    log_info("D-Bus: connected to %s", address_.c_str());
    if (on_connected_)
        on_connected_(bus_.get());
    process();
    return ok();
}

void Connection::drop(int error) {
    if (!bus_)
        return;
    log_warning("D-Bus: connection to %s lost (%s); reconnecting", address_.c_str(), strerror(error));
    if (on_lost_)
        on_lost_(bus_.get());
    if (watch_)
        loop_.unwatch(watch_);
    watch_ = 0;
    if (timer_)
        loop_.cancel_timer(timer_);
    timer_ = 0;
    bus_.reset();
    schedule_reconnect();
}

void Connection::schedule_reconnect() {
    if (reconnect_timer_)
        return;
    auto delay = backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    reconnect_timer_ = loop_.add_timer(delay, [this] {
        reconnect_timer_ = 0;
        Status st = connect();
        if (!st) {
            log_debug("D-Bus: %s", st.error().message().c_str());
            schedule_reconnect();
        }
    });
}

void Connection::kick() {
    if (kick_posted_ || !bus_)
        return;
    kick_posted_ = true;
    loop_.post([this, alive = alive_] {
        if (!*alive)
            return;
        kick_posted_ = false;
        process();
    });
}

void Connection::process() {
    if (!bus_)
        return;
    // Bounded: a peer that floods us gets served in turns with the rest of the loop.
    for (int i = 0; i < 256; ++i) {
        int r = sd_bus_process(bus_.get(), nullptr);
        if (r < 0) {
            drop(-r);
            return;
        }
        if (!bus_)
            return;  // a callback dropped it
        if (r == 0)
            break;
        if (i == 255) {
            kick();
            break;
        }
    }
    if (!sd_bus_is_open(bus_.get())) {
        drop(ECONNRESET);
        return;
    }
    rearm();
}

void Connection::rearm() {
    int ev = sd_bus_get_events(bus_.get());
    if (ev < 0) {
        drop(-ev);
        return;
    }
    uint32_t events = static_cast<uint32_t>(ev) & (POLLIN | POLLOUT);
    if (events != watched_events_) {
        if (Status st = loop_.modify(watch_, events); !st) {
            drop(st.error().code);
            return;
        }
        watched_events_ = events;
    }
    if (timer_) {
        loop_.cancel_timer(timer_);
        timer_ = 0;
    }
    uint64_t until = 0;
    if (sd_bus_get_timeout(bus_.get(), &until) >= 0 && until != UINT64_MAX) {
        uint64_t now = now_monotonic_usec();
        auto wait = std::chrono::microseconds(until > now ? until - now : 0);
        timer_ = loop_.add_timer(wait, [this] {
            timer_ = 0;
            process();
        });
    }
}

}  // namespace gaffer::dbus
