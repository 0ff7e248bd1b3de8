// SPDX-License-Identifier: MIT
#include "lib/console/line.h"

#include <time.h>

namespace gaffer::console {

namespace {
const char* const kColours[] = {"\033[36m", "\033[33m", "\033[32m", "\033[35m", "\033[31m", "\033[34m"};
}  // namespace

std::string clock_text() {
    char ts[16];
    time_t now = time(nullptr);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    return ts;
}

std::string coloured(int index, std::string_view text) {
    if (index < 0)
        return std::string(text);
    bool bright = index % 12 >= 6;
    std::string out = kColours[index % 6];
    if (bright)
        out += "\033[1m";
    out += text;
    out += "\033[39m";
    if (bright)
        out += "\033[22m";
    return out;
}

}  // namespace gaffer::console
