// SPDX-License-Identifier: MIT
// Console lines shared by `gafferd -v/-vv` (EventConsole) and `gaffer start`
// (AppConsole): the clock prefix and the colours of reference §12.3.
//
// Colours: index i picks cyan, yellow, green, magenta, red, blue (i % 6), the bright
// variant (ESC[1m added) for i % 12 >= 6; the whole text is wrapped as
// <colour><text>ESC[39m (and ESC[22m after a bright one, so bold does not leak).
#pragma once

#include <string>
#include <string_view>

namespace gaffer::console {

// The local time as "HH:MM:SS".
std::string clock_text();

// `text` wrapped in colour `index` (see above); `index` < 0: `text` unchanged.
std::string coloured(int index, std::string_view text);

}  // namespace gaffer::console
