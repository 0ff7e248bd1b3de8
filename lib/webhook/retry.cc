// SPDX-License-Identifier: MIT
// Webhook retry policy (see retry.h).
#include "lib/webhook/retry.h"

#include <curl/curl.h>

namespace gaffer::webhook {

Outcome classify(int curl_code, long http_status) {
    if (curl_code == CURLE_OK) {
        if (http_status >= 200 && http_status < 300)
            return Outcome::kDelivered;
        if (http_status >= 500 && http_status < 600)
            return Outcome::kRetry;
        return Outcome::kFail;
    }
    switch (static_cast<CURLcode>(curl_code)) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_AGAIN:
            return Outcome::kRetry;
        default:
            return Outcome::kFail;
    }
}

std::chrono::milliseconds backoff(int failed_attempts, std::chrono::milliseconds first, std::chrono::milliseconds max) {
    if (failed_attempts < 1)
        failed_attempts = 1;
    if (first <= std::chrono::milliseconds::zero())
        return std::chrono::milliseconds::zero();
    std::chrono::milliseconds d = first;
    for (int i = 1; i < failed_attempts; ++i) {
        if (d >= max / 2)
            return max;  // doubling would pass the cap (and may overflow)
        d *= 2;
    }
    return d < max ? d : max;
}

}  // namespace gaffer::webhook
