// SPDX-License-Identifier: MIT
#include "lib/config/app_export.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "lib/base/strutil.h"
#include "lib/config/job_json.h"
#include "lib/json/json.h"
#include "lib/model/values.h"

namespace gaffer::config {

namespace {

Unexpected refuse(std::string_view format, std::string_view job, const std::string& what) {
    std::string where = std::string(format) + ": ";
    if (!job.empty())
        where += std::string(job) + ": ";
    return fail(EINVAL, where + what);
}

bool is_alnum(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// [A-Za-z_][A-Za-z0-9_]*: systemd's rule for environment names, and gafferd's for $NAME.
bool is_env_name(std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9'))
        return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '_'; });
}

// Every byte in [A-Za-z0-9] or `extra`, and at least one.
bool only_chars(std::string_view s, std::string_view extra) {
    return !s.empty() && std::all_of(s.begin(), s.end(),
                                     [&](char c) { return is_alnum(c) || extra.find(c) != std::string_view::npos; });
}

// A control byte other than the ones listed in `allowed`.
bool has_control(std::string_view s, std::string_view allowed = "") {
    return std::any_of(s.begin(), s.end(), [&](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 || u == 0x7f) && allowed.find(c) == std::string_view::npos;
    });
}

// "'x'" for messages, control bytes shown as \xNN so that a message stays one line.
std::string shown(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "'";
}

// A number as JSON writes it (10, 2.5).
std::string number_text(double d) {
    json::JsonPtr j =
        json::take(d == std::floor(d) && std::fabs(d) < 1e15 ? json_integer(static_cast<json_int_t>(d)) : json_real(d));
    return json::dump(j.get());
}

struct Selected {
    const model::JobSpec* spec;
    std::vector<const PlannedProcess*> processes;  // instance order
};

// The jobs to export (plan order) after the checks every format shares.
Result<std::vector<Selected>> select_jobs(const ExportInputs& in, std::string_view format) {
    if (in.plan == nullptr)
        return refuse(format, "", "no app plan");
    if (std::string p = name_problem(in.app); !p.empty())
        return refuse(format, "", "app name " + shown(in.app) + ": " + p);
    if (in.root.empty() || in.root[0] != '/')
        return refuse(format, "", "the app root " + shown(in.root) + " is not an absolute path");
    for (const std::string& name : in.only)
        if (std::none_of(in.plan->jobs.begin(), in.plan->jobs.end(),
                         [&](const model::JobSpec& j) { return j.name.job == name; }))
            return refuse(format, "", "no process type " + shown(name) + " in the Procfile");
    std::vector<Selected> out;
    for (const model::JobSpec& spec : in.plan->jobs) {
        if (!in.only.empty() && std::find(in.only.begin(), in.only.end(), spec.name.job) == in.only.end())
            continue;
        Selected s{&spec, {}};
        for (const PlannedProcess& p : in.plan->processes)
            if (p.type == spec.name.job)
                s.processes.push_back(&p);
        out.push_back(std::move(s));
    }
    return out;
}

// Unit, program and section names are built from the app and type names: keep them to
// the characters every target accepts.
Status check_names(std::string_view format, const ExportInputs& in, const std::vector<Selected>& jobs) {
    if (!only_chars(in.app, "_-"))
        return refuse(format, "", "app name " + shown(in.app) + ": only [A-Za-z0-9_-] can be used here");
    for (const Selected& s : jobs)
        if (!only_chars(s.spec->name.job, "_-"))
            return refuse(format, s.spec->name.job, "only [A-Za-z0-9_-] can be used in a process type name here");
    return ok();
}

// The environment of one instance, as gafferd gives it with instance_env.
model::Env instance_env(const model::JobSpec& spec, const PlannedProcess& p) {
    model::Env env = spec.env;
    env["PORT"] = std::to_string(p.port);
    env["PS"] = p.name;
    return env;
}

