// SPDX-License-Identifier: MIT
// HookSet: the `[webhooks]` table (reference §10.6) as validated, immutable data, and the
// matching rule that decides which URLs receive an event. No loop, no I/O, except that
// validating a URL loads libcurl on first use (its URL parser; curl_api.h).
//
// Matching (gafferd's choice where §10.6 leaves it open): a hook on pattern P receives an
// event of type T when P matches T under the subscription rule of §6.1, that is T == P or
// T starts with P + "." (whole segments, any depth); a trailing '.' in P is ignored and the
// special pattern "." receives every event. So `spawn` gets only `spawn` (not
// `spawn_error`), and `job.default.web` gets every event of that job
// (`job.default.web.spawn`, `job.default.web.exit`, ...). Exact matching, which the original
// offered, is the special case of a full type.
//
// Every URL receives a given event at most once, however many of its hooks match it (a URL
// listed under both "." and "spawn" gets one POST per spawn event).
//
// URLs: only absolute http:// and https:// URLs with a host are accepted; when libcurl
// cannot be loaded, none is (the error of curl_api()). Without an
// asynchronous resolver in libcurl (`async_dns` false) the host must also be an IP literal
// or "localhost", because resolving any other name would block the loop.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.h"

namespace gaffer::webhook {

struct Hook {
    std::string pattern;  // event type or prefix, as written in [webhooks]
    std::string url;
};

// Upper bound on a hook URL, so a config cannot make every delivery carry megabytes.
inline constexpr size_t kMaxUrlLength = 4096;

// Status: ok, or EINVAL with a message saying what is wrong with `url`.
Status validate_url(std::string_view url, bool async_dns);

// `url` with any user:password part replaced by "***", for log lines.
std::string redact_url(std::string_view url);

// True if a hook on `pattern` receives events of type `type` (see the banner).
bool pattern_matches(std::string_view pattern, std::string_view type);

class HookSet {
public:
    HookSet() = default;

    // Validates every entry; on the first bad one returns EINVAL naming the entry
    // ("webhook 'spawn = ftp://x': only http:// and https:// URLs are supported"), and
    // its index in `*bad_index` when given (for the caller to name the config line).
    static Result<HookSet> make(const std::vector<std::pair<std::string, std::string>>& hooks, bool async_dns,
                                size_t* bad_index = nullptr);

    const std::vector<Hook>& hooks() const { return hooks_; }
    bool empty() const { return hooks_.empty(); }

    // The distinct patterns, in order of first appearance (one bus subscription each).
    const std::vector<std::string>& patterns() const { return patterns_; }

    // The first entry of patterns() that matches `type`, or nullptr. Of all the
    // subscriptions that see an event, only this pattern's does the work, so an event is
    // handled once even when several patterns match it.
    const std::string* first_pattern_for(std::string_view type) const;

    // The URLs that receive an event of type `type`: each once, in file order.
    std::vector<std::string> urls_for(std::string_view type) const;

    bool has_url(std::string_view url) const;

private:
    std::vector<Hook> hooks_;
    std::vector<std::string> patterns_;
};

}  // namespace gaffer::webhook
