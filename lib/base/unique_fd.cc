// SPDX-License-Identifier: MIT
#include "lib/base/unique_fd.h"

#include <cerrno>
#include <string>

namespace gaffer {

Result<Pipe> Pipe::make(int flags) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | flags) < 0)
        return fail(Error::from_errno("pipe2"));
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Status set_nonblocking(int fd, bool on) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0)
        return fail(Error::from_errno("fcntl(F_GETFL)"));
    int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (nfl != fl && ::fcntl(fd, F_SETFL, nfl) < 0)
        return fail(Error::from_errno("fcntl(F_SETFL)"));
    return ok();
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path.c_str()));
    return read_fd(fd.get(), path, max_bytes);
}

Result<std::string> read_fd(int fd, const std::string& name, size_t max_bytes) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(Error::from_errno("read '%s'", name.c_str()));
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_bytes)
            return fail(Error::make(EFBIG, "'%s' is larger than %zu bytes", name.c_str(), max_bytes));
    }
    return out;
}

Status write_file(const std::string& path, std::string_view data) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path.c_str()));
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0)
        return fail(Error::from_errno("write '%s'", path.c_str()));
    if (static_cast<size_t>(n) != data.size())
        return fail(Error::make(EIO, "short write to '%s'", path.c_str()));
    return ok();
}

}  // namespace gaffer
