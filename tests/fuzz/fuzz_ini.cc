// SPDX-License-Identifier: MIT
// libFuzzer target: gafferd.ini text → config::parse_ini (includes off: the input is the
// whole world). Beyond "no crash", it checks invariants and aborts when one breaks:
//   * every error is EINVAL and names the file and a line ("fuzz.ini:<n>: ..."); the
//     line reader and libinih never disagree (that would be ENOTRECOVERABLE);
//   * every job loaded round-trips: its config_json, fed back to job_from_json, gives
//     the same config_json and the same name (one validation path).
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/config/ini.h"
#include "lib/config/job_json.h"
#include "lib/json/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > (1u << 16))
        return 0;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    gaffer::config::IniOptions options;
    options.follow_includes = false;
    auto cfg = gaffer::config::parse_ini(text, "fuzz.ini", "/nonexistent-fuzz-dir", options);
    if (!cfg) {
        if (cfg.error().code != EINVAL || cfg.error().context.rfind("fuzz.ini:", 0) != 0)
            abort();
        return 0;
    }
    for (const auto& job : cfg->jobs) {
        auto obj = gaffer::json::parse(job.config_json);
        if (!obj || !json_is_object(obj->get()))
            abort();
        auto again = gaffer::config::job_from_json(obj->get(), job.name.session, gaffer::config::JobJsonMode::kLoad);
        if (!again)
            abort();
        if (again->config_json != job.config_json || !(again->name == job.name))
            abort();
        if (again->env != job.env || again->args != job.args || again->flapping != job.flapping)
            abort();
    }
    return 0;
}
