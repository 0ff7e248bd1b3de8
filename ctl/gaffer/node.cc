// SPDX-License-Identifier: MIT
// The `gaffer` commands that talk to a node (reference §11.1, §11.2; cli.h): each one
// sends a few requests of the gafferd HTTP API (docs/http-api.md) through
// Session::http(), which reaches a running `gaffer start` of the project through its
// control socket when there is one, else the node. Outputs and exit statuses are the
// contract of §11.1: 0 on success, 1 on any failure, the fixed texts of §11.1 as they are
// (`Unauthorized access. You need an API key`, `Forbidden access. API key permissions
// aren't enough`, `HTTP Error: ...`, `'<x>' not found in '<app>'`), other messages as
// "gaffer: ..." on stderr.
//
// The app is --app (`.` = the project) else the project's name (cli.h). A job argument
// is `app.job`, `app/job` or a name of the app. Prompts are read from stdin (a closed
// stdin is a no); --no-input answers yes.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "ctl/client/answers.h"
#include "ctl/client/format.h"
#include "ctl/gaffer/cli.h"
#include "lib/base/strutil.h"
#include "lib/json/json.h"
#include "lib/model/job_spec.h"
#include "lib/model/values.h"

namespace gaffer::cli {
namespace {

using client::Response;
using json::JsonPtr;

// ---- talking to the node ----

// The failure of an HTTP answer with §11.1's texts; returns kExitFailure.
int http_fail(Session& s, const Response& r) {
    std::string t = client::http_error_text(r);
    if (r.status == 401 || r.status == 403)
        fprintf(s.err, "%s\n", t.c_str());
    else
        fprintf(s.err, "HTTP Error: %s\n", t.c_str());
    return kExitFailure;
}

// One request; nullopt when it could not be sent (reported).
std::optional<Response> call(Session& s, const char* method, const std::string& path,
                             std::optional<std::string_view> body = std::nullopt, const client::Headers& headers = {}) {
    auto http = s.http();
    if (!http) {
        s.fail(http.error());
        return std::nullopt;
    }
    auto r = (*http)->request(method, path, body, headers);
    if (!r) {
        s.fail(r.error());
        return std::nullopt;
    }
    return std::move(*r);
}

// 1 for a 2xx answer, 0 for the status `soft` (404 or 409, which the caller words), -1
// for no answer or another failure (reported).
int outcome(Session& s, const std::optional<Response>& r, long soft) {
    if (!r)
        return -1;
    if (r->status == soft)
        return 0;
    if (!r->ok()) {
        http_fail(s, *r);
        return -1;
    }
    return 1;
}

// The JSON object of a 2xx answer; null after a reported failure: an error answer, one
// that is not an object, or (when `missing` is given) 404 as "gaffer: <missing>".
JsonPtr call_json(Session& s, const char* method, const std::string& path,
                  std::optional<std::string_view> body = std::nullopt, const std::string& missing = {}) {
    auto r = call(s, method, path, body);
    int o = outcome(s, r, missing.empty() ? -1 : 404);
    if (o == 0)
        s.fail(missing);
    if (o <= 0)
        return nullptr;
    auto j = json::parse(r->body);
    if (!j || !json_is_object(j->get())) {
        s.fail("unexpected answer from " + s.endpoint_text() + " to " + method + " " + path);
        return nullptr;
    }
    return std::move(*j);
}

std::string job_path(const model::JobName& n) {
    return "/jobs/" + client::path_segment(n.session) + "/" + client::path_segment(n.job);
}

// The app: `app` unless it is absent or ".", else the project's name. (Session::project()
// keeps the first project it loads, so the name given here is applied here.)
std::optional<std::string> resolve_app(Session& s, const std::optional<std::string>& app) {
    if (app && *app != ".") {
        if (!valid_app_name(*app)) {
            s.fail("Invalid APP name '" + *app + "' (^[a-z][a-z0-9_+-]*$)");
            return std::nullopt;
        }
        return *app;
    }
    auto p = s.project(false, false, std::nullopt);
    if (!p) {
        s.fail(p.error());
        return std::nullopt;
    }
    return (*p)->app;
}

// The app of a command: --app, else the project's name.
std::optional<std::string> app_of(Session& s, const Invocation& inv) {
    return resolve_app(s, inv.get("app"));
}

// True when `name` is an entry of the project's Procfile (no Procfile: none is).
bool procfile_entry(Session& s, const std::string& name) {
    auto p = s.project(false, false, std::nullopt);
    if (!p)
        return false;
    for (const auto& e : (*p)->procfile.entries)
        if (e.name == name)
            return true;
    return false;
}

// `app.job`, `app/job`, or a job of `app`.
model::JobName job_of(const std::string& app, const std::string& arg) {
    if (client::is_qualified(arg))
        return model::JobName::parse(arg);
    model::JobName n;
    n.session = app;
    n.job = arg;
    return n;
}

bool valid_job(const model::JobName& n) {
    return !n.session.empty() && !n.job.empty();
}

// The qualified names of the app's jobs (GET /jobs/<app>); nullopt on a failure (reported;
// an unknown app is `'<app>' not found`).
std::optional<std::vector<std::string>> app_jobs(Session& s, const std::string& app) {
    auto r = call(s, "GET", "/jobs/" + client::path_segment(app));
    if (!r)
        return std::nullopt;
    if (r->status == 404) {
        fprintf(s.err, "'%s' not found\n", app.c_str());
        return std::nullopt;
    }
    if (!r->ok()) {
        http_fail(s, *r);
        return std::nullopt;
    }
    auto j = json::parse(r->body);
    json_t* jobs = j && json_is_object(j->get()) ? json_object_get(j->get(), "jobs") : nullptr;
    if (!json_is_array(jobs)) {
        s.fail("unexpected answer from " + s.endpoint_text() + " to GET /jobs/" + app);
        return std::nullopt;
    }
    std::vector<std::string> names;
    size_t i;
    json_t* e;
    json_array_foreach(jobs, i, e) if (json_is_string(e)) names.emplace_back(json_string_value(e));
    return names;
}

// Asks `question` on stdout and reads the answer from stdin: empty, y or yes is a yes; a
// closed stdin is a no. --no-input: yes without asking.
bool confirm(Session& s, const Invocation& inv, const std::string& question) {
    if (inv.has("no-input"))
        return true;
    fprintf(s.out, "%s [y]|n: ", question.c_str());
    fflush(s.out);
    char* line = nullptr;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    std::string a = n > 0 ? std::string(line, static_cast<size_t>(n)) : "";
    free(line);
    if (n < 0) {
        fputc('\n', s.out);
        return false;
    }
    a = to_lower(std::string(trim(a)));
    return a.empty() || a == "y" || a == "yes";
}

int cancelled(Session& s) {
    return s.fail(std::string(s.command->name) + " cancelled");
}

// Python's rendering of a JSON scalar in a "key: value" line (True, False, None).
std::string py_text(const json_t* v) {
    if (json_is_true(v))
        return "True";
    if (json_is_false(v))
        return "False";
    if (!v || json_is_null(v))
        return "None";
    return client::scalar_text(v);
}

bool is_url(std::string_view s) {
    return s.find("://") != std::string_view::npos || s.starts_with("unix:");
}

// ---- login, apps ----

int cmd_login(Session& s, const Invocation& inv) {
    std::string user;
    if (auto u = inv.get("username")) {
        user = *u;
    } else {
        fputs("Username: ", s.out);
        fflush(s.out);
        char* line = nullptr;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n > 0)
            user = std::string(trim(std::string_view(line, static_cast<size_t>(n))));
        free(line);
    }
    if (user.empty() || user.find(':') != std::string::npos)
        return s.fail("login: a user name is needed (without ':')");
    std::string password;
    if (auto p = inv.get("password")) {
        password = *p;
    } else {
        auto p2 = client::read_secret_line("Password: ");
        if (!p2)
            return s.fail(p2.error());
        password = *p2;
    }
    auto r = call(s, "GET", "/auth", std::nullopt,
                  {{"Authorization", client::basic_authorization(user, password)}, {"X-Api-Key", ""}});
    if (!r)
        return kExitFailure;
    if (r->status == 401) {
        fputs("unauthorized: username or password is wrong\n", s.err);
        return kExitFailure;
    }
    if (r->status == 404)
        return s.fail(s.endpoint_text() + " has no key API (gafferd --require-key)");
    if (!r->ok())
        return http_fail(s, *r);
    std::string key;
    auto j = json::parse(r->body);
    if (json_t* k = j && json_is_object(j->get()) ? json_object_get(j->get(), "api_key") : nullptr; json_is_string(k))
        key = json_string_value(k);
    else if (const std::string* h = r->header("x-api-key"))
        key = *h;
    if (key.empty())
        return s.fail("unexpected answer from " + s.endpoint_text() + " to GET /auth (no key)");
    if (auto st = set_user_node_setting(s.endpoint_text(), "key", key); !st)
        return s.fail(st.error());
    fprintf(s.out, "User '%s' authenticated.\n", user.c_str());
    return kExitOk;
}

int cmd_apps(Session& s, const Invocation&) {
    JsonPtr j = call_json(s, "GET", "/sessions");
    if (!j)
        return kExitFailure;
    json_t* list = json_object_get(j.get(), "sessions");
    size_t i;
    json_t* e;
    json_array_foreach(list, i, e) if (json_is_string(e)) fprintf(s.out, "%s\n", json_string_value(e));
    return kExitOk;
}

// ---- load ----

// POST /jobs/<sid> of one job object; 1 loaded, 0 already loaded, -1 failure (reported).
int post_job(Session& s, const std::string& sid, json_t* config) {
    return outcome(s, call(s, "POST", "/jobs/" + client::path_segment(sid), json::dump(config)), 409);
}

// The Procfile's entries as jobs of `app` (§11.1 load without a file).
int load_procfile(Session& s, const Invocation& inv, const std::optional<std::string>& app, bool old_form) {
    auto p = s.project(true, false, std::nullopt);
    if (!p)
        return s.fail(p.error());
    if ((*p)->procfile_path.empty())
        return s.fail("no Procfile in '" + (*p)->root + "'");
    auto name = resolve_app(s, app);
    if (!name)
        return kExitFailure;
    auto plan = s.plan(**p, inv, Session::PlanEnv::kNode);
    if (!plan)
        return s.fail(plan.error());
    std::vector<std::string> redirect_input;
    if (auto it = (*p)->dotenv.find("GAFFER_REDIRECT_INPUT"); it != (*p)->dotenv.end())
        redirect_input = split_any(it->second, ", ");
    for (const auto& job : plan->jobs) {
        auto cfg = json::parse(job.config_json);
        if (!cfg || !json_is_object(cfg->get()))
            return s.fail("internal error: the plan of '" + job.name.qualified() + "' is not a JSON object");
        json_t* c = cfg->get();
        json::set(c, "redirect_output", json::strings({"out", "err"}));
        bool input = std::find(redirect_input.begin(), redirect_input.end(), job.name.job) != redirect_input.end();
        json::set(c, "redirect_input", json::take(json_boolean(input)));
        if (inv.has("nostart"))
            json::set(c, "start", json::take(json_false()));
        int r = post_job(s, *name, c);
        if (r < 0)
            return kExitFailure;
        if (r == 0)
            fprintf(s.out, "'%s.%s' already loaded\n", name->c_str(), job.name.job.c_str());
    }
    if (old_form)
        fprintf(s.out, "'%s' has been loaded in %s\n", name->c_str(), s.endpoint_text().c_str());
    else
        fprintf(s.out, "==> '%s' has been loaded in %s\n", name->c_str(), s.endpoint_text().c_str());
    return kExitOk;
}

// The job objects of a file: one object, an array of them, or {"jobs": [...]}.
std::optional<JsonPtr> job_list(Session& s, const std::string& file) {
    auto text = client::read_input(file);
    if (!text) {
        s.fail(text.error());
        return std::nullopt;
    }
    auto j = json::parse(*text);
    if (!j) {
        s.fail("'" + file + "': invalid JSON: " + j.error().context);
        return std::nullopt;
    }
    json_t* v = j->get();
    if (json_is_object(v) && json_is_array(json_object_get(v, "jobs")))
        return json::ref(json_object_get(v, "jobs"));
    if (json_is_object(v)) {
        JsonPtr a = json::take(json_array());
        json_array_append(a.get(), v);
        return a;
    }
    if (json_is_array(v))
        return std::move(*j);
    s.fail("'" + file + "': expected a job object, a list of them or {\"jobs\": [...]}");
    return std::nullopt;
}

// The jobs of a file (validated before anything is sent: each an object with a string
// name).
std::optional<std::vector<std::pair<model::JobName, json_t*>>> file_jobs(Session& s, const std::string& file,
                                                                         const std::string& app, const JsonPtr& list) {
    std::vector<std::pair<model::JobName, json_t*>> jobs;
    size_t i;
    json_t* e;
    json_array_foreach(list.get(), i, e) {
        json_t* name = json_is_object(e) ? json_object_get(e, "name") : nullptr;
        if (!json_is_string(name)) {
            s.fail("'" + file + "': job " + std::to_string(i + 1) + " has no name");
            return std::nullopt;
        }
        model::JobName n = job_of(app, json_string_value(name));
        if (!valid_job(n)) {
            s.fail("'" + file + "': invalid job name '" + json_string_value(name) + "'");
            return std::nullopt;
        }
        jobs.emplace_back(n, e);
    }
    return jobs;
}

int load_file(Session& s, const Invocation& inv, const std::string& file) {
    if (inv.has("concurrency") || inv.has("port"))
        return s.fail("load: -c and --port apply to the Procfile's entries, not to the jobs of '" + file + "'");
    auto app = app_of(s, inv);
    if (!app)
        return kExitFailure;
    auto list = job_list(s, file);
    if (!list)
        return kExitFailure;
    auto jobs = file_jobs(s, file, *app, *list);
    if (!jobs)
        return kExitFailure;
    for (auto& [n, obj] : *jobs) {
        json::set(obj, "name", json::str(n.job));
        if (inv.has("nostart") && !json_object_get(obj, "start"))
            json::set(obj, "start", json::take(json_false()));
        int r = post_job(s, n.session, obj);
        if (r < 0)
            return kExitFailure;
        if (r == 0)
            fprintf(s.out, "'%s' already loaded\n", n.qualified().c_str());
        else
            fprintf(s.out, "'%s' has been loaded in %s\n", n.qualified().c_str(), s.endpoint_text().c_str());
    }
    fprintf(s.out, "'%s' has been loaded\n", file.c_str());
    return kExitOk;
}

bool is_file_arg(const std::string& a) {
    struct stat st {};
    return a == "-" || (stat(a.c_str(), &st) == 0 && !S_ISDIR(st.st_mode));
}

// `load [<file>]` (HEAD) or `load [group] [url]` (0.4).
int cmd_load(Session& s, const Invocation& inv) {
    if (inv.args.empty())
        return load_procfile(s, inv, inv.get("app"), false);
    if (is_file_arg(inv.args[0])) {
        if (inv.args.size() > 1)
            return s.fail("load: unexpected argument '" + inv.args[1] + "'");
        return load_file(s, inv, inv.args[0]);
    }
    if (inv.args.size() > 1) {
        if (!is_url(inv.args[1]))
            return s.fail("load: '" + inv.args[0] + "' is not a file, and '" + inv.args[1] + "' is not a node URL");
        s.globals.endpoint = inv.args[1];
    }
    if (inv.has("app"))
        return s.fail("load: --app and a group name are both given");
    return load_procfile(s, inv, inv.args[0], true);
}

// ---- unload, reload ----

enum class JobAction { kUnload, kReload };

// DELETE or reload one job; 1 done, 0 not found, -1 failure (reported).
int act_on_job(Session& s, JobAction a, const model::JobName& n) {
    return outcome(
        s, a == JobAction::kUnload ? call(s, "DELETE", job_path(n)) : call(s, "POST", job_path(n) + "/state", "2"),
        404);
}

int unload_like(Session& s, const Invocation& inv, JobAction a) {
    const char* verb = a == JobAction::kUnload ? "unload" : "reload";
    const char* done = a == JobAction::kUnload ? "unloaded" : "reloaded";
    std::vector<std::string> targets = inv.args;
    // 0.4: `unload [group] [url]`, a group being no job of the project.
    bool old_form = a == JobAction::kUnload && !inv.has("app") && !inv.has("from-file") && !targets.empty() &&
                    targets.size() <= 2 && !client::is_qualified(targets[0]) && !procfile_entry(s, targets[0]) &&
                    (targets.size() == 1 || is_url(targets[1]));
    if (old_form) {
        if (targets.size() == 2)
            s.globals.endpoint = targets[1];
        auto name = resolve_app(s, targets[0]);
        if (!name)
            return kExitFailure;
        const std::string group = *name;
        if (!confirm(s, inv, "Do you want to unload '" + group + "'?"))
            return cancelled(s);
        auto jobs = app_jobs(s, group);
        if (!jobs)
            return kExitFailure;
        for (const auto& q : *jobs)
            if (act_on_job(s, a, model::JobName::parse(q)) < 0)
                return kExitFailure;
        fprintf(s.out, "'%s' unloaded\n", group.c_str());
        return kExitOk;
    }
    auto app = app_of(s, inv);
    if (!app)
        return kExitFailure;
    if (auto f = inv.get("from-file")) {
        auto list = job_list(s, *f);
        if (!list)
            return kExitFailure;
        auto jobs = file_jobs(s, *f, *app, *list);
        if (!jobs)
            return kExitFailure;
        for (const auto& [n, obj] : *jobs) targets.push_back(n.qualified());
    }
    if (targets.empty()) {
        if (!confirm(s, inv, "Do you want to " + std::string(verb) + " '" + *app + "'?"))
            return cancelled(s);
        auto jobs = app_jobs(s, *app);
        if (!jobs)
            return kExitFailure;
        for (const auto& q : *jobs)
            if (act_on_job(s, a, model::JobName::parse(q)) < 0)
                return kExitFailure;
        fprintf(s.out, "==> app '%s' %s\n", app->c_str(), done);
        return kExitOk;
    }
    int rc = kExitOk;
    for (const auto& t : targets) {
        model::JobName n = job_of(*app, t);
        if (!valid_job(n) || client::is_pid(t)) {
            rc = s.fail("invalid job name '" + t + "'");
            continue;
        }
        if (!confirm(s, inv, "Do you want to " + std::string(verb) + " '" + t + "'?")) {
            rc = cancelled(s);
            continue;
        }
        int r = act_on_job(s, a, n);
        if (r < 0)
            return kExitFailure;
        if (r == 0) {
            fprintf(s.err, "'%s' not found in '%s'\n", t.c_str(), n.session.c_str());
            rc = kExitFailure;
            continue;
        }
        fprintf(s.out, "job '%s' %s\n", t.c_str(), done);
    }
    return rc;
}

int cmd_unload(Session& s, const Invocation& inv) {
    return unload_like(s, inv, JobAction::kUnload);
}

int cmd_reload(Session& s, const Invocation& inv) {
    return unload_like(s, inv, JobAction::kReload);
}

// ---- ps, ps:info ----

double number_or_zero(const json_t* v) {
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

// `ps [--app APP]` (HEAD) or `ps [group]` (0.4).
int cmd_ps(Session& s, const Invocation& inv) {
    std::optional<std::string> app = inv.args.empty() ? app_of(s, inv) : resolve_app(s, inv.args[0]);
    if (!app)
        return kExitFailure;
    auto jobs = app_jobs(s, *app);
    if (!jobs)
        return kExitFailure;
    const bool colour = !inv.has("no-color") && isatty(fileno(s.out)) == 1;
    for (const auto& q : *jobs) {
        model::JobName n = model::JobName::parse(q);
        JsonPtr info = call_json(s, "GET", job_path(n));
        if (!info)
            return kExitFailure;
        if (!json_is_true(json_object_get(info.get(), "active")))
            continue;
        JsonPtr stats = call_json(s, "GET", job_path(n) + "/stats");
        if (!stats)
            return kExitFailure;
        json_t* config = json_object_get(info.get(), "config");
        std::string cmdline = client::scalar_text(json_object_get(config, "cmd"));
        size_t i;
        json_t* e;
        json_array_foreach(json_object_get(config, "args"), i, e) cmdline += " " + client::scalar_text(e);
        std::string header = "=== " + n.job + ": `" + cmdline + "`";
        if (colour)
            header = std::string(client::colour_for(n.job)) + header + "\033[0m";
        fprintf(s.out, "%s\n", header.c_str());
        fprintf(s.out, "Total CPU: %.2f Total MEM: %.2f\n\n", number_or_zero(json_object_get(stats.get(), "cpu")),
                number_or_zero(json_object_get(stats.get(), "mem")));
        json_array_foreach(json_object_get(stats.get(), "stats"), i, e) {
            fprintf(s.out, "%s.%s: up for %s\n", n.job.c_str(), client::scalar_text(json_object_get(e, "pid")).c_str(),
                    client::scalar_text(json_object_get(e, "ctime")).c_str());
        }
        fputc('\n', s.out);
    }
    return kExitOk;
}

int cmd_ps_info(Session& s, const Invocation& inv) {
    const std::string& target = inv.args[0];
    if (client::is_pid(target)) {
        JsonPtr j = call_json(s, "GET", "/" + target, std::nullopt, "process '" + target + "' not found");
        if (!j)
            return kExitFailure;
        const char* k;
        json_t* v;
        json_object_foreach(j.get(), k, v) fprintf(s.out, "%s: %s\n", k, py_text(v).c_str());
        return kExitOk;
    }
    auto app = app_of(s, inv);
    if (!app)
        return kExitFailure;
    model::JobName n = job_of(*app, target);
    if (!valid_job(n))
        return s.fail("invalid job name '" + target + "'");
    JsonPtr j = call_json(s, "GET", job_path(n), std::nullopt, "job '" + target + "' not found");
    if (!j)
        return kExitFailure;
    json_t* info = j.get();
    std::vector<std::string> pids;
    size_t i;
    json_t* e;
    json_array_foreach(json_object_get(info, "processes"), i, e) pids.push_back(client::scalar_text(e));
    fprintf(s.out, "active: %s\nrunning: %s\nnum_processes: %s\npids: %s\n",
            py_text(json_object_get(info, "active")).c_str(), py_text(json_object_get(info, "running")).c_str(),
            py_text(json_object_get(info, "max_processes")).c_str(), join(pids, ",").c_str());
    return kExitOk;
}

// ---- ps:scale, scale ----

struct ScaleOp {
    std::string name;
    std::string op;  // "=n", "+n", "-n"
};

// `<name>(=|+|-)<n>`: the last operator followed by digits to the end.
std::optional<ScaleOp> parse_scale_op(const std::string& a) {
    size_t at = a.find_last_of("=+-");
    if (at == std::string::npos || at == 0 || at + 1 >= a.size() || a.size() - at > 8 ||
        a.find_first_not_of("0123456789", at + 1) != std::string::npos)
        return std::nullopt;
    return ScaleOp{a.substr(0, at), a.substr(at)};
}

int scale_ops(Session& s, const std::string& app, const std::vector<std::string>& args, bool old_form) {
    std::vector<ScaleOp> ops;
    for (const auto& a : args) {
        auto op = parse_scale_op(a);
        if (!op)
            return s.fail("invalid scale '" + a + "' (expected <name>=N, <name>+N or <name>-N)");
        ops.push_back(*op);
    }
    int rc = kExitOk;
    for (const auto& op : ops) {
        model::JobName n = job_of(app, op.name);
        if (!valid_job(n))
            return s.fail("invalid job name '" + op.name + "'");
        JsonPtr body = json::take(json_object());
        json::set(body.get(), "scale", json::str(op.op));
        auto r = call(s, "POST", job_path(n) + "/numprocesses", json::dump(body.get()));
        if (!r)
            return kExitFailure;
        if (r->status == 404) {
            fprintf(s.err, "'%s' not found\n", n.qualified().c_str());
            rc = kExitFailure;
            continue;
        }
        if (!r->ok())
            return http_fail(s, *r);
        auto j = json::parse(r->body);
        json_t* np = j && json_is_object(j->get()) ? json_object_get(j->get(), "numprocesses") : nullptr;
        fprintf(s.out, "Scaling %s processes... done, now running %s\n", (old_form ? op.name : n.qualified()).c_str(),
                client::scalar_text(np).c_str());
    }
    return rc;
}

int cmd_ps_scale(Session& s, const Invocation& inv) {
    auto app = app_of(s, inv);
    if (!app)
        return kExitFailure;
    return scale_ops(s, *app, inv.args, false);
}

// 0.4 `scale [group] name=N name+N name-N ...`.
int cmd_scale(Session& s, const Invocation& inv) {
    std::vector<std::string> args = inv.args;
    std::optional<std::string> group = inv.get("app");
    if (!args.empty() && !parse_scale_op(args[0])) {
        if (group)
            return s.fail("scale: --app and a group name are both given");
        group = args[0];
        args.erase(args.begin());
    }
    if (args.empty())
        return s.fail("scale: nothing to scale (usage: gaffer scale [group] <name>=N...)");
    auto app = resolve_app(s, group);
    if (!app)
        return kExitFailure;
    return scale_ops(s, *app, args, true);
}

// ---- ps:start, ps:stop, stop, restart, ps:kill ----

enum class StateAction { kStart, kStop, kRestart };

int state_cmd(Session& s, const Invocation& inv, StateAction a) {
    static const char* const kValue[] = {"1", "0", "2"};
    static const char* const kDone[] = {"started", "stopped", "restarted"};
    static const char* const kVerb[] = {"start", "stop", "restart"};
    const int k = static_cast<int>(a);
    auto app = app_of(s, inv);
    if (!app)
        return kExitFailure;
    auto set_state = [&](const model::JobName& n) -> int {
        return outcome(s, call(s, "POST", job_path(n) + "/state", kValue[k]), 404);
    };
    if (inv.args.empty()) {
        if (!confirm(s, inv, std::string("Do you want to ") + kVerb[k] + " all jobs in '" + *app + "'?"))
            return cancelled(s);
        auto jobs = app_jobs(s, *app);
        if (!jobs)
            return kExitFailure;
        for (const auto& q : *jobs)
            if (set_state(model::JobName::parse(q)) < 0)
                return kExitFailure;
        fprintf(s.out, "==> all jobs in '%s' %s\n", app->c_str(), kDone[k]);
        return kExitOk;
    }
    int rc = kExitOk;
    for (const auto& t : inv.args) {
        if (client::is_pid(t)) {
            if (a != StateAction::kStop) {
                rc = s.fail(std::string(kVerb[k]) + " takes job names, not a process id ('" + t + "')");
                continue;
            }
            auto r = call(s, "DELETE", "/" + t);
            if (!r)
                return kExitFailure;
            if (r->status == 404) {
                fprintf(s.err, "'%s' not found in '%s'\n", t.c_str(), app->c_str());
                rc = kExitFailure;
                continue;
            }
            if (!r->ok())
                return http_fail(s, *r);
            fprintf(s.out, "'%s' %s\n", t.c_str(), kDone[k]);
            continue;
        }
        model::JobName n = job_of(*app, t);
        if (!valid_job(n)) {
            rc = s.fail("invalid job name '" + t + "'");
            continue;
        }
        int r = set_state(n);
        if (r < 0)
            return kExitFailure;
        if (r == 0) {
            fprintf(s.err, "'%s' not found in '%s'\n", t.c_str(), n.session.c_str());
            rc = kExitFailure;
            continue;
        }
        fprintf(s.out, "'%s' %s\n", t.c_str(), kDone[k]);
    }
    return rc;
}

int cmd_ps_start(Session& s, const Invocation& inv) {
    return state_cmd(s, inv, StateAction::kStart);
}
int cmd_ps_stop(Session& s, const Invocation& inv) {
    return state_cmd(s, inv, StateAction::kStop);
}
int cmd_restart(Session& s, const Invocation& inv) {
    return state_cmd(s, inv, StateAction::kRestart);
}

int cmd_ps_kill(Session& s, const Invocation& inv) {
    const std::string& proc = inv.args[0];
    const std::string& sig = inv.args[1];
    if (!model::parse_signal(sig))
        return s.fail("unknown signal '" + sig + "'");
    std::string path;
    if (client::is_pid(proc)) {
        path = "/" + proc + "/signal";
    } else {
        auto app = app_of(s, inv);
        if (!app)
            return kExitFailure;
        model::JobName n = job_of(*app, proc);
        if (!valid_job(n))
            return s.fail("invalid job name '" + proc + "'");
        path = job_path(n) + "/signal";
    }
    JsonPtr body = json::take(json_object());
    json::set(body.get(), "signal", json::str(sig));
    auto r = call(s, "POST", path, json::dump(body.get()));
    if (!r)
        return kExitFailure;
    if (r->status == 404)
        return s.fail("'" + proc + "' not found");
    if (!r->ok())
        return http_fail(s, *r);
    fprintf(s.out, "'%s' sent to '%s'\n", sig.c_str(), proc.c_str());
    return kExitOk;
}

// ---- run (HEAD) ----

// The options of HEAD's `run <job> [options]` written after the job: the row takes every
// word after the first positional as an argument (0.4's `run <cmd>...`), so they are
// parsed here. False when a word is none of them (then it is 0.4's command line).
bool node_run_options(const std::vector<std::string>& words, Invocation& inv) {
    static const std::pair<const char*, const char*> kNames[] = {
        {"--app", "app"}, {"--graceful-timeout", "graceful-timeout"}, {"--param", "param"}, {"-p", "param"}};
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        bool matched = false;
        for (const auto& [flag, name] : kNames) {
            std::string f = flag;
            if (w == f && i + 1 < words.size()) {
                inv.options.emplace_back(name, words[++i]);
            } else if (w.starts_with(f + "=")) {
                inv.options.emplace_back(name, w.substr(f.size() + 1));
            } else if (f == "-p" && w.size() > 2 && w.starts_with("-p")) {
                inv.options.emplace_back(name, w.substr(2));
            } else {
                continue;
            }
            matched = true;
            break;
        }
        if (!matched)
            return false;
    }
    return true;
}

// The `run` row: HEAD's form when its first argument names a job (`app.job`, `app/job`,
// a Procfile entry, or anything with a node-only option) and the words after it are its
// options, without the local-only -c; else 0.4's local `run <cmd>...`.
int cmd_run(Session& s, const Invocation& inv) {
    Invocation node = inv;
    node.args.resize(1);
    bool head_form = !inv.has("concurrency") &&
                     node_run_options(std::vector<std::string>(inv.args.begin() + 1, inv.args.end()), node);
    bool node_only = node.has("graceful-timeout") || node.has("app") || node.has("param");
    if (head_form && (node_only || client::is_qualified(inv.args[0]) || procfile_entry(s, inv.args[0])))
        return run_on_node(s, node);
    if (inv.has("graceful-timeout") || inv.has("app") || inv.has("param"))
        return s.fail("run: --graceful-timeout, --app and -p go with one job argument (run <job> [options])");
    return run_locally(s, inv);
}

// ---- logs, recv ----

// Runs `set` until a stop signal (0), a lost stream or output (1), or `done`.
int follow(Session& s, client::StreamSet& set, const std::optional<client::StreamEnd>& ended, const bool& output_lost,
           bool end_is_ok) {
    while (!ended && !output_lost) {
        auto r = set.step();
        if (!r)
            return s.fail(r.error());
        if (*r)
            return kExitOk;
    }
    if (output_lost)
        return kExitFailure;
    if (!ended->ok())
        return s.fail(client::stream_end_text(*ended));
    if (!end_is_ok)
        return s.fail("the node ended the stream (" + s.endpoint_text() + ")");
    return kExitOk;
}

bool emit(Session& s, std::string_view data) {
    if (!data.empty())
        fwrite(data.data(), 1, data.size(), s.out);
    return fflush(s.out) == 0 && !ferror(s.out);
}

constexpr auto kIdleLimit = std::chrono::seconds(75);  // heartbeats every 30 s

// `logs [--ps JOB] [--app APP] [--no-color]`: the app's (or job's) events, one line each.
int cmd_logs(Session& s, const Invocation& inv) {
    auto app = app_of(s, inv);
    if (!app)
        return kExitFailure;
    std::string path = "/watch/job/" + client::path_segment(*app);
    if (auto ps = inv.get("ps")) {
        model::JobName n = job_of(*app, *ps);
        if (!valid_job(n) || n.session != *app)
            return s.fail("invalid job name '" + *ps + "'");
        path += "/" + client::path_segment(n.job);
    }
    path += "?feed=eventsource&heartbeat=30";
    const bool colour = !inv.has("no-color") && isatty(fileno(s.out)) == 1;
    auto http = s.http();
    if (!http)
        return s.fail(http.error());
    auto set = client::StreamSet::create((*http)->options(), {SIGINT, SIGTERM});
    if (!set)
        return s.fail(set.error());
    client::SseParser parser;
    std::optional<client::StreamEnd> ended;
    bool output_lost = false;
    client::StreamHandlers h;
    h.on_data = [&](std::string_view data) {
        parser.feed(data, [&](const client::SseParser::Event& ev) {
            // "job.<app>.<job>.<event>" -> "<event>".
            std::string type = ev.type;
            if (size_t dot = type.rfind('.'); dot != std::string::npos)
                type = type.substr(dot + 1);
            if (!output_lost && !emit(s, client::event_line(type, ev.data, colour)))
                output_lost = true;
        });
    };
    h.on_end = [&](const client::StreamEnd& e) { ended = e; };
    set->add(path, std::move(h), kIdleLimit);
    return follow(s, *set, ended, output_lost, false);
}

// `recv <pid>[.<stream>] [<stream>]`: the stream's bytes until the process exits or an
// interrupt.
int cmd_recv(Session& s, const Invocation& inv) {
    auto [pid, label] = client::pid_and_stream(inv.args[0]);
    if (inv.args.size() > 1)
        label = inv.args[1];
    if (!client::is_pid(pid))
        return s.fail("recv: expected a process id, got '" + inv.args[0] + "'");
    if (label.empty()) {
        JsonPtr info = call_json(s, "GET", "/" + pid);
        if (!info)
            return kExitFailure;
        json_t* first = json_array_get(json_object_get(info.get(), "redirect_output"), 0);
        if (!json_is_string(first))
            return s.fail("process " + pid + " has no redirected output");
        label = json_string_value(first);
    }
    auto http = s.http();
    if (!http)
        return s.fail(http.error());
    auto set = client::StreamSet::create((*http)->options(), {SIGINT, SIGTERM});
    if (!set)
        return s.fail(set.error());
    std::optional<client::StreamEnd> ended;
    bool output_lost = false;
    client::StreamHandlers h;
    h.on_data = [&](std::string_view data) { output_lost = output_lost || !emit(s, data); };
    h.on_end = [&](const client::StreamEnd& e) { ended = e; };
    set->add("/streams/" + pid + "/" + client::path_segment(label) + "?feed=continuous&heartbeat=30", std::move(h),
             kIdleLimit);
    return follow(s, *set, ended, output_lost, true);
}

// `send [-s STREAM] <pid>[.<stream>] <data>...`
int cmd_send(Session& s, const Invocation& inv) {
    auto [pid, stream] = client::pid_and_stream(inv.args[0]);
    if (stream.empty())
        stream = "stdin";
    if (auto st = inv.get("stream"))
        stream = *st;
    if (!client::is_pid(pid))
        return s.fail("send: expected a process id, got '" + inv.args[0] + "'");
    if (stream != "stdin")
        return s.fail("send: the HTTP API writes to stdin only, not to '" + stream + "'");
    auto http = s.http();
    if (!http)
        return s.fail(http.error());
    std::vector<std::string> words(inv.args.begin() + 1, inv.args.end());
    if (auto st = client::send_words(**http, "send " + pid, pid, words); !st)
        return s.fail(st.error());
    return kExitOk;
}

// ---- users and keys ----

std::string user_path(const std::string& u) {
    return "/users/" + client::path_segment(u);
}

// A request whose success prints `done`; 404 prints `missing`.
int simple(Session& s, const char* method, const std::string& path, std::optional<std::string> body,
           const std::string& done, const std::string& missing) {
    auto r = call(s, method, path, body);
    if (!r)
        return kExitFailure;
    if (r->status == 404 && !missing.empty())
        return s.fail(missing);
    if (!r->ok())
        return http_fail(s, *r);
    fprintf(s.out, "%s\n", done.c_str());
    return kExitOk;
}

int cmd_user(Session& s, const Invocation& inv) {
    const std::string& u = inv.args[0];
    JsonPtr j = call_json(s, "GET", user_path(u), std::nullopt, "user '" + u + "' not found");
    if (!j)
        return kExitFailure;
    json_t* key = json_object_get(j.get(), "key");
    fprintf(s.out, "User '%s' found\nAPI Key: %s\n", u.c_str(), py_text(key).c_str());
    return kExitOk;
}

// A password: -p, else a prompt (twice on a terminal).
std::optional<std::string> password_of(Session& s, const Invocation& inv) {
    if (auto p = inv.get("password"))
        return *p;
    auto first = client::read_secret_line("Password: ");
    if (!first) {
        s.fail(first.error());
        return std::nullopt;
    }
    if (isatty(STDIN_FILENO)) {
        auto second = client::read_secret_line("Confirm password: ");
        if (!second || *second != *first) {
            s.fail("the passwords do not match");
            return std::nullopt;
        }
    }
    if (first->empty()) {
        s.fail("empty password");
        return std::nullopt;
    }
    return *first;
}

int cmd_user_add(Session& s, const Invocation& inv) {
    std::string u;
    if (!inv.args.empty()) {
        u = inv.args[0];
    } else {
        fputs("Username: ", s.out);
        fflush(s.out);
        char* line = nullptr;
        size_t cap = 0;
        if (ssize_t n = getline(&line, &cap, stdin); n > 0)
            u = std::string(trim(std::string_view(line, static_cast<size_t>(n))));
        free(line);
    }
    if (u.empty())
        return s.fail("user:add: a user name is needed");
    int type = 1;
    if (auto t = inv.get("type")) {
        if (*t != "0" && *t != "1")
            return s.fail("invalid user type '" + *t + "' (0 = user, 1 = application)");
        type = *t == "0" ? 0 : 1;
    }
    auto pw = password_of(s, inv);
    if (!pw)
        return kExitFailure;
    if (!confirm(s, inv, "Do you want to create '" + u + "'?"))
        return cancelled(s);
    JsonPtr body = json::take(json_object());
    json::set(body.get(), "username", json::str(u));
    json::set(body.get(), "password", json::str(*pw));
    json::set(body.get(), "user_type", json::take(json_integer(type)));
    if (auto k = inv.get("key"))
        json::set(body.get(), "key", json::str(*k));
    return simple(s, "POST", "/users", json::dump(body.get()), "User '" + u + "' created", "");
}

int cmd_user_del(Session& s, const Invocation& inv) {
    const std::string& u = inv.args[0];
    if (!confirm(s, inv, "Do you want to delete '" + u + "'?"))
        return cancelled(s);
    return simple(s, "DELETE", user_path(u), std::nullopt, "User '" + u + "' deleted", "user '" + u + "' not found");
}

int cmd_user_setpassword(Session& s, const Invocation& inv) {
    const std::string& u = inv.args[0];
    auto pw = password_of(s, inv);
    if (!pw)
        return kExitFailure;
    if (!confirm(s, inv, "Do you want to change the password of '" + u + "'?"))
        return cancelled(s);
    JsonPtr body = json::take(json_object());
    json::set(body.get(), "password", json::str(*pw));
    return simple(s, "PUT", user_path(u) + "/password", json::dump(body.get()), "Password of '" + u + "' changed",
                  "user '" + u + "' not found");
}

int cmd_user_setkey(Session& s, const Invocation& inv) {
    const std::string& u = inv.args[0];
    if (!confirm(s, inv, "Do you want to change the key of '" + u + "'?"))
        return cancelled(s);
    JsonPtr body = json::take(json_object());
    json::set(body.get(), "key", json::str(inv.args[1]));
    return simple(s, "PUT", user_path(u) + "/key", json::dump(body.get()), "Key of '" + u + "' changed",
                  "user '" + u + "' not found");
}

int cmd_key(Session& s, const Invocation& inv) {
    const std::string& k = inv.args[0];
    JsonPtr j = call_json(s, "GET", "/keys/" + client::path_segment(k), std::nullopt, "key not found");
    if (!j)
        return kExitFailure;
    fprintf(s.out, "Key '%s' found.\nLabel: %s\nPermisssions:\n", k.c_str(),
            py_text(json_object_get(j.get(), "label")).c_str());
    json_t* perms = json_object_get(j.get(), "permissions");
    const char* name;
    json_t* v;
    json_object_foreach(perms, name, v) {
        if (json_is_array(v)) {
            if (json_array_size(v) > 0)
                fprintf(s.out, "  %s: %s\n", name, client::scalar_text(v).c_str());
        } else if (json_is_true(v)) {
            fprintf(s.out, "  %s\n", name);
        }
    }
    return kExitOk;
}

int cmd_key_create(Session& s, const Invocation& inv) {
    auto perms = client::permissions_from_words(inv.args);
    if (!perms)
        return s.fail(perms.error().context);
    JsonPtr body = json::take(json_object());
    json::set(body.get(), "permissions", std::move(*perms));
    if (auto l = inv.get("label"))
        json::set(body.get(), "label", json::str(*l));
    JsonPtr j = call_json(s, "POST", "/keys", json::dump(body.get()));
    if (!j)
        return kExitFailure;
    json_t* k = json_object_get(j.get(), "api_key");
    if (!json_is_string(k))
        return s.fail("unexpected answer from " + s.endpoint_text() + " (no key)");
    fprintf(s.out, "Key '%s' created.\n", json_string_value(k));
    return kExitOk;
}

int cmd_key_delete(Session& s, const Invocation& inv) {
    const std::string& k = inv.args[0];
    if (!confirm(s, inv, "Do you want to delete the key '" + k + "'?"))
        return cancelled(s);
    return simple(s, "DELETE", "/keys/" + client::path_segment(k), std::nullopt, "Key '" + k + "' deleted.",
                  "key not found");
}

// ---- the table ----

constexpr Option kApp = {"app", 0, "APP", "the app (default: the project's; . = the project)"};
constexpr Option kNoInputOpt = {"no-input", 0, nullptr, "do not ask for confirmation"};
constexpr Option kPassword = {"password", 'p', "PASSWORD", "the password (default: asked without echo)"};
constexpr Option kNoColor = {"no-color", 0, nullptr, "no colour"};

constexpr Option kAppOpt[] = {kApp};
constexpr Option kAppNoInput[] = {
    kApp,
    kNoInputOpt,
};
constexpr Option kUnloadOpts[] = {
    kApp,
    {"from-file", 0, "JSON", "the jobs named in this file (as `load` takes it)"},
    kNoInputOpt,
};
constexpr Option kLoadOpts[] = {
    kApp,
    {"concurrency", 'c', "NAME=N", "processes of a Procfile entry (repeatable; all=N)", true},
    {"port", 'p', "PORT", "the PORT base (default: $PORT, else 5000)"},
    {"nostart", 0, nullptr, "load the jobs stopped (a job's own \"start\" member wins)"},
};
constexpr Option kPsOpts[] = {
    kApp,
    kNoColor,
};
constexpr Option kLoginOpts[] = {
    {"username", 'u', "USER", "the user name (default: asked)"},
    kPassword,
};
constexpr Option kRunOpts[] = {
    {"app", 0, "APP", "the app of <job> (default: the project's)"},
    {"graceful-timeout", 0, "SECS", "seconds between SIGTERM and SIGKILL when the process is stopped"},
    {"param", 'p', "K=V", "environment variable of this process only (repeatable)", true},
    {"concurrency", 'c', "N", "copies of a local command (0.4 `run <cmd>...`)"},
};
constexpr Option kLogsOpts[] = {
    kApp,
    {"ps", 0, "JOB", "only this job's events"},
    kNoColor,
};
constexpr Option kSendOpts[] = {
    {"app", 0, "APP", "accepted for compatibility (pids are node-wide)"},
    {"stream", 's', "STREAM", "the stream to write to (stdin)"},
};
constexpr Option kUserAddOpts[] = {
    kPassword,
    {"key", 'k', "KEY", "bind this API key to the user"},
    {"type", 't', "TYPE", "0 = user (admin without a key), 1 = application (default)"},
    kNoInputOpt,
};
constexpr Option kPasswordOpts[] = {
    kPassword,
    kNoInputOpt,
};
constexpr Option kNoInput[] = {kNoInputOpt};
constexpr Option kKeyCreateOpts[] = {{"label", 'l', "LABEL", "a label for the key"}};

const Command kNodeCommands[] = {
    {"login", "[-u USER] [-p PASSWORD]", "get an API key for the node and store it", kLoginOpts, 0, 0, cmd_login},
    {"apps", "", "list the apps (sessions) of the node", {}, 0, 0, cmd_apps},
    {"load", "[-c name=N]... [--nostart] [--app APP] [<file>|-] | [<group>] [<url>]",
     "load the Procfile's entries (or the jobs of a JSON file) into the node", kLoadOpts, 0, 2, cmd_load},
    {"unload", "[<job>]... [--app APP] [--from-file JSON] [--no-input] | [<group>] [<url>]",
     "unload jobs, or the whole app", kUnloadOpts, 0, -1, cmd_unload},
    {"reload", "[<job>]... [--app APP] [--from-file JSON] [--no-input]", "reload jobs, or the whole app", kUnloadOpts,
     0, -1, cmd_reload},
    {"ps", "[--app APP] | [<group>]", "list the app's running jobs and processes", kPsOpts, 0, 1, cmd_ps},
    {"ps:info", "<job|pid> [--app APP]", "show a job's or a process's information", kAppOpt, 1, 1, cmd_ps_info},
    {"ps:scale", "[--app APP] <name>(=|+|-)<n>...", "scale jobs", kAppOpt, 1, -1, cmd_ps_scale},
    {"scale", "[<group>] <name>(=|+|-)<n>...", "scale jobs (0.4)", kAppOpt, 1, -1, cmd_scale},
    {"ps:start", "[<job>]... [--app APP] [--no-input]", "start jobs, or every job of the app", kAppNoInput, 0, -1,
     cmd_ps_start},
    {"ps:stop", "[<job|pid>]... [--app APP] [--no-input]", "stop jobs or processes, or every job of the app",
     kAppNoInput, 0, -1, cmd_ps_stop},
    {"stop", "[<type|app.job|pid>]... [--app APP] [--no-input]", "stop jobs or processes (as ps:stop)", kAppNoInput, 0,
     -1, cmd_ps_stop},
    {"restart", "[<type|app.job>]... [--app APP] [--no-input]", "restart (reload) jobs, or every job of the app",
     kAppNoInput, 0, -1, cmd_restart},
    {"ps:kill", "<job|pid> <signal> [--app APP]", "send a signal to a job or a process", kAppOpt, 2, 2, cmd_ps_kill},
    {"run", "<job> [--graceful-timeout T] [--app APP] [-p K=V]... | [-c N] <cmd>...",
     "start a one-off process of a job on the node, or run a command locally (0.4)", kRunOpts, 1, -1, cmd_run, true},
    {"logs", "[--ps JOB] [--app APP] [--no-color]", "follow the app's events", kLogsOpts, 0, 0, cmd_logs},
    {"send", "[-s STREAM] <pid>[.<stream>] <data>...|-", "write to a process's stdin", kSendOpts, 2, -1, cmd_send,
     true},
    {"recv", "<pid>[.<stream>] [<stream>]", "print a process's output until interrupted", kAppOpt, 1, 2, cmd_recv},
    {"user", "<username>", "show a user", {}, 1, 1, cmd_user},
    {"user:add", "[<username>] [-p PASSWORD] [-k KEY] [-t TYPE]", "create a user", kUserAddOpts, 0, 1, cmd_user_add},
    {"user:del", "<username> [--no-input]", "delete a user", kNoInput, 1, 1, cmd_user_del},
    {"user:setpassword", "<username> [-p PASSWORD] [--no-input]", "change a user's password", kPasswordOpts, 1, 1,
     cmd_user_setpassword},
    {"user:setkey", "<username> <key> [--no-input]", "bind an API key to a user", kNoInput, 2, 2, cmd_user_setkey},
    {"key", "<apikey>", "show an API key", {}, 1, 1, cmd_key},
    {"key:create", "<permission>... [--label LABEL]",
     "create an API key (+a, +u, +k, +m, TARGET+rwm, uid=USER, register=NODE)", kKeyCreateOpts, 0, -1, cmd_key_create},
    {"key:delete", "<apikey> [--no-input]", "delete an API key", kNoInput, 1, 1, cmd_key_delete},
};

}  // namespace

