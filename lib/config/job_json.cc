// SPDX-License-Identifier: MIT
// Job config objects → model::JobSpec (see job_json.h for the rules).
#include "lib/config/job_json.h"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "lib/base/strutil.h"
#include "lib/json/json.h"
#include "lib/model/values.h"

namespace gaffer::config {

namespace {

constexpr size_t kMaxNameBytes = 100;
constexpr size_t kMaxLabelBytes = 64;
constexpr size_t kMaxCustomStreams = 64;
constexpr double kMaxSeconds = 1e9;
constexpr int64_t kMaxProcesses = 1000000;
constexpr int64_t kMaxFlapCount = 1000000;
constexpr int64_t kMaxLogBackups = 1000;
constexpr double kMaxCpuPercent = 1e6;
constexpr int64_t kMaxId = static_cast<int64_t>(UINT32_MAX) - 1;  // (uid_t)-1 means "unchanged"

// Reports one bad member. Keeps the member name for callers that map it to a location.
class Reporter {
public:
    explicit Reporter(std::string* ret_member) : ret_member_(ret_member) {}

    Unexpected bad(std::string_view member, std::string_view reason) const {
        if (ret_member_)
            *ret_member_ = std::string(member);
        std::string msg;
        if (!member.empty()) {
            msg.append(member);
            msg += ": ";
        }
        msg.append(reason);
        return fail(Error{EINVAL, std::move(msg)});
    }

private:
    std::string* ret_member_;
};

// A short rendering of a JSON value for error messages: `"abc"`, `-1`, `1.5`, `[...]`.
std::string show(const json_t* v) {
    if (json_is_object(v))
        return "an object";
    if (json_is_array(v))
        return "an array";
    std::string s = json::dump(v);
    if (s.size() > 40)
        s = s.substr(0, 37) + "...";
    return s;
}

// The member `key`, or nullptr when it is absent or null ("not given").
const json_t* get(const json_t* obj, const char* key) {
    const json_t* v = json_object_get(obj, key);
    return json_is_null(v) ? nullptr : v;
}

bool has_nul(const json_t* s) {
    return strlen(json_string_value(s)) != json_string_length(s);
}

bool has_control(std::string_view s) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            return true;
    }
    return false;
}

// A string member without NUL bytes; nullopt when not given.
Result<std::optional<std::string>> get_string(const json_t* obj, const char* key, const Reporter& r) {
    const json_t* v = get(obj, key);
    if (!v)
        return std::optional<std::string>();
    if (!json_is_string(v))
        return r.bad(key, "must be a string, got " + show(v));
    if (has_nul(v))
        return r.bad(key, "must not contain NUL bytes");
    return std::optional<std::string>(std::string(json_string_value(v), json_string_length(v)));
}

Status get_bool(const json_t* obj, const char* key, bool* out, const Reporter& r) {
    const json_t* v = get(obj, key);
    if (!v)
        return ok();
    if (!json_is_boolean(v))
        return r.bad(key, "must be true or false, got " + show(v));
    *out = json_is_true(v);
    return ok();
}

std::string int_range_text(int64_t min, int64_t max) {
    if (max == INT64_MAX)
        return "an integer >= " + std::to_string(min);
    return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

// An integer member in [min, max]; nullopt when not given. 2.0 is not an integer.
Result<std::optional<int64_t>> get_int(const json_t* obj, const char* key, int64_t min, int64_t max,
                                       const Reporter& r) {
    const json_t* v = get(obj, key);
    if (!v)
        return std::optional<int64_t>();
    std::string want = int_range_text(min, max);
    if (!json_is_integer(v))
        return r.bad(key, "must be " + want + ", got " + show(v));
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return r.bad(key, "must be " + want + ", got " + show(v));
    return std::optional<int64_t>(n);
}

// A number member (integer or real). `min_exclusive` makes the lower bound strict.
Result<std::optional<double>> get_number(const json_t* obj, const char* key, double min, bool min_exclusive, double max,
                                         const Reporter& r) {
    const json_t* v = get(obj, key);
    if (!v)
        return std::optional<double>();
    char want[96];
    snprintf(want, sizeof want, "a number %s %g and <= %g", min_exclusive ? ">" : ">=", min, max);
    if (!json_is_number(v))
        return r.bad(key, std::string("must be ") + want + ", got " + show(v));
    double d = json_number_value(v);
    bool low = min_exclusive ? !(d > min) : !(d >= min);
    if (!std::isfinite(d) || low || d > max)
        return r.bad(key, std::string("must be ") + want + ", got " + show(v));
    return std::optional<double>(d);
}

std::string label_problem(std::string_view label) {
    if (label.empty())
        return "labels must not be empty";
    if (label.size() > kMaxLabelBytes)
        return "labels must be at most " + std::to_string(kMaxLabelBytes) + " bytes";
    if (label.find('/') != std::string_view::npos)
        return "labels must not contain '/'";
    if (has_control(label))
        return "labels must not contain control characters";
    return {};
}

// A list of strings; nullopt when not given. Each element passes `check` ("" = fine).
template <typename Check>
Result<std::optional<std::vector<std::string>>> get_string_list(const json_t* obj, const char* key, Check check,
                                                                const Reporter& r) {
    const json_t* v = get(obj, key);
    if (!v)
        return std::optional<std::vector<std::string>>();
    if (!json_is_array(v))
        return r.bad(key, "must be a list of strings, got " + show(v));
    std::vector<std::string> out;
    size_t i;
    const json_t* e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return r.bad(key, "must be a list of strings, got " + show(e) + " in it");
        if (has_nul(e))
            return r.bad(key, "must not contain NUL bytes");
        std::string s(json_string_value(e), json_string_length(e));
        std::string problem = check(s);
        if (!problem.empty())
            return r.bad(key, problem);
        out.push_back(std::move(s));
    }
    return std::optional<std::vector<std::string>>(std::move(out));
}

