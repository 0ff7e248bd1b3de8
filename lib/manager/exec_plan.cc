// SPDX-License-Identifier: MIT
#include "lib/manager/exec_plan.h"

#include <sys/capability.h>

#include <algorithm>
#include <cstring>

#include "lib/model/values.h"

namespace gaffer::manager {

model::Env job_visible_environment(const char* const* envp) {
    static const char* const kPrivate[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                           "LISTEN_FDS",    "LISTEN_PID",    "LISTEN_FDNAMES"};
    model::Env env;
    for (const char* const* e = envp; e && *e; ++e) {
        const char* eq = strchr(*e, '=');
        if (!eq)
            continue;
        std::string key(*e, static_cast<size_t>(eq - *e));
        bool skip = false;
        for (const char* p : kPrivate) skip = skip || key == p;
        if (!skip)
            env[key] = eq + 1;
    }
    return env;
}

bool keeps_groups(std::optional<uid_t> uid, std::optional<gid_t> gid, uid_t euid, gid_t egid) {
    return euid != 0 && (!uid || *uid == euid) && (!gid || *gid == egid);
}

bool needs_group_list(std::optional<uid_t> uid, std::optional<gid_t> gid, uid_t euid, gid_t egid) {
    return uid && !gid && !keeps_groups(uid, gid, euid, egid);
}

Identity plan_identity(std::optional<uid_t> uid, std::optional<gid_t> gid, uid_t euid, gid_t egid,
                       const std::optional<UserEntry>& entry) {
    Identity id;
    id.gid = gid;
    id.keep_groups = keeps_groups(uid, gid, euid, egid);
    if (!uid)
        return id;
    if (!entry) {
        if (!gid && !id.keep_groups)
            id.gid = static_cast<gid_t>(*uid);  // a bare uid: its group number
        return id;
    }
    if (!gid && !id.keep_groups) {
        id.gid = entry->gid;
        id.groups = entry->groups;
    }
    id.user_env["HOME"] = entry->home;
    id.user_env["USER"] = entry->name;
    id.user_env["LOGNAME"] = entry->name;
    return id;
}

model::Env plan_env(const model::JobSpec& spec, const model::Env& daemon_env, const model::Env& user_env,
                    const model::Env& session_env, const model::Env* extra, const std::string& notify_address) {
    model::Env env;
    if (spec.os_env)
        env = daemon_env;
    // Running as another user: that user's identity, unless the job says otherwise.
    for (auto& [k, v] : user_env) env[k] = v;
    for (auto& [k, v] : spec.env) env[k] = v;
    for (auto& [k, v] : session_env) env[k] = v;
    if (extra)
        for (auto& [k, v] : *extra) env[k] = v;
    if (spec.notify) {
        env["NOTIFY_SOCKET"] = notify_address;
        if (spec.watchdog_sec)
            env["WATCHDOG_USEC"] = std::to_string(static_cast<uint64_t>(*spec.watchdog_sec * 1e6));
    }
    return env;
}

namespace {

// A decimal of 1 to `max_digits` digits, nothing else.
std::optional<long> decimal(const std::string& text, size_t max_digits) {
    if (text.empty() || text.size() > max_digits)
        return std::nullopt;
    long v = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

unsigned short window_dimension(const model::Env& env, const char* key, unsigned short fallback) {
    auto it = env.find(key);
    if (it == env.end())
        return fallback;
    auto v = decimal(it->second, 5);
    return v && *v >= 1 && *v <= 65535 ? static_cast<unsigned short>(*v) : fallback;
}

}  // namespace

int lowest_free_slot(const std::vector<int>& held) {
    // Linear: n held slots leave one of 1..n+1 free (a job may have a million processes).
    std::vector<bool> taken(held.size() + 2);
    for (int s : held)
        if (s >= 1 && static_cast<size_t>(s) < taken.size())
            taken[static_cast<size_t>(s)] = true;
    size_t slot = 1;
    while (taken[slot]) ++slot;
    return static_cast<int>(slot);
}

void apply_instance_env(model::Env& env, const std::string& job, int slot) {
    env["PS"] = job + "." + std::to_string(slot);
    auto it = env.find("PORT");
    if (it == env.end())
        return;
    if (auto port = decimal(it->second, 9))
        it->second = std::to_string(*port + slot - 1);
}

Result<ExecPlan> plan_exec(const ExecInputs& in, const ExecDefaults& defaults) {
    ExecPlan plan;
    proc::ExecSpec& ex = plan.exec;
    const auto& s = in.spec;
    std::vector<std::string> args;
    if (s.shell) {
        ex.path = "/bin/sh";
        plan.cmd = "sh";
        args = {"-c", s.cmd};
    } else {
        GAFFER_TRY(auto words, model::shell_split(s.cmd));
        if (words.empty())
            return fail(Error::make(EINVAL, "empty cmd"));
        for (auto& w : words) w = model::substitute_vars(w, in.env);
        plan.cmd = std::move(words[0]);
        args.assign(std::make_move_iterator(words.begin() + 1), std::make_move_iterator(words.end()));
    }
    // No word after the command and no variable in the job's arguments (the usual
    // case): the process's argument list is the job's own.
    bool own_list = args.empty() && std::none_of(in.args.begin(), in.args.end(),
                                                 [](const std::string& a) { return a.find('$') != std::string::npos; });
    const std::vector<std::string>* words = &in.args;
    if (!own_list) {
        args.reserve(args.size() + in.args.size());
        for (const auto& a : in.args) args.push_back(model::substitute_vars(a, in.env));
        plan.args = std::move(args);
        words = &*plan.args;
    }
    ex.argv.reserve(words->size() + 1);
    ex.argv.push_back(plan.cmd);
    ex.argv.insert(ex.argv.end(), words->begin(), words->end());
    ex.cwd = s.cwd.empty() ? defaults.default_cwd : s.cwd;
    if (!s.shell) {
        auto path_it = in.env.find("PATH");
        plan.search_path = true;
        plan.path_var = path_it != in.env.end() ? path_it->second : "/bin:/usr/bin";
        ex.path = plan.cmd;
    }
    for (auto& [k, v] : in.env) ex.envp.push_back(k + "=" + v);
    ex.uid = s.uid;
    if (!in.keep_groups) {
        ex.gid = s.gid;
        ex.groups = in.groups;
    }
    ex.umask = defaults.child_umask;
    ex.new_session = s.detach;
    ex.no_new_privs = s.no_new_privs;
    ex.nofile_soft = defaults.nofile_soft;
    for (const auto& name : s.capabilities) {
        cap_value_t c;
        if (cap_from_name(name.c_str(), &c) == 0)
            ex.ambient_caps.push_back(static_cast<int>(c));
    }
    ex.drop_bounding = !s.capabilities.empty();

    // stdio: labels map to pipes; the same label twice shares one pipe. A stream that
    // only goes to a log file gets a pipe too (labelled "stdout"/"stderr" then).
    plan.stdin_pipe = s.redirect_input;
    const auto& labels = s.redirect_output;
    if (s.pty) {
        // One terminal, one stream: what the process writes to fd 1 and fd 2 arrives
        // interleaved as it was written, under the first label (stdout's log file).
        plan.pty = true;
        plan.pty_cols = window_dimension(in.env, "COLUMNS", plan.pty_cols);
        plan.pty_rows = window_dimension(in.env, "LINES", plan.pty_rows);
        std::string label = !labels.empty() ? labels[0] : in.logged_stdout ? "stdout" : "";
        if (!label.empty()) {
            plan.outputs.push_back(OutputPlan{1, label, "stdout", false});
            plan.outputs.push_back(OutputPlan{2, std::move(label), "stdout", true});
        }
    }
    for (size_t i = 0; i < 2 && !s.pty; ++i) {
        const char* key = i == 0 ? "stdout" : "stderr";
        bool logged = i == 0 ? in.logged_stdout : in.logged_stderr;
        std::string label = i < labels.size() ? labels[i] : logged ? key : "";
        if (label.empty())
            continue;
        OutputPlan out;
        out.fd = static_cast<int>(i) + 1;
        out.shares_stdout = i == 1 && labels.size() > 1 && labels[1] == labels[0];
        out.label = std::move(label);
        out.log_key = key;
        plan.outputs.push_back(std::move(out));
    }
    plan.streams = s.custom_streams;
    plan.cgroup_name = s.name.qualified();
    plan.limits = cgroup::Limits{s.memory_max, s.cpu_max, s.pids_max};
    plan.notify = s.notify;
    plan.watchdog_sec = s.watchdog_sec.value_or(0);
    return plan;
}

}  // namespace gaffer::manager
