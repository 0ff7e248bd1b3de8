// SPDX-License-Identifier: MIT
#include "ctl/gaffer/cli.h"

#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "gaffer_config.h"
#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/config/dotenv.h"

extern char** environ;

namespace gaffer::cli {

// ---- helpers ----

namespace {

std::string current_dir() {
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf))
        return ".";
    return buf;
}

std::string absolute(const std::string& path) {
    if (!path.empty() && path[0] == '/')
        return path;
    std::string cwd = current_dir();
    if (path.empty() || path == ".")
        return cwd;
    return cwd + "/" + path;
}

// "/a/b/./c/../d" -> "/a/b/d" (lexically; the Procfile's directory need not resolve).
std::string normalize(const std::string& path) {
    std::vector<std::string> parts;
    for (auto& p : split_any(path, "/")) {
        if (p.empty() || p == ".")
            continue;
        if (p == "..") {
            if (!parts.empty())
                parts.pop_back();
            continue;
        }
        parts.push_back(p);
    }
    return "/" + join(parts, "/");
}

std::string base_name(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The app name derived from a directory: lower-cased, other characters than
// [a-z0-9_+-] made '-', a leading non-letter dropped; "default" if nothing is left.
std::string app_name_of(const std::string& dir) {
    std::string n;
    for (char c : to_lower(base_name(dir))) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-';
        n += ok ? c : '-';
    }
    while (!n.empty() && !(n[0] >= 'a' && n[0] <= 'z')) n.erase(0, 1);
    return n.empty() ? "default" : n;
}

std::string home_dir() {
    if (const char* h = getenv("HOME"); h && *h)
        return h;
    if (struct passwd* pw = getpwuid(getuid()))
        return pw->pw_dir;
    return "/";
}

bool socket_answers(const std::string& path) {
    struct sockaddr_un sun {};
    if (path.size() >= sizeof sun.sun_path)
        return false;
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return fd && connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
}

// The user settings file as sections of (key, value), in file order.
using Sections = std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>;

int on_setting(void* user, const char* section, const char* name, const char* value) {
    auto* s = static_cast<Sections*>(user);
    if (s->empty() || s->back().first != section)
        s->push_back({section, {}});
    s->back().second.emplace_back(name, value ? value : "");
    return 1;
}

Result<Sections> read_settings(const std::string& path) {
    Sections s;
    FILE* f = fopen(path.c_str(), "re");
    if (!f) {
        if (errno == ENOENT)
            return s;
        return fail(Error::from_errno("%s", path.c_str()));
    }
    int rc = ini_parse_file(f, on_setting, &s);
    fclose(f);
    if (rc != 0)
        return fail(Error::make(EINVAL, "%s:%d: not an INI line", path.c_str(), rc));
    return s;
}

std::string node_section(const std::string& url) {
    return "node \"" + url + "\"";
}

}  // namespace

bool valid_app_name(std::string_view name) {
    if (name.empty() || !(name[0] >= 'a' && name[0] <= 'z'))
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-'))
            return false;
    return true;
}

std::string control_dir(const std::string& root) {
    return root + "/.gaffer";
}

std::string control_socket(const std::string& root) {
    return control_dir(root) + "/gaffer.sock";
}

std::string user_config_path() {
    if (const char* c = getenv("GAFFER_CONFIG"); c && *c)
        return c;
    return home_dir() + "/.gaffer/gaffer.ini";
}

std::optional<std::string> user_node_setting(const std::string& url, const std::string& key) {
    auto s = read_settings(user_config_path());
    if (!s)
        return std::nullopt;
    std::string want = node_section(url);
    for (const auto& [section, kv] : *s)
        if (section == want)
            for (const auto& [k, v] : kv)
                if (k == key)
                    return v;
    return std::nullopt;
}

