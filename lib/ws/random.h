// SPDX-License-Identifier: MIT
// Randomness for lib/ws: V1 message ids and the SockJS /info entropy, from getrandom(2)
// (flags 0: it blocks only before the kernel's pool is initialised). lib/auth has the
// same helper but sits beside ws in the module DAG, not below it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/base/result.h"

namespace gaffer::ws {

// Fills `buf` with `len` random bytes; short reads and EINTR are retried.
Status random_bytes(uint8_t* buf, size_t len);
// `nbytes` random bytes as 2*nbytes lowercase hex characters.
Result<std::string> random_hex(size_t nbytes);
Result<uint32_t> random_u32();

}  // namespace gaffer::ws
