// SPDX-License-Identifier: MIT
// Hook matching (exact type, §6.1 prefixes, "." for everything), one POST per URL per
// event, and URL validation.
#include "lib/webhook/hook_set.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace gaffer::webhook {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;
using Strings = std::vector<std::string>;

HookSet make(const Pairs& pairs) {
    auto r = HookSet::make(pairs, true);
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(r).value() : HookSet();
}

TEST(HookSet, PatternMatchesExactTypesAndWholeSegmentPrefixes) {
    EXPECT_TRUE(pattern_matches("spawn", "spawn"));
    EXPECT_FALSE(pattern_matches("spawn", "spawn_error"));
    EXPECT_FALSE(pattern_matches("spawn", "job.default.web.spawn"));
    EXPECT_TRUE(pattern_matches("job.default.web", "job.default.web"));
    EXPECT_TRUE(pattern_matches("job.default.web", "job.default.web.spawn"));
    EXPECT_TRUE(pattern_matches("job.default.web", "job.default.web.exit"));
    EXPECT_FALSE(pattern_matches("job.default.web", "job.default.webx.spawn"));
    EXPECT_FALSE(pattern_matches("job.default.web", "job.default"));
    EXPECT_TRUE(pattern_matches("job", "job.a.b.exit"));
    EXPECT_TRUE(pattern_matches("job.", "job.a.b.exit"));  // trailing dot ignored
    EXPECT_TRUE(pattern_matches(".", "load"));
    EXPECT_TRUE(pattern_matches(".", "proc.3.kill"));
}

TEST(HookSet, UrlsForListsEachMatchingUrlOnceInFileOrder) {
    HookSet set = make({{"spawn", "http://a/spawn"},
                        {".", "http://a/all"},
                        {"job.default.web", "http://a/web"},
                        {"spawn", "http://a/all"},  // also under "." above: one POST
                        {"exit", "http://a/exit"}});
    EXPECT_EQ(set.urls_for("spawn"), (Strings{"http://a/spawn", "http://a/all"}));
    EXPECT_EQ(set.urls_for("exit"), (Strings{"http://a/all", "http://a/exit"}));
    EXPECT_EQ(set.urls_for("job.default.web.spawn"), (Strings{"http://a/all", "http://a/web"}));
    EXPECT_EQ(set.urls_for("job.default.db.spawn"), (Strings{"http://a/all"}));
}

TEST(HookSet, PatternsAreDistinctInFirstAppearanceOrder) {
    HookSet set = make({{"spawn", "http://a/1"}, {".", "http://a/2"}, {"spawn", "http://a/3"}, {"exit", "http://a/4"}});
    EXPECT_EQ(set.patterns(), (Strings{"spawn", ".", "exit"}));
}

TEST(HookSet, FirstPatternSpeaksForAllMatchingSubscriptions) {
    HookSet set = make({{"job", "http://a/1"}, {"spawn", "http://a/2"}, {".", "http://a/3"}});
    ASSERT_NE(set.first_pattern_for("spawn"), nullptr);
    EXPECT_EQ(*set.first_pattern_for("spawn"), "spawn");
    EXPECT_EQ(*set.first_pattern_for("job.a.b.exit"), "job");
    EXPECT_EQ(*set.first_pattern_for("load"), ".");
    HookSet narrow = make({{"spawn", "http://a/1"}});
    EXPECT_EQ(narrow.first_pattern_for("exit"), nullptr);
    EXPECT_TRUE(narrow.urls_for("exit").empty());
}

TEST(HookSet, HasUrl) {
    HookSet set = make({{"spawn", "http://a/1"}});
    EXPECT_TRUE(set.has_url("http://a/1"));
    EXPECT_FALSE(set.has_url("http://a/2"));
    EXPECT_TRUE(HookSet().empty());
}

TEST(HookSet, RejectsTheWholeSetOnOneBadUrl) {
    auto r = HookSet::make({{"spawn", "http://a/1"}, {"exit", "ftp://files.example/x"}}, true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_NE(r.error().context.find("exit = ftp://files.example/x"), std::string::npos) << r.error().context;
    EXPECT_NE(r.error().context.find("only http:// and https://"), std::string::npos) << r.error().context;
}

TEST(ValidateUrl, AcceptsHttpAndHttps) {
    for (const char* url : {"http://127.0.0.1:8080/hook", "https://hooks.example.com/gaffer?x=1", "HTTP://Example.COM",
                            "http://[::1]:9/h", "http://user:pw@example.com/h", "http://localhost:5000/"}) {
        Status st = validate_url(url, true);
        EXPECT_TRUE(st) << url << ": " << st.error().message();
    }
}

TEST(ValidateUrl, RejectsOtherSchemesAndJunk) {
    for (const char* url : {"ftp://example.com/x", "file:///etc/passwd", "gopher://x/", "mailto:a@b.example",
                            "example.com/hook", "/relative", "", "http://", "http:///path", "http://a b/",
                            "http://a/\r\nX-Injected: 1", "ws://example.com/"}) {
        Status st = validate_url(url, true);
        EXPECT_FALSE(st) << "accepted '" << url << "'";
        if (!st) {
            EXPECT_EQ(st.error().code, EINVAL);
        }
    }
    EXPECT_FALSE(validate_url("http://a/" + std::string(kMaxUrlLength, 'x'), true));
}

TEST(ValidateUrl, WithoutAnAsyncResolverOnlyLiteralsAndLocalhost) {
    EXPECT_TRUE(validate_url("http://127.0.0.1:1/x", false));
    EXPECT_TRUE(validate_url("http://[::1]:1/x", false));
    EXPECT_TRUE(validate_url("http://localhost:1/x", false));
    EXPECT_TRUE(validate_url("http://api.localhost/x", false));
    Status st = validate_url("http://hooks.example.com/x", false);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().context.find("resolver"), std::string::npos) << st.error().context;
}

TEST(RedactUrl, HidesCredentialsOnly) {
    EXPECT_EQ(redact_url("http://user:pw@example.com/h?a=b@c"), "http://***@example.com/h?a=b@c");
    EXPECT_EQ(redact_url("https://example.com/a@b"), "https://example.com/a@b");
    EXPECT_EQ(redact_url("not a url"), "not a url");
}

}  // namespace
}  // namespace gaffer::webhook
