// SPDX-License-Identifier: MIT
// CurlApi: the libcurl functions lib/webhook calls, resolved at run time with dlopen.
//
// gafferd does not link libcurl. With what it pulls in (a second TLS stack through libssh2,
// Kerberos, LDAP, RTMP, nghttp2, psl, ...) libcurl was most of the daemon's resident memory,
// and only `[webhooks]` need it. So lib/webhook is compiled against <curl/curl.h> for its
// types and constants only, and calls libcurl through this table, which is filled the first
// time a non-empty hook set is applied (Dispatcher::set_hooks) or a URL is validated:
// - dlopen(RTLD_NOW | RTLD_LOCAL) of the first library of curl_sonames() that loads and has
//   every function below (all or nothing), then curl_global_init(CURL_GLOBAL_DEFAULT);
// - the library then stays loaded for the life of the process (never dlclose'd: libcurl's
//   and its TLS library's global state and its resolver threads outlive any one user);
// - a failure is not remembered: the next call tries again (say after the package was
//   installed and the configuration reloaded).
// Calling a curl_* function directly anywhere in lib/webhook would bring the link dependency
// back and fail to link gafferd (tests/lint/daemon_libs.sh checks its DT_NEEDED entries).
#pragma once

#include <curl/curl.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lib/base/result.h"

namespace gaffer::webhook {

// X(member, libcurl function): every function lib/webhook calls.
#define GAFFER_CURL_FUNCTIONS(X)                     \
    X(global_init, curl_global_init)                 \
    X(version_info, curl_version_info)               \
    X(free, curl_free)                               \
    X(easy_init, curl_easy_init)                     \
    X(easy_cleanup, curl_easy_cleanup)               \
    X(easy_setopt, curl_easy_setopt)                 \
    X(easy_getinfo, curl_easy_getinfo)               \
    X(easy_strerror, curl_easy_strerror)             \
    X(easy_send, curl_easy_send)                     \
    X(easy_recv, curl_easy_recv)                     \
    X(slist_append, curl_slist_append)               \
    X(slist_free_all, curl_slist_free_all)           \
    X(multi_init, curl_multi_init)                   \
    X(multi_cleanup, curl_multi_cleanup)             \
    X(multi_setopt, curl_multi_setopt)               \
    X(multi_add_handle, curl_multi_add_handle)       \
    X(multi_remove_handle, curl_multi_remove_handle) \
    X(multi_socket_action, curl_multi_socket_action) \
    X(multi_info_read, curl_multi_info_read)         \
    X(multi_strerror, curl_multi_strerror)           \
    X(url, curl_url)                                 \
    X(url_cleanup, curl_url_cleanup)                 \
    X(url_set, curl_url_set)                         \
    X(url_get, curl_url_get)                         \
    X(url_strerror, curl_url_strerror)

struct CurlApi {
    std::string soname;  // the library that was loaded, as passed to dlopen
#define GAFFER_CURL_MEMBER(member, function) decltype(&::function) member = nullptr;
    GAFFER_CURL_FUNCTIONS(GAFFER_CURL_MEMBER)
#undef GAFFER_CURL_MEMBER
};

// The libraries tried, in order: the soname of the libcurl gafferd was configured against
// (GAFFER_CURL_SONAME, read by meson from the development package's libcurl.so), then
// Debian's two flavours, libcurl-gnutls.so.4 and libcurl.so.4 (the same API and ABI), each
// once.
std::vector<std::string> curl_sonames();

// Loads the first of `sonames` that dlopen finds and that has every function, without
// initialising it. ELIBACC names every library tried and why it was refused. For tests and
// curl_api(); nothing else should call it.
Result<std::unique_ptr<CurlApi>> load_curl_api(std::span<const std::string> sonames);

// The process-wide table: loaded from curl_sonames() and initialised on the first call that
// succeeds, the same table afterwards. Errors: ELIBACC (no usable libcurl, every library
// named), EIO (curl_global_init failed). Thread-safe.
Result<const CurlApi*> curl_api();

}  // namespace gaffer::webhook
