// SPDX-License-Identifier: MIT
#include "lib/ws/random.h"

#include <sys/random.h>

#include <cerrno>
#include <vector>

namespace gaffer::ws {

Status random_bytes(uint8_t* buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = ::getrandom(buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(Error::from_errno("getrandom"));
        }
        done += static_cast<size_t>(n);
    }
    return ok();
}

Result<std::string> random_hex(size_t nbytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::vector<uint8_t> raw(nbytes);
    GAFFER_RETURN_IF_ERROR(random_bytes(raw.data(), raw.size()));
    std::string out;
    out.reserve(2 * nbytes);
    for (uint8_t b : raw) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
    }
    return out;
}

Result<uint32_t> random_u32() {
    uint8_t b[4];
    GAFFER_RETURN_IF_ERROR(random_bytes(b, sizeof b));
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

}  // namespace gaffer::ws