Status set_user_node_setting(const std::string& url, const std::string& key, const std::string& value) {
    if (url.find_first_of("\"]\n\r") != std::string::npos || value.find_first_of("\n\r") != std::string::npos)
        return fail(Error::make(EINVAL, "cannot store '%s' in the settings file", url.c_str()));
    std::string path = user_config_path();
    auto s = read_settings(path);
    if (!s)
        return fail(s.error());
    std::string want = node_section(url);
    bool done = false;
    for (auto& [section, kv] : *s) {
        if (section != want)
            continue;
        for (auto& [k, v] : kv)
            if (k == key && !done) {
                v = value;
                done = true;
            }
        if (!done) {
            kv.emplace_back(key, value);
            done = true;
        }
    }
    if (!done)
        s->push_back({want, {{key, value}}});
    std::string text = "# gaffer user settings (gaffer(1)); rewritten by `gaffer login`.\n";
    for (const auto& [section, kv] : *s) {
        text += "\n[" + section + "]\n";
        for (const auto& [k, v] : kv) text += k + " = " + v + "\n";
    }
    std::string dir = dir_of(path);
    if (mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
        return fail(Error::from_errno("mkdir '%s'", dir.c_str()));
    std::string tmp = path + ".tmp";
    UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd)
        return fail(Error::from_errno("%s", tmp.c_str()));
    if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) || fsync(fd.get()) < 0) {
        unlink(tmp.c_str());
        return fail(Error::from_errno("write '%s'", tmp.c_str()));
    }
    if (rename(tmp.c_str(), path.c_str()) < 0) {
        unlink(tmp.c_str());
        return fail(Error::from_errno("rename to '%s'", path.c_str()));
    }
    return {};
}

// ---- Project ----

model::Env Project::merged() const {
    model::Env env = inherited;
    for (const auto& [k, v] : dotenv) env[k] = v;
    return env;
}

// ---- Session ----

int Session::fail(const std::string& message) const {
    fprintf(err, "gaffer: %s\n", message.c_str());
    return kExitFailure;
}

Result<const Project*> Session::project(bool need_procfile, bool strict, const std::optional<std::string>& app) {
    if (project_)
        return project_.get();
    auto p = std::make_unique<Project>();
    // §11.1: Procfile ./Procfile unless -f; root = the Procfile's directory unless -d.
    std::string procfile = globals.procfile ? absolute(*globals.procfile) : "";
    if (procfile.empty()) {
        std::string dir = globals.root ? absolute(*globals.root) : current_dir();
        procfile = normalize(dir + "/Procfile");
    } else {
        procfile = normalize(procfile);
    }
    p->root = globals.root ? normalize(absolute(*globals.root)) : dir_of(procfile);
    struct stat st {};
    bool exists = stat(procfile.c_str(), &st) == 0;
    if (exists || globals.procfile || need_procfile) {
        auto pf = config::load_procfile(procfile, strict);
        if (!pf)
            return gaffer::fail(pf.error());
        p->procfile = std::move(*pf);
        p->procfile_path = procfile;
        for (const auto& w : p->procfile.warnings) fprintf(err, "gaffer: warning: %s\n", w.c_str());
    }
    if (app && *app != ".") {
        if (!valid_app_name(*app))
            return gaffer::fail(Error::make(EINVAL, "Invalid APP name '%s' (^[a-z][a-z0-9_+-]*$)", app->c_str()));
        p->app = *app;
    } else {
        p->app = app_name_of(p->root);
    }
    p->inherited = model::Env();
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv = *e;
        size_t eq = kv.find('=');
        if (eq == std::string_view::npos || eq == 0)
            continue;
        p->inherited.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    // <root>/.env, then every -e (default: .env of the current directory); later wins.
    std::vector<std::pair<std::string, bool>> files;
    files.emplace_back(p->root + "/.env", false);
    if (globals.env_files.empty()) {
        files.emplace_back(normalize(current_dir() + "/.env"), false);
    } else {
        for (const auto& f : globals.env_files) files.emplace_back(normalize(absolute(f)), true);
    }
    std::vector<std::string> seen;
    for (const auto& [path, required] : files) {
        if (!required && std::find(seen.begin(), seen.end(), path) != seen.end())
            continue;
        seen.push_back(path);
        if (auto loaded = config::load_dotenv(path, required, p->inherited, p->dotenv); !loaded)
            return gaffer::fail(loaded.error());
    }
    project_ = std::move(p);
    return project_.get();
}

