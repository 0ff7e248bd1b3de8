// SPDX-License-Identifier: MIT
// Commands that only read the project: check, env, export (lib/config/app_export.h).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/gaffer/cli.h"
#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/config/app_export.h"
#include "lib/json/json.h"

namespace gaffer::cli {

namespace {

const Option kCheckOptions[] = {
    {"strict", 0, nullptr, "a malformed Procfile line is an error"},
};

const Option kEnvOptions[] = {
    {"show-secrets", 0, nullptr, "show values of keys naming a SECRET, TOKEN, PASSWORD or KEY"},
    {"port", 'p', "PORT", "port base (default: $PORT, else 5000)"},
    {"concurrency", 'c', "TYPE=N", "instances per type (repeatable)", true},
    {"strict", 0, nullptr, "a malformed Procfile line is an error"},
};

const Option kExportOptions[] = {
    {"format", 0, "FORMAT", "ini (default), json, systemd or supervisord"},
    {"out", 'o', "PATH", "the file, or the directory (created) to write into; default: stdout"},
    {"concurrency", 'c', "TYPE=N,...", "instances per type (repeatable)", true},
    {"port", 'p', "PORT", "port base (default: $PORT, else 5000)"},
    {"user", 'u', "USER", "systemd/supervisord: run the processes as USER"},
    {"app", 'a', "APP", "the app name (default: the root directory's name)"},
    {"strict", 0, nullptr, "a malformed Procfile line is an error"},
};

int cmd_check(Session& s, const Invocation& inv) {
    auto pr = s.project(true, inv.has("strict"), std::nullopt);
    if (!pr)
        return s.fail(pr.error().context);
    const Project& p = **pr;
    if (p.procfile.entries.empty())
        return s.fail(p.procfile_path + ": no process types");
    std::vector<std::string> names;
    for (const auto& e : p.procfile.entries) names.push_back(e.name);
    fprintf(s.out, "valid Procfile detected (%s)\n", join(names, ", ").c_str());
    fprintf(s.out, "app: %s, root: %s, %zu variable(s) from .env files\n", p.app.c_str(), p.root.c_str(),
            p.dotenv.size());
    return kExitOk;
}

int cmd_env(Session& s, const Invocation& inv) {
    auto pr = s.project(!inv.args.empty(), inv.has("strict"), std::nullopt);
    if (!pr)
        return s.fail(pr.error().context);
    const Project& p = **pr;
    model::Env env = p.merged();
    if (!inv.args.empty()) {
        const std::string& type = inv.args[0];
        if (!p.procfile.find(type))
            return s.fail("no process type '" + type + "' in " + p.procfile_path);
        auto plan = s.plan(p, inv, Session::PlanEnv::kLocal);
        if (!plan)
            return s.fail(plan.error().context);
        for (const auto& proc : plan->processes)
            if (proc.type == type && proc.instance == 1) {
                env["PORT"] = std::to_string(proc.port);
                env["PS"] = proc.name;
            }
    }
    fputs(config::format_env(env, inv.has("show-secrets")).c_str(), s.out);
    return kExitOk;
}

// Exports carry the .env values (secrets included): 0600.
Status write_file(const std::string& path, const std::string& content) {
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd)
        return fail(Error::from_errno("%s", path.c_str()));
    size_t off = 0;
    while (off < content.size()) {
        ssize_t n = write(fd.get(), content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(Error::from_errno("write '%s'", path.c_str()));
        }
        off += static_cast<size_t>(n);
    }
    return {};
}

bool is_dir(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// export [--format=F] [--out=PATH] [<name>]; 0.4: export [ini|json] [<name>] [<file>].
int cmd_export(Session& s, const Invocation& inv) {
    std::vector<std::string> args = inv.args;
    std::string format_name = inv.get("format").value_or("");
    if (format_name.empty() && !args.empty() && config::parse_export_format(args[0])) {
        format_name = args[0];
        args.erase(args.begin());
    }
    if (format_name.empty())
        format_name = "ini";
    auto format = config::parse_export_format(format_name);
    if (!format)
        return s.fail("unknown export format '" + format_name + "' (ini, json, systemd or supervisord)");
    std::string out = inv.get("out").value_or("");
    if (args.size() > 2)
        return s.fail("export: unexpected argument '" + args[2] + "'");
    if (args.size() == 2) {
        if (!out.empty())
            return s.fail("export: both --out and a file argument given");
        out = args[1];
    }
    auto pr = s.project(true, inv.has("strict"), inv.get("app"));
    if (!pr)
        return s.fail(pr.error().context);
    const Project& p = **pr;
    std::vector<std::string> only;
    if (!args.empty()) {
        if (!p.procfile.find(args[0]))
            return s.fail("no process type '" + args[0] + "' in " + p.procfile_path);
        only.push_back(args[0]);
    }
    json::JsonPtr defaults = json::take(json_object());
    json::set(defaults.get(), "redirect_output", json::strings({"out", "err"}));
    auto plan = s.plan(p, inv, Session::PlanEnv::kNode, defaults.get());
    if (!plan)
        return s.fail(plan.error().context);
    config::ExportInputs in;
    in.app = p.app;
    in.root = p.root;
    in.plan = &*plan;
    in.only = only;
    in.user = inv.get("user").value_or("");
    auto files = config::export_app(*format, in);
    if (!files)
        return s.fail(files.error().context);
    if (out.empty() || out == "-") {
        if (files->size() != 1)
            return s.fail("export --format=" + format_name + " writes several files: give --out=DIR");
        fputs(files->front().content.c_str(), s.out);
        return kExitOk;
    }
    bool dir = files->size() > 1 || is_dir(out) || out.back() == '/';
    if (dir) {
        if (mkdir(out.c_str(), 0755) < 0 && errno != EEXIST)
            return s.fail(Error::from_errno("mkdir '%s'", out.c_str()));
        for (const auto& f : *files) {
            std::string path = out + (out.back() == '/' ? "" : "/") + f.name;
            // systemd drop-ins live in "<unit>.d/".
            if (size_t slash = f.name.rfind('/'); slash != std::string::npos) {
                std::string sub = out + "/" + f.name.substr(0, slash);
                if (mkdir(sub.c_str(), 0755) < 0 && errno != EEXIST)
                    return s.fail(Error::from_errno("mkdir '%s'", sub.c_str()));
            }
            if (auto st = write_file(path, f.content); !st)
                return s.fail(st.error());
            fprintf(s.out, "wrote %s\n", path.c_str());
        }
        return kExitOk;
    }
    if (auto st = write_file(out, files->front().content); !st)
        return s.fail(st.error());
    fprintf(s.out, "wrote %s\n", out.c_str());
    return kExitOk;
}

const Command kTools[] = {
    {"check", "[--strict]", "validate the Procfile and .env files and list the process types", kCheckOptions, 0, 0,
     cmd_check},
    {"env", "[--show-secrets] [<type>]", "print the environment a process (of <type>) gets", kEnvOptions, 0, 1,
     cmd_env},
    {"export", "[--format=ini|json|systemd|supervisord] [--out=PATH] [-c TYPE=N]... [<type>]",
     "write the app as a gafferd INI file, JSON jobs, systemd units or supervisord programs", kExportOptions, 0, 3,
     cmd_export},
};

}  // namespace

std::span<const Command> tool_commands() {
    return kTools;
}

}  // namespace gaffer::cli
