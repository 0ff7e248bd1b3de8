// SPDX-License-Identifier: MIT
// gafferctl commands (see commands.h). Routes and bodies follow gaffer-reference.md:
// §1.1/§3 for the HEAD API, §1.2/§4.3 for the 0.4 API, §9 for keys and users.
#include "ctl/gafferctl/commands.h"

#include <signal.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>

#include "ctl/client/answers.h"
#include "ctl/client/format.h"
#include "lib/base/strutil.h"
#include "lib/json/json.h"
#include "lib/model/job_spec.h"
#include "lib/model/values.h"

namespace gaffer::ctl {

using client::clock_text;
using client::colour_for;
using client::event_line;
using client::object_lines;
using client::path_segment;
using client::pretty_json;
using client::read_input;
using client::read_secret_line;
using client::Response;
using client::scalar_text;
using client::stream_end_text;
using client::Table;
using client::uptime_since;
using json::JsonPtr;

// ---------------------------------------------------------------------------------------
// Shared helpers

std::string usage_line(const Command& cmd) {
    std::string s = std::string("gafferctl ") + cmd.name;
    if (*cmd.usage)
        s += std::string(" ") + cmd.usage;
    return s;
}

int usage_error(Context& ctx, const Command& cmd, const std::string& message) {
    fprintf(ctx.err, "gafferctl: %s: %s\nUsage: %s\n", cmd.name, message.c_str(), usage_line(cmd).c_str());
    return kExitUsage;
}

namespace {

// A successful answer: the response and its body parsed as JSON when it is JSON.
struct Answer {
    Response resp;
    JsonPtr body;  // null if the answer is not JSON (text routes such as /ping)
};

int report(Context& ctx, const Error& e) {
    fprintf(ctx.err, "gafferctl: %s\n", e.message().c_str());
    return kExitFailure;
}

Error failure(const std::string& what, const std::string& why) {
    return Error{0, what + ": " + why};
}

// Hint appended to 404s of routes that exist only when the key API is on (§9.4).
constexpr const char* kKeyApiHint = " (is the key API enabled? see gafferd --require-key)";

// Sends one request. A transport failure is returned as the client reported it (it names
// the endpoint); an HTTP error status becomes "<what>: <status text>".
Result<Answer> call(Context& ctx, const std::string& what, const char* method, const std::string& path,
                    std::optional<std::string_view> body = std::nullopt, const client::Headers& headers = {},
                    const char* hint_404 = nullptr) {
    GAFFER_TRY(Response r, ctx.http->request(method, path, body, headers));
    if (!r.ok()) {
        std::string why = http_error_text(r);
        if (r.status == 404 && hint_404)
            why += hint_404;
        return fail(failure(what, why));
    }
    Answer a;
    std::string_view t = trim(r.body);
    bool looks_json = !t.empty() && (t[0] == '{' || t[0] == '[');
    if (r.is_json() || looks_json) {
        auto j = json::parse(r.body);
        if (j) {
            a.body = std::move(*j);
        } else if (r.is_json()) {
            return fail(failure(what, "the daemon sent invalid JSON: " + j.error().context));
        }
    }
    a.resp = std::move(r);
    return a;
}

std::string body_text(const JsonPtr& j) {
    return json::dump(j.get());
}

void print_raw(Context& ctx, const Answer& a) {
    const std::string& b = a.resp.body;
    fwrite(b.data(), 1, b.size(), ctx.out);
    if (b.empty() || b.back() != '\n')
        fputc('\n', ctx.out);
}

void print_line(Context& ctx, const std::string& s) {
    fwrite(s.data(), 1, s.size(), ctx.out);
    fputc('\n', ctx.out);
}

// 0.4 rule: an action that succeeded prints "ok".
int print_ok(Context& ctx, const Answer& a) {
    if (ctx.json)
        print_raw(ctx, a);
    else
        print_line(ctx, "ok");
    return kExitOk;
}

// The member `key` of the answer's object, or an error naming what was expected.
Result<const json_t*> member(const Answer& a, const std::string& what, const char* key) {
    json_t* v = json_is_object(a.body.get()) ? json_object_get(a.body.get(), key) : nullptr;
    if (!v)
        return fail(failure(what, std::string("unexpected answer from the daemon (no '") + key + "' member)"));
    return static_cast<const json_t*>(v);
}

// Prints the array `key` of the answer (or the answer itself if key is null), one item
// per line.
int print_list(Context& ctx, const Answer& a, const std::string& what, const char* key) {
    if (ctx.json) {
        print_raw(ctx, a);
        return kExitOk;
    }
    const json_t* arr = a.body.get();
    if (key) {
        auto m = member(a, what, key);
        if (!m)
            return report(ctx, m.error());
        arr = *m;
    }
    if (!json_is_array(arr))
        return report(ctx, failure(what, "unexpected answer from the daemon (not a list)"));
    size_t i;
    json_t* e;
    json_array_foreach(arr, i, e) {
        if (json_is_object(e)) {
            // Listings of keys/users may carry objects: prefer their identifying member.
            json_t* id = json_object_get(e, "username");
            if (!id)
                id = json_object_get(e, "key");
            if (!id)
                id = json_object_get(e, "id");
            print_line(ctx, id ? scalar_text(id) : json::dump(e));
        } else {
            print_line(ctx, scalar_text(e));
        }
    }
    return kExitOk;
}

// Prints one member of the answer as a scalar (a count, a pid).
int print_member(Context& ctx, const Answer& a, const std::string& what, const char* key) {
    if (ctx.json) {
        print_raw(ctx, a);
        return kExitOk;
    }
    auto m = member(a, what, key);
    if (!m)
        return report(ctx, m.error());
    print_line(ctx, scalar_text(*m));
    return kExitOk;
}

int print_object(Context& ctx, const Answer& a, const std::string& what) {
    if (ctx.json) {
        print_raw(ctx, a);
        return kExitOk;
    }
    if (!json_is_object(a.body.get()))
        return report(ctx, failure(what, "unexpected answer from the daemon (not an object)"));
    std::string s = object_lines(a.body.get());
    fwrite(s.data(), 1, s.size(), ctx.out);
    return kExitOk;
}

double now_seconds() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

Result<JsonPtr> read_json(const std::string& path) {
    GAFFER_TRY(std::string text, read_input(path));
    auto j = json::parse(text);
    if (!j)
        return fail(
            Error{0, "'" + (path == "-" ? std::string("<stdin>") : path) + "': invalid JSON: " + j.error().context});
    return std::move(*j);
}

// A job argument: "sid.job", "sid/job" or a bare name (session "default").
std::optional<model::JobName> job_arg(std::string_view text) {
    model::JobName n = model::JobName::parse(text);
    if (n.session.empty() || n.job.empty())
        return std::nullopt;
    return n;
}

std::string job_path(const model::JobName& n) {
    return "/jobs/" + path_segment(n.session) + "/" + path_segment(n.job);
}

std::string pid_path(std::string_view pid) {
    return "/" + std::string(pid);
}

std::string proc_path(std::string_view name) {
    return "/processes/" + path_segment(name);
}

std::string what(const Command& cmd, std::string_view target) {
    return std::string(cmd.name) + " " + std::string(target);
}

// Turns a signal argument into its number, or nullopt.
std::optional<int> signal_arg(std::string_view s) {
    return model::parse_signal(s);
}

// A strictly positive count ("add web 2").
std::optional<int> count_arg(std::string_view s) {
    if (s.empty() || s.size() > 7 || s.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    auto n = parse_int(s);
    if (!n || *n < 1)
        return std::nullopt;
    return static_cast<int>(*n);
}

// --password, else a prompt (twice when `confirm`), else a line of stdin.
Result<std::string> password_arg(const Invocation& inv, bool confirm) {
    if (auto p = inv.get("password"))
        return *p;
    GAFFER_TRY(std::string first, read_secret_line("Password: "));
    if (first.empty())
        return fail(Error{0, "empty password"});
    if (confirm && isatty(STDIN_FILENO)) {
        GAFFER_TRY(std::string second, read_secret_line("Confirm password: "));
        if (second != first)
            return fail(Error{0, "the passwords do not match"});
    }
    return first;
}

// ---------------------------------------------------------------------------------------
// 0.4 commands (§4.3, §11.3)

int cmd_processes(Context& ctx, const Command& cmd, const Invocation& inv) {
    bool running = inv.has("running");
    auto a = call(ctx, cmd.name, "GET", running ? "/processes?running=true" : "/processes");
    if (!a)
        return report(ctx, a.error());
    if (!ctx.json && json_is_object(a->body.get()) && json_object_get(a->body.get(), "processes"))
        return print_list(ctx, *a, cmd.name, "processes");
    return print_list(ctx, *a, cmd.name, nullptr);
}

// Builds {"name", "cmd"[, "args"]} from "<name> <cmd> [<arg>...]"; one <cmd> word with
// spaces is left to the daemon's command-line splitting (§7.3).
JsonPtr process_body(const std::string& name, const std::vector<std::string>& rest, bool with_name) {
    JsonPtr body(json_object());
    if (with_name)
        json::set(body.get(), "name", json::str(name));
    json::set(body.get(), "cmd", json::str(rest[0]));
    if (rest.size() > 1)
        json::set(body.get(), "args", json::strings({rest.begin() + 1, rest.end()}));
    return body;
}

int cmd_add_process(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& name = inv.args[0];
    JsonPtr body = process_body(name, {inv.args.begin() + 1, inv.args.end()}, true);
    // gafferctl 0.4 started the process only with --start.
    json::set(body.get(), "start", JsonPtr(json_boolean(inv.has("start"))));
    auto a = call(ctx, what(cmd, name), "POST", "/processes", body_text(body));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_load_process(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& file = inv.args[0];
    auto j = read_json(file);
    if (!j)
        return report(ctx, j.error());
    json_t* obj = j->get();
    if (!json_is_object(obj))
        return report(ctx, failure(what(cmd, file), "the file must hold a JSON object"));
    json_t* name = json_object_get(obj, "name");
    json_t* c = json_object_get(obj, "cmd");
    if (!json_is_string(name) || !json_is_string(c))
        return report(ctx, failure(what(cmd, file), "'name' or 'cmd' is missing"));
    json::set(obj, "start", JsonPtr(json_boolean(inv.has("start"))));
    auto a = call(ctx, what(cmd, json_string_value(name)), "POST", "/processes", body_text(*j));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_update_process(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& name = inv.args[0];
    std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
    if (is_qualified(name)) {
        auto n = job_arg(name);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + name + "'");
        JsonPtr body = process_body(n->job, rest, false);
        auto a = call(ctx, what(cmd, n->qualified()), "PUT", job_path(*n), body_text(body));
        if (!a)
            return report(ctx, a.error());
        return print_ok(ctx, *a);
    }
    // The 0.4 gafferctl POSTed here (and got 409); the route is PUT (§14 item 37).
    JsonPtr body = process_body(name, rest, true);
    auto a = call(ctx, what(cmd, name), "PUT", proc_path(name), body_text(body));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_get_process(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& name = inv.args[0];
    if (is_qualified(name)) {
        auto n = job_arg(name);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + name + "'");
        auto a = call(ctx, what(cmd, n->qualified()), "GET", job_path(*n));
        if (!a)
            return report(ctx, a.error());
        if (ctx.json) {
            print_raw(ctx, *a);
            return kExitOk;
        }
        auto config = member(*a, what(cmd, n->qualified()), "config");
        if (!config)
            return report(ctx, config.error());
        fputs(pretty_json(*config).c_str(), ctx.out);
        return kExitOk;
    }
    auto a = call(ctx, what(cmd, name), "GET", proc_path(name));
    if (!a)
        return report(ctx, a.error());
    if (ctx.json || !a->body) {
        print_raw(ctx, *a);
        return kExitOk;
    }
    // Printed once, indented (0.4 printed a JSON string holding the JSON: §14 item 37).
    fputs(pretty_json(a->body.get()).c_str(), ctx.out);
    return kExitOk;
}

int cmd_del_process(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& name = inv.args[0];
    if (is_qualified(name)) {
        auto n = job_arg(name);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + name + "'");
        auto a = call(ctx, what(cmd, n->qualified()), "DELETE", job_path(*n));
        if (!a)
            return report(ctx, a.error());
        return print_ok(ctx, *a);
    }
    auto a = call(ctx, what(cmd, name), "DELETE", proc_path(name));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

// POST .../state with 1 (start), 0 (stop) or 2 (reload), §3.6.
int post_state(Context& ctx, const Command& cmd, const model::JobName& n, const char* value) {
    auto a = call(ctx, what(cmd, n.qualified()), "POST", job_path(n) + "/state", std::string_view(value),
                  {{"Content-Type", "text/plain"}});
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_start(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& x = inv.args[0];
    if (is_pid(x))
        return usage_error(ctx, cmd, "'" + x + "' is a process id; start takes a job name");
    if (is_qualified(x)) {
        auto n = job_arg(x);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + x + "'");
        return post_state(ctx, cmd, *n, "1");
    }
    auto a = call(ctx, what(cmd, x), "POST", proc_path(x) + "/_start");
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_stop(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& x = inv.args[0];
    if (is_pid(x)) {
        auto a = call(ctx, what(cmd, x), "DELETE", pid_path(x));
        if (!a)
            return report(ctx, a.error());
        return print_ok(ctx, *a);
    }
    if (is_qualified(x)) {
        auto n = job_arg(x);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + x + "'");
        return post_state(ctx, cmd, *n, "0");
    }
    auto a = call(ctx, what(cmd, x), "POST", proc_path(x) + "/_stop");
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

// add/sub: 0.4 `_add/<n>` / `_sub/<n>`, or a HEAD scale for sid.job.
int add_or_sub(Context& ctx, const Command& cmd, const Invocation& inv, bool add) {
    const std::string& x = inv.args[0];
    if (is_pid(x))
        return usage_error(ctx, cmd, "'" + x + "' is a process id; give a job name");
    auto count = count_arg(inv.args[1]);
    if (!count)
        return usage_error(ctx, cmd, "'" + inv.args[1] + "' is not a positive number");
    if (is_qualified(x)) {
        auto n = job_arg(x);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + x + "'");
        JsonPtr body(json_object());
        json::set(body.get(), "scale", json::str((add ? "+" : "-") + std::to_string(*count)));
        auto a = call(ctx, what(cmd, n->qualified()), "POST", job_path(*n) + "/numprocesses", body_text(body));
        if (!a)
            return report(ctx, a.error());
        return print_member(ctx, *a, what(cmd, n->qualified()), "numprocesses");
    }
    auto a = call(ctx, what(cmd, x), "POST", proc_path(x) + (add ? "/_add/" : "/_sub/") + std::to_string(*count));
    if (!a)
        return report(ctx, a.error());
    return print_member(ctx, *a, what(cmd, x), "numprocesses");
}

int cmd_add(Context& ctx, const Command& cmd, const Invocation& inv) {
    return add_or_sub(ctx, cmd, inv, true);
}
int cmd_sub(Context& ctx, const Command& cmd, const Invocation& inv) {
    return add_or_sub(ctx, cmd, inv, false);
}

// The job's info (HEAD) or 0.4 status object, whichever the argument selects.
// `head_key`/`old_key` name the member to print; `as_state` prints active/stopped.
int status_like(Context& ctx, const Command& cmd, const Invocation& inv, const char* head_key, const char* old_key,
                bool as_state) {
    const std::string& x = inv.args[0];
    std::string w;
    Result<Answer> a = fail(Error{});
    const char* key = old_key;
    if (is_pid(x))
        return usage_error(ctx, cmd, "'" + x + "' is a process id; give a job name");
    if (is_qualified(x)) {
        auto n = job_arg(x);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + x + "'");
        w = what(cmd, n->qualified());
        key = head_key;
        if (std::string_view(head_key) == "numprocesses")
            a = call(ctx, w, "GET", job_path(*n) + "/numprocesses");
        else
            a = call(ctx, w, "GET", job_path(*n));
    } else {
        w = what(cmd, x);
        a = call(ctx, w, "GET", "/status/" + path_segment(x));
    }
    if (!a)
        return report(ctx, a.error());
    if (ctx.json) {
        print_raw(ctx, *a);
        return kExitOk;
    }
    auto m = member(*a, w, key);
    if (!m)
        return report(ctx, m.error());
    if (as_state)
        print_line(ctx, json_is_true(*m) ? "active" : "stopped");
    else
        print_line(ctx, scalar_text(*m));
    return kExitOk;
}

int cmd_status(Context& ctx, const Command& cmd, const Invocation& inv) {
    return status_like(ctx, cmd, inv, "active", "active", true);
}
int cmd_running(Context& ctx, const Command& cmd, const Invocation& inv) {
    return status_like(ctx, cmd, inv, "running", "running", false);
}
int cmd_numprocesses(Context& ctx, const Command& cmd, const Invocation& inv) {
    return status_like(ctx, cmd, inv, "numprocesses", "max_processes", false);
}

int cmd_pids(Context& ctx, const Command& cmd, const Invocation& inv) {
    if (inv.args.empty()) {
        auto a = call(ctx, cmd.name, "GET", "/pids");
        if (!a)
            return report(ctx, a.error());
        return print_list(ctx, *a, cmd.name, "pids");
    }
    const std::string& x = inv.args[0];
    if (is_pid(x))
        return usage_error(ctx, cmd, "'" + x + "' is a process id; give a job name");
    if (is_qualified(x)) {
        auto n = job_arg(x);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + x + "'");
        auto a = call(ctx, what(cmd, n->qualified()), "GET", job_path(*n) + "/pids");
        if (!a)
            return report(ctx, a.error());
        return print_list(ctx, *a, what(cmd, n->qualified()), "pids");
    }
    auto a = call(ctx, what(cmd, x), "GET", proc_path(x) + "/_pids");
    if (!a)
        return report(ctx, a.error());
    return print_list(ctx, *a, what(cmd, x), "pids");
}

// {"signal": N} to a job (HEAD, row 15) or a pid (row 24).
int signal_head(Context& ctx, const Command& cmd, const std::string& target, int sig) {
    JsonPtr body(json_object());
    json::set(body.get(), "signal", JsonPtr(json_integer(sig)));
    std::string path, w;
    if (is_pid(target)) {
        path = pid_path(target) + "/signal";
        w = what(cmd, target);
    } else {
        auto n = job_arg(target);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + target + "'");
        path = job_path(*n) + "/signal";
        w = what(cmd, n->qualified());
    }
    auto a = call(ctx, w, "POST", path, body_text(body));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_kill(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& x = inv.args[0];
    auto sig = signal_arg(inv.args[1]);
    if (!sig)
        return usage_error(ctx, cmd, "unknown signal '" + inv.args[1] + "'");
    if (is_pid(x) || is_qualified(x))
        return signal_head(ctx, cmd, x, *sig);
    auto a = call(ctx, what(cmd, x), "POST", proc_path(x) + "/_signal/" + std::to_string(*sig));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_version(Context& ctx, const Command& cmd, const Invocation&) {
    auto a = call(ctx, cmd.name, "GET", "/version");
    if (!a)
        return report(ctx, a.error());
    if (ctx.json) {
        print_raw(ctx, *a);
        return kExitOk;
    }
    auto v = member(*a, cmd.name, "version");
    if (!v)
        return report(ctx, v.error());
    print_line(ctx, "gaffer (version " + scalar_text(*v) + ")");
    return kExitOk;
}

int cmd_ping(Context& ctx, const Command& cmd, const Invocation&) {
    auto a = call(ctx, cmd.name, "GET", "/ping");
    if (!a)
        return report(ctx, a.error());
    print_line(ctx, std::string(trim(a->resp.body)));
    return kExitOk;
}

// ---------------------------------------------------------------------------------------
// HEAD commands (§3, §9)

int cmd_sessions(Context& ctx, const Command& cmd, const Invocation&) {
    auto a = call(ctx, cmd.name, "GET", "/sessions");
    if (!a)
        return report(ctx, a.error());
    return print_list(ctx, *a, cmd.name, "sessions");
}

int cmd_jobs(Context& ctx, const Command& cmd, const Invocation& inv) {
    std::string path = "/jobs", w = cmd.name;
    if (!inv.args.empty()) {
        if (inv.args[0].empty())
            return usage_error(ctx, cmd, "empty session name");
        path += "/" + path_segment(inv.args[0]);
        w = what(cmd, inv.args[0]);
    }
    auto a = call(ctx, w, "GET", path);
    if (!a)
        return report(ctx, a.error());
    return print_list(ctx, *a, w, "jobs");
}

int cmd_load(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& file = inv.args[0];
    std::string session = inv.get("session").value_or("default");
    if (session.empty() || is_qualified(session))
        return usage_error(ctx, cmd, "invalid session '" + session + "'");
    auto j = read_json(file);
    if (!j)
        return report(ctx, j.error());

    // A job object, {"jobs": [...]} or a plain array of jobs.
    std::vector<json_t*> jobs;
    json_t* root = j->get();
    json_t* list = json_is_object(root) ? json_object_get(root, "jobs") : nullptr;
    if (json_is_array(root))
        list = root;
    if (list) {
        if (!json_is_array(list))
            return report(ctx, failure(what(cmd, file), "'jobs' must be a list"));
        size_t i;
        json_t* e;
        json_array_foreach(list, i, e) jobs.push_back(e);
    } else if (json_is_object(root)) {
        jobs.push_back(root);
    } else {
        return report(ctx, failure(what(cmd, file), "expected a job object or {\"jobs\": [...]}"));
    }
    if (jobs.empty())
        return report(ctx, failure(what(cmd, file), "no job to load"));

    // Check every entry before loading any.
    for (json_t* job : jobs) {
        json_t* name = json_object_get(job, "name");
        if (!json_is_object(job) || !json_is_string(name) || !job_arg(json_string_value(name)))
            return report(ctx, failure(what(cmd, file), "every job needs a 'name'"));
    }

    int rc = kExitOk;
    for (json_t* job : jobs) {
        std::string name = json_string_value(json_object_get(job, "name"));
        model::JobName n = is_qualified(name) ? *job_arg(name) : model::JobName{session, name};
        JsonPtr body(json_deep_copy(job));
        json::set(body.get(), "name", json::str(n.job));
        if (inv.has("nostart") && !json_object_get(body.get(), "start"))
            json::set(body.get(), "start", JsonPtr(json_false()));
        auto a = call(ctx, what(cmd, n.qualified()), "POST", "/jobs/" + path_segment(n.session), body_text(body));
        if (!a) {
            rc = report(ctx, a.error());
            continue;
        }
        if (ctx.json)
            print_raw(ctx, *a);
        else
            print_line(ctx, n.qualified() + ": loaded");
    }
    return rc;
}

int cmd_unload(Context& ctx, const Command& cmd, const Invocation& inv) {
    std::vector<model::JobName> names;
    for (const auto& x : inv.args) {
        auto n = job_arg(x);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + x + "'");
        names.push_back(*n);
    }
    int rc = kExitOk;
    for (const auto& n : names) {
        auto a = call(ctx, what(cmd, n.qualified()), "DELETE", job_path(n));
        if (!a) {
            rc = report(ctx, a.error());
            continue;
        }
        if (ctx.json)
            print_raw(ctx, *a);
        else
            print_line(ctx, n.qualified() + ": unloaded");
    }
    return rc;
}

int cmd_update(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto n = job_arg(inv.args[0]);
    if (!n)
        return usage_error(ctx, cmd, "invalid job name '" + inv.args[0] + "'");
    auto j = read_json(inv.args[1]);
    if (!j)
        return report(ctx, j.error());
    if (!json_is_object(j->get()))
        return report(ctx, failure(what(cmd, inv.args[1]), "the file must hold a job object"));
    // A qualified name equal to the target is accepted and sent short, as the API wants.
    json_t* name = json_object_get(j->get(), "name");
    if (json_is_string(name) && json_string_value(name) == n->qualified())
        json::set(j->get(), "name", json::str(n->job));
    auto a = call(ctx, what(cmd, n->qualified()), "PUT", job_path(*n), body_text(*j));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_info(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& x = inv.args[0];
    std::string path, w;
    if (is_pid(x)) {
        path = pid_path(x);
        w = what(cmd, x);
    } else {
        auto n = job_arg(x);
        if (!n)
            return usage_error(ctx, cmd, "invalid job name '" + x + "'");
        path = job_path(*n);
        w = what(cmd, n->qualified());
    }
    auto a = call(ctx, w, "GET", path);
    if (!a)
        return report(ctx, a.error());
    return print_object(ctx, *a, w);
}

int cmd_reload(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto n = job_arg(inv.args[0]);
    if (!n || is_pid(inv.args[0]))
        return usage_error(ctx, cmd, "invalid job name '" + inv.args[0] + "'");
    return post_state(ctx, cmd, *n, "2");
}

int cmd_scale(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto n = job_arg(inv.args[0]);
    if (!n || is_pid(inv.args[0]))
        return usage_error(ctx, cmd, "invalid job name '" + inv.args[0] + "'");
    const std::string& v = inv.args[1];
    if (!model::parse_scale(v))
        return usage_error(ctx, cmd, "invalid scale '" + v + "' (expected +N, -N, =N or N)");
    JsonPtr body(json_object());
    json::set(body.get(), "scale", json::str(v));
    auto a = call(ctx, what(cmd, n->qualified()), "POST", job_path(*n) + "/numprocesses", body_text(body));
    if (!a)
        return report(ctx, a.error());
    return print_member(ctx, *a, what(cmd, n->qualified()), "numprocesses");
}

int cmd_commit(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto n = job_arg(inv.args[0]);
    if (!n || is_pid(inv.args[0]))
        return usage_error(ctx, cmd, "invalid job name '" + inv.args[0] + "'");
    JsonPtr body(json_object());
    if (auto t = inv.get("graceful-timeout")) {
        auto d = parse_double(*t);
        if (!d || *d < 0)
            return usage_error(ctx, cmd, "invalid graceful timeout '" + *t + "'");
        json::set(body.get(), "graceful_timeout", JsonPtr(json_real(*d)));
    }
    auto envs = inv.all("env");
    if (!envs.empty()) {
        JsonPtr env(json_object());
        for (const auto& kv : envs) {
            size_t eq = kv.find('=');
            if (eq == std::string::npos || eq == 0)
                return usage_error(ctx, cmd, "invalid environment '" + kv + "' (expected K=V)");
            json::set(env.get(), kv.substr(0, eq).c_str(), json::str(kv.substr(eq + 1)));
        }
        json::set(body.get(), "env", std::move(env));
    }
    auto a = call(ctx, what(cmd, n->qualified()), "POST", job_path(*n) + "/commit", body_text(body));
    if (!a)
        return report(ctx, a.error());
    return print_member(ctx, *a, what(cmd, n->qualified()), "pid");
}

int cmd_signal(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto sig = signal_arg(inv.args[1]);
    if (!sig)
        return usage_error(ctx, cmd, "unknown signal '" + inv.args[1] + "'");
    return signal_head(ctx, cmd, inv.args[0], *sig);
}

int cmd_stop_process(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& x = inv.args[0];
    if (!is_pid(x))
        return usage_error(ctx, cmd, "'" + x + "' is not a process id");
    auto a = call(ctx, what(cmd, x), "DELETE", pid_path(x));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

void add_process_rows(Table& t, const json_t* processes, double now) {
    size_t i;
    json_t* p;
    json_array_foreach(processes, i, p) {
        if (!json_is_object(p))
            continue;
        json_t* state = json_object_get(p, "state");
        json_t* restarts = json_object_get(p, "restarts");
        std::string job = scalar_text(json_object_get(p, "name"));
        // Committed ("once") processes are never restarted; mark them.
        if (json_is_true(json_object_get(p, "commited")))
            job += " (once)";
        t.add_row({scalar_text(json_object_get(p, "pid")), scalar_text(json_object_get(p, "os_pid")), job,
                   state ? scalar_text(state) : "running", uptime_since(json_object_get(p, "create_time"), now),
                   restarts ? scalar_text(restarts) : "-"});
    }
}

int cmd_ps(Context& ctx, const Command& cmd, const Invocation& inv) {
    Table table({"PID", "OSPID", "JOB", "STATE", "UPTIME", "RESTARTS"});
    double now = now_seconds();
    if (!inv.args.empty()) {
        auto n = job_arg(inv.args[0]);
        if (!n || is_pid(inv.args[0]))
            return usage_error(ctx, cmd, "invalid job name '" + inv.args[0] + "'");
        std::string w = what(cmd, n->qualified());
        auto a = call(ctx, w, "GET", job_path(*n) + "/processes");
        if (!a)
            return report(ctx, a.error());
        if (ctx.json) {
            print_raw(ctx, *a);
            return kExitOk;
        }
        auto procs = member(*a, w, "processes");
        if (!procs)
            return report(ctx, procs.error());
        add_process_rows(table, *procs, now);
        fputs(table.render().c_str(), ctx.out);
        return kExitOk;
    }

    auto a = call(ctx, cmd.name, "GET", "/processes?full=1");
    if (!a)
        return report(ctx, a.error());
    json_t* procs = json_is_object(a->body.get()) ? json_object_get(a->body.get(), "processes") : nullptr;
    if (json_is_array(procs)) {
        if (ctx.json) {
            print_raw(ctx, *a);
            return kExitOk;
        }
        add_process_rows(table, procs, now);
        fputs(table.render().c_str(), ctx.out);
        return kExitOk;
    }

    // A daemon without the ?full=1 extension answers the 0.4 list of names: walk the jobs.
    auto jobs = call(ctx, cmd.name, "GET", "/jobs");
    if (!jobs)
        return report(ctx, jobs.error());
    auto list = member(*jobs, cmd.name, "jobs");
    if (!list || !json_is_array(*list))
        return report(ctx, failure(cmd.name, "unexpected answer from the daemon to GET /jobs"));
    JsonPtr all(json_array());
    size_t i;
    json_t* e;
    json_array_foreach(*list, i, e) {
        if (!json_is_string(e))
            continue;
        auto n = job_arg(json_string_value(e));
        if (!n)
            continue;
        auto r = ctx.http->request("GET", job_path(*n) + "/processes");
        if (!r)
            return report(ctx, r.error());
        if (r->status == 404)
            continue;  // unloaded meanwhile
        if (!r->ok())
            return report(ctx, failure(what(cmd, n->qualified()), http_error_text(*r)));
        auto body = json::parse(r->body);
        json_t* p = body && json_is_object(body->get()) ? json_object_get(body->get(), "processes") : nullptr;
        if (!json_is_array(p))
            return report(ctx, failure(what(cmd, n->qualified()), "unexpected answer from the daemon"));
        json_array_extend(all.get(), p);
    }
    if (ctx.json) {
        JsonPtr out(json_object());
        json::set(out.get(), "processes", std::move(all));
        print_line(ctx, body_text(out));
        return kExitOk;
    }
    add_process_rows(table, all.get(), now);
    fputs(table.render().c_str(), ctx.out);
    return kExitOk;
}

// `top`: a refreshing table of every job and process (CPU, memory, restarts, uptime),
// like `pm2 monit` in plain terminal output. Each refresh is one GET /processes?full=1
// plus one GET .../stats per job, so the CPU column is the use since the previous
// refresh. On a terminal the screen is redrawn; otherwise snapshots follow each other.
int cmd_top(Context& ctx, const Command& cmd, const Invocation& inv) {
    double interval = 2.0;
    if (auto v = inv.get("interval")) {
        auto d = parse_double(*v);
        if (!d || *d < 0.1 || *d > 3600)
            return usage_error(ctx, cmd, "--interval takes seconds between 0.1 and 3600");
        interval = *d;
    }
    long count = -1;
    if (auto v = inv.get("count")) {
        auto n = parse_int(*v);
        if (!n || *n < 1)
            return usage_error(ctx, cmd, "--count takes a positive number");
        count = static_cast<long>(*n);
    }
    bool tty = isatty(fileno(ctx.out)) == 1;
    for (long round = 0; count < 0 || round < count; ++round) {
        if (round > 0) {
            struct timespec ts;
            ts.tv_sec = static_cast<time_t>(interval);
            ts.tv_nsec = static_cast<long>((interval - static_cast<double>(ts.tv_sec)) * 1e9);
            nanosleep(&ts, nullptr);
        }
        auto procs = call(ctx, cmd.name, "GET", "/processes?full=1");
        if (!procs)
            return report(ctx, procs.error());
        auto list = member(*procs, cmd.name, "processes");
        if (!list || !json_is_array(*list))
            return report(ctx, failure(cmd.name, "unexpected answer from the daemon to GET /processes?full=1"));
        auto jobs = call(ctx, cmd.name, "GET", "/jobs");
        if (!jobs)
            return report(ctx, jobs.error());
        auto names = member(*jobs, cmd.name, "jobs");
        if (!names || !json_is_array(*names))
            return report(ctx, failure(cmd.name, "unexpected answer from the daemon to GET /jobs"));

        // pid -> stats object, from each job's stats.
        JsonPtr by_pid(json_object());
        std::vector<std::string> totals;
        size_t i;
        json_t* e;
        json_array_foreach(*names, i, e) {
            if (!json_is_string(e))
                continue;
            auto n = job_arg(json_string_value(e));
            if (!n)
                continue;
            auto r = ctx.http->request("GET", job_path(*n) + "/stats");
            if (!r || !r->ok())
                continue;  // unloaded meanwhile
            auto body = json::parse(r->body);
            if (!body || !json_is_object(body->get()))
                continue;
            json_t* st = json_object_get(body->get(), "stats");
            size_t k;
            json_t* one;
            json_array_foreach(st, k, one) {
                json_t* pid = json_object_get(one, "pid");
                if (json_is_integer(pid))
                    json_object_set(by_pid.get(), std::to_string(json_integer_value(pid)).c_str(), one);
            }
            auto g = [&](const char* key) { return scalar_text(json_object_get(body->get(), key)); };
            totals.push_back(n->qualified() + ": CPU " + g("cpu") + "%  MEM " + g("mem") + "%");
        }
        if (ctx.json) {
            JsonPtr out(json_object());
            json::set(out.get(), "processes", json::ref(const_cast<json_t*>(*list)));
            json::set(out.get(), "stats", std::move(by_pid));
            print_line(ctx, body_text(out));
            fflush(ctx.out);
            continue;
        }
        Table t({"JOB", "PID", "OSPID", "STATE", "CPU%", "MEM%", "RSS", "UPTIME", "RESTARTS"});
        double now = now_seconds();
        json_array_foreach(*list, i, e) {
            json_t* pid = json_object_get(e, "pid");
            json_t* st = json_is_integer(pid)
                             ? json_object_get(by_pid.get(), std::to_string(json_integer_value(pid)).c_str())
                             : nullptr;
            auto f = [&](const char* key) { return st ? scalar_text(json_object_get(st, key)) : std::string("-"); };
            json_t* state = json_object_get(e, "state");
            t.add_row({scalar_text(json_object_get(e, "name")), scalar_text(pid),
                       scalar_text(json_object_get(e, "os_pid")), state ? scalar_text(state) : "running", f("cpu"),
                       f("mem"), f("mem_info1"), uptime_since(json_object_get(e, "create_time"), now),
                       scalar_text(json_object_get(e, "restarts"))});
        }
        if (tty)
            fputs("\033[H\033[2J", ctx.out);
        else if (round > 0)
            fputs("\n", ctx.out);
        fputs(t.render().c_str(), ctx.out);
        for (const auto& line : totals) print_line(ctx, line);
        fflush(ctx.out);
    }
    return kExitOk;
}

int cmd_stats(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& x = inv.args[0];
    if (is_pid(x)) {
        std::string w = what(cmd, x);
        auto a = call(ctx, w, "GET", pid_path(x) + "/stats");
        if (!a)
            return report(ctx, a.error());
        if (ctx.json) {
            print_raw(ctx, *a);
            return kExitOk;
        }
        auto s = member(*a, w, "stats");
        if (!s)
            return report(ctx, s.error());
        fputs(object_lines(*s).c_str(), ctx.out);
        return kExitOk;
    }
    auto n = job_arg(x);
    if (!n)
        return usage_error(ctx, cmd, "invalid job name '" + x + "'");
    std::string w = what(cmd, n->qualified());
    auto a = call(ctx, w, "GET", job_path(*n) + "/stats");
    if (!a)
        return report(ctx, a.error());
    if (ctx.json) {
        print_raw(ctx, *a);
        return kExitOk;
    }
    auto stats = member(*a, w, "stats");
    if (!stats)
        return report(ctx, stats.error());
    Table t({"PID", "OSPID", "CPU", "MEM", "RSS", "VSZ", "CTIME"});
    size_t i;
    json_t* p;
    json_array_foreach(*stats, i, p) {
        auto f = [&](const char* k) { return scalar_text(json_object_get(p, k)); };
        t.add_row({f("pid"), f("os_pid"), f("cpu"), f("mem"), f("mem_info1"), f("mem_info2"), f("ctime")});
    }
    fputs(t.render().c_str(), ctx.out);
    // Aggregates may be "N/A" (§3.5); scalar_text prints whatever came.
    json_t* body = a->body.get();
    auto g = [&](const char* k) { return scalar_text(json_object_get(body, k)); };
    print_line(ctx, "Total CPU: " + g("cpu") + " (min " + g("min_cpu") + ", max " + g("max_cpu") +
                        ")  Total MEM: " + g("mem") + " (min " + g("min_mem") + ", max " + g("max_mem") + ")");
    return kExitOk;
}

int cmd_state(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto n = job_arg(inv.args[0]);
    if (!n || is_pid(inv.args[0]))
        return usage_error(ctx, cmd, "invalid job name '" + inv.args[0] + "'");
    auto a = call(ctx, what(cmd, n->qualified()), "GET", job_path(*n) + "/state");
    if (!a)
        return report(ctx, a.error());
    if (ctx.json) {
        print_raw(ctx, *a);
        return kExitOk;
    }
    print_line(ctx, std::string(trim(a->resp.body)));
    return kExitOk;
}

// --- keys ------------------------------------------------------------------------------

int cmd_keys(Context& ctx, const Command& cmd, const Invocation&) {
    auto a = call(ctx, cmd.name, "GET", "/keys", std::nullopt, {}, kKeyApiHint);
    if (!a)
        return report(ctx, a.error());
    if (ctx.json) {
        print_raw(ctx, *a);
        return kExitOk;
    }
    auto keys = member(*a, cmd.name, "keys");
    if (!keys)
        return report(ctx, keys.error());
    if (!json_is_array(*keys))
        return report(ctx, failure(cmd.name, "unexpected answer from the daemon (not a list)"));
    // Plain ids, or objects (id, label, permissions) from daemons that list metadata.
    Table t({"KEY", "LABEL", "PERMISSIONS"});
    bool objects = false;
    size_t i;
    json_t* k;
    json_array_foreach(*keys, i, k) {
        if (!json_is_object(k)) {
            print_line(ctx, scalar_text(k));
            continue;
        }
        objects = true;
        json_t* id = json_object_get(k, "key");
        if (!id)
            id = json_object_get(k, "id");
        std::string perms;
        if (json_t* p = json_object_get(k, "permissions"); json_is_object(p)) {
            std::vector<std::string> parts;
            for (const char* flag : {"admin", "create_key", "create_user"})
                if (json_is_true(json_object_get(p, flag)))
                    parts.push_back(flag);
            for (const char* list : {"manage", "write", "read", "uids"}) {
                json_t* l = json_object_get(p, list);
                if (json_is_array(l) && json_array_size(l) > 0)
                    parts.push_back(std::string(list) + "=" + scalar_text(l));
            }
            perms = join(parts, " ");
        }
        t.add_row({scalar_text(id), scalar_text(json_object_get(k, "label")), perms.empty() ? "-" : perms});
    }
    if (objects)
        fputs(t.render().c_str(), ctx.out);
    return kExitOk;
}

int cmd_key(Context& ctx, const Command& cmd, const Invocation& inv) {
    std::string w = cmd.name;  // the key is a secret: keep it out of messages
    auto a = call(ctx, w, "GET", "/keys/" + path_segment(inv.args[0]));
    if (!a)
        return report(ctx, a.error());
    return print_object(ctx, *a, w);
}

int cmd_key_create(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto perms = client::permissions_from_words(inv.args);
    if (!perms)
        return usage_error(ctx, cmd, perms.error().context);
    JsonPtr body(json_object());
    json::set(body.get(), "permissions", std::move(*perms));
    if (auto l = inv.get("label"))
        json::set(body.get(), "label", json::str(*l));
    if (auto p = inv.get("parent"))
        json::set(body.get(), "parent", json::str(*p));
    auto a = call(ctx, cmd.name, "POST", "/keys", body_text(body), {}, kKeyApiHint);
    if (!a)
        return report(ctx, a.error());
    if (ctx.json) {
        print_raw(ctx, *a);
        return kExitOk;
    }
    // The secret is shown once (security-defaults.md): print it alone, for scripts.
    json_t* k = json_is_object(a->body.get()) ? json_object_get(a->body.get(), "api_key") : nullptr;
    if (!json_is_string(k)) {
        if (const std::string* h = a->resp.header("x-api-key")) {
            print_line(ctx, *h);
            return kExitOk;
        }
        return report(ctx, failure(cmd.name, "unexpected answer from the daemon (no 'api_key' member)"));
    }
    print_line(ctx, json_string_value(k));
    return kExitOk;
}

int cmd_key_delete(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto a = call(ctx, cmd.name, "DELETE", "/keys/" + path_segment(inv.args[0]));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

// --- users -----------------------------------------------------------------------------

int cmd_users(Context& ctx, const Command& cmd, const Invocation&) {
    auto a = call(ctx, cmd.name, "GET", "/users", std::nullopt, {}, kKeyApiHint);
    if (!a)
        return report(ctx, a.error());
    return print_list(ctx, *a, cmd.name, "users");
}

int cmd_user(Context& ctx, const Command& cmd, const Invocation& inv) {
    std::string w = what(cmd, inv.args[0]);
    auto a = call(ctx, w, "GET", "/users/" + path_segment(inv.args[0]));
    if (!a)
        return report(ctx, a.error());
    return print_object(ctx, *a, w);
}

int cmd_user_add(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& user = inv.args[0];
    int type = 1;
    if (auto t = inv.get("type")) {
        if (*t != "0" && *t != "1")
            return usage_error(ctx, cmd, "invalid user type '" + *t + "' (0 = user, 1 = application)");
        type = *t == "0" ? 0 : 1;
    }
    auto pw = password_arg(inv, true);
    if (!pw)
        return report(ctx, Error{pw.error().code, what(cmd, user) + ": " + pw.error().context});
    JsonPtr body(json_object());
    json::set(body.get(), "username", json::str(user));
    json::set(body.get(), "password", json::str(*pw));
    json::set(body.get(), "user_type", JsonPtr(json_integer(type)));
    if (auto k = inv.get("key"))
        json::set(body.get(), "key", json::str(*k));
    auto a = call(ctx, what(cmd, user), "POST", "/users", body_text(body), {}, kKeyApiHint);
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_user_del(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto a = call(ctx, what(cmd, inv.args[0]), "DELETE", "/users/" + path_segment(inv.args[0]));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_user_password(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& user = inv.args[0];
    auto pw = password_arg(inv, true);
    if (!pw)
        return report(ctx, Error{pw.error().code, what(cmd, user) + ": " + pw.error().context});
    JsonPtr body(json_object());
    json::set(body.get(), "password", json::str(*pw));
    auto a = call(ctx, what(cmd, user), "PUT", "/users/" + path_segment(user) + "/password", body_text(body));
    if (!a)
        return report(ctx, a.error());
    return print_ok(ctx, *a);
}

int cmd_user_key(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& user = inv.args[0];
    JsonPtr body(json_object());
    json::set(body.get(), "key", json::str(inv.args[1]));
    auto a = call(ctx, what(cmd, user), "PUT", "/users/" + path_segment(user) + "/key", body_text(body));
    if (!a)
        return report(ctx, a.error());
    // A daemon that mints the key (security-defaults.md) shows it once.
    json_t* k = json_is_object(a->body.get()) ? json_object_get(a->body.get(), "api_key") : nullptr;
    if (!ctx.json && json_is_string(k)) {
        print_line(ctx, json_string_value(k));
        return kExitOk;
    }
    return print_ok(ctx, *a);
}

int cmd_auth(Context& ctx, const Command& cmd, const Invocation& inv) {
    const std::string& user = inv.args[0];
    if (user.find(':') != std::string::npos)
        return usage_error(ctx, cmd, "a user name cannot contain ':'");
    auto pw = password_arg(inv, false);
    if (!pw)
        return report(ctx, Error{pw.error().code, what(cmd, user) + ": " + pw.error().context});
    // Basic credentials only: no X-Api-Key on this route.
    auto r = ctx.http->request("GET", "/auth", std::nullopt,
                               {{"Authorization", client::basic_authorization(user, *pw)}, {"X-Api-Key", ""}});
    if (!r)
        return report(ctx, r.error());
    if (r->status == 401)
        return report(ctx, failure(what(cmd, user), "wrong user name or password"));
    if (!r->ok()) {
        std::string why = http_error_text(*r);
        if (r->status == 404)
            why += kKeyApiHint;
        return report(ctx, failure(what(cmd, user), why));
    }
    Answer a;
    a.resp = std::move(*r);
    if (ctx.json) {
        print_raw(ctx, a);
        return kExitOk;
    }
    auto j = json::parse(a.resp.body);
    json_t* k = j && json_is_object(j->get()) ? json_object_get(j->get(), "api_key") : nullptr;
    if (json_is_string(k)) {
        print_line(ctx, json_string_value(k));
        return kExitOk;
    }
    if (const std::string* h = a.resp.header("x-api-key")) {
        print_line(ctx, *h);
        return kExitOk;
    }
    return report(ctx, failure(what(cmd, user), "unexpected answer from the daemon (no 'api_key' member)"));
}

// ---------------------------------------------------------------------------------------
// Live commands: watch (§11.3), tail, send (§11.1). They stream over client::StreamSet;
// SIGINT and SIGTERM end them cleanly (exit 0).

// Writes and flushes at once (a live command's reader waits for each line); false once
// the output is gone (a closed pipe).
bool emit(Context& ctx, std::string_view s) {
    if (!s.empty())
        fwrite(s.data(), 1, s.size(), ctx.out);
    return fflush(ctx.out) == 0 && !ferror(ctx.out);
}

constexpr auto kStreamHeartbeat = std::chrono::seconds(30);
// A stream that stays silent this long (the daemon sends a heartbeat every 30 s) is dead.
constexpr auto kStreamIdleLimit = std::chrono::seconds(75);

// A decimal count for an option, or nullopt.
std::optional<long long> number_arg(std::string_view s, long long max) {
    if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    auto n = parse_int(s);
    if (!n || *n > max)
        return std::nullopt;
    return static_cast<long long>(*n);
}

// `watch [<p1>[.<p2>.<p3>]]`: GET /watch[/<p1>/<p2>/<p3>]?feed=eventsource, one line per
// event until interrupted (exit 0). The daemon never ends this stream by itself, so any
// end of it (the daemon stopped or restarted, the connection was lost) is a failure.
int cmd_watch(Context& ctx, const Command& cmd, const Invocation& inv) {
    std::string path = "/watch";
    if (!inv.args.empty() && inv.args[0] != ".") {
        // At most three segments; dots after the second stay in the third (the daemon joins
        // the segments with '.' again).
        std::string_view rest = inv.args[0];
        for (int i = 0; i < 3 && !rest.empty(); ++i) {
            size_t dot = i < 2 ? rest.find('.') : std::string_view::npos;
            std::string_view segment = rest.substr(0, dot);
            if (segment.empty())
                return usage_error(ctx, cmd, "invalid pattern '" + inv.args[0] + "'");
            path += "/" + path_segment(segment);
            rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
            if (dot != std::string_view::npos && rest.empty())
                return usage_error(ctx, cmd, "invalid pattern '" + inv.args[0] + "'");
        }
    }
    path += "?feed=eventsource";
    auto idle = std::chrono::seconds(130);  // the daemon's default heartbeat is 60 s
    if (auto v = inv.get("heartbeat")) {
        auto n = number_arg(*v, 86400);
        if (!n)
            return usage_error(ctx, cmd, "--heartbeat takes a number of seconds");
        path += "&heartbeat=" + std::to_string(*n);
        idle = std::chrono::seconds(*n > 0 ? 2 * *n + 10 : 0);
    }
    const bool colour = inv.has("colorize");

    auto set = client::StreamSet::create(ctx.http->options(), {SIGINT, SIGTERM});
    if (!set)
        return report(ctx, failure(cmd.name, set.error().message()));
    client::SseParser parser;
    std::optional<client::StreamEnd> ended;
    bool output_lost = false;
    client::StreamHandlers h;
    h.on_data = [&](std::string_view data) {
        parser.feed(data, [&](const client::SseParser::Event& ev) {
            if (output_lost)
                return;
            if (!emit(ctx, ctx.json ? ev.data + "\n" : event_line(ev.type, ev.data, colour)))
                output_lost = true;
        });
    };
    h.on_end = [&](const client::StreamEnd& e) { ended = e; };
    set->add(path, std::move(h), idle);
    while (!ended && !output_lost) {
        auto r = set->step();
        if (!r)
            return report(ctx, failure(cmd.name, r.error().message()));
        if (*r)
            return kExitOk;  // SIGINT or SIGTERM
    }
    if (output_lost)
        return kExitFailure;  // main() reports the write error
    if (!ended->ok())
        return report(ctx, failure(cmd.name, stream_end_text(*ended)));
    return report(ctx, failure(cmd.name, "the daemon ended the event stream"));
}

// Line framing for output from several processes: each complete line gets `prefix`; a
// partial line waits for its end (or for flush()).
class LinePrefixer {
public:
    explicit LinePrefixer(std::string prefix) : prefix_(std::move(prefix)) {}
    std::string feed(std::string_view data) {
        std::string out;
        while (!data.empty()) {
            size_t nl = data.find('\n');
            if (nl == std::string_view::npos) {
                partial_.append(data);
                // Bounded: a very long line is cut rather than held.
                if (partial_.size() >= 65536)
                    out += flush();
                break;
            }
            out += prefix_;
            out += partial_;
            out.append(data.substr(0, nl + 1));
            partial_.clear();
            data.remove_prefix(nl + 1);
        }
        return out;
    }
    std::string flush() {
        if (partial_.empty())
            return {};
        std::string out = prefix_ + partial_ + "\n";
        partial_.clear();
        return out;
    }

private:
    std::string prefix_;
    std::string partial_;
};

std::string stream_path(long long pid, const std::string& label, std::string_view query) {
    return "/streams/" + std::to_string(pid) + "/" + path_segment(label) + "?" + std::string(query);
}

// The first member of a redirect_output array, or "".
std::string first_label(const json_t* obj) {
    json_t* r = json_is_object(obj) ? json_object_get(obj, "redirect_output") : nullptr;
    json_t* first = json_is_array(r) ? json_array_get(r, 0) : nullptr;
    return json_is_string(first) ? json_string_value(first) : "";
}

// `tail <pid>`: the bytes of one stream, unchanged.
int tail_pid(Context& ctx, const Command& cmd, const std::string& pid, std::optional<std::string> label, size_t backlog,
             bool follow) {
    const std::string w = what(cmd, pid);
    if (!label) {
        auto a = call(ctx, w, "GET", pid_path(pid));
        if (!a)
            return report(ctx, a.error());
        std::string l = first_label(a->body.get());
        if (l.empty())
            return report(ctx, failure(w, "the process has no redirected output (redirect_output)"));
        label = l;
    }
    const long long n = parse_int(pid).value_or(0);  // is_pid(): at most 10 digits
    const std::string q = "backlog=" + std::to_string(backlog);
    if (!follow) {
        auto a = call(ctx, w, "GET", stream_path(n, *label, "feed=longpoll&" + q));
        if (!a)
            return report(ctx, a.error());
        return emit(ctx, a->resp.body) ? kExitOk : kExitFailure;
    }
    auto set = client::StreamSet::create(ctx.http->options(), {SIGINT, SIGTERM});
    if (!set)
        return report(ctx, failure(w, set.error().message()));
    std::optional<client::StreamEnd> ended;
    bool output_lost = false;
    client::StreamHandlers h;
    h.on_data = [&](std::string_view data) { output_lost = output_lost || !emit(ctx, data); };
    h.on_end = [&](const client::StreamEnd& e) { ended = e; };
    set->add(stream_path(n, *label, "feed=continuous&heartbeat=" + std::to_string(kStreamHeartbeat.count()) + "&" + q),
             std::move(h), kStreamIdleLimit);
    while (!ended && !output_lost) {
        auto r = set->step();
        if (!r)
            return report(ctx, failure(w, r.error().message()));
        if (*r)
            return kExitOk;
    }
    if (output_lost)
        return kExitFailure;
    // A clean end: the process exited and its output is drained.
    if (!ended->ok())
        return report(ctx, failure(w, stream_end_text(*ended)));
    return kExitOk;
}

// The internal pids of a job (GET .../pids), or an error.
Result<std::vector<long long>> job_pids(Context& ctx, const std::string& w, const model::JobName& job) {
    GAFFER_TRY(Answer a, call(ctx, w, "GET", job_path(job) + "/pids"));
    json_t* arr = json_is_object(a.body.get()) ? json_object_get(a.body.get(), "pids") : nullptr;
    if (!json_is_array(arr))
        return fail(failure(w, "unexpected answer from the daemon (no 'pids' member)"));
    std::vector<long long> pids;
    size_t i;
    json_t* e;
    json_array_foreach(arr, i, e) {
        if (json_is_integer(e))
            pids.push_back(json_integer_value(e));
    }
    return pids;
}

// `tail <sid.job>`: every process of the job, the ones spawned later included (found
// through the job's spawn events on /watch, in the same StreamSet), lines prefixed with
// "<sid.job>.<pid> | ".
int tail_job(Context& ctx, const Command& cmd, const model::JobName& job, std::optional<std::string> label,
             size_t backlog, bool follow) {
    const std::string w = what(cmd, job.qualified());
    auto info = call(ctx, w, "GET", job_path(job));
    if (!info)
        return report(ctx, info.error());
    if (!label) {
        json_t* config = json_is_object(info->body.get()) ? json_object_get(info->body.get(), "config") : nullptr;
        std::string l = first_label(config);
        if (l.empty())
            return report(ctx, failure(w, "the job has no redirected output (redirect_output)"));
        label = l;
    }
    auto prefix = [&](long long pid) { return job.qualified() + "." + std::to_string(pid) + " | "; };

    if (!follow) {
        auto pids = job_pids(ctx, w, job);
        if (!pids)
            return report(ctx, pids.error());
        for (long long pid : *pids) {
            auto r =
                ctx.http->request("GET", stream_path(pid, *label, "feed=longpoll&backlog=" + std::to_string(backlog)));
            if (!r)
                return report(ctx, r.error());
            if (r->status == 404)
                continue;  // exited meanwhile
            if (!r->ok())
                return report(ctx, failure(w + " (pid " + std::to_string(pid) + ")", http_error_text(*r)));
            LinePrefixer lp(prefix(pid));
            std::string text = lp.feed(r->body);
            text += lp.flush();
            if (!emit(ctx, text))
                return kExitFailure;
        }
        return kExitOk;
    }

    auto set = client::StreamSet::create(ctx.http->options(), {SIGINT, SIGTERM});
    if (!set)
        return report(ctx, failure(w, set.error().message()));
    std::set<long long> seen;
    std::map<long long, LinePrefixer> lines;
    std::optional<client::StreamEnd> watch_end;
    bool list_due = false;
    bool output_lost = false;
    const std::string hb = "heartbeat=" + std::to_string(kStreamHeartbeat.count());

    // Starts following one process; `bytes` of its past output first.
    auto follow_pid = [&](long long pid, size_t bytes) {
        if (!seen.insert(pid).second)
            return;
        lines.emplace(pid, LinePrefixer(prefix(pid)));
        client::StreamHandlers h;
        h.on_data = [&, pid](std::string_view data) {
            auto it = lines.find(pid);
            if (it != lines.end() && !output_lost)
                output_lost = !emit(ctx, it->second.feed(data));
        };
        h.on_end = [&, pid](const client::StreamEnd& e) {
            auto it = lines.find(pid);
            if (it != lines.end()) {
                if (!output_lost)
                    output_lost = !emit(ctx, it->second.flush());
                lines.erase(it);
            }
            // 404: the process was gone before its stream opened; the job goes on.
            if (!e.ok() && e.status != 404)
                fprintf(ctx.err, "gafferctl: %s (pid %lld): %s\n", w.c_str(), pid, stream_end_text(e).c_str());
        };
        set->add(stream_path(pid, *label, "feed=continuous&" + hb + "&backlog=" + std::to_string(bytes)), std::move(h),
                 kStreamIdleLimit);
    };

    client::SseParser parser;
    client::StreamHandlers wh;
    // The subscription is in place once the answer's head is in: list the processes then,
    // so that none spawned in between is missed (duplicates are ignored).
    wh.on_open = [&](long status) { list_due = status == 200; };
    wh.on_data = [&](std::string_view data) {
        parser.feed(data, [&](const client::SseParser::Event& ev) {
            if (!std::string_view(ev.type).ends_with(".spawn"))
                return;
            auto j = json::parse(ev.data);
            json_t* p = j && json_is_object(j->get()) ? json_object_get(j->get(), "pid") : nullptr;
            // A new process: all of its output so far (it has just started).
            if (json_is_integer(p))
                follow_pid(json_integer_value(p), 1u << 20);
        });
    };
    wh.on_end = [&](const client::StreamEnd& e) { watch_end = e; };
    set->add("/watch/job/" + path_segment(job.session) + "/" + path_segment(job.job) + "?feed=eventsource&" + hb,
             std::move(wh), kStreamIdleLimit);

    while (!watch_end && !output_lost) {
        auto r = set->step();
        if (!r)
            return report(ctx, failure(w, r.error().message()));
        if (*r) {
            std::string rest;
            for (auto& [pid, lp] : lines) rest += lp.flush();
            emit(ctx, rest);
            return kExitOk;
        }
        if (list_due) {
            list_due = false;
            auto pids = job_pids(ctx, w, job);
            if (!pids)
                return report(ctx, pids.error());
            for (long long pid : *pids) follow_pid(pid, backlog);
        }
    }
    if (output_lost)
        return kExitFailure;
    if (!watch_end->ok())
        return report(ctx, failure(w, stream_end_text(*watch_end)));
    return report(ctx, failure(w, "the daemon ended the event stream"));
}

int cmd_tail(Context& ctx, const Command& cmd, const Invocation& inv) {
    size_t backlog = 4096;
    if (auto v = inv.get("bytes")) {
        auto n = number_arg(*v, 1ll << 40);
        if (!n)
            return usage_error(ctx, cmd, "-n takes a number of bytes");
        backlog = static_cast<size_t>(std::min<long long>(*n, 1 << 20));
    }
    const bool follow = !inv.has("no-follow");
    std::optional<std::string> label = inv.get("label");
    if (label && label->empty())
        return usage_error(ctx, cmd, "empty --label");
    const std::string& target = inv.args[0];
    if (is_pid(target))
        return tail_pid(ctx, cmd, target, label, backlog, follow);
    auto job = job_arg(target);
    if (!job)
        return usage_error(ctx, cmd, "expected a job name (sid.job) or a pid, got '" + target + "'");
    return tail_job(ctx, cmd, *job, label, backlog, follow);
}

// `send [-s STREAM] <pid>[.<stream>] <data>...`: the words joined with spaces plus a
// newline, or with `-` each line of stdin until EOF or a line ".", one write per line.
int cmd_send(Context& ctx, const Command& cmd, const Invocation& inv) {
    auto [pid, stream] = client::pid_and_stream(inv.args[0]);
    if (stream.empty())
        stream = "stdin";
    if (auto s = inv.get("stream"))
        stream = *s;
    if (!is_pid(pid))
        return usage_error(ctx, cmd, "expected an internal pid, got '" + inv.args[0] + "'");
    if (stream != "stdin")
        return usage_error(ctx, cmd,
                           "the HTTP API writes to stdin only (POST /streams/<pid>/stdin), not to '" + stream + "'");
    const std::string w = what(cmd, pid);
    std::vector<std::string> words(inv.args.begin() + 1, inv.args.end());
    if (auto st = client::send_words(*ctx.http, w, pid, words); !st)
        return report(ctx, st.error());
    if (words.size() == 1 && words[0] == "-")
        return kExitOk;
    if (ctx.json)
        print_line(ctx, "{\"ok\": true}");
    return kExitOk;
}

// ---------------------------------------------------------------------------------------
// The table

constexpr std::span<const OptionSpec> kNoOptions;
constexpr OptionSpec kRunningOpt[] = {{"running", 0, nullptr, "list the internal pids of running processes instead"}};
constexpr OptionSpec kStartOpt[] = {{"start", 0, nullptr, "start the processes right away (default: loaded stopped)"}};
constexpr OptionSpec kLoadOpts[] = {
    {"session", 's', "SID", "session for jobs whose name is not qualified (default: default)"},
    {"nostart", 0, nullptr, "do not start the jobs (a job's own \"start\" member wins)"},
};
constexpr OptionSpec kCommitOpts[] = {
    {"graceful-timeout", 'g', "SECS", "seconds between SIGTERM and SIGKILL when it is stopped"},
    {"env", 'e', "K=V", "environment variable for this process only (repeatable)", true},
};
constexpr OptionSpec kTopOpts[] = {
    {"interval", 'n', "SECS", "seconds between refreshes (default 2)"},
    {"count", 'c', "N", "stop after N refreshes (default: until interrupted)"},
};
constexpr OptionSpec kKeyCreateOpts[] = {
    {"label", 'l', "LABEL", "a label for the key"},
    {"parent", 0, "KEY", "make it a sub-key of KEY (deleted with it)"},
};
constexpr OptionSpec kUserAddOpts[] = {
    {"password", 'p', "PASSWORD", "the password (else prompted, or read from stdin)"},
    {"type", 't', "TYPE", "0 = user (admin account), 1 = application (default)"},
    {"key", 'k', "KEY", "the API key to attach to the user"},
};
constexpr OptionSpec kPasswordOpt[] = {
    {"password", 'p', "PASSWORD", "the password (else prompted, or read from stdin)"},
};
constexpr OptionSpec kWatchOpts[] = {
    {"heartbeat", 0, "SECS", "ask the daemon for a heartbeat every SECS seconds (default 60; 0 = none)"},
    {"colorize", 0, nullptr, "one colour per job name"},
};
constexpr OptionSpec kTailOpts[] = {
    {"bytes", 'n', "BYTES", "show up to BYTES of earlier output of each process first (default 4096)"},
    {"no-follow", 0, nullptr, "print that earlier output and exit"},
    {"label", 'l', "LABEL", "the output stream (default: the first redirect_output label)"},
};
constexpr OptionSpec kFleetOpts[] = {
    {"node-key", 0, "KEY", "API key for the nodes (default: --api-key)"},
    {"node-timeout", 0, "SECS", "give up on a node after SECS seconds (default 3)"},
};
constexpr OptionSpec kSendOpts[] = {
    {"stream", 's', "STREAM", "the stream to write to (only stdin over the HTTP API)"},
};

const Command kCommands[] = {
    // 0.4 set (§11.3)
    {"processes", "[--running]", "list the jobs (0.4 names), or the running pids",
     "Lists the job names known to the 0.4 API (GET /processes), one per line; with --running, the "
     "internal pids of the running processes instead.",
     kRunningOpt, 0, 0, cmd_processes},
    {"add_process", "[--start] <name> <cmd> [<arg>...]", "add a job (0.4)",
     "Adds a job through the 0.4 API (POST /processes). <cmd> is the command line; extra words are "
     "sent as its arguments. Without --start the job is loaded but not started.",
     kStartOpt, 2, -1, cmd_add_process},
    {"load_process", "[--start] <file|->", "add a job from a JSON file (0.4)",
     "Adds a job described by a JSON object (\"name\" and \"cmd\" required, other members as in "
     "gaffer-job(5)) read from <file> or stdin (-), through POST /processes.",
     kStartOpt, 1, 1, cmd_load_process},
    {"update_process", "<name> <cmd> [<arg>...]", "replace a job's command",
     "Replaces the job's configuration with the given command line (PUT /processes/<name>, or PUT "
     "/jobs/<sid>/<job> for sid.job). Its processes are restarted with the new command.",
     kNoOptions, 2, -1, cmd_update_process},
    {"get_process", "<name|pid>", "show a job's configuration as JSON",
     "Prints the job's configuration as indented JSON (GET /processes/<name>; for sid.job the "
     "\"config\" member of GET /jobs/<sid>/<job>).",
     kNoOptions, 1, 1, cmd_get_process},
    {"del_process", "<name>", "unload a job",
     "Stops the job's processes and removes it (DELETE /processes/<name>, or DELETE "
     "/jobs/<sid>/<job> for sid.job).",
     kNoOptions, 1, 1, cmd_del_process},
    {"start", "<name|sid.job>", "start a job",
     "Starts a job: its processes are spawned up to its configured numprocesses. A bare name uses "
     "POST /processes/<name>/_start; sid.job uses POST /jobs/<sid>/<job>/state with 1.",
     kNoOptions, 1, 1, cmd_start},
    {"stop", "<name|sid.job|pid>", "stop a job, or one process",
     "Stops a job (POST /processes/<name>/_stop for a bare name, POST /jobs/<sid>/<job>/state with 0 "
     "for sid.job) or, given a number, one process (DELETE /<pid>; it is replaced unless its job "
     "is stopped).",
     kNoOptions, 1, 1, cmd_stop},
    {"add", "<name|sid.job> <n>", "start n more processes",
     "Adds n processes to the job's target count and prints the new count (POST "
     "/processes/<name>/_add/<n>, or a +n scale for sid.job).",
     kNoOptions, 2, 2, cmd_add},
    {"sub", "<name|sid.job> <n>", "stop n processes",
     "Removes n processes from the job's target count, oldest first, and prints the new count "
     "(POST /processes/<name>/_sub/<n>, or a -n scale for sid.job).",
     kNoOptions, 2, 2, cmd_sub},
    {"status", "<name|sid.job>", "print active or stopped",
     "Prints \"active\" if the job has processes, else \"stopped\" (GET /status/<name>, or GET "
     "/jobs/<sid>/<job> for sid.job).",
     kNoOptions, 1, 1, cmd_status},
    {"running", "<name|sid.job>", "print the number of running processes",
     "Prints how many processes of the job run, committed ones included.", kNoOptions, 1, 1, cmd_running},
    {"numprocesses", "<name|sid.job>", "print the target number of processes",
     "Prints the job's target process count (max_processes; GET /jobs/<sid>/<job>/numprocesses for "
     "sid.job).",
     kNoOptions, 1, 1, cmd_numprocesses},
    {"pids", "[<name|sid.job>]", "list internal pids",
     "Lists the internal pids of a job's processes (committed ones excluded) or, without argument, "
     "of every process (GET /pids).",
     kNoOptions, 0, 1, cmd_pids},
    {"kill", "<name|sid.job|pid> <signal>", "send a signal",
     "Sends a signal, by number or name (HUP, SIGhup, 1), to every process of a job or to one "
     "process (a bare name uses POST /processes/<name>/_signal/<num>; sid.job and pids use the HEAD "
     "signal routes).",
     kNoOptions, 2, 2, cmd_kill},
    {"version", "", "print the daemon's version",
     "Prints \"gaffer (version V)\" with the daemon's version (GET /version).", kNoOptions, 0, 0, cmd_version},
    {"ping", "", "check that the daemon answers", "Prints the answer of GET /ping (\"OK\").", kNoOptions, 0, 0,
     cmd_ping},

    // HEAD set (§3, §9)
    {"sessions", "", "list sessions", "Lists the session ids, one per line (GET /sessions).", kNoOptions, 0, 0,
     cmd_sessions},
    {"jobs", "[<sid>]", "list jobs", "Lists the qualified job names of every session, or of one (GET /jobs[/<sid>]).",
     kNoOptions, 0, 1, cmd_jobs},
    {"load", "[--session SID] [--nostart] <file|->", "load jobs from a JSON file",
     "Loads a job object, a list of them, or {\"jobs\": [...]} from <file> or stdin (-): POST "
     "/jobs/<sid> per job. A job named sid.job goes to that session, others to --session. Prints "
     "\"<sid.job>: loaded\" per job; a job that fails is reported and the others are still loaded.",
     kLoadOpts, 1, 1, cmd_load},
    {"unload", "<sid.job>...", "unload jobs",
     "Stops and removes each job (DELETE /jobs/<sid>/<job>) and prints \"<sid.job>: unloaded\".", kNoOptions, 1, -1,
     cmd_unload},
    {"update", "<sid.job> <file|->", "replace a job's configuration",
     "Replaces the job's configuration with the JSON object in <file> (PUT /jobs/<sid>/<job>); its "
     "processes are replaced and a stopped job is started unless the object says \"start\": false.",
     kNoOptions, 2, 2, cmd_update},
    {"info", "<sid.job|pid>", "show a job or a process",
     "Prints the job's info (GET /jobs/<sid>/<job>) or, given a number, the process's info (GET "
     "/<pid>), one \"key: value\" line per member.",
     kNoOptions, 1, 1, cmd_info},
    {"reload", "<sid.job>", "restart every process of a job",
     "Restarts the job's processes with a fresh flapping history (POST .../state with 2).", kNoOptions, 1, 1,
     cmd_reload},
    {"scale", "<sid.job> <+N|-N|=N|N>", "change the number of processes",
     "Changes the job's target count and prints the new count (POST .../numprocesses). +N adds, "
     "-N removes, =N sets; a bare N adds N, as the API does.",
     kNoOptions, 2, 2, cmd_scale, true},
    {"commit", "[--graceful-timeout SECS] [-e K=V]... <sid.job>", "run one extra process of a job",
     "Starts one extra process from the job's configuration that is never restarted nor counted in "
     "numprocesses (POST .../commit) and prints its pid.",
     kCommitOpts, 1, 1, cmd_commit},
    {"signal", "<sid.job|pid> <signal>", "send a signal",
     "Sends a signal, by number or name, to every process of a job or to one process (HEAD routes).", kNoOptions, 2, 2,
     cmd_signal},
    {"stop-process", "<pid>", "stop one process",
     "Stops one process (DELETE /<pid>); unless its job is stopped, a replacement is spawned when it "
     "exits.",
     kNoOptions, 1, 1, cmd_stop_process},
    {"ps", "[<sid.job>]", "list processes",
     "Prints a table of processes (PID OSPID JOB STATE UPTIME RESTARTS): of one job (GET "
     "/jobs/<sid>/<job>/processes) or of all (GET /processes?full=1). Committed processes are marked "
     "\"(once)\".",
     kNoOptions, 0, 1, cmd_ps},
    {"top", "[--interval SECS] [--count N]", "live table of jobs and processes",
     "Redraws a table of every process (job, pids, state, CPU and memory use, RSS, uptime, restarts) "
     "and each job's totals every --interval seconds, like pm2 monit, until interrupted or --count "
     "refreshes. Without a terminal the snapshots are printed one after the other.",
     kTopOpts, 0, 0, cmd_top},
    {"stats", "<sid.job|pid>", "show CPU and memory use",
     "Prints a table of per-process statistics and the totals of a job, or the statistics of one "
     "process.",
     kNoOptions, 1, 1, cmd_stats},
    {"watch", "[<p1>[.<p2>.<p3>]] [--heartbeat SECS] [--colorize]", "print events as they happen",
     "Follows the daemon's events (GET /watch[/<p1>/<p2>/<p3>]?feed=eventsource): every event, or those "
     "whose type starts with the pattern (start, job.default.web, proc.3). Prints one line per event, "
     "\"HH:MM:SS <job> | <event> <job>\" or \"... | <event> process with pid <pid>\" with the exit "
     "status or signal of exits; with --json, each event's JSON. Runs until interrupted (SIGINT or "
     "SIGTERM: exit 0); if the daemon closes the stream (it stopped or restarted) it fails (exit 1).",
     kWatchOpts, 0, 1, cmd_watch},
    {"tail", "[-n BYTES] [--no-follow] [--label LABEL] <sid.job|pid>", "follow the output of processes",
     "Prints the last BYTES of a process's output (GET /streams/<pid>/<label>?backlog=BYTES), then "
     "follows it until interrupted (SIGINT or SIGTERM: exit 0) or until the process exits. For a job, "
     "every process is followed, processes spawned later (restarts, scale-ups) included, until "
     "interrupted; each line is prefixed with \"<sid.job>.<pid> | \". The bytes of a single pid are "
     "written unchanged.",
     kTailOpts, 1, 1, cmd_tail},
    {"send", "[-s STREAM] <pid>[.<stream>] <data>...", "write to a process's stdin",
     "Writes the data words, joined with spaces and ended with a newline, to the process's stdin "
     "(POST /streams/<pid>/stdin; its job needs redirect_input). With - as the data, each line read "
     "from stdin until its end or a line \".\" is sent as one write. Prints nothing on success.",
     kSendOpts, 2, -1, cmd_send},
    {"state", "<sid.job>", "print 1 if the job is active, else 0",
     "Prints the body of GET /jobs/<sid>/<job>/state: 1 when the job has processes, 0 otherwise.", kNoOptions, 1, 1,
     cmd_state},
    {"keys", "", "list API keys", "Lists the API keys (GET /keys; admin only).", kNoOptions, 0, 0, cmd_keys},
    {"key", "<key>", "show an API key", "Prints a key's label and permissions (GET /keys/<key>).", kNoOptions, 1, 1,
     cmd_key},
    {"key-create", "[--label LABEL] [--parent KEY] <permission>...", "create an API key",
     "Creates a key and prints it (it is shown only once). Permissions: +a admin (implies +k and "
     "+u), +k create keys, +u create users, +m manage everything, TARGET+rwm read/write/manage a "
     "session or sid.job (any subset of r, w, m), uid=USER a user (number or name) the key's jobs "
     "may run as, register=NODE a node name the key may register as on gaffer_lookupd (repeatable).",
     kKeyCreateOpts, 0, -1, cmd_key_create},
    {"key-delete", "<key>", "delete an API key", "Deletes a key and its sub-keys (DELETE /keys/<key>).", kNoOptions, 1,
     1, cmd_key_delete},
    {"users", "", "list users", "Lists the user names (GET /users; admin only).", kNoOptions, 0, 0, cmd_users},
    {"user", "<user>", "show a user", "Prints a user's type, key and extra members (GET /users/<user>).", kNoOptions, 1,
     1, cmd_user},
    {"user-add", "[--password P] [--type 0|1] [--key KEY] <user>", "create a user",
     "Creates a user (POST /users). Without --password the password is prompted for twice on a "
     "terminal, or read as one line from stdin.",
     kUserAddOpts, 1, 1, cmd_user_add},
    {"user-del", "<user>", "delete a user", "Deletes a user (DELETE /users/<user>).", kNoOptions, 1, 1, cmd_user_del},
    {"user-password", "[--password P] <user>", "change a user's password",
     "Sets a user's password (PUT /users/<user>/password), prompted for when not given.", kPasswordOpt, 1, 1,
     cmd_user_password},
    {"user-key", "<user> <key>", "set a user's API key", "Sets the key of a user (PUT /users/<user>/key).", kNoOptions,
     2, 2, cmd_user_key},
    {"fleet", "ps [--node-key KEY] [--node-timeout SECS]", "list the processes of every node the lookupds know",
     "Asks the lookupds (global --lookupd URL, repeatable; default http://127.0.0.1:5010) for their "
     "nodes (GET /nodes, merged), then every node at once for its processes (GET /processes?full=1 "
     "and GET /stats) and prints one table: NODE JOB PID STATE CPU MEM. A node that does not answer "
     "within --node-timeout is one row \"<node> - unreachable (<reason>)\". With --json, the merged "
     "JSON {\"nodes\": [{name, origin, version, processes | error}]}. Read only: mutations are "
     "never sent through the registry. Exit 1 only when no lookupd answered.",
     kFleetOpts, 1, 1, cmd_fleet},
    {"auth", "[--password P] <user>", "get an API key for a user",
     "Authenticates with HTTP Basic credentials (GET /auth) and prints the API key the daemon returns.", kPasswordOpt,
     1, 1, cmd_auth},
};

}  // namespace

std::span<const Command> command_table() {
    return kCommands;
}

const Command* find_command(std::string_view name) {
    for (const auto& c : kCommands)
        if (name == c.name)
            return &c;
    return nullptr;
}

}  // namespace gaffer::ctl
