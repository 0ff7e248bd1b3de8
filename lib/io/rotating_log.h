// SPDX-License-Identifier: MIT
// RotatingLog: an append-only log file with size-based rotation, for the gafferd job
// options stdout_file/stderr_file/log_dir (reference §7.1, §16 "Log files").
//
// Invariants:
// - Every byte given to write() reaches a file (or write() returns the error that
//   stopped it), in order; a chunk is never reordered or interleaved with another one,
//   so the processes of one job may share one RotatingLog (the manager keeps one per
//   job and label) without tearing each other's lines.
// - Rotation happens at a line end: when a chunk would overflow max_bytes, the whole
//   lines of it that fit are appended, then the file is rotated, then the rest follows
//   (rotating again as often as needed). When no line end fits: a file that ends with
//   '\n' is rotated first; a file that ends mid-line gets the chunk up to its first
//   '\n' (the line under way stays whole), or the whole chunk if it has no '\n' (bytes
//   between line ends are never cut), and is rotated after it. So a file exceeds
//   max_bytes only by the end of one line or by one chunk without '\n', and a line is
//   split across two files only when it arrives in pieces that overflow without a line
//   end.
// - Rotation renames <path>.N-1 → <path>.N … <path> → <path>.1 (<path>.1 is the newest
//   backup) and keeps `backups` files; backups = 0 truncates <path> instead.
// - Writes are plain blocking write(2)s to a regular file; nothing is buffered here.
// - The file's directory is opened once, at open(), and every later operation (rotation's
//   renames, reopening) works relative to that descriptor. With `beneath` (the log_root
//   of a job loaded without full rights, security-defaults.md), that directory is resolved
//   with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from `beneath`, and the file itself
//   is never a symbolic link (O_NOFOLLOW): a link planted after the job was checked can
//   lead nowhere else.
// Two RotatingLog objects on one path (two daemons) are not coordinated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"

namespace gaffer::io {

class RotatingLog {
public:
    // Opens (creating, mode 0644) `path` for appending. The directory must exist (ENOENT
    // otherwise). max_bytes = 0 turns rotation off; backups < 0 is EINVAL. A non-empty
    // `beneath` (an absolute directory) confines the file to it, as described above:
    // EACCES for a path outside it, ELOOP or EXDEV for a symbolic link on the way.
    static Result<std::unique_ptr<RotatingLog>> open(std::string path, uint64_t max_bytes, int backups,
                                                     std::string_view beneath = {});

    RotatingLog(const RotatingLog&) = delete;
    RotatingLog& operator=(const RotatingLog&) = delete;

    // Appends the whole chunk (short writes are continued), rotating as described above,
    // possibly several times for a chunk larger than max_bytes. On a failed rotation the
    // rest of the chunk still goes to the current file and the rotation error is
    // returned (the next overflowing write tries again); on a failed write the error is
    // returned and the remaining bytes of the chunk are lost.
    Status write(std::string_view chunk);

    // Bytes in the current file (its size at open plus what was appended since).
    uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }
    uint64_t max_bytes() const { return max_bytes_; }
    int backups() const { return backups_; }

private:
    RotatingLog(std::string path, UniqueFd dir, std::string name, int open_flags, uint64_t max_bytes, int backups,
                UniqueFd fd, uint64_t size, bool at_line_start);

    Status write_all(std::string_view data);
    Status rotate();
    Status reopen();

    std::string path_;
    UniqueFd dir_;      // the file's directory (O_PATH)
    std::string name_;  // the file's name in dir_
    int open_flags_;
    uint64_t max_bytes_;
    int backups_;
    UniqueFd fd_;
    uint64_t size_;
    bool at_line_start_;   // the current file is empty or ends with '\n'
    bool reopen_pending_;  // <path> was renamed away but could not be created again
};

// The file of one job's output label in a log_dir (§16): <log_dir>/<session>.<job>.<label>.log,
// qualified_job being "<session>.<job>". A '/' or NUL in the job or the label becomes '_'
// so the file stays inside log_dir.
std::string log_path_for(const std::string& log_dir, const std::string& qualified_job, const std::string& label);

}  // namespace gaffer::io
