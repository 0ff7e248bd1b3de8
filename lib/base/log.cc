// SPDX-License-Identifier: MIT
#include "lib/base/log.h"

#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstring>

namespace gaffer::log {

namespace {
Level g_level = Level::kInfo;
FILE* g_out = nullptr;  // nullptr = stderr

const char* level_name(Level l) {
    switch (l) {
        case Level::kDebug:
            return "DEBUG";
        case Level::kInfo:
            return "INFO";
        case Level::kWarning:
            return "WARNING";
        case Level::kError:
            return "ERROR";
        case Level::kCritical:
            return "CRITICAL";
    }
    return "?";
}
}  // namespace

void set_level(Level l) {
    g_level = l;
}
Level level() {
    return g_level;
}
bool enabled(Level l) {
    return l >= g_level;
}

Status set_file(const std::string& path) {
    if (path.empty() || path == "-") {
        if (g_out)
            fclose(g_out);
        g_out = nullptr;
        return ok();
    }
    FILE* f = fopen(path.c_str(), "ae");
    if (!f)
        return fail(Error::from_errno("open log file '%s'", path.c_str()));
    setvbuf(f, nullptr, _IOLBF, 0);
    if (g_out)
        fclose(g_out);
    g_out = f;
    return ok();
}

bool parse_level(std::string_view t, Level* ret) {
    static const struct {
        const char* name;
        Level level;
    } names[] = {{"debug", Level::kDebug},  {"info", Level::kInfo},   {"warning", Level::kWarning},
                 {"warn", Level::kWarning}, {"error", Level::kError}, {"critical", Level::kCritical}};
    for (auto& n : names) {
        if (t.size() == strlen(n.name) && strncasecmp(t.data(), n.name, t.size()) == 0) {
            *ret = n.level;
            return true;
        }
    }
    return false;
}

void write(Level l, const char* fmt, ...) {
    if (!enabled(l))
        return;
    char ts[32];
    time_t now = time(nullptr);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    FILE* out = g_out ? g_out : stderr;
    fprintf(out, "%s [%d] [%s] %s\n", ts, static_cast<int>(getpid()), level_name(l), msg);
}

}  // namespace gaffer::log
