// SPDX-License-Identifier: MIT
#include "lib/config/app_plan.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "lib/base/strutil.h"
#include "lib/base/utf8.h"
#include "lib/config/job_json.h"
#include "lib/json/json.h"
#include "lib/model/values.h"

namespace gaffer::config {

namespace {

bool is_name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
    return is_name_start(c) || (c >= '0' && c <= '9');
}

// Length of a $NAME or ${NAME} reference at s[0] == '$', or 0.
size_t simple_reference(std::string_view s) {
    size_t i = 1;
    bool braced = i < s.size() && s[i] == '{';
    if (braced)
        ++i;
    if (i >= s.size() || !is_name_start(s[i]))
        return 0;
    while (i < s.size() && is_name_char(s[i])) ++i;
    if (braced) {
        if (i >= s.size() || s[i] != '}')
            return 0;
        ++i;
    }
    return i;
}

bool shell_first_word(std::string_view w) {
    static constexpr const char* kWords[] = {"if",     "for",      "while",  "until", "case",  "!",      "{",
                                             "cd",     "export",   "exec",   "eval",  "set",   "source", ".",
                                             "ulimit", "umask",    "trap",   "unset", "alias", "wait",   "read",
                                             "shift",  "function", "select", "time"};
    for (const char* k : kWords)
        if (w == k)
            return true;
    size_t eq = w.find('=');
    return eq != std::string_view::npos && eq > 0 && is_name_start(w[0]) &&
           std::all_of(w.begin(), w.begin() + static_cast<long>(eq), is_name_char);
}

Result<int> parse_count(std::string_view text, std::string_view entry) {
    std::string_view t = trim(text);
    bool digits = !t.empty() && t.size() <= 9 && t.find_first_not_of("0123456789") == std::string_view::npos;
    auto n = digits ? parse_int(t) : std::nullopt;
    if (!n || *n > kMaxInstances)
        return fail(EINVAL, "concurrency '" + std::string(entry) + "': the count must be a number from 0 to " +
                                std::to_string(kMaxInstances));
    return static_cast<int>(*n);
}

}  // namespace

Result<std::vector<int>> parse_concurrency(const std::vector<std::string>& specs, const Procfile& procfile) {
    std::vector<int> counts(procfile.entries.size(), 1);
    std::vector<bool> named(procfile.entries.size(), false);
    std::optional<int> all;
    for (const std::string& spec : specs) {
        size_t start = 0;
        while (true) {
            size_t comma = spec.find(',', start);
            std::string_view entry =
                std::string_view(spec).substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            size_t eq = entry.find('=');
            if (eq == std::string_view::npos)
                return fail(EINVAL, "concurrency '" + std::string(entry) + "': expected type=N");
            std::string_view type = trim(entry.substr(0, eq));
            GAFFER_TRY(int n, parse_count(entry.substr(eq + 1), entry));
            if (type == "all") {
                all = n;
            } else {
                size_t i = 0;
                while (i < procfile.entries.size() && procfile.entries[i].name != type) ++i;
                if (i == procfile.entries.size())
                    return fail(EINVAL, "concurrency '" + std::string(entry) + "': no process type '" +
                                            std::string(type) + "' in the Procfile");
                counts[i] = n;
                named[i] = true;
            }
            if (comma == std::string::npos)
                break;
            start = comma + 1;
        }
    }
    if (all)
        for (size_t i = 0; i < counts.size(); ++i)
            if (!named[i])
                counts[i] = *all;
    return counts;
}

bool needs_shell(std::string_view s) {
    // First word (up to the first blank outside quotes, as written).
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos)
        return false;
    size_t e = s.find_first_of(" \t", b);
    if (shell_first_word(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b)))
        return true;
    enum { kNone, kSingle, kDouble } quote = kNone;
    bool word_start = true;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool was_word_start = word_start;
        word_start = false;
        if (quote == kSingle) {
            if (c == '\'')
                quote = kNone;
            else if (c == '$' || c == '`')
                return true;
            continue;
        }
        if (c == '\\') {
            if (i + 1 < s.size() && (s[i + 1] == '$' || s[i + 1] == '`'))
                return true;
            ++i;
            continue;
        }
        if (c == '$') {
            size_t n = simple_reference(s.substr(i));
            if (n == 0)
                return true;
            i += n - 1;
            continue;
        }
        if (c == '`')
            return true;
        if (quote == kDouble) {
            if (c == '"')
                quote = kNone;
            continue;
        }
        if (c == '\'') {
            quote = kSingle;
        } else if (c == '"') {
            quote = kDouble;
        } else if (c == ' ' || c == '\t') {
            word_start = true;
        } else if (c == '#' && was_word_start) {
            return true;
        } else if (std::strchr("|&;<>()*?[]{}~\n", c) != nullptr) {
            return true;
        }
    }
    return false;
}

