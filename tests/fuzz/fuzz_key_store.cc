// SPDX-License-Identifier: MIT
// libFuzzer target: the key/user store's state file text → auth::parse_state (a pure
// function: no file, no lock). Beyond "no crash", it checks invariants and aborts when one
// breaks:
//   * every error is EINVAL with a reason (the input is far below kMaxStateBytes);
//   * every state it accepts round-trips: serialize_state, parsed again, is accepted and
//     serializes to the same text with as many keys and users (the file the store writes
//     always loads again, and loading it changes nothing).
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/auth/store_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > (1u << 16))
        return 0;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto state = gaffer::auth::parse_state(text);
    if (!state) {
        if (state.error().code != EINVAL || state.error().context.empty())
            abort();
        return 0;
    }
    std::string once = gaffer::auth::serialize_state(*state);
    auto again = gaffer::auth::parse_state(once);
    if (!again)
        abort();
    if (gaffer::auth::serialize_state(*again) != once)
        abort();
    if (again->keys.size() != state->keys.size() || again->users.size() != state->users.size())
        abort();
    return 0;
}
