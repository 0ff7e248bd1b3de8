// SPDX-License-Identifier: MIT
// ConsoleWriter: the console's lines to stdout without ever blocking the event loop.
//
// When stdout is a pipe, a terminal or another character device, the writer opens its
// own non-blocking file description of it (/proc/self/fd/1: the shell's description,
// shared with gaffer's parent, keeps its flags) and writes whole lines as they come;
// what the reader does not take at once waits in a buffer of at most kMaxPending bytes,
// flushed when the fd is writable again. A line that does not fit is counted and not
// shown, and where the lines went missing a notice line says how many (written as soon
// as the buffer has room again): a
// terminal that stops reading (a paused pager, Ctrl-S) costs lines on screen, never the
// supervision of the processes (their pipes are still read, signals and timers still
// handled). A regular file (or anything else) is written directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lib/base/unique_fd.h"
#include "lib/loop/loop.h"

namespace gaffer::console {

class ConsoleWriter {
public:
    static constexpr size_t kHighWater = size_t{1} << 20;
    static constexpr size_t kLowWater = size_t{256} << 10;
    static constexpr size_t kMaxPending =
        size_t{64} << 20;                       // exiting processes' pipes (1 MiB each) are read whatever the pressure
    static constexpr size_t kNoticeRoom = 128;  // kept free for the notice

    // `fd`: where the lines go (stdout); borrowed. `max_pending`: the cap (a console
    // without a pressure handler, gafferd's, keeps it small: its memory is the daemon's).
    ConsoleWriter(loop::Loop& loop, int fd, size_t max_pending = kMaxPending);
    // Drains what is pending (giving up after kDrainTimeout without progress).
    ~ConsoleWriter();
    ConsoleWriter(const ConsoleWriter&) = delete;
    ConsoleWriter& operator=(const ConsoleWriter&) = delete;

    static constexpr std::chrono::milliseconds kDrainTimeout{2000};

    // Queues `text` (whole lines) for the fd.
    void write(std::string_view text);
    // Writes what is pending, waiting for the fd until `max` passes without a byte taken
    // (after the loop ends).
    void drain(std::chrono::milliseconds max);
    uint64_t dropped_lines() const { return dropped_; }
    // Called with true when kHighWater bytes are pending, with false once below kLowWater.
    void set_pressure_handler(std::function<void(bool)> handler) { pressure_ = std::move(handler); }
    size_t pending() const { return pending_.size() - off_; }

private:
    // Writes from pending_ until EAGAIN; false when the fd is gone (EPIPE and the like).
    bool flush_some();
    void on_writable();
    void arm();

    loop::Loop& loop_;
    int fd_;
    UniqueFd own_;  // our non-blocking description, when we have one
    bool nonblocking_ = false;
    bool socket_ = false;  // written with send(MSG_DONTWAIT)
    size_t max_pending_;
    bool broken_ = false;  // the reader went away: nothing more is written
    std::string pending_;
    size_t off_ = 0;  // bytes of pending_ already written
    loop::Loop::WatchId watch_ = 0;
    uint64_t dropped_ = 0;
    uint64_t reported_ = 0;  // dropped lines already announced
    std::function<void(bool)> pressure_;
    bool pressed_ = false;  // the handler was told true last
    void update_pressure();
};

}  // namespace gaffer::console
