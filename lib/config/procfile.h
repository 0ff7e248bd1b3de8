// SPDX-License-Identifier: MIT
// Procfile parser (reference §12.1 plus issue 14). Pure: text in, entries out.
//
// Rules:
//   * An entry is a line `name: command`, name of [A-Za-z0-9_-]+ (foreman's set; the
//     original refused '-'), at most 100 bytes (the job name limit), command the rest of
//     the line with surrounding blanks removed, never empty.
//   * Blank lines and lines whose first non-blank byte is '#' are comments.
//   * Any other line is malformed: with `strict` an error "<path>:<line>: ...", else it
//     is skipped and a warning with the same prefix is added to Procfile::warnings.
//   * A repeated name keeps its first position and takes the last command (§12.1); a
//     warning names both lines.
//   * A command whose quotes do not close (model::shell_split fails) is an error even
//     without `strict`: it matches the entry syntax but could never run.
//   * Types keep their order of first appearance (the order gives the PORT offsets).
//   * A file with a NUL byte or another control byte than tab, CR and LF ("binary file"),
//     a line longer than kProcfileMaxLine bytes or a file larger than kProcfileMaxBytes
//     is an error. Lines may end in LF or CRLF.
// Every error is Error{EINVAL, "<path>[:<line>]: <reason>"}.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"

namespace gaffer::config {

inline constexpr size_t kProcfileMaxBytes = size_t{1} << 20;
inline constexpr size_t kProcfileMaxLine = size_t{64} << 10;
inline constexpr size_t kProcfileMaxName = 100;

struct ProcfileEntry {
    std::string name;
    std::string command;  // as written (blanks at both ends removed)
    int line = 0;         // line of the command kept (the last one for a repeated name)
    bool operator==(const ProcfileEntry&) const = default;
};

struct Procfile {
    std::vector<ProcfileEntry> entries;  // order of first appearance
    std::vector<std::string> warnings;   // "<path>:<line>: ..." each

    // The entry named `name`, or null.
    const ProcfileEntry* find(std::string_view name) const;
};

Result<Procfile> parse_procfile(std::string_view text, std::string_view path, bool strict);

// Reads and parses the file at `path` (read_config_text's rules: a directory, a FIFO or
// a device is refused without blocking; past kProcfileMaxBytes is an error).
Result<Procfile> load_procfile(const std::string& path, bool strict);

// The text of a config file that a user names (Procfile, .env): opened with O_NONBLOCK
// so that a FIFO cannot block, then refused (EINVAL "<path>: not a regular file") unless
// it is a regular file; EINVAL "<path>: larger than N MiB" past max_bytes. Open errors
// (ENOENT...) are forwarded as "open '<path>': ...".
Result<std::string> read_config_text(const std::string& path, size_t max_bytes);

}  // namespace gaffer::config
