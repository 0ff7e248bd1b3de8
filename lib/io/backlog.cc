// SPDX-License-Identifier: MIT
#include "lib/io/backlog.h"

#include <algorithm>

namespace gaffer::io {

void Backlog::append(std::string_view data) {
    total_ += data.size();
    if (cap_ == 0 || data.empty())
        return;
    if (buf_.size() != cap_)
        buf_.resize(cap_);

    // Room for the new bytes: drop the oldest of (kept + data), remembering the last
    // byte dropped so that tail() can tell whether the oldest byte kept begins a line.
    const size_t need = len_ + data.size();
    if (need > cap_) {
        const size_t drop = need - cap_;
        prev_ = drop - 1 < len_ ? at(drop - 1) : data[drop - 1 - len_];
        if (drop >= len_) {
            data.remove_prefix(drop - len_);
            head_ = 0;
            len_ = 0;
        } else {
            head_ = (head_ + drop) % cap_;
            len_ -= drop;
        }
    }
    // Copy in at most two pieces (up to the end of the buffer, then from its start).
    size_t pos = (head_ + len_) % cap_;
    size_t first = std::min(data.size(), cap_ - pos);
    buf_.replace(pos, first, data.data(), first);
    buf_.replace(0, data.size() - first, data.data() + first, data.size() - first);
    len_ += data.size();
}

std::string Backlog::tail(size_t max_bytes) const {
    const size_t n = std::min(max_bytes, len_);
    const size_t start = len_ - n;
    std::string out;
    out.reserve(n);
    const size_t from = (head_ + start) % (cap_ > 0 ? cap_ : 1);
    const size_t first = std::min(n, cap_ - from);
    out.append(buf_, from, first);
    out.append(buf_, 0, n - first);

    const char before = start == 0 ? prev_ : at(start - 1);
    if (before != '\n') {
        size_t nl = out.find('\n');
        if (nl != std::string::npos && nl + 1 < out.size())
            out.erase(0, nl + 1);
    }
    return out;
}

void Backlog::clear() {
    head_ = 0;
    len_ = 0;
    prev_ = '\n';
}

}  // namespace gaffer::io
