// SPDX-License-Identifier: MIT
#include "lib/json/json.h"

#include <cstdlib>

#include "lib/base/utf8.h"

namespace gaffer::json {

Result<JsonPtr> parse(std::string_view text) {
    json_error_t err;
    json_t* j = json_loadb(text.data(), text.size(), JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j)
        return fail(Error::make(EINVAL, "%s (line %d, column %d)", err.text, err.line, err.column));
    return JsonPtr(j);
}

std::string dump(const json_t* j) {
    char* s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!s)
        return "null";
    std::string r(s);
    free(s);
    return r;
}

JsonPtr str(std::string_view s) {
    json_t* j = json_stringn(s.data(), s.size());
    if (!j) {
        // Invalid UTF-8 (process output, odd file names): replace the bad bytes.
        std::string clean = gaffer::sanitize_utf8(s);
        j = json_stringn(clean.data(), clean.size());
    }
    return JsonPtr(j ? j : json_string(""));
}

JsonPtr strings(const std::vector<std::string>& v) {
    JsonPtr a(json_array());
    for (const auto& s : v) json_array_append_new(a.get(), str(s).release());
    return a;
}

JsonPtr ints(const std::vector<int>& v) {
    JsonPtr a(json_array());
    for (int i : v) json_array_append_new(a.get(), json_integer(i));
    return a;
}

}  // namespace gaffer::json
