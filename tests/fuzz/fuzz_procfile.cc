// SPDX-License-Identifier: MIT
// libFuzzer target: Procfile text → config::parse_procfile, strict and not, then the app
// plan. Beyond "no crash", it checks invariants and aborts when one breaks:
//   * every error is EINVAL and names the file ("fuzz.Procfile:..."); strict accepts
//     a subset of what the lenient parse accepts, with the same entries;
//   * entries have unique names of [A-Za-z0-9_-], at most 100 bytes, and a non-empty
//     command that splits into words;
//   * written back as "name: command" lines, the entries parse (strict) to the same
//     names and commands, in the same order;
//   * plan_app either fails with EINVAL or gives one job per entry and one process per
//     entry (default concurrency) with ports base + 100 * index.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "lib/config/app_plan.h"
#include "lib/config/procfile.h"
#include "lib/model/values.h"

namespace {

bool name_ok(const std::string& n) {
    if (n.empty() || n.size() > gaffer::config::kProcfileMaxName)
        return false;
    for (char c : n)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > (1u << 16))
        return 0;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto lenient = gaffer::config::parse_procfile(text, "fuzz.Procfile", false);
    auto strict = gaffer::config::parse_procfile(text, "fuzz.Procfile", true);
    for (const auto* r : {&lenient, &strict})
        if (!*r && (r->error().code != EINVAL || r->error().context.rfind("fuzz.Procfile", 0) != 0))
            abort();
    if (strict && (!lenient || strict->entries != lenient->entries))
        abort();
    if (!lenient)
        return 0;
    std::set<std::string> names;
    std::string again;
    for (const auto& e : lenient->entries) {
        if (!name_ok(e.name) || !names.insert(e.name).second || e.command.empty() || e.line < 1)
            abort();
        auto words = gaffer::model::shell_split(e.command);
        if (!words || words->empty())
            abort();
        again += e.name + ": " + e.command + "\n";
    }
    auto reparsed = gaffer::config::parse_procfile(again, "fuzz.Procfile", true);
    if (!reparsed || reparsed->entries.size() != lenient->entries.size() || !reparsed->warnings.empty())
        abort();
    for (size_t i = 0; i < reparsed->entries.size(); ++i)
        if (reparsed->entries[i].name != lenient->entries[i].name ||
            reparsed->entries[i].command != lenient->entries[i].command)
            abort();

    gaffer::config::AppPlanInputs in;
    in.session = "fuzz";
    auto plan = gaffer::config::plan_app(*lenient, in);
    if (!plan) {
        if (plan.error().code != EINVAL)
            abort();
        return 0;
    }
    if (plan->jobs.size() != lenient->entries.size() || plan->processes.size() != lenient->entries.size())
        abort();
    for (size_t i = 0; i < plan->processes.size(); ++i)
        if (plan->processes[i].port != plan->port_base + 100 * static_cast<int>(i) ||
            plan->processes[i].name != lenient->entries[i].name + ".1" || plan->jobs[i].numprocesses != 1)
            abort();
    return 0;
}
