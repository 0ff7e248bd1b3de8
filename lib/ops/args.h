// SPDX-License-Identifier: MIT
// The one parser of each kind of operation argument, as JSON values (HTTP bodies, /channel
// args and kwargs, D-Bus arguments converted to JSON). Each refuses junk: nullopt, or an
// EINVAL error whose context is the message front ends show ("scale: ...").
#pragma once

#include <optional>
#include <string_view>

#include "lib/base/result.h"
#include "lib/json/json.h"
#include "lib/model/job_spec.h"
#include "lib/model/values.h"

namespace gaffer::ops {

// A signal given as a JSON integer or string (name or number); nullopt on junk.
std::optional<int> signal_from_json(const json_t* v);
// A scale as a JSON integer or a string ("+n", "-n", "=n", "n"); nullopt on junk.
std::optional<model::ScaleOp> scale_from_json(const json_t* v);
// A graceful_timeout: absent or null is "not given" (nullopt); else a number of seconds in
// 0..1e9 (as job configs allow), otherwise Error{EINVAL}.
Result<std::optional<double>> graceful_timeout_from_json(const json_t* v);
// 1 to 9 decimal digits (a pid in a URL path).
bool is_number_segment(std::string_view s);
std::optional<int> pid_from_segment(std::string_view s);
// A pid as a JSON integer or a decimal string, in the range of pid_from_segment (never
// truncated to int); nullopt otherwise.
std::optional<int> pid_from_json(const json_t* v);
// A job argument: "sid.job", or "job" in `session`.
model::JobName job_from_string(std::string_view s, std::string_view session);
// The same as JSON; nullopt when not a non-empty string.
std::optional<model::JobName> job_from_json(const json_t* v, std::string_view session);

}  // namespace gaffer::ops
