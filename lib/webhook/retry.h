// SPDX-License-Identifier: MIT
// Retry policy for webhook deliveries. Pure: the dispatcher feeds it the outcome of one
// attempt and the number of attempts made, it answers what to do and when.
//
// - A 2xx answer is a delivery.
// - A 5xx answer, a timeout (connect or total) and a transport failure that another try may
//   cure (connection refused or reset, name not resolved, nothing or half an answer, a TLS
//   handshake that broke off) are retried, up to Options::max_attempts attempts in all.
// - Anything else fails at once: a 4xx (the receiver rejected this request and will again),
//   1xx/3xx (redirects are not followed: a moved hook is a config error), a certificate that
//   does not verify, a malformed URL.
// Back-off doubles from `first` per failed attempt and is capped at `max`, without jitter:
// at most Options::max_in_flight requests are ever in flight, so there is no herd to spread.
#pragma once

#include <chrono>

namespace gaffer::webhook {

enum class Outcome {
    kDelivered,  // 2xx
    kRetry,      // try again after backoff() if attempts remain
    kFail,       // give up now
};

// `curl_code`: the transfer's CURLcode; `http_status`: CURLINFO_RESPONSE_CODE (0 = none).
Outcome classify(int curl_code, long http_status);

// Delay before the next attempt after `failed_attempts` (>= 1) failures:
// first * 2^(failed_attempts - 1), at most `max`.
std::chrono::milliseconds backoff(int failed_attempts, std::chrono::milliseconds first, std::chrono::milliseconds max);

}  // namespace gaffer::webhook
