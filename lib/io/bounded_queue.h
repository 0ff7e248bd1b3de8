// SPDX-License-Identifier: MIT
// BoundedQueue: the queue between a producer on the loop (process output, events) and one
// subscriber (an HTTP stream, a websocket), so that a slow subscriber can never grow the
// daemon (security-defaults.md "Bounded resources") and the child is never blocked.
//
// Invariants: bytes() ≤ max_bytes and items() ≤ max_items at all times. A chunk that does
// not fit is dropped whole (never cut) and its size counted. The count is kept at the
// position of the gap: take_dropped() returns the bytes lost just before the chunk that
// pop() will return next (or, when the queue is empty, lost since the last one popped),
// so a consumer that does
//     if (uint64_t n = q.take_dropped()) send(marker(n));
//     if (auto c = q.pop()) send(*c);
// places §16's "bytes dropped" marker exactly where the data is missing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace gaffer::io {

class BoundedQueue {
public:
    // Bounds the per-chunk overhead when chunks are tiny.
    static constexpr size_t kDefaultMaxItems = 4096;

    explicit BoundedQueue(size_t max_bytes, size_t max_items = kDefaultMaxItems)
        : max_bytes_(max_bytes), max_items_(max_items) {}

    // Queues the chunk; false if it did not fit (its bytes are counted as dropped).
    // An empty chunk is accepted when an item fits.
    bool push(std::string chunk);
    // The oldest chunk, or nothing when empty. Does not touch the dropped count.
    std::optional<std::string> pop();

    // Returns and resets the bytes dropped before the next chunk (see above).
    uint64_t take_dropped();
    // Bytes dropped that take_dropped() has not returned yet, wherever they are.
    uint64_t dropped_pending() const { return pending_dropped_; }
    // Bytes dropped since construction (for "disconnect the slow consumer" policies).
    uint64_t dropped_total() const { return total_dropped_; }

    size_t bytes() const { return bytes_; }
    size_t items() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    size_t max_bytes() const { return max_bytes_; }
    size_t max_items() const { return max_items_; }
    // Drops everything queued, without counting it (the subscriber is going away).
    void clear();

private:
    struct Item {
        std::string data;
        uint64_t dropped_before;  // bytes lost between the previous item and this one
    };

    size_t max_bytes_;
    size_t max_items_;
    std::deque<Item> items_;
    size_t bytes_ = 0;
    uint64_t dropped_tail_ = 0;  // bytes lost after the last queued item
    uint64_t pending_dropped_ = 0;
    uint64_t total_dropped_ = 0;
};

}  // namespace gaffer::io
