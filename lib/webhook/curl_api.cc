// SPDX-License-Identifier: MIT
// libcurl loaded at run time (see curl_api.h).
#include "lib/webhook/curl_api.h"

#include <dlfcn.h>

#include <algorithm>
#include <mutex>

namespace gaffer::webhook {

namespace {

#ifndef GAFFER_CURL_SONAME
#define GAFFER_CURL_SONAME ""
#endif

struct DlCloser {
    void operator()(void* handle) const { (void)dlclose(handle); }
};
using DlHandle = std::unique_ptr<void, DlCloser>;

std::string dl_error() {
    const char* e = dlerror();
    return e ? e : "unknown dlopen error";
}

// Fills every member of `api` from `handle`; on the first missing function, its name.
Result<void> resolve(void* handle, CurlApi& api) {
#define GAFFER_CURL_RESOLVE(member, function)                     \
    {                                                             \
        void* sym = dlsym(handle, #function);                     \
        if (!sym)                                                 \
            return fail(ELIBACC, "no function " #function);       \
        api.member = reinterpret_cast<decltype(api.member)>(sym); \
    }
    GAFFER_CURL_FUNCTIONS(GAFFER_CURL_RESOLVE)
#undef GAFFER_CURL_RESOLVE
    return ok();
}

}  // namespace

std::vector<std::string> curl_sonames() {
    std::vector<std::string> names;
    for (const char* n : {GAFFER_CURL_SONAME, "libcurl-gnutls.so.4", "libcurl.so.4"})
        if (*n && std::find(names.begin(), names.end(), n) == names.end())
            names.emplace_back(n);
    return names;
}

Result<std::unique_ptr<CurlApi>> load_curl_api(std::span<const std::string> sonames) {
    std::string why;
    for (const std::string& name : sonames) {
        if (!why.empty())
            why += "; ";
        DlHandle handle(dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL));
        if (!handle) {
            why += dl_error();
            continue;
        }
        auto api = std::make_unique<CurlApi>();
        if (Status st = resolve(handle.get(), *api); !st) {
            why += name + ": " + st.error().context;
            continue;
        }
        api->soname = name;
        (void)handle.release();  // loaded for good (curl_api.h)
        return api;
    }
    if (sonames.empty())
        why = "no library to try";
    return fail(Error::make(ELIBACC, "webhooks need libcurl, which cannot be loaded (%s)", why.c_str()));
}

Result<const CurlApi*> curl_api() {
    static std::mutex mu;
    static const CurlApi* loaded = nullptr;  // never freed: the library stays too
    std::lock_guard lock(mu);
    if (loaded)
        return loaded;
    std::vector<std::string> names = curl_sonames();
    GAFFER_TRY(std::unique_ptr<CurlApi> api, load_curl_api(names));
    // Once per process: from here on the table is kept, and the library never unloaded.
    CURLcode rc = api->global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return fail(Error::make(EIO, "%s: curl_global_init: %s", api->soname.c_str(), api->easy_strerror(rc)));
    loaded = api.release();
    return loaded;
}

}  // namespace gaffer::webhook
