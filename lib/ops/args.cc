// SPDX-License-Identifier: MIT
#include "lib/ops/args.h"

#include <cmath>
#include <string>

#include "lib/base/strutil.h"

namespace gaffer::ops {

std::optional<int> signal_from_json(const json_t* v) {
    if (!v)
        return std::nullopt;
    if (json_is_integer(v))
        return model::signal_from_number(json_integer_value(v));
    if (json_is_string(v)) {
        return model::parse_signal(std::string_view(json_string_value(v), json_string_length(v)));
    }
    return std::nullopt;
}

std::optional<model::ScaleOp> scale_from_json(const json_t* v) {
    if (json_is_integer(v))
        return model::scale_from_int(json_integer_value(v));
    if (json_is_string(v))
        return model::parse_scale(std::string_view(json_string_value(v), json_string_length(v)));
    return std::nullopt;
}

Result<std::optional<double>> graceful_timeout_from_json(const json_t* v) {
    constexpr double kMaxGracefulTimeout = 1e9;  // seconds, as lib/config allows
    if (!v || json_is_null(v))
        return std::optional<double>();
    double t = json_is_number(v) ? json_number_value(v) : -1;
    if (!json_is_number(v) || !std::isfinite(t) || t < 0 || t > kMaxGracefulTimeout)
        return fail(EINVAL, "graceful_timeout: expected a number of seconds >= 0");
    return std::optional<double>(t);
}

bool is_number_segment(std::string_view s) {
    if (s.empty() || s.size() > 9)
        return false;
    for (char ch : s) {
        if (ch < '0' || ch > '9')
            return false;
    }
    return true;
}

std::optional<int> pid_from_segment(std::string_view s) {
    if (!is_number_segment(s))
        return std::nullopt;
    auto v = parse_int(s);
    if (!v)
        return std::nullopt;
    return static_cast<int>(*v);
}

std::optional<int> pid_from_json(const json_t* v) {
    if (json_is_string(v))
        return pid_from_segment(std::string_view(json_string_value(v), json_string_length(v)));
    if (!json_is_integer(v))
        return std::nullopt;
    json_int_t n = json_integer_value(v);
    if (n < 0 || n > 999999999)  // as is_number_segment: 9 digits
        return std::nullopt;
    return static_cast<int>(n);
}

std::optional<model::JobName> job_from_json(const json_t* v, std::string_view session) {
    if (!json_is_string(v) || json_string_length(v) == 0)
        return std::nullopt;
    return job_from_string(std::string_view(json_string_value(v), json_string_length(v)), session);
}

model::JobName job_from_string(std::string_view s, std::string_view session) {
    if (s.find('.') != std::string_view::npos)
        return model::JobName::parse(s);
    return model::JobName{std::string(session), std::string(s)};
}

}  // namespace gaffer::ops
