// SPDX-License-Identifier: MIT
#include "lib/base/result.h"

#include <cstdio>
#include <cstring>

namespace gaffer {

namespace {
std::string vformat(const char* fmt, va_list ap) {
    char buf[512];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return fmt;
    return std::string(buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
}
}  // namespace

std::string Error::message() const {
    if (code == 0)
        return context;
    if (context.empty())
        return strerror(code);
    return context + ": " + strerror(code);
}

Error Error::from_errno(const char* fmt, ...) {
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    Error e{saved > 0 ? saved : EIO, vformat(fmt, ap)};
    va_end(ap);
    return e;
}

Error Error::make(int code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    Error e{code, vformat(fmt, ap)};
    va_end(ap);
    return e;
}

}  // namespace gaffer