Result<config::AppPlan> Session::plan(const Project& p, const Invocation& inv, PlanEnv which,
                                      const json_t* job_defaults) const {
    config::AppPlanInputs in;
    in.job_defaults = job_defaults;
    in.session = p.app;
    in.cwd = p.root;
    in.concurrency = inv.all("concurrency");
    if (auto port = inv.get("port")) {
        auto n = parse_int(*port);
        if (!n || *n < 1 || *n > 65535)
            return gaffer::fail(Error::make(EINVAL, "invalid port '%s' (1..65535)", port->c_str()));
        in.port = static_cast<int>(*n);
    }
    if (which == PlanEnv::kLocal) {
        in.env = p.merged();
    } else {
        in.env = p.dotenv;
        // The port base still follows PORT of gaffer's environment (foreman's rule).
        if (!in.port && !p.dotenv.count("PORT"))
            if (auto it = p.inherited.find("PORT"); it != p.inherited.end())
                if (auto n = parse_int(it->second); n && *n > 0 && *n <= 65535)
                    in.port = static_cast<int>(*n);
    }
    return config::plan_app(p.procfile, in);
}

client::TlsOptions Session::tls_for(const std::string& url) const {
    client::TlsOptions tls{globals.certfile, globals.keyfile, globals.cacert, globals.insecure};
    if (tls.certfile.empty())
        tls.certfile = user_node_setting(url, "certfile").value_or("");
    if (tls.keyfile.empty())
        tls.keyfile = user_node_setting(url, "keyfile").value_or("");
    if (tls.cacert.empty())
        tls.cacert = user_node_setting(url, "cacert").value_or("");
    return tls;
}

Status Session::init_curl() {
    if (curl_)
        return {};
    auto g = client::CurlGlobal::init();
    if (!g)
        return gaffer::fail(g.error());
    curl_.emplace(std::move(*g));
    return {};
}

Result<client::HttpClient*> Session::http() {
    if (http_)
        return &*http_;
    std::string text;
    if (globals.endpoint) {
        text = *globals.endpoint;
    } else {
        std::string root = globals.root       ? normalize(absolute(*globals.root))
                           : globals.procfile ? dir_of(normalize(absolute(*globals.procfile)))
                                              : current_dir();
        std::string sock = control_socket(root);
        if (socket_answers(sock))
            text = "unix:" + sock;
        else if (const char* e = getenv("GAFFER_ENDPOINT"); e && *e)
            text = e;
        else
            text = "http://127.0.0.1:5000";
    }
    auto ep = client::Endpoint::parse(text);
    if (!ep)
        return gaffer::fail(ep.error());
    client::ClientOptions opts;
    opts.endpoint = std::move(*ep);
    opts.tls = tls_for(text);
    if (globals.api_key)
        opts.api_key = *globals.api_key;
    else if (const char* k = getenv("GAFFER_API_KEY"); k && *k)
        opts.api_key = k;
    else
        opts.api_key = user_node_setting(text, "key").value_or("");
    opts.user_agent = std::string("gaffer/") + GAFFER_VERSION;
    GAFFER_RETURN_IF_ERROR(init_curl());
    auto c = client::HttpClient::create(std::move(opts));
    if (!c)
        return gaffer::fail(c.error());
    http_.emplace(std::move(*c));
    endpoint_text_ = text;
    return &*http_;
}

}  // namespace gaffer::cli
