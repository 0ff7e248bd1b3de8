// SPDX-License-Identifier: MIT
#include "lib/io/rotating_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace gaffer::io {

namespace {

constexpr int kOpenFlags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
constexpr mode_t kMode = 0644;

std::string backup_name(const std::string& path, int n) {
    return path + "." + std::to_string(n);
}

// Whether the file ends with '\n' (or is empty): a rotation right away would not cut a
// line. Best effort: an unreadable file counts as ending mid-line, which only delays
// the first rotation until after the next line end.
bool ends_at_line_start(const std::string& path, uint64_t size) {
    if (size == 0)
        return true;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd)
        return false;
    char c = 0;
    return ::pread(fd.get(), &c, 1, static_cast<off_t>(size - 1)) == 1 && c == '\n';
}

std::string sanitize(const std::string& s) {
    std::string out = s;
    for (char& c : out)
        if (c == '/' || c == '\0')
            c = '_';
    return out;
}

}  // namespace

RotatingLog::RotatingLog(std::string path, uint64_t max_bytes, int backups, UniqueFd fd, uint64_t size,
                         bool at_line_start)
    : path_(std::move(path)),
      max_bytes_(max_bytes),
      backups_(backups),
      fd_(std::move(fd)),
      size_(size),
      at_line_start_(at_line_start),
      reopen_pending_(false) {}

Result<std::unique_ptr<RotatingLog>> RotatingLog::open(std::string path, uint64_t max_bytes, int backups) {
    if (path.empty())
        return fail(Error::make(EINVAL, "log file: empty path"));
    if (backups < 0)
        return fail(Error::make(EINVAL, "log file '%s': negative backup count %d", path.c_str(), backups));
    UniqueFd fd(::open(path.c_str(), kOpenFlags, kMode));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path.c_str()));
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        return fail(Error::from_errno("fstat '%s'", path.c_str()));
    if (!S_ISREG(st.st_mode))
        return fail(Error::make(EINVAL, "log file '%s' is not a regular file", path.c_str()));
    const auto size = static_cast<uint64_t>(st.st_size);
    const bool at_line_start = ends_at_line_start(path, size);
    return std::unique_ptr<RotatingLog>(
        new RotatingLog(std::move(path), max_bytes, backups, std::move(fd), size, at_line_start));
}

Status RotatingLog::write_all(std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd_.get(), data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(Error::from_errno("write '%s'", path_.c_str()));
        }
        if (n == 0)
            return fail(Error::make(EIO, "write '%s': no progress", path_.c_str()));
        size_ += static_cast<uint64_t>(n);
        at_line_start_ = data[static_cast<size_t>(n) - 1] == '\n';
        data.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
}

Status RotatingLog::reopen() {
    UniqueFd fd(::open(path_.c_str(), kOpenFlags, kMode));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path_.c_str()));
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        return fail(Error::from_errno("fstat '%s'", path_.c_str()));
    const auto size = static_cast<uint64_t>(st.st_size);
    fd_ = std::move(fd);
    size_ = size;
    at_line_start_ = ends_at_line_start(path_, size);
    reopen_pending_ = false;
    return ok();
}

Status RotatingLog::rotate() {
    if (backups_ == 0) {
        if (::ftruncate(fd_.get(), 0) < 0)
            return fail(Error::from_errno("truncate '%s'", path_.c_str()));
        size_ = 0;
        at_line_start_ = true;
        return ok();
    }
    // Shift only the backups that exist (normally .1 … .k without gaps), so that a large
    // backup count costs nothing until the files are there. Renaming .backups-1 onto
    // .backups discards the oldest.
    int existing = 0;
    while (existing < backups_ && ::access(backup_name(path_, existing + 1).c_str(), F_OK) == 0) ++existing;
    for (int i = existing < backups_ ? existing : backups_ - 1; i >= 1; --i) {
        const std::string from = backup_name(path_, i);
        const std::string to = backup_name(path_, i + 1);
        if (::rename(from.c_str(), to.c_str()) < 0 && errno != ENOENT)
            return fail(Error::from_errno("rename '%s' to '%s'", from.c_str(), to.c_str()));
    }
    const std::string first = backup_name(path_, 1);
    if (::rename(path_.c_str(), first.c_str()) < 0)
        return fail(Error::from_errno("rename '%s' to '%s'", path_.c_str(), first.c_str()));
    // The old file is now <path>.1; until <path> exists again, keep appending to it rather
    // than lose output, and never rename again before it does (that would shift the backups
    // a second time for one rotation).
    reopen_pending_ = true;
    return reopen();
}

Status RotatingLog::write(std::string_view chunk) {
    Status rotate_error;
    if (reopen_pending_) {
        if (Status s = reopen(); !s)
            rotate_error = std::move(s);
    }
    bool just_rotated = false;
    while (!chunk.empty()) {
        if (max_bytes_ == 0 || size_ + chunk.size() <= max_bytes_) {
            GAFFER_RETURN_IF_ERROR(write_all(chunk));
            break;
        }
        // Rotation is due: find where the current file may end. The chunk overflows, so
        // the room left is smaller than the chunk.
        size_t piece;  // bytes to append before rotating
        const size_t room = size_ < max_bytes_ ? static_cast<size_t>(max_bytes_ - size_) : 0;
        const size_t last_nl = room > 0 ? chunk.substr(0, room).rfind('\n') : std::string_view::npos;
        if (last_nl != std::string_view::npos) {
            piece = last_nl + 1;  // the whole lines that fit
        } else if (size_ > 0 && at_line_start_ && !just_rotated) {
            // Nothing fits but the file ends a line: start a new file first. (Not twice in
            // a row, in case something else refilled <path>: every turn must write.)
            piece = 0;
        } else {
            // The file is empty or ends mid-line and no line end fits: the line that is
            // under way stays whole (the file grows past max_bytes) and rotation follows it.
            const size_t nl = chunk.find('\n');
            piece = nl == std::string_view::npos ? chunk.size() : nl + 1;
        }
        GAFFER_RETURN_IF_ERROR(write_all(chunk.substr(0, piece)));
        chunk.remove_prefix(piece);
        if (reopen_pending_ || !rotate_error.has_value()) {
            // A rotation already failed during this chunk (or the last one): do not retry
            // it for every line; write the rest to the current file.
            GAFFER_RETURN_IF_ERROR(write_all(chunk));
            break;
        }
        if (Status s = rotate(); !s) {
            rotate_error = std::move(s);
            GAFFER_RETURN_IF_ERROR(write_all(chunk));
            break;
        }
        just_rotated = true;
    }
    return rotate_error;
}

std::string log_path_for(const std::string& log_dir, const std::string& qualified_job, const std::string& label) {
    std::string name = sanitize(qualified_job) + "." + sanitize(label) + ".log";
    if (log_dir.empty())
        return name;
    if (log_dir.back() == '/')
        return log_dir + name;
    return log_dir + "/" + name;
}

}  // namespace gaffer::io
