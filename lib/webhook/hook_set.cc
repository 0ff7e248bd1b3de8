// SPDX-License-Identifier: MIT
// Hook table validation and matching (see hook_set.h). URLs are parsed with libcurl's URL
// API, the same parser that later sends the request, loaded at run time (curl_api.h).
#include "lib/webhook/hook_set.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <algorithm>
#include <memory>

#include "lib/base/strutil.h"
#include "lib/events/event_bus.h"
#include "lib/webhook/curl_api.h"

namespace gaffer::webhook {

namespace {

struct UrlDeleter {
    const CurlApi* curl = nullptr;
    void operator()(CURLU* u) const { curl->url_cleanup(u); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlStrDeleter {
    const CurlApi* curl = nullptr;
    void operator()(char* s) const { curl->free(s); }
};
using CurlStr = std::unique_ptr<char, CurlStrDeleter>;

CurlStr get_part(const CurlApi& curl, CURLU* u, CURLUPart part) {
    char* s = nullptr;
    if (curl.url_get(u, part, &s, 0) != CURLUE_OK)
        return CurlStr(nullptr, CurlStrDeleter{&curl});
    return CurlStr(s, CurlStrDeleter{&curl});
}

bool is_ip_literal_or_localhost(std::string_view host) {
    std::string h(host);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
        struct in6_addr a6;
        return inet_pton(AF_INET6, h.substr(1, h.size() - 2).c_str(), &a6) == 1;
    }
    struct in_addr a4;
    if (inet_pton(AF_INET, h.c_str(), &a4) == 1)
        return true;
    // libcurl answers "localhost" and "*.localhost" itself, without a resolver.
    std::string lower = to_lower(h);
    return lower == "localhost" || (lower.size() > 10 && lower.ends_with(".localhost"));
}

}  // namespace

Status validate_url(std::string_view url, bool async_dns) {
    if (url.empty())
        return fail(EINVAL, "empty URL");
    if (url.size() > kMaxUrlLength)
        return fail(Error::make(EINVAL, "URL longer than %zu bytes", kMaxUrlLength));
    for (unsigned char c : url)
        if (c <= 0x20 || c == 0x7f)
            return fail(EINVAL, "URL contains a space or a control character");
    // The scheme first, so that "ftp://h/x" and "mailto:a@b" get the message that helps.
    size_t colon = url.find(':');
    std::string_view scheme_text = colon == std::string_view::npos ? std::string_view() : url.substr(0, colon);
    bool has_scheme = !scheme_text.empty() && std::all_of(scheme_text.begin(), scheme_text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
               c == '.';
    });
    if (!has_scheme)
        return fail(EINVAL, "not an absolute URL (expected http://... or https://...)");
    std::string lower_scheme = to_lower(scheme_text);
    if ((lower_scheme != "http" && lower_scheme != "https") || url.substr(colon, 3) != "://")
        return fail(EINVAL, "only http:// and https:// URLs are supported");
    // libcurl reads "http:///x" as host "x"; a URL without an authority is a mistake.
    std::string_view rest = url.substr(colon + 3);
    if (rest.empty() || rest.find_first_of("/?#") == 0)
        return fail(EINVAL, "the URL has no host");
    GAFFER_TRY(const CurlApi* curl, curl_api());
    UrlPtr u(curl->url(), UrlDeleter{curl});
    if (!u)
        return fail(ENOMEM, "curl_url");
    std::string text(url);
    // No flags: no guessing of a scheme, no default scheme, no spaces.
    CURLUcode rc = curl->url_set(u.get(), CURLUPART_URL, text.c_str(), 0);
    if (rc != CURLUE_OK)
        return fail(Error::make(EINVAL, "not a valid URL: %s", curl->url_strerror(rc)));
    CurlStr host = get_part(*curl, u.get(), CURLUPART_HOST);
    if (!host || !*host)
        return fail(EINVAL, "the URL has no host");
    if (!async_dns && !is_ip_literal_or_localhost(host.get()))
        return fail(Error::make(EINVAL,
                                "host '%s' needs a DNS lookup, and this libcurl has no asynchronous "
                                "resolver; use an IP address",
                                host.get()));
    return ok();
}

std::string redact_url(std::string_view url) {
    size_t start = url.find("://");
    if (start == std::string_view::npos)
        return std::string(url);
    start += 3;
    size_t end = url.find_first_of("/?#", start);
    if (end == std::string_view::npos)
        end = url.size();
    size_t at = url.substr(start, end - start).rfind('@');
    if (at == std::string_view::npos)
        return std::string(url);
    std::string out(url.substr(0, start));
    out.append("***").append(url.substr(start + at));
    return out;
}

bool pattern_matches(std::string_view pattern, std::string_view type) {
    return events::EventBus::matches(pattern, type);
}

Result<HookSet> HookSet::make(const std::vector<std::pair<std::string, std::string>>& hooks, bool async_dns,
                              size_t* bad_index) {
    HookSet set;
    set.hooks_.reserve(hooks.size());
    for (const auto& [pattern, url] : hooks) {
        Status st = validate_url(url, async_dns);
        if (!st) {
            if (bad_index)
                *bad_index = set.hooks_.size();
            return fail(Error::make(EINVAL, "webhook '%s = %s': %s", pattern.c_str(), redact_url(url).c_str(),
                                    st.error().context.c_str()));
        }
        set.hooks_.push_back(Hook{pattern, url});
        if (std::find(set.patterns_.begin(), set.patterns_.end(), pattern) == set.patterns_.end())
            set.patterns_.push_back(pattern);
    }
    return set;
}

const std::string* HookSet::first_pattern_for(std::string_view type) const {
    for (const std::string& p : patterns_)
        if (pattern_matches(p, type))
            return &p;
    return nullptr;
}

std::vector<std::string> HookSet::urls_for(std::string_view type) const {
    std::vector<std::string> urls;
    for (const Hook& h : hooks_) {
        if (!pattern_matches(h.pattern, type))
            continue;
        if (std::find(urls.begin(), urls.end(), h.url) == urls.end())
            urls.push_back(h.url);
    }
    return urls;
}

bool HookSet::has_url(std::string_view url) const {
    return std::any_of(hooks_.begin(), hooks_.end(), [&](const Hook& h) { return h.url == url; });
}

}  // namespace gaffer::webhook
