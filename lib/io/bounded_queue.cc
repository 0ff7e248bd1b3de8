// SPDX-License-Identifier: MIT
#include "lib/io/bounded_queue.h"

#include <utility>

namespace gaffer::io {

bool BoundedQueue::push(std::string chunk) {
    const size_t n = chunk.size();
    if (items_.size() >= max_items_ || n > max_bytes_ - bytes_) {
        dropped_tail_ += n;
        pending_dropped_ += n;
        total_dropped_ += n;
        return false;
    }
    bytes_ += n;
    items_.push_back(Item{std::move(chunk), std::exchange(dropped_tail_, 0)});
    return true;
}

std::optional<std::string> BoundedQueue::pop() {
    if (items_.empty())
        return std::nullopt;
    Item& front = items_.front();
    // A gap before this item that the consumer did not take is not forgotten: it moves
    // forward with the next item (or the tail), so the marker still comes before later data.
    uint64_t gap = front.dropped_before;
    std::string data = std::move(front.data);
    items_.pop_front();
    bytes_ -= data.size();
    if (gap > 0) {
        if (items_.empty())
            dropped_tail_ += gap;
        else
            items_.front().dropped_before += gap;
    }
    return data;
}

uint64_t BoundedQueue::take_dropped() {
    uint64_t n = items_.empty() ? std::exchange(dropped_tail_, 0) : std::exchange(items_.front().dropped_before, 0);
    pending_dropped_ -= n;
    return n;
}

void BoundedQueue::clear() {
    items_.clear();
    bytes_ = 0;
    dropped_tail_ = 0;
    pending_dropped_ = 0;
}

}  // namespace gaffer::io
