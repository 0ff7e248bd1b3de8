// SPDX-License-Identifier: MIT
// jansson RAII and small helpers. JsonPtr owns one reference (json_decref on
// destruction). Builders return new references; `take()` adopts one.
#pragma once

#include <jansson.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/c_handle.h"
#include "lib/base/result.h"

namespace gaffer::json {

// jansson's json_decref() is `static inline` (internal linkage), which would give JsonPtr
// and every function that names it internal linkage: hence this external wrapper.
inline void decref(json_t* j) {
    json_decref(j);
}
using JsonPtr = CPtr<json_t, decref>;

inline JsonPtr take(json_t* j) {
    return JsonPtr(j);
}
inline JsonPtr ref(json_t* j) {
    return JsonPtr(json_incref(j));
}

// Parses UTF-8 JSON text; the error context is jansson's message with line/column.
Result<JsonPtr> parse(std::string_view text);
// Compact text (JSON_COMPACT), keys in insertion order.
std::string dump(const json_t* j);

// A JSON string; invalid UTF-8 becomes U+FFFD (gaffer::sanitize_utf8, lib/base/utf8.h:
// jansson refuses surrogates, overlongs and code points above U+10FFFF).
JsonPtr str(std::string_view s);
JsonPtr strings(const std::vector<std::string>& v);
JsonPtr ints(const std::vector<int>& v);

// obj[key] = value (steals the reference).
inline void set(json_t* obj, const char* key, JsonPtr value) {
    json_object_set_new(obj, key, value.release());
}

}  // namespace gaffer::json
