// SPDX-License-Identifier: MIT
// libFuzzer target: a Procfile and a .env (the input split at the first "\n--\n") →
// config::plan_app → config::export_app in every format. Beyond "no crash", it checks
// the exporters' promises and aborts when one breaks:
//   * every refusal is EINVAL and names its format ("ini: ...", "systemd: ...");
//   * an INI export read back by gafferd's INI reader (parse_ini) gives the plan's jobs
//     (name, cmd, args, env, cwd, shell, os_env, numprocesses): a file is exact or not
//     written at all;
//   * every element of a JSON export is a job config that job_from_json accepts and
//     that gives the plan's job;
//   * systemd and supervisord files hold no control byte but line breaks (a value can
//     never start a line of its own).
#include <jansson.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/config/app_export.h"
#include "lib/config/app_plan.h"
#include "lib/config/dotenv.h"
#include "lib/config/ini.h"
#include "lib/config/job_json.h"
#include "lib/config/procfile.h"
#include "lib/json/json.h"

namespace {

using gaffer::model::JobSpec;

bool same_job(const JobSpec& a, const JobSpec& b) {
    return a.name == b.name && a.cmd == b.cmd && a.args == b.args && a.env == b.env && a.cwd == b.cwd &&
           a.shell == b.shell && a.os_env == b.os_env && a.numprocesses == b.numprocesses;
}

bool lines_clean(const std::string& s) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\n') || u == 0x7f)
            return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gaffer;
    if (size > (1u << 14))
        return 0;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    size_t sep = text.find("\n--\n");
    std::string_view procfile_text = text.substr(0, sep);
    std::string_view env_text = sep == std::string_view::npos ? std::string_view() : text.substr(sep + 4);
    auto procfile = config::parse_procfile(procfile_text, "Procfile", false);
    if (!procfile)
        return 0;
    config::AppPlanInputs pin;
    pin.session = "app";
    pin.cwd = "/srv/app";
    pin.env = {{"PATH", "/usr/bin:/bin"}};
    if (!config::parse_dotenv(env_text, ".env", {}, pin.env))
        return 0;
    pin.concurrency = {"all=2"};
    auto plan = config::plan_app(*procfile, pin);
    if (!plan)
        return 0;
    config::ExportInputs in;
    in.app = "app";
    in.root = "/srv/app";
    in.plan = &*plan;
    static const struct {
        config::ExportFormat format;
        const char* prefix;
    } kFormats[] = {{config::ExportFormat::kIni, "ini: "},
                    {config::ExportFormat::kJson, "json: "},
                    {config::ExportFormat::kSystemd, "systemd: "},
                    {config::ExportFormat::kSupervisord, "supervisord: "}};
    for (const auto& f : kFormats) {
        auto files = config::export_app(f.format, in);
        if (!files) {
            if (files.error().code != EINVAL || files.error().context.rfind(f.prefix, 0) != 0)
                abort();
            continue;
        }
        if (f.format == config::ExportFormat::kIni) {
            auto cfg = config::parse_ini(files->at(0).content, "app.ini", "/nonexistent", {.follow_includes = false});
            if (!cfg || cfg->jobs.size() != plan->jobs.size())
                abort();
            for (size_t i = 0; i < plan->jobs.size(); ++i)
                if (!same_job(cfg->jobs[i], plan->jobs[i]))
                    abort();
        } else if (f.format == config::ExportFormat::kJson) {
            auto doc = json::parse(files->at(0).content);
            if (!doc)
                abort();
            json_t* jobs = json_object_get(doc->get(), "jobs");
            if (json_array_size(jobs) != plan->jobs.size())
                abort();
            for (size_t i = 0; i < plan->jobs.size(); ++i) {
                auto spec = config::job_from_json(json_array_get(jobs, i), "app", config::JobJsonMode::kLoad);
                if (!spec || !same_job(*spec, plan->jobs[i]))
                    abort();
            }
        } else {
            for (const auto& file : *files)
                if (!lines_clean(file.content))
                    abort();
        }
    }
    return 0;
}