// argv[0] made absolute as gafferd's spawner finds it: relative to the working
// directory when it holds a '/', else the first executable regular file in PATH.
Result<std::string> resolve_command(std::string_view format, const model::JobSpec& spec, const std::string& word,
                                    const std::string& root) {
    const std::string& cwd = spec.cwd.empty() ? root : spec.cwd;
    if (cwd.empty() || cwd[0] != '/')
        return refuse(format, spec.name.job, "working directory " + shown(cwd) + " is not an absolute path");
    if (word.find('/') != std::string::npos)
        return word[0] == '/' ? word : cwd + "/" + word;
    auto it = spec.env.find("PATH");
    std::string path = it != spec.env.end() ? it->second : "/bin:/usr/bin";
    for (const std::string& dir : split_any(path, ":")) {
        if (dir.empty())
            continue;
        std::string candidate = (dir[0] == '/' ? dir : cwd + "/" + dir) + "/" + word;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return refuse(format, spec.name.job, "command " + shown(word) + " not found in PATH " + shown(path));
}

// The argv of a non-shell job, after gafferd's $NAME substitution with `env` when
// `substitute` (supervisord), as written otherwise (systemd translates references).
Result<std::vector<std::string>> job_argv(std::string_view format, const model::JobSpec& spec, const std::string& root,
                                          const model::Env* substitute) {
    GAFFER_TRY(std::vector<std::string> words, model::shell_split(spec.cmd));
    if (words.empty())
        return refuse(format, spec.name.job, "empty command");
    words.insert(words.end(), spec.args.begin(), spec.args.end());
    if (substitute)
        for (std::string& w : words) w = model::substitute_vars(w, *substitute);
    // The command name is looked up now: gafferd substitutes it at spawn time with the
    // job's environment, which is the same for every instance apart from PORT and PS
    // (left as written here, so that a name built from them is not found).
    std::string first = words[0];
    if (!substitute) {
        model::Env env = spec.env;
        env.erase("PORT");
        env.erase("PS");
        first = model::substitute_vars(first, env);
    }
    GAFFER_TRY(words[0], resolve_command(format, spec, first, root));
    return words;
}

Status check_exportable(std::string_view format, const model::JobSpec& spec) {
    if (spec.os_env)
        return refuse(format, spec.name.job, "os_env (the daemon's environment) has no equivalent here");
    if (spec.uid || spec.gid)
        return refuse(format, spec.name.job, "uid/gid are not exported: give the user to run as instead");
    return ok();
}

// ---------------------------------------------------------------------------------------
// ini

constexpr size_t kIniMaxLine = 199;  // libinih's INI_MAX_LINE - 1 (lib/config/ini.h)
constexpr std::string_view kIniIndent = "    ";

// libinih's inline comment: a ';' after a blank.
bool ini_has_comment(std::string_view s) {
    for (size_t i = 1; i < s.size(); ++i)
        if (s[i] == ';' && is_ascii_space(s[i - 1]))
            return true;
    return false;
}

// `prefix` (e.g. "cmd = ") followed by `value`, as lines gafferd's INI reader gives back.
Status ini_option(std::string* out, std::string_view job, const std::string& prefix, std::string_view value) {
    if (has_control(value, "\t\n"))
        return refuse("ini", job, prefix + "...: a control character cannot be written in INI");
    size_t start = 0;
    bool first = true;
    while (true) {
        size_t nl = value.find('\n', start);
        std::string_view line = value.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        std::string_view what = first ? std::string_view(prefix) : kIniIndent;
        if (trim(line) != line)
            return refuse("ini", job, prefix + shown(value) + ": blanks at the start or end of a line are lost in INI");
        if (ini_has_comment(line))
            return refuse("ini", job, prefix + shown(value) + ": ' ;' starts a comment in INI");
        if (!first && (line.empty() || line[0] == ';' || line[0] == '#'))
            return refuse("ini", job,
                          prefix + shown(value) +
                              ": an empty line or one starting with ';' or '#' cannot follow a newline in INI");
        if (what.size() + line.size() > kIniMaxLine)
            return refuse("ini", job,
                          prefix + "...: longer than the " + std::to_string(kIniMaxLine) + " bytes of an INI line");
        *out += what;
        *out += line;
        *out += '\n';
        if (nl == std::string_view::npos)
            break;
        start = nl + 1;
        first = false;
    }
    return ok();
}

// Items of a list option, joined by `sep`; none may hold a separator of the INI reader.
Result<std::string> ini_list(std::string_view job, const char* member, const json_t* arr, std::string_view sep,
                             std::string_view forbidden) {
    std::vector<std::string> items;
    size_t i;
    const json_t* v;
    json_array_foreach(arr, i, v) {
        std::string item(json_string_value(v), json_string_length(v));
        if (item.empty() || item.find_first_of(forbidden) != std::string::npos || trim(item) != item)
            return refuse("ini", job, std::string(member) + ": " + shown(item) + " cannot be written in an INI list");
        items.push_back(std::move(item));
    }
    return join(items, sep);
}

Result<std::string> export_ini_job(const model::JobSpec& spec, const std::string& session) {
    std::string_view job = spec.name.job;
    GAFFER_TRY(json::JsonPtr config, json::parse(spec.config_json));
    std::string out = "[job:" + session + "." + spec.name.job + "]\n";
    bool wrote_instance_env = false;
    bool wrote_os_env = false;
    const char* key;
    json_t* v;
    json_object_foreach(config.get(), key, v) {
        std::string name = key;
        if (name == "name" || json_is_null(v))
            continue;
        std::string prefix = name + " = ";
        if (name == "env") {
            const char* var;
            json_t* value;
            json_object_foreach(v, var, value) {
                std::string_view n = var;
                if (n.empty() || n.find_first_of(":=;#[ \t") != std::string_view::npos || has_control(n))
                    return refuse("ini", job, "environment variable name " + shown(n) + " cannot be written in INI");
                GAFFER_RETURN_IF_ERROR(
                    ini_option(&out, job, "env:" + std::string(n) + " = ",
                               std::string_view(json_string_value(value), json_string_length(value))));
            }
            continue;
        }
        if (name == "flapping") {
            if (!spec.flapping)
                return refuse("ini", job, "flapping: not parsed");
            const model::Flapping& f = *spec.flapping;
            GAFFER_RETURN_IF_ERROR(ini_option(&out, job, prefix,
                                              number_text(f.attempts) + " " + number_text(f.window) + " " +
                                                  number_text(f.retry_in) + " " + number_text(f.max_retry)));
            continue;
        }
        std::string text;
        if (json_is_string(v)) {
            text.assign(json_string_value(v), json_string_length(v));
        } else if (json_is_boolean(v) || json_is_number(v)) {
            text = json::dump(v);
        } else if (json_is_array(v) && name == "args") {
            std::vector<std::string> words;
            size_t i;
            const json_t* a;
            json_array_foreach(v, i, a)
                words.push_back(model::shell_quote({json_string_value(a), json_string_length(a)}));
            text = join(words, " ");
        } else if (json_is_array(v) && name == "redirect_output") {
            GAFFER_TRY(text, ini_list(job, key, v, ", ", ","));
        } else if (json_is_array(v) && (name == "capabilities" || name == "custom_streams")) {
            GAFFER_TRY(text, ini_list(job, key, v, " ", ", \t\n"));
        } else {
            return refuse("ini", job, "member " + shown(name) + " has no INI form");
        }
        wrote_instance_env = wrote_instance_env || name == "instance_env";
        wrote_os_env = wrote_os_env || name == "os_env";
        GAFFER_RETURN_IF_ERROR(ini_option(&out, job, prefix, text));
    }
    if (!wrote_os_env)
        out += "os_env = " + std::string(spec.os_env ? "true" : "false") + "\n";
    if (spec.instance_env && !wrote_instance_env)
        out += "instance_env = true\n";
    return out;
}

Result<std::vector<ExportFile>> export_ini(const ExportInputs& in) {
    GAFFER_TRY(std::vector<Selected> jobs, select_jobs(in, "ini"));
    GAFFER_RETURN_IF_ERROR(check_names("ini", in, jobs));
    std::string out = "# gaffer export --format=ini: app " + in.app + " (root " + in.root + ")\n";
    for (const Selected& s : jobs) {
        GAFFER_TRY(std::string section, export_ini_job(*s.spec, in.app));
        out += "\n" + section;
    }
    return std::vector<ExportFile>{{in.app + ".ini", std::move(out)}};
}

// ---------------------------------------------------------------------------------------
// json

Result<std::vector<ExportFile>> export_json(const ExportInputs& in) {
    GAFFER_TRY(std::vector<Selected> jobs, select_jobs(in, "json"));
    json::JsonPtr list = json::take(json_array());
    for (const Selected& s : jobs) {
        GAFFER_TRY(json::JsonPtr config, json::parse(s.spec->config_json));
        if (!json_is_object(config.get()))
            return refuse("json", s.spec->name.job, "the job's config is not an object");
        if (s.spec->instance_env && !json_object_get(config.get(), "instance_env"))
            json::set(config.get(), "instance_env", json::take(json_true()));
        json_array_append(list.get(), config.get());
    }
    json::JsonPtr doc = json::take(json_object());
    json::set(doc.get(), "jobs", std::move(list));
    char* text = json_dumps(doc.get(), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return fail(ENOMEM, "json: cannot encode the jobs");
    std::string content(text);
    free(text);
    return std::vector<ExportFile>{{in.app + ".json", content + "\n"}};
}

// ---------------------------------------------------------------------------------------
// systemd

// Specifiers (%i, %n...) are expanded in every setting we write.
std::string systemd_percent(std::string_view s) {
    std::string out;
    for (char c : s) {
        out += c;
        if (c == '%')
            out += '%';
    }
    return out;
}

// One byte inside a double-quoted systemd word (C escapes are decoded there).
void systemd_quoted_byte(std::string* out, char c) {
    switch (c) {
        case '\\':
            *out += "\\\\";
            break;
        case '"':
            *out += "\\\"";
            break;
        case '\n':
            *out += "\\n";
            break;
        case '\t':
            *out += "\\t";
            break;
        case '%':
            *out += "%%";
            break;
        default:
            *out += c;
    }
}

// A word of ExecStart=: literal bytes escaped (`$` → `$$`), gafferd's references to
// variables of `names` (§7.3: $NAME, ${NAME}) written as systemd's ${NAME}, which
// expands to the value within the word. Quoted unless plain.
std::string systemd_word(std::string_view w, const model::Env* names) {
    std::string body;
    bool plain = !w.empty();
    size_t i = 0;
    while (i < w.size()) {
        char c = w[i];
        if (c == '$' && names && i + 1 < w.size()) {
            size_t j = i + 1;
            bool braced = w[j] == '{';
            if (braced)
                ++j;
            size_t k = j;
            while (k < w.size() && (is_alnum(w[k]) || w[k] == '_')) ++k;
            std::string_view name = w.substr(j, k - j);
            bool closed = !braced || (k < w.size() && w[k] == '}');
            if (w[i + 1] == '$') {
                body += "$$";
                i += 2;
                continue;
            }
            if (closed && is_env_name(name) && names->count(std::string(name))) {
                body += "${" + std::string(name) + "}";
                i = braced ? k + 1 : k;
                continue;
            }
        }
        if (c == '$') {
            body += "$$";
        } else {
            if (!is_alnum(c) && std::string_view("_@+=:,./-").find(c) == std::string_view::npos)
                plain = false;
            systemd_quoted_byte(&body, c);
        }
        ++i;
    }
    return plain ? body : "\"" + body + "\"";
}

Result<std::string> systemd_exec_start(const model::JobSpec& spec, const std::string& root) {
    if (has_control(spec.cmd, "\t\n"))
        return refuse("systemd", spec.name.job, "the command holds a control character");
    if (spec.shell)
        return "/bin/sh -c " + systemd_word(spec.cmd, nullptr);
    GAFFER_TRY(std::vector<std::string> argv, job_argv("systemd", spec, root, nullptr));
    model::Env names = spec.env;
    names["PORT"];
    names["PS"];
    std::string line;
    for (size_t i = 0; i < argv.size(); ++i) {
        if (has_control(argv[i], "\t\n"))
            return refuse("systemd", spec.name.job, "argument " + shown(argv[i]) + " holds a control character");
        if (!line.empty())
            line += ' ';
        // argv[0] is a path already resolved: no variable is left in it.
        line += systemd_word(argv[i], i == 0 ? nullptr : &names);
    }
    return line;
}

Result<std::string> systemd_service(const ExportInputs& in, const model::JobSpec& spec) {
    std::string_view job = spec.name.job;
    GAFFER_RETURN_IF_ERROR(check_exportable("systemd", spec));
    std::string unit = in.app + "-" + spec.name.job;
    std::string out = "[Unit]\nDescription=" + in.app + " " + spec.name.job + " (PORT %i)\nPartOf=" + in.app +
                      ".target\nStopWhenUnneeded=yes\n\n[Service]\n";
    if (!in.user.empty())
        out += "User=" + in.user + "\n";
    const std::string& cwd = spec.cwd.empty() ? in.root : spec.cwd;
    if (has_control(cwd) || trim(cwd) != cwd || cwd.empty() || cwd[0] != '/')
        return refuse("systemd", job, "working directory " + shown(cwd) + " cannot be written in a unit");
    out += "WorkingDirectory=" + systemd_percent(cwd) + "\n";
    for (const auto& [k, v] : spec.env) {
        if (k == "PORT" || k == "PS")
            continue;
        if (!is_env_name(k))
            return refuse("systemd", job,
                          "environment variable name " + shown(k) + ": systemd accepts only [A-Za-z_][A-Za-z0-9_]*");
        if (has_control(v, "\t\n"))
            return refuse("systemd", job, "environment variable " + k + " holds a control character");
        std::string line = "Environment=\"" + k + "=";
        for (char c : v) systemd_quoted_byte(&line, c);
        out += line + "\"\n";
    }
    out += "Environment=PORT=%i\n";
    GAFFER_TRY(std::string exec, systemd_exec_start(spec, in.root));
    out += "ExecStart=" + exec + "\n";
    out += "Restart=always\nKillMode=mixed\nTimeoutStopSec=" + number_text(spec.graceful_timeout) + "\n";
    out += "StandardInput=null\nStandardOutput=journal\nStandardError=journal\n";
    out += "SyslogIdentifier=" + unit + ".%i\n";
    return out;
}

Result<std::vector<ExportFile>> export_systemd(const ExportInputs& in) {
    GAFFER_TRY(std::vector<Selected> jobs, select_jobs(in, "systemd"));
    GAFFER_RETURN_IF_ERROR(check_names("systemd", in, jobs));
    if (!in.user.empty() && !only_chars(in.user, "_.-"))
        return refuse("systemd", "", "user " + shown(in.user) + ": only [A-Za-z0-9_.-] can be used");
    std::vector<ExportFile> files;
    std::string target = "[Unit]\nDescription=" + in.app + "\n";
    for (const Selected& s : jobs) {
        std::string unit = in.app + "-" + s.spec->name.job;
        GAFFER_TRY(std::string service, systemd_service(in, *s.spec));
        files.push_back({unit + "@.service", std::move(service)});
        for (const PlannedProcess* p : s.processes) {
            std::string instance = unit + "@" + std::to_string(p->port) + ".service";
            target += "Wants=" + instance + "\n";
            // PS=type.N: no specifier gives N from the instance name (the port).
            files.push_back({instance + ".d/50-ps.conf", "[Service]\nEnvironment=PS=" + p->name + "\n"});
        }
    }
    target += "\n[Install]\nWantedBy=multi-user.target\n";
    files.insert(files.begin(), ExportFile{in.app + ".target", std::move(target)});
    return files;
}

// ---------------------------------------------------------------------------------------
// supervisord

// A value of supervisord's config file: one line (configparser), no inline comment
// (';' or '#' after a blank), no blanks at the ends; '%' doubled (%(...)s expansion).
Result<std::string> supervisord_value(std::string_view job, std::string_view what, std::string_view v) {
    if (has_control(v, "\t"))
        return refuse("supervisord", job,
                      std::string(what) + " " + shown(v) + ": a newline or control character cannot be written");
    if (trim(v) != v || v.empty())
        return refuse("supervisord", job, std::string(what) + " " + shown(v) + ": blanks at the ends are lost");
    for (size_t i = 1; i < v.size(); ++i)
        if ((v[i] == ';' || v[i] == '#') && is_ascii_space(v[i - 1]))
            return refuse(
                "supervisord", job,
                std::string(what) + " " + shown(v) + ": ' ;' and ' #' start a comment in supervisord's config");
    return systemd_percent(v);
}

// KEY="value" for supervisord's environment reader (shlex without escapes; quotes are
// then stripped from both ends of the value).
Result<std::string> supervisord_env_pair(std::string_view job, const std::string& k, const std::string& v) {
    if (!only_chars(k, "_/.+-():"))
        return refuse("supervisord", job, "environment variable name " + shown(k) + " cannot be written");
    if (has_control(v, "\t"))
        return refuse("supervisord", job,
                      "environment variable " + k + ": a newline or control character cannot be written");
    if (!v.empty() && (v.front() == '"' || v.front() == '\'' || v.back() == '"' || v.back() == '\''))
        return refuse("supervisord", job,
                      "environment variable " + k + ": supervisord strips quotes at the ends of a value");
    char q = v.find('"') == std::string::npos ? '"' : '\'';
    if (v.find(q) != std::string::npos)
        return refuse("supervisord", job, "environment variable " + k + ": both quote characters cannot be written");
    return k + "=" + q + v + q;
}

Result<std::vector<ExportFile>> export_supervisord(const ExportInputs& in) {
    GAFFER_TRY(std::vector<Selected> jobs, select_jobs(in, "supervisord"));
    GAFFER_RETURN_IF_ERROR(check_names("supervisord", in, jobs));
    if (!in.user.empty() && !only_chars(in.user, "_.-"))
        return refuse("supervisord", "", "user " + shown(in.user) + ": only [A-Za-z0-9_.-] can be used");
    std::vector<std::string> programs;
    std::string body;
    for (const Selected& s : jobs) {
        const model::JobSpec& spec = *s.spec;
        std::string_view job = spec.name.job;
        GAFFER_RETURN_IF_ERROR(check_exportable("supervisord", spec));
        const std::string& cwd = spec.cwd.empty() ? in.root : spec.cwd;
        GAFFER_TRY(std::string directory, supervisord_value(job, "directory", cwd));
        for (const PlannedProcess* p : s.processes) {
            model::Env env = instance_env(spec, *p);
            std::string command;
            if (spec.shell) {
                command = "/bin/sh -c " + model::shell_quote(spec.cmd);
            } else {
                GAFFER_TRY(std::vector<std::string> argv, job_argv("supervisord", spec, in.root, &env));
                for (const std::string& w : argv) command += (command.empty() ? "" : " ") + model::shell_quote(w);
            }
            GAFFER_TRY(command, supervisord_value(job, "command", command));
            std::string environment;
            for (const auto& [k, v] : env) {
                GAFFER_TRY(std::string pair, supervisord_env_pair(job, k, v));
                environment += (environment.empty() ? "" : ",") + pair;
            }
            std::string program = in.app + "-" + spec.name.job + "-" + std::to_string(p->instance);
            programs.push_back(program);
            body += "\n[program:" + program + "]\ncommand=" + command + "\ndirectory=" + directory + "\n";
            if (!environment.empty())
                body += "environment=" + systemd_percent(environment) + "\n";
            body += "autostart=true\nautorestart=true\nstopasgroup=true\nkillasgroup=true\n";
            body += "stopwaitsecs=" + std::to_string(static_cast<long long>(std::ceil(spec.graceful_timeout))) + "\n";
            body += "redirect_stderr=false\n";
            if (!in.user.empty())
                body += "user=" + in.user + "\n";
        }
    }
    if (programs.empty())
        return refuse("supervisord", "", "nothing to export: every process type selected has concurrency 0");
    std::string out = "; gaffer export --format=supervisord: app " + in.app + "\n[group:" + in.app +
                      "]\nprograms=" + join(programs, ",") + "\n" + body;
    return std::vector<ExportFile>{{in.app + ".conf", std::move(out)}};
}

}  // namespace

std::optional<ExportFormat> parse_export_format(std::string_view name) {
    if (name == "ini")
        return ExportFormat::kIni;
    if (name == "json")
        return ExportFormat::kJson;
    if (name == "systemd")
        return ExportFormat::kSystemd;
    if (name == "supervisord")
        return ExportFormat::kSupervisord;
    return std::nullopt;
}

Result<std::vector<ExportFile>> export_app(ExportFormat format, const ExportInputs& in) {
    switch (format) {
        case ExportFormat::kIni:
            return export_ini(in);
        case ExportFormat::kJson:
            return export_json(in);
        case ExportFormat::kSystemd:
            return export_systemd(in);
        case ExportFormat::kSupervisord:
            return export_supervisord(in);
    }
    return fail(EINVAL, "unknown export format");
}

bool is_secret_key(std::string_view key) {
    std::string upper = to_upper(key);
    for (const char* word : {"SECRET", "TOKEN", "PASSWORD", "KEY"})
        if (upper.find(word) != std::string::npos)
            return true;
    return false;
}

std::string format_env(const model::Env& env, bool show_secrets) {
    std::string out;
    for (const auto& [k, v] : env) {
        out += k;
        out += '=';
        out += !show_secrets && is_secret_key(k) ? "****" : model::shell_quote(v);
        out += '\n';
    }
    return out;
}

}  // namespace gaffer::config
