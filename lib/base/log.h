// SPDX-License-Identifier: MIT
// Logging: one line per message, "%Y-%m-%d %H:%M:%S [<pid>] [<LEVEL>] <message>", to
// stderr or a file. lib/ below the manager logs at debug only; the manager, the front
// ends and daemon/ log once, where an error is handled (log_error returns the error
// so that `return log_error(e, ...)` reads naturally).
#pragma once

#include <cstdio>
#include <string>

#include "lib/base/result.h"

namespace gaffer::log {

enum class Level { kDebug = 0, kInfo, kWarning, kError, kCritical };

void set_level(Level level);
Level level();
bool enabled(Level level);
// Sends log lines to `path` ("-" = stderr). Returns an error if the file cannot be opened.
Status set_file(const std::string& path);
// Parses critical/error/warning/info/debug (case-insensitive).
bool parse_level(std::string_view text, Level* ret_level);

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace gaffer::log

#define log_debug(...) ::gaffer::log::write(::gaffer::log::Level::kDebug, __VA_ARGS__)
#define log_info(...) ::gaffer::log::write(::gaffer::log::Level::kInfo, __VA_ARGS__)
#define log_warning(...) ::gaffer::log::write(::gaffer::log::Level::kWarning, __VA_ARGS__)
#define log_critical(...) ::gaffer::log::write(::gaffer::log::Level::kCritical, __VA_ARGS__)
// log_error(err, fmt, ...) logs "<fmt>: <err.message()>" and yields fail(err).
#define log_error(err, fmt, ...)                                                                             \
    (::gaffer::log::write(::gaffer::log::Level::kError, fmt ": %s", ##__VA_ARGS__, (err).message().c_str()), \
     ::gaffer::fail(err))
