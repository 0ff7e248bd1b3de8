// SPDX-License-Identifier: MIT
// libFuzzer target: bytes → JSON → config::job_from_json, in both modes. Beyond "no
// crash": every refusal is EINVAL, and an accepted config round-trips through its stored
// config_json to the same JobSpec (what GET /jobs echoes can be loaded again).
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/config/job_json.h"
#include "lib/json/json.h"

namespace {

void check(const json_t* config, gaffer::config::JobJsonMode mode) {
    std::string member;
    auto spec = gaffer::config::job_from_json(config, "fuzz", mode, &member);
    if (!spec) {
        if (spec.error().code != EINVAL)
            abort();
        return;
    }
    auto stored = gaffer::json::parse(spec->config_json);
    if (!stored)
        abort();
    auto again = gaffer::config::job_from_json(stored->get(), "fuzz", mode);
    if (!again)
        abort();
    if (again->config_json != spec->config_json || !(again->name == spec->name) || again->cmd != spec->cmd ||
        again->args != spec->args || again->env != spec->env || again->numprocesses != spec->numprocesses ||
        again->flapping != spec->flapping || again->uid != spec->uid || again->gid != spec->gid ||
        again->capabilities != spec->capabilities || again->memory_max != spec->memory_max)
        abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > (1u << 16))
        return 0;
    auto config = gaffer::json::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!config)
        return 0;
    check(config->get(), gaffer::config::JobJsonMode::kLoad);
    check(config->get(), gaffer::config::JobJsonMode::kUpdate);
    return 0;
}
