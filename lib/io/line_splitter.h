// SPDX-License-Identifier: MIT
// LineSplitter: reassembles lines from output chunks for the console (reference §12.3,
// gafferd -v/-vv), where chunks arrive as read from the pipe (§7.2: no line assembly).
//
// Invariants: the partial line kept between chunks is at most max_line bytes; a line
// longer than that is emitted in pieces of max_line bytes (cut back to a UTF-8 character
// boundary when the cut would split one), so memory stays bounded whatever the child
// writes. Lines are passed without their '\n'; nothing else is stripped.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gaffer::io {

class LineSplitter {
public:
    static constexpr size_t kMaxLine = 64 * 1024;

    explicit LineSplitter(size_t max_line = kMaxLine) : max_line_(max_line > 0 ? max_line : 1) {}

    // Calls on_line(std::string_view) for every line (or piece of an overlong line) that
    // the chunk completes, in order. The view is valid during the call only.
    template <typename F>
    void feed(std::string_view chunk, F&& on_line);

    // The partial line left at end of stream, if any, then the splitter is empty.
    template <typename F>
    void flush(F&& on_line);

    size_t pending() const { return partial_.size(); }
    size_t max_line() const { return max_line_; }

private:
    // Where to cut a piece of at most max_line_ bytes from the front of `s`
    // (s.size() > max_line_).
    size_t cut_point(std::string_view s) const;

    size_t max_line_;
    std::string partial_;
};

template <typename F>
void LineSplitter::feed(std::string_view chunk, F&& on_line) {
    while (!chunk.empty()) {
        size_t nl = chunk.find('\n');
        if (nl != std::string_view::npos && partial_.size() + nl <= max_line_) {
            if (partial_.empty()) {
                on_line(chunk.substr(0, nl));
            } else {
                partial_.append(chunk.data(), nl);
                on_line(std::string_view(partial_));
                partial_.clear();
            }
            chunk.remove_prefix(nl + 1);
            continue;
        }
        // No line end within reach: keep the bytes, emitting overlong pieces.
        size_t take = nl == std::string_view::npos ? chunk.size() : nl;
        size_t room = max_line_ - partial_.size();
        if (take <= room) {
            // Only when there is no '\n' (else the branch above ran).
            partial_.append(chunk.data(), take);
            chunk.remove_prefix(take);
            continue;
        }
        // Fill up to one byte past the limit so cut_point sees the character that follows.
        size_t add = room + 1;
        partial_.append(chunk.data(), add);
        chunk.remove_prefix(add);
        size_t cut = cut_point(partial_);
        on_line(std::string_view(partial_).substr(0, cut));
        partial_.erase(0, cut);
    }
}

template <typename F>
void LineSplitter::flush(F&& on_line) {
    if (partial_.empty())
        return;
    on_line(std::string_view(partial_));
    partial_.clear();
}

}  // namespace gaffer::io
