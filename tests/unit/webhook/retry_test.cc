// SPDX-License-Identifier: MIT
// Webhook retry policy: what is retried, what fails at once, and the back-off schedule.
#include "lib/webhook/retry.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

namespace gaffer::webhook {
namespace {

using std::chrono::milliseconds;

TEST(Classify, SuccessIs2xx) {
    EXPECT_EQ(classify(CURLE_OK, 200), Outcome::kDelivered);
    EXPECT_EQ(classify(CURLE_OK, 204), Outcome::kDelivered);
    EXPECT_EQ(classify(CURLE_OK, 299), Outcome::kDelivered);
}

TEST(Classify, ServerErrorsAreRetriedClientErrorsAreNot) {
    EXPECT_EQ(classify(CURLE_OK, 500), Outcome::kRetry);
    EXPECT_EQ(classify(CURLE_OK, 503), Outcome::kRetry);
    EXPECT_EQ(classify(CURLE_OK, 400), Outcome::kFail);
    EXPECT_EQ(classify(CURLE_OK, 404), Outcome::kFail);
    EXPECT_EQ(classify(CURLE_OK, 429), Outcome::kFail);
    EXPECT_EQ(classify(CURLE_OK, 301), Outcome::kFail);  // redirects are not followed
    EXPECT_EQ(classify(CURLE_OK, 0), Outcome::kFail);
}

TEST(Classify, TransientTransportErrorsAreRetried) {
    for (CURLcode c : {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_RESOLVE_HOST, CURLE_SEND_ERROR,
                       CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR})
        EXPECT_EQ(classify(c, 0), Outcome::kRetry) << curl_easy_strerror(c);
}

TEST(Classify, PermanentTransportErrorsFail) {
    for (CURLcode c : {CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_PEER_FAILED_VERIFICATION,
                       CURLE_OUT_OF_MEMORY, CURLE_WRITE_ERROR})
        EXPECT_EQ(classify(c, 0), Outcome::kFail) << curl_easy_strerror(c);
}

TEST(Backoff, DoublesFromFirstAndIsCapped) {
    const milliseconds first{500}, max{30000};
    EXPECT_EQ(backoff(1, first, max), milliseconds(500));
    EXPECT_EQ(backoff(2, first, max), milliseconds(1000));
    EXPECT_EQ(backoff(3, first, max), milliseconds(2000));
    EXPECT_EQ(backoff(6, first, max), milliseconds(16000));
    EXPECT_EQ(backoff(7, first, max), milliseconds(30000));
    EXPECT_EQ(backoff(1000, first, max), milliseconds(30000));  // no overflow
    EXPECT_EQ(backoff(0, first, max), milliseconds(500));
    EXPECT_EQ(backoff(3, milliseconds(0), max), milliseconds(0));
}

}  // namespace
}  // namespace gaffer::webhook
