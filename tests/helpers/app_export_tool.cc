// SPDX-License-Identifier: MIT
// app-export-tool: the exporters of lib/config/app_export.h without the gaffer CLI, for
// tests/integration/test_export.py. Reads a Procfile and .env files, plans the app as
// `gaffer export` does (the environment is the .env files' values only, as foreman
// exports it; ${VAR} in them may refer to this process's environment) and writes the
// files of one format under --out (creating the drop-in directories).
//
//   app-export-tool --format F --procfile P --root DIR --app NAME --out DIR
//                   [-e FILE]... [-c SPEC]... [-p PORT] [--only TYPE]... [--user U]
//   app-export-tool --print-env [-e FILE]... [--show-secrets]
// Exit status 0, or 1 with the error on stderr.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lib/config/app_export.h"
#include "lib/config/app_plan.h"
#include "lib/config/dotenv.h"
#include "lib/config/procfile.h"

extern char** environ;

namespace {

int die(const std::string& what) {
    std::fprintf(stderr, "app-export-tool: %s\n", what.c_str());
    return 1;
}

bool write_file(const std::string& path, const std::string& content) {
    FILE* f = std::fopen(path.c_str(), "we");
    if (!f)
        return false;
    bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
    return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace gaffer;
    std::string format_name, procfile_path, out_dir;
    config::ExportInputs in;
    config::AppPlanInputs plan_in;
    std::vector<std::string> env_files;
    bool print_env = false, show_secrets = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--format")
            format_name = value();
        else if (a == "--procfile")
            procfile_path = value();
        else if (a == "--root")
            in.root = value();
        else if (a == "--app")
            in.app = value();
        else if (a == "--out")
            out_dir = value();
        else if (a == "-e")
            env_files.push_back(value());
        else if (a == "-c")
            plan_in.concurrency.push_back(value());
        else if (a == "-p")
            plan_in.port = std::atoi(value().c_str());
        else if (a == "--only")
            in.only.push_back(value());
        else if (a == "--user")
            in.user = value();
        else if (a == "--print-env")
            print_env = true;
        else if (a == "--show-secrets")
            show_secrets = true;
        else
            return die("unknown argument '" + a + "'");
    }
    model::Env base;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        size_t eq = kv.find('=');
        if (eq != std::string::npos)
            base[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    model::Env env;
    for (const std::string& f : env_files)
        if (Status st = config::load_dotenv(f, true, base, env); !st)
            return die(st.error().message());
    if (print_env) {
        std::fputs(config::format_env(env, show_secrets).c_str(), stdout);
        return 0;
    }
    auto format = config::parse_export_format(format_name);
    if (!format)
        return die("unknown format '" + format_name + "'");
    auto procfile = config::load_procfile(procfile_path, true);
    if (!procfile)
        return die(procfile.error().message());
    plan_in.session = in.app;
    plan_in.cwd = in.root;
    plan_in.env = std::move(env);
    auto plan = config::plan_app(*procfile, plan_in);
    if (!plan)
        return die(plan.error().message());
    in.plan = &*plan;
    auto files = config::export_app(*format, in);
    if (!files)
        return die(files.error().message());
    for (const config::ExportFile& f : *files) {
        std::string path = out_dir + "/" + f.name;
        if (size_t slash = f.name.rfind('/'); slash != std::string::npos) {
            std::string dir = out_dir + "/" + f.name.substr(0, slash);
            if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
                return die("mkdir '" + dir + "': " + std::strerror(errno));
        }
        if (!write_file(path, f.content))
            return die("write '" + path + "': " + std::strerror(errno));
        std::printf("%s\n", f.name.c_str());
    }
    return 0;
}
