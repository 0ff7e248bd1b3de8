// SPDX-License-Identifier: MIT
// Parsing of the small value languages of the gaffer interface: signals ("TERM",
// "SIGterm", "15"), scale expressions (§3.6: "+n", "-n", "=n", "n", integers), shell-style
// word splitting without expansion (§7.3) and $VAR substitution. All pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/model/job_spec.h"

namespace gaffer::model {

// Name with or without SIG, any case, or a decimal number in 1..64. nullopt on junk.
std::optional<int> parse_signal(std::string_view text);
std::optional<int> signal_from_number(long long n);
// "TERM" for 15; the number as text for signals without a name.
std::string signal_name(int sig);

struct ScaleOp {
    enum class Kind { kAdd, kSub, kSet } kind = Kind::kAdd;
    int n = 0;
    // The new target, never below 0.
    int apply(int current) const;
};
// A JSON integer: n > 0 adds n, n <= 0 subtracts |n|.
ScaleOp scale_from_int(long long n);
// "n" (adds), "+n", "-n", "=n". nullopt on anything else.
std::optional<ScaleOp> parse_scale(std::string_view text);

// POSIX-shell-like word splitting: single quotes, double quotes (with \" \\ \$ \`
// escapes), backslash escapes, no expansion. Fails on an unterminated quote.
Result<std::vector<std::string>> shell_split(std::string_view text);
// Quotes one word so that shell_split gives it back.
std::string shell_quote(std::string_view word);

// Replaces $NAME and ${NAME} with env values and $$ with $. Unknown names are left
// untouched (§7.3, recommended behaviour).
std::string substitute_vars(std::string_view text, const Env& env);

}  // namespace gaffer::model
