// SPDX-License-Identifier: MIT
#include "lib/io/line_splitter.h"

namespace gaffer::io {

size_t LineSplitter::cut_point(std::string_view s) const {
    // s[max_line_] would begin the next piece. If it is a UTF-8 continuation byte, back up
    // to the lead byte of its character (at most 3 steps: characters are ≤ 4 bytes), so
    // both pieces stay decodable. Anything else (binary, invalid UTF-8) is cut as is.
    size_t cut = max_line_;
    for (int steps = 0; steps < 3 && cut > 1; ++steps) {
        if ((static_cast<unsigned char>(s[cut]) & 0xC0) != 0x80)
            return cut;
        --cut;
    }
    if ((static_cast<unsigned char>(s[cut]) & 0xC0) != 0x80)
        return cut;
    return max_line_;
}

}  // namespace gaffer::io
