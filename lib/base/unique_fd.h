// SPDX-License-Identifier: MIT
// UniqueFd: a move-only owner of one file descriptor (-1 = empty). Destroying it
// closes the fd and does nothing else. Pipe is a pair of them, made with O_CLOEXEC.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "lib/base/result.h"

namespace gaffer {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o)
            reset(o.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1) {
        if (fd_ >= 0)
            (void)::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

struct Pipe {
    UniqueFd read;
    UniqueFd write;
    // flags: extra pipe2 flags (O_NONBLOCK); O_CLOEXEC is always set.
    static Result<Pipe> make(int flags = 0);
};

Status set_nonblocking(int fd, bool on = true);

// Reads a whole small file (proc, sysfs, config). Fails past max_bytes.
Result<std::string> read_file(const std::string& path, size_t max_bytes = 16 << 20);
// The rest of what `fd` holds (EINTR retried); EFBIG beyond max_bytes. `name` is for the
// error messages.
Result<std::string> read_fd(int fd, const std::string& name, size_t max_bytes);
// Writes a whole string to a path (truncating), as cgroup files want it.
Status write_file(const std::string& path, std::string_view data);

}  // namespace gaffer
