// SPDX-License-Identifier: MIT
// libFuzzer target: .env text → config::parse_dotenv. Beyond "no crash", it checks
// invariants and aborts when one breaks:
//   * every error is EINVAL, names the file and a line ("fuzz.env:<n>: ...") or the file
//     alone for whole-file limits, and leaves the variables as they were;
//   * on success the keys are [A-Za-z_][A-Za-z0-9_.-]*, every value is within
//     kDotenvMaxValue and the whole within kDotenvMaxTotal;
//   * written back as KEY="value" lines (\\ \" \$ \n \r escaped), the variables parse to
//     the same variables.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/config/dotenv.h"

namespace {

bool key_ok(const std::string& k) {
    if (k.empty() || !((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
        return false;
    for (char c : k)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    return true;
}

std::string quoted(const std::string& v) {
    std::string r = "\"";
    for (char c : v) {
        switch (c) {
            case '\\':
                r += "\\\\";
                break;
            case '"':
                r += "\\\"";
                break;
            case '$':
                r += "\\$";
                break;
            case '\n':
                r += "\\n";
                break;
            case '\r':
                r += "\\r";
                break;
            default:
                r += c;
        }
    }
    return r + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > (1u << 16))
        return 0;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    const gaffer::model::Env base = {{"HOME", "/home/fuzz"}, {"EMPTY", ""}, {"PORT", "5000"}};
    const gaffer::model::Env before = {{"EARLIER", "value"}};
    gaffer::model::Env vars = before;
    gaffer::Status s = gaffer::config::parse_dotenv(text, "fuzz.env", base, vars);
    if (!s) {
        if (s.error().code != EINVAL || s.error().context.rfind("fuzz.env:", 0) != 0 || vars != before)
            abort();
        return 0;
    }
    size_t total = 0;
    std::string again;
    for (const auto& [k, v] : vars) {
        if (!key_ok(k) || v.size() > gaffer::config::kDotenvMaxValue)
            abort();
        total += k.size() + v.size() + 2;
        again += k + "=" + quoted(v) + "\n";
    }
    if (total > gaffer::config::kDotenvMaxTotal)
        abort();
    gaffer::model::Env reparsed;
    if (!gaffer::config::parse_dotenv(again, "fuzz.env", {}, reparsed) || reparsed != vars)
        abort();
    return 0;
}
