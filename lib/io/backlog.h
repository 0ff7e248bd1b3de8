// SPDX-License-Identifier: MIT
// Backlog: the most recent output of one stream, in a fixed-capacity byte ring.
//
// Invariants: at most `cap` bytes are kept (the buffer is allocated on the first append
// and never grows); older bytes are overwritten; total() counts every byte ever appended.
// A capacity of 0 keeps nothing but still counts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gaffer::io {

class Backlog {
public:
    explicit Backlog(size_t cap) : cap_(cap) {}

    void append(std::string_view data);

    // The last max_bytes (at most) bytes kept. When that window does not begin a line and
    // holds a '\n' with more data after it, the partial first line is left out, so the
    // text starts at a line boundary when possible.
    std::string tail(size_t max_bytes) const;

    uint64_t total() const { return total_; }  // bytes ever appended
    size_t size() const { return len_; }       // bytes kept now
    size_t capacity() const { return cap_; }
    void clear();

private:
    char at(size_t i) const { return buf_[(head_ + i) % cap_]; }

    size_t cap_;
    std::string buf_;  // cap_ bytes once used
    size_t head_ = 0;  // index in buf_ of the oldest byte kept
    size_t len_ = 0;
    uint64_t total_ = 0;
    char prev_ = '\n';  // the byte just before the oldest one kept ('\n' at stream start)
};

}  // namespace gaffer::io
