// SPDX-License-Identifier: MIT
// Result<T> and Status: errors as values, in the std::expected vocabulary.
// An Error carries a positive errno-style code plus a human context string. Domain
// outcomes that the HTTP and D-Bus front ends map to statuses use the same codes:
// ENOENT → 404, EEXIST → 409, EINVAL → 400, EPERM/EACCES → 403 (one table, in
// lib/manager/errors.h). Nothing here throws.
#pragma once

#include <cerrno>
#include <cstdarg>
#include <string>
#include <utility>
#include <variant>

namespace gaffer {

struct Error {
    int code = 0;         // positive errno value
    std::string context;  // what was being done, for logs and error bodies
    // For a domain outcome that a lower layer caused (lib/manager/errors.h kSpawnFailed):
    // that layer's errno and the step that failed (a static string, e.g. "exec").
    int cause = 0;
    const char* stage = nullptr;

    // "open '/x': No such file or directory"
    std::string message() const;

    static Error from_errno(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
    static Error make(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
};

struct Unexpected {
    Error error;
};
inline Unexpected fail(Error e) {
    return Unexpected{std::move(e)};
}
inline Unexpected fail(int code, std::string context) {
    return Unexpected{Error{code, std::move(context)}};
}

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}         // NOLINT: implicit by design
    Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const Error& error() const { return std::get<1>(v_); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Unexpected u) : err_(std::move(u.error)), ok_(false) {}  // NOLINT
    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool ok_ = true;
};

using Status = Result<void>;
inline Status ok() {
    return Status();
}

}  // namespace gaffer

#define GAFFER_CONCAT_INNER(a, b) a##b
#define GAFFER_CONCAT(a, b) GAFFER_CONCAT_INNER(a, b)

// GAFFER_RETURN_IF_ERROR(expr): return the error of a Status/Result expression.
#define GAFFER_RETURN_IF_ERROR(expr)                  \
    do {                                              \
        auto&& gaffer_r_ = (expr);                    \
        if (!gaffer_r_)                               \
            return ::gaffer::fail(gaffer_r_.error()); \
    } while (0)

// GAFFER_TRY(var, expr): declare `var` from a Result or return its error.
#define GAFFER_TRY(var, expr)                                              \
    auto GAFFER_CONCAT(gaffer_t_, __LINE__) = (expr);                      \
    if (!GAFFER_CONCAT(gaffer_t_, __LINE__))                               \
        return ::gaffer::fail(GAFFER_CONCAT(gaffer_t_, __LINE__).error()); \
    var = std::move(GAFFER_CONCAT(gaffer_t_, __LINE__)).value()