std::span<const Command> node_commands() {
    return kNodeCommands;
}

int run_on_node(Session& s, const Invocation& inv) {
    auto app = app_of(s, inv);
    if (!app)
        return kExitFailure;
    model::JobName n = job_of(*app, inv.args[0]);
    if (!valid_job(n) || client::is_pid(inv.args[0]))
        return s.fail("invalid job name '" + inv.args[0] + "'");
    JsonPtr body = json::take(json_object());
    if (auto t = inv.get("graceful-timeout")) {
        auto d = parse_double(*t);
        if (!d || *d < 0)
            return s.fail("invalid graceful timeout '" + *t + "'");
        json::set(body.get(), "graceful_timeout", json::take(json_real(*d)));
    }
    auto params = inv.all("param");
    if (!params.empty()) {
        JsonPtr env = json::take(json_object());
        for (const auto& kv : params) {
            size_t eq = kv.find('=');
            if (eq == std::string::npos || eq == 0)
                return s.fail("invalid parameter '" + kv + "' (expected K=V)");
            json::set(env.get(), kv.substr(0, eq).c_str(), json::str(kv.substr(eq + 1)));
        }
        json::set(body.get(), "env", std::move(env));
    }
    auto r = call(s, "POST", job_path(n) + "/commit", json::dump(body.get()));
    if (!r)
        return kExitFailure;
    if (r->status == 404)
        return s.fail("'" + n.qualified() + "' not found");
    if (!r->ok())
        return http_fail(s, *r);
    auto j = json::parse(r->body);
    json_t* pid = j && json_is_object(j->get()) ? json_object_get(j->get(), "pid") : nullptr;
    fprintf(s.out, "'%s': new process %s launched\n", n.qualified().c_str(), client::scalar_text(pid).c_str());
    return kExitOk;
}

}  // namespace gaffer::cli