Result<AppPlan> plan_app(const Procfile& procfile, const AppPlanInputs& in) {
    if (procfile.entries.empty())
        return fail(EINVAL, "the Procfile defines no process type");
    GAFFER_TRY(std::vector<int> counts, parse_concurrency(in.concurrency, procfile));
    AppPlan plan;
    if (in.port) {
        plan.port_base = *in.port;
    } else if (auto it = in.env.find("PORT"); it != in.env.end()) {
        auto p = parse_int(it->second);
        if (!p || *p < 1 || *p > 65535)
            return fail(EINVAL, "PORT '" + it->second + "': not a port number (1-65535)");
        plan.port_base = static_cast<int>(*p);
    }
    if (plan.port_base < 1 || plan.port_base > 65535)
        return fail(EINVAL, "port " + std::to_string(plan.port_base) + ": not a port number (1-65535)");

    json::JsonPtr env = json::take(json_object());
    for (const auto& [k, v] : in.env) {
        if (k == "PORT" || k == "PS")
            continue;
        if (!utf8::valid(k) || !utf8::valid(v))
            return fail(EINVAL, "environment variable '" + k + "': not valid UTF-8 (job configs are JSON)");
        json::set(env.get(), k.c_str(), json::str(v));
    }
    for (size_t i = 0; i < procfile.entries.size(); ++i) {
        const ProcfileEntry& entry = procfile.entries[i];
        int first_port = plan.port_base + 100 * static_cast<int>(i);
        if (first_port + std::max(counts[i], 1) - 1 > 65535)
            return fail(EINVAL, "process type '" + entry.name + "': its ports would pass 65535 (port base " +
                                    std::to_string(plan.port_base) + ")");
        for (int n = 1; n <= counts[i]; ++n)
            plan.processes.push_back(
                PlannedProcess{entry.name, n, entry.name + "." + std::to_string(n), first_port + n - 1});
        if (!utf8::valid(entry.command))
            return fail(EINVAL, "process type '" + entry.name + "': the command is not valid UTF-8");

        json::JsonPtr config = json::take(json_object());
        json::set(config.get(), "name", json::str(entry.name));
        bool shell = needs_shell(entry.command);
        if (shell) {
            json::set(config.get(), "cmd", json::str(entry.command));
            json::set(config.get(), "shell", json::take(json_true()));
        } else {
            GAFFER_TRY(std::vector<std::string> words, model::shell_split(entry.command));
            if (words.empty())
                return fail(EINVAL, "process type '" + entry.name + "': empty command");
            json::set(config.get(), "cmd", json::str(model::shell_quote(words[0])));
            words.erase(words.begin());
            json::set(config.get(), "args", json::strings(words));
        }
        if (in.job_defaults)
            json_object_update(config.get(), const_cast<json_t*>(in.job_defaults));
        json::set(config.get(), "numprocesses", json::take(json_integer(counts[i])));
        if (!in.cwd.empty())
            json::set(config.get(), "cwd", json::str(in.cwd));
        json::set(config.get(), "os_env", json::take(json_false()));
        json::set(config.get(), "instance_env", json::take(json_true()));
        json::JsonPtr job_env = json::take(json_deep_copy(env.get()));
        json::set(job_env.get(), "PORT", json::str(std::to_string(first_port)));
        json::set(job_env.get(), "PS", json::str(entry.name + ".1"));
        json::set(config.get(), "env", std::move(job_env));
        auto spec = job_from_json(config.get(), in.session, JobJsonMode::kLoad);
        if (!spec)
            return fail(EINVAL, "process type '" + entry.name + "': " + spec.error().context);
        plan.jobs.push_back(std::move(*spec));
    }
    return plan;
}

}  // namespace gaffer::config