// getpwnam_r/getgrnam_r with a buffer that grows on ERANGE.
template <typename Entry, typename Fn>
Result<std::optional<Entry>> lookup_entry(const std::string& name, long size_hint, Fn fn) {
    size_t size = size_hint > 0 ? static_cast<size_t>(size_hint) : 16384;
    for (;;) {
        std::vector<char> buf(size);
        Entry entry;
        Entry* found = nullptr;
        int rc = fn(name.c_str(), &entry, buf.data(), buf.size(), &found);
        if (rc == ERANGE && size < (1u << 20)) {
            size *= 2;
            continue;
        }
        if (found)
            return std::optional<Entry>(entry);
        // 0, ENOENT, ESRCH, EBADF and EPERM all mean "no such entry" in practice.
        if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
            return std::optional<Entry>();
        return fail(Error{rc, "look up '" + name + "'"});
    }
}

// `uid`/`gid`: an integer id or a name (a string of digits counts as an id).
Result<std::optional<uint32_t>> get_id(const json_t* obj, const char* key, bool user, const Reporter& r) {
    const json_t* v = get(obj, key);
    if (!v)
        return std::optional<uint32_t>();
    const char* what = user ? "user" : "group";
    std::string want = std::string("must be an id from 0 to ") + std::to_string(kMaxId) + " or a " + what + " name";
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || n > kMaxId)
            return r.bad(key, want + ", got " + show(v));
        return std::optional<uint32_t>(static_cast<uint32_t>(n));
    }
    if (!json_is_string(v))
        return r.bad(key, want + ", got " + show(v));
    if (has_nul(v))
        return r.bad(key, "must not contain NUL bytes");
    std::string name = json_string_value(v);
    if (name.empty())
        return r.bad(key, want + ", got \"\"");
    if (name.find_first_not_of("0123456789") == std::string::npos) {
        auto n = parse_int(name);
        if (!n || *n > kMaxId)
            return r.bad(key, want + ", got " + show(v));
        return std::optional<uint32_t>(static_cast<uint32_t>(*n));
    }
    if (user) {
        auto e = lookup_entry<struct passwd>(name, sysconf(_SC_GETPW_R_SIZE_MAX), getpwnam_r);
        if (!e)
            return r.bad(key, "cannot look up user '" + name + "': " + e.error().message());
        if (!e->has_value())
            return r.bad(key, "unknown user '" + name + "'");
        return std::optional<uint32_t>((*e)->pw_uid);
    }
    auto e = lookup_entry<struct group>(name, sysconf(_SC_GETGR_R_SIZE_MAX), getgrnam_r);
    if (!e)
        return r.bad(key, "cannot look up group '" + name + "': " + e.error().message());
    if (!e->has_value())
        return r.bad(key, "unknown group '" + name + "'");
    return std::optional<uint32_t>((*e)->gr_gid);
}

