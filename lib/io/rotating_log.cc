// SPDX-License-Identifier: MIT
#include "lib/io/rotating_log.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
// `dir` and `name` as the log file was opened, `nofollow` as it was.
bool ends_at_line_start(int dir, const std::string& name, bool nofollow, uint64_t size) {
    if (size == 0)
        return true;
    UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0)));
    if (!fd)
        return false;
    char c = 0;
    return ::pread(fd.get(), &c, 1, static_cast<off_t>(size - 1)) == 1 && c == '\n';
}

// The directory of `path` as an O_PATH descriptor, and the file's name in it. With
// `beneath`, the directory is resolved from there with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS.
Result<UniqueFd> open_dir(const std::string& path, std::string_view beneath, std::string* ret_name) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    *ret_name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (ret_name->empty() || *ret_name == "." || *ret_name == "..")
        return fail(Error::make(EINVAL, "log file '%s': not a file name", path.c_str()));
    constexpr int kDirFlags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    if (beneath.empty()) {
        UniqueFd fd(::open(dir.c_str(), kDirFlags));
        if (!fd)
            return fail(Error::from_errno("open the directory of '%s'", path.c_str()));
        return fd;
    }
    std::string root(beneath);
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    std::string rel;
    if (dir == root) {
        rel = ".";
    } else if (dir.size() > root.size() && dir.compare(0, root.size(), root) == 0 &&
               (root == "/" || dir[root.size()] == '/')) {
        rel = dir.substr(root == "/" ? 1 : root.size() + 1);
    } else {
        return fail(Error::make(EACCES, "log file '%s' is not beneath %s", path.c_str(), root.c_str()));
    }
    UniqueFd root_fd(::open(root.c_str(), kDirFlags));
    if (!root_fd)
        return fail(Error::from_errno("open %s", root.c_str()));
    struct open_how how {};
    how.flags = kDirFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
    UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root_fd.get(), rel.c_str(), &how, sizeof how)));
    if (!fd)
        return fail(Error::from_errno("open the directory of '%s' beneath %s", path.c_str(), root.c_str()));
    return fd;
}

std::string sanitize(const std::string& s) {
    std::string out = s;
    for (char& c : out)
        if (c == '/' || c == '\0')
            c = '_';
    return out;
}

}  // namespace

RotatingLog::RotatingLog(std::string path, UniqueFd dir, std::string name, int open_flags, uint64_t max_bytes,
                         int backups, UniqueFd fd, uint64_t size, bool at_line_start)
    : path_(std::move(path)),
      dir_(std::move(dir)),
      name_(std::move(name)),
      open_flags_(open_flags),
      max_bytes_(max_bytes),
      backups_(backups),
      fd_(std::move(fd)),
      size_(size),
      at_line_start_(at_line_start),
      reopen_pending_(false) {}

Result<std::unique_ptr<RotatingLog>> RotatingLog::open(std::string path, uint64_t max_bytes, int backups,
                                                       std::string_view beneath) {
    if (path.empty())
        return fail(Error::make(EINVAL, "log file: empty path"));
    if (backups < 0)
        return fail(Error::make(EINVAL, "log file '%s': negative backup count %d", path.c_str(), backups));
    std::string name;
    GAFFER_TRY(UniqueFd dir, open_dir(path, beneath, &name));
    const int flags = kOpenFlags | (beneath.empty() ? 0 : O_NOFOLLOW);
    UniqueFd fd(::openat(dir.get(), name.c_str(), flags, kMode));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path.c_str()));
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        return fail(Error::from_errno("fstat '%s'", path.c_str()));
    if (!S_ISREG(st.st_mode))
        return fail(Error::make(EINVAL, "log file '%s' is not a regular file", path.c_str()));
    const auto size = static_cast<uint64_t>(st.st_size);
    const bool at_line_start = ends_at_line_start(dir.get(), name, !beneath.empty(), size);
    return std::unique_ptr<RotatingLog>(new RotatingLog(std::move(path), std::move(dir), std::move(name), flags,
                                                        max_bytes, backups, std::move(fd), size, at_line_start));
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
    UniqueFd fd(::openat(dir_.get(), name_.c_str(), open_flags_, kMode));
    if (!fd)
        return fail(Error::from_errno("open '%s'", path_.c_str()));
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        return fail(Error::from_errno("fstat '%s'", path_.c_str()));
    const auto size = static_cast<uint64_t>(st.st_size);
    size_ = size;
    at_line_start_ = ends_at_line_start(dir_.get(), name_, (open_flags_ & O_NOFOLLOW) != 0, size);
    fd_ = std::move(fd);
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
    // Relative to the directory opened at open(): a renamed or replaced directory on the
    // way cannot redirect them (renameat never follows a link in its last component).
    const int dir = dir_.get();
    while (existing < backups_ &&
           ::faccessat(dir, backup_name(name_, existing + 1).c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        ++existing;
    for (int i = existing < backups_ ? existing : backups_ - 1; i >= 1; --i) {
        const std::string from = backup_name(name_, i);
        const std::string to = backup_name(name_, i + 1);
        if (::renameat(dir, from.c_str(), dir, to.c_str()) < 0 && errno != ENOENT)
            return fail(Error::from_errno("rename '%s.%d' to '%s.%d'", path_.c_str(), i, path_.c_str(), i + 1));
    }
    const std::string first = backup_name(name_, 1);
    if (::renameat(dir, name_.c_str(), dir, first.c_str()) < 0)
        return fail(Error::from_errno("rename '%s' to '%s.1'", path_.c_str(), path_.c_str()));
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
