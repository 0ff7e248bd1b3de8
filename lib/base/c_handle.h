// SPDX-License-Identifier: MIT
// Ownership of a C library's handle: CPtr<T, Free> is a std::unique_ptr<T> that gives
// the handle back with `Free` (json_decref, MHD_destroy_response, curl_slist_free_all,
// ...). One template instead of one deleter struct per file. For a free function that
// needs state at run time (e.g. through a loaded CurlApi table) keep a stateful deleter.
// `Free` must have external linkage: a `static inline` C function (jansson's
// json_decref) would give the pointer type, and every function naming it, internal
// linkage; wrap such a function in an `inline` C++ one.
#pragma once

#include <memory>

namespace gaffer {

template <auto Free>
struct CDeleter {
    void operator()(auto* p) const { Free(p); }
};

template <typename T, auto Free>
using CPtr = std::unique_ptr<T, CDeleter<Free>>;

}  // namespace gaffer