// "CAP_NET_BIND_SERVICE" in any case → the upper-case name; "" when unknown.
std::string normalize_capability(const std::string& name) {
    if (name.size() < 5 || to_lower(name.substr(0, 4)) != "cap_")
        return {};
    for (char c : name) {
        bool ok_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok_char)
            return {};
    }
    cap_value_t value = 0;
    if (cap_from_name(name.c_str(), &value) != 0)
        return {};
    char* canonical = cap_to_name(value);
    if (!canonical)
        return {};
    std::string out = to_upper(canonical);
    cap_free(canonical);
    // libcap names capabilities it does not know by number; those are not names.
    return starts_with(out, "CAP_") ? out : std::string();
}

Result<std::optional<model::Flapping>> get_flapping(const json_t* obj, const Reporter& r) {
    const json_t* v = get(obj, "flapping");
    if (!v)
        return std::optional<model::Flapping>();
    if (!json_is_object(v))
        return r.bad("flapping", "must be an object {attempts, window, retry_in, max_retry}, got " + show(v));
    const char* key;
    const json_t* member;
    json_object_foreach(const_cast<json_t*>(v), key, member) {
        if (strcmp(key, "attempts") != 0 && strcmp(key, "window") != 0 && strcmp(key, "retry_in") != 0 &&
            strcmp(key, "max_retry") != 0)
            return r.bad("flapping",
                         std::string("unknown member '") + key + "' (expected attempts, window, retry_in, max_retry)");
    }
    model::Flapping f;
    Reporter sub(nullptr);
    auto wrap = [&](const Error& e) { return r.bad("flapping", e.context); };
    auto attempts = get_int(v, "attempts", 1, kMaxFlapCount, sub);
    if (!attempts)
        return wrap(attempts.error());
    if (*attempts)
        f.attempts = static_cast<int>(**attempts);
    auto window = get_number(v, "window", 0, false, kMaxSeconds, sub);
    if (!window)
        return wrap(window.error());
    if (*window)
        f.window = **window;
    auto retry_in = get_number(v, "retry_in", 0, false, kMaxSeconds, sub);
    if (!retry_in)
        return wrap(retry_in.error());
    if (*retry_in)
        f.retry_in = **retry_in;
    auto max_retry = get_int(v, "max_retry", 0, kMaxFlapCount, sub);
    if (!max_retry)
        return wrap(max_retry.error());
    if (*max_retry)
        f.max_retry = static_cast<int>(**max_retry);
    return std::optional<model::Flapping>(f);
}

Result<model::Env> env_value(const json_t* v, const Reporter& r) {
    model::Env env;
    if (!v || json_is_null(v))
        return env;
    if (!json_is_object(v))
        return r.bad("env", "must be an object of strings, got " + show(v));
    for (void* it = json_object_iter(const_cast<json_t*>(v)); it;
         it = json_object_iter_next(const_cast<json_t*>(v), it)) {
        std::string name(json_object_iter_key(it), json_object_iter_key_len(it));
        const json_t* value = json_object_iter_value(it);
        if (name.empty())
            return r.bad("env", "variable names must not be empty");
        if (name.find('=') != std::string::npos)
            return r.bad("env", "variable name '" + name + "' contains '='");
        if (name.find('\0') != std::string::npos)
            return r.bad("env", "variable names must not contain NUL bytes");
        if (!json_is_string(value))
            return r.bad("env", "value of '" + name + "' must be a string, got " + show(value));
        if (has_nul(value))
            return r.bad("env", "value of '" + name + "' must not contain NUL bytes");
        env[name] = std::string(json_string_value(value), json_string_length(value));
    }
    return env;
}

Result<model::Env> get_env(const json_t* obj, const Reporter& r) {
    return env_value(get(obj, "env"), r);
}

Result<std::optional<uint64_t>> get_memory(const json_t* obj, const Reporter& r) {
    const json_t* v = get(obj, "memory_max");
    if (!v)
        return std::optional<uint64_t>();
    const char* want = "must be a number of bytes > 0, or a string like \"512M\" (K, M, G, T suffixes)";
    if (json_is_integer(v)) {
        if (json_integer_value(v) <= 0)
            return r.bad("memory_max", std::string(want) + ", got " + show(v));
        return std::optional<uint64_t>(static_cast<uint64_t>(json_integer_value(v)));
    }
    if (json_is_string(v) && !has_nul(v)) {
        if (auto n = parse_byte_size(json_string_value(v)))
            return std::optional<uint64_t>(*n);
    }
    return r.bad("memory_max", std::string(want) + ", got " + show(v));
}

}  // namespace

std::string name_problem(std::string_view name) {
    if (name.empty())
        return "must not be empty";
    if (name.size() > kMaxNameBytes)
        return "must be at most " + std::to_string(kMaxNameBytes) + " bytes";
    if (name.find('.') != std::string_view::npos)
        return "must not contain '.' (the first '.' separates the session from the job)";
    if (name.find('/') != std::string_view::npos)
        return "must not contain '/'";
    if (has_control(name))
        return "must not contain control characters";
    return {};
}

