// SPDX-License-Identifier: MIT
// libFuzzer target: one sd_notify datagram -> manager::NotifySocket::parse (the
// "KEY=VALUE\n..." lines a job with `notify = true` sends). It aborts when an invariant
// breaks:
//   * a datagram with a NUL byte gives no fields;
//   * otherwise the fields are exactly the keys of the "KEY=VALUE" lines (non-empty key,
//     split at the first '='), the first kMaxFields distinct ones, each with the value of
//     its first line; so no key holds '=' or '\n' and no value '\n';
//   * the parse is deterministic.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "lib/manager/notify_socket.h"

namespace {

using gaffer::manager::NotifySocket;

void check(bool ok) {
    if (!ok)
        abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The socket drops datagrams above kMaxDatagram; parse() must still cope with more.
    if (size > 4 * NotifySocket::kMaxDatagram)
        return 0;
    std::string_view d(reinterpret_cast<const char*>(data), size);
    NotifySocket::Fields f = NotifySocket::parse(d);
    check(f == NotifySocket::parse(d));
    check(f.size() <= NotifySocket::kMaxFields);

    if (d.find('\0') != std::string_view::npos) {
        check(f.empty());
        return 0;
    }
    // The first value of each key of a "KEY=VALUE" line, the first kMaxFields keys.
    std::map<std::string, std::string> want;
    for (size_t start = 0; start <= d.size();) {
        size_t nl = d.find('\n', start);
        if (nl == std::string_view::npos)
            nl = d.size();
        std::string_view line = d.substr(start, nl - start);
        start = nl + 1;
        size_t eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0)
            continue;
        std::string key(line.substr(0, eq));
        if (want.size() < NotifySocket::kMaxFields || want.count(key))
            want.emplace(key, std::string(line.substr(eq + 1)));
    }
    check(f == want);
    for (const auto& [key, value] : f)
        check(key.find('=') == std::string::npos && key.find('\n') == std::string::npos &&
              value.find('\n') == std::string::npos);
    return 0;
}
