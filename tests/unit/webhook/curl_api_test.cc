// SPDX-License-Identifier: MIT
// libcurl loaded at run time: the candidate list, a refusal naming every library tried (one
// that is missing, one without libcurl's functions), and the process-wide table. This test
// does not link libcurl, so the table below really comes from dlopen.
#include "lib/webhook/curl_api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace gaffer::webhook {
namespace {

TEST(CurlApi, TriesBothDebianFlavoursOnce) {
    std::vector<std::string> names = curl_sonames();
    ASSERT_FALSE(names.empty());
    EXPECT_NE(std::find(names.begin(), names.end(), "libcurl-gnutls.so.4"), names.end());
    EXPECT_NE(std::find(names.begin(), names.end(), "libcurl.so.4"), names.end());
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a library is tried twice";
}

TEST(CurlApi, RefusalNamesEveryLibraryTried) {
    std::vector<std::string> names = {"libgaffer-no-such-curl.so.4", "libc.so.6"};
    auto r = load_curl_api(names);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ELIBACC);
    std::string m = r.error().message();
    EXPECT_NE(m.find("webhooks need libcurl"), std::string::npos) << m;
    EXPECT_NE(m.find("libgaffer-no-such-curl.so.4"), std::string::npos) << m;
    EXPECT_NE(m.find("libc.so.6: no function curl_global_init"), std::string::npos) << m;
}

TEST(CurlApi, NothingToTry) {
    auto r = load_curl_api({});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ELIBACC);
}

TEST(CurlApi, FallsBackToTheNextLibrary) {
    std::vector<std::string> names = {"libgaffer-no-such-curl.so.4"};
    for (const std::string& n : curl_sonames()) names.push_back(n);
    auto r = load_curl_api(names);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_NE((*r)->soname, "libgaffer-no-such-curl.so.4");
    EXPECT_NE((*r)->easy_init, nullptr);
    EXPECT_NE((*r)->url_strerror, nullptr);
}

TEST(CurlApi, OneInitialisedTableForTheProcess) {
    auto a = curl_api();
    ASSERT_TRUE(a) << a.error().message();
    auto b = curl_api();
    ASSERT_TRUE(b);
    EXPECT_EQ(*a, *b);
    const CurlApi& curl = **a;
    const curl_version_info_data* info = curl.version_info(CURLVERSION_NOW);
    ASSERT_NE(info, nullptr);
    EXPECT_GE(info->version_num, 0x070000u);
    CURL* easy = curl.easy_init();  // works only after curl_global_init
    ASSERT_NE(easy, nullptr);
    EXPECT_EQ(curl.easy_setopt(easy, CURLOPT_URL, "http://127.0.0.1/"), CURLE_OK);
    curl.easy_cleanup(easy);
}

}  // namespace
}  // namespace gaffer::webhook