std::optional<uint64_t> parse_byte_size(std::string_view text) {
    text = trim(text);
    if (text.empty() || text.size() > 24)
        return std::nullopt;
    uint64_t mult = 1;
    switch (text.back()) {
        case 'k':
        case 'K':
            mult = 1ull << 10;
            break;
        case 'm':
        case 'M':
            mult = 1ull << 20;
            break;
        case 'g':
        case 'G':
            mult = 1ull << 30;
            break;
        case 't':
        case 'T':
            mult = 1ull << 40;
            break;
        default:
            break;
    }
    if (mult != 1)
        text.remove_suffix(1);
    if (text.empty())
        return std::nullopt;
    uint64_t n = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        if (n > (UINT64_MAX - 9) / 10)
            return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (n == 0 || n > static_cast<uint64_t>(INT64_MAX) / mult)
        return std::nullopt;
    return n * mult;
}

Result<model::Env> env_from_json(const json_t* v) {
    return env_value(v, Reporter(nullptr));
}

Result<model::JobSpec> job_from_json(const json_t* config, std::string_view session, JobJsonMode mode) {
    return job_from_json(config, session, mode, nullptr);
}

Result<model::JobSpec> job_from_json(const json_t* config, std::string_view session, JobJsonMode mode,
                                     std::string* ret_member) {
    Reporter r(ret_member);
    if (ret_member)
        ret_member->clear();
    if (!json_is_object(config))
        return r.bad("", "a job config must be a JSON object");

    model::JobSpec spec;
    if (std::string p = name_problem(session); !p.empty())
        return r.bad("session", p);
    spec.name.session = std::string(session);

    GAFFER_TRY(auto name, get_string(config, "name", r));
    if (!name && mode == JobJsonMode::kLoad)
        return r.bad("name", "required");
    if (name) {
        if (std::string p = name_problem(*name); !p.empty())
            return r.bad("name", p);
        spec.name.job = *name;
    }

    GAFFER_RETURN_IF_ERROR(get_bool(config, "shell", &spec.shell, r));
    GAFFER_TRY(auto cmd, get_string(config, "cmd", r));
    if (!cmd)
        return r.bad("cmd", "required");
    if (trim(*cmd).empty())
        return r.bad("cmd", "must not be empty");
    if (!spec.shell) {
        // Split now so that a broken command line is a 400 at load time, not a failed spawn.
        auto words = model::shell_split(*cmd);
        if (!words)
            return r.bad("cmd", words.error().context);
        if (words->empty())
            return r.bad("cmd", "must contain a command");
    }
    spec.cmd = std::move(*cmd);

    if (const json_t* args = get(config, "args"); args && json_is_string(args)) {
        if (has_nul(args))
            return r.bad("args", "must not contain NUL bytes");
        auto words = model::shell_split(std::string_view(json_string_value(args), json_string_length(args)));
        if (!words)
            return r.bad("args", words.error().context);
        spec.args = std::move(*words);
    } else if (args && !json_is_array(args)) {
        return r.bad("args", "must be a list of strings or a string, got " + show(args));
    } else {
        GAFFER_TRY(auto list, get_string_list(
                                  config, "args", [](const std::string&) { return std::string(); }, r));
        if (list)
            spec.args = std::move(*list);
    }

    GAFFER_TRY(spec.env, get_env(config, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "os_env", &spec.os_env, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "detach", &spec.detach, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "redirect_input", &spec.redirect_input, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "start", &spec.start, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "notify", &spec.notify, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "critical", &spec.critical, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "no_new_privs", &spec.no_new_privs, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "instance_env", &spec.instance_env, r));
    GAFFER_RETURN_IF_ERROR(get_bool(config, "pty", &spec.pty, r));

    GAFFER_TRY(auto uid, get_id(config, "uid", true, r));
    if (uid)
        spec.uid = static_cast<uid_t>(*uid);
    GAFFER_TRY(auto gid, get_id(config, "gid", false, r));
    if (gid)
        spec.gid = static_cast<gid_t>(*gid);

    GAFFER_TRY(auto cwd, get_string(config, "cwd", r));
    if (cwd)
        spec.cwd = std::move(*cwd);

    GAFFER_TRY(auto numprocesses, get_int(config, "numprocesses", 0, kMaxProcesses, r));
    if (numprocesses)
        spec.numprocesses = static_cast<int>(*numprocesses);

    GAFFER_TRY(auto redirect, get_string_list(config, "redirect_output", label_problem, r));
    if (redirect) {
        // Label 1 takes stdout, label 2 stderr; further labels are ignored (§7.1).
        if (redirect->size() > 2)
            redirect->resize(2);
        spec.redirect_output = std::move(*redirect);
    }
    GAFFER_TRY(auto custom, get_string_list(config, "custom_streams", label_problem, r));
    if (custom) {
        if (custom->size() > kMaxCustomStreams)
            return r.bad("custom_streams", "at most " + std::to_string(kMaxCustomStreams) + " streams");
        std::set<std::string> seen;
        for (const auto& label : *custom)
            if (!seen.insert(label).second)
                return r.bad("custom_streams", "label '" + label + "' given twice");
        spec.custom_streams = std::move(*custom);
    }

    GAFFER_TRY(auto graceful, get_number(config, "graceful_timeout", 0, false, kMaxSeconds, r));
    if (graceful)
        spec.graceful_timeout = *graceful;
    GAFFER_TRY(spec.flapping, get_flapping(config, r));
    GAFFER_TRY(auto priority, get_int(config, "priority", INT_MIN, INT_MAX, r));
    if (priority)
        spec.priority = static_cast<int>(*priority);

    GAFFER_TRY(auto stdout_file, get_string(config, "stdout_file", r));
    if (stdout_file)
        spec.stdout_file = std::move(*stdout_file);
    GAFFER_TRY(auto stderr_file, get_string(config, "stderr_file", r));
    if (stderr_file)
        spec.stderr_file = std::move(*stderr_file);
    GAFFER_TRY(auto log_dir, get_string(config, "log_dir", r));
    if (log_dir)
        spec.log_dir = std::move(*log_dir);
    GAFFER_TRY(auto log_max_bytes, get_int(config, "log_max_bytes", 1, INT64_MAX, r));
    if (log_max_bytes)
        spec.log_max_bytes = static_cast<uint64_t>(*log_max_bytes);
    GAFFER_TRY(auto log_backups, get_int(config, "log_backups", 0, kMaxLogBackups, r));
    if (log_backups)
        spec.log_backups = static_cast<int>(*log_backups);

    GAFFER_TRY(spec.memory_max, get_memory(config, r));
    GAFFER_TRY(spec.cpu_max, get_number(config, "cpu_max", 0, true, kMaxCpuPercent, r));
    GAFFER_TRY(auto pids_max, get_int(config, "pids_max", 1, INT64_MAX, r));
    if (pids_max)
        spec.pids_max = static_cast<uint64_t>(*pids_max);
    GAFFER_TRY(spec.ready_timeout, get_number(config, "ready_timeout", 0, true, kMaxSeconds, r));
    GAFFER_TRY(spec.watchdog_sec, get_number(config, "watchdog_sec", 0, true, kMaxSeconds, r));
    // Both only mean something for a process that talks to NOTIFY_SOCKET: refuse them
    // rather than accept a setting that would silently do nothing.
    if (spec.ready_timeout && !spec.notify)
        return r.bad("ready_timeout", "needs notify = true (it bounds the wait for READY=1)");
    if (spec.watchdog_sec && !spec.notify)
        return r.bad("watchdog_sec", "needs notify = true (the process pings with WATCHDOG=1)");
    // The terminal's output must go somewhere: a pty whose bytes nobody reads would
    // only hide the output that a job without one discards openly.
    if (spec.pty && spec.redirect_output.empty() && spec.stdout_file.empty() && spec.log_dir.empty())
        return r.bad("pty", "needs redirect_output, stdout_file or log_dir (something that captures stdout)");

    std::vector<std::string> caps;
    GAFFER_TRY(auto cap_names, get_string_list(
                                   config, "capabilities",
                                   [&](const std::string& cap) {
                                       std::string c = normalize_capability(cap);
                                       if (c.empty())
                                           return "unknown capability '" + cap + "'";
                                       caps.push_back(std::move(c));
                                       return std::string();
                                   },
                                   r));
    if (cap_names)
        spec.capabilities = std::move(caps);

    // The stored copy: as given, minus the load-time-only members.
    json::JsonPtr copy(json_deep_copy(config));
    if (!copy)
        return fail(Error{ENOMEM, "copy job config"});
    (void)json_object_del(copy.get(), "start");
    (void)json_object_del(copy.get(), "custom_channels");
    spec.config_json = json::dump(copy.get());
    return spec;
}

}  // namespace gaffer::config
