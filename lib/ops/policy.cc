// SPDX-License-Identifier: MIT
#include "lib/ops/policy.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "lib/base/strutil.h"
#include "lib/io/rotating_log.h"
#include "lib/manager/manager.h"

namespace gaffer::ops {

namespace {

// The user name of `uid` (NSS, as the manager asks it when it loads a job), or "".
std::string user_name_of(uid_t uid) {
    struct passwd pw, *res = nullptr;
    std::vector<char> buf(16384);
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || !res)
        return {};
    return res->pw_name;
}

bool may_use_uid(const Policy& policy, const Caller& rights, uid_t uid) {
    if (rights.perms.admin)
        return true;
    if (rights.peer_uid && *rights.peer_uid == uid)
        return true;
    if (policy.daemon_uid != 0 && uid == policy.daemon_uid)
        return true;
    return rights.perms.may_use_uid(uid, rights.perms.has_uid_names() ? user_name_of(uid) : std::string());
}

bool may_use_gid(const Policy& policy, const Caller& rights, gid_t gid) {
    if (rights.perms.admin)
        return true;
    if (rights.peer_gid && *rights.peer_gid == gid)
        return true;
    return policy.daemon_uid != 0 && gid == policy.daemon_gid;
}

// The components of `path` without empty ones and "."; nullopt when one is "..".
std::optional<std::vector<std::string>> path_components(std::string_view path) {
    std::vector<std::string> out;
    for (auto& c : split_any(path, "/")) {
        if (c.empty() || c == ".")
            continue;
        if (c == "..")
            return std::nullopt;
        out.push_back(std::move(c));
    }
    return out;
}

// Why the caller may not have the daemon write `path` (a log file, or with `is_dir` a
// log_dir), given as the job option `option`; nullopt when it lies beneath log_root.
std::optional<std::string> log_path_denial(const std::string& log_root, const char* option, const std::string& path,
                                           bool is_dir) {
    std::string opt(option);
    if (log_root.empty())
        return opt + ": log files need full rights (no log_root is configured)";
    if (path.find('\0') != std::string::npos)
        return opt + ": the path contains a NUL byte";
    std::string abs = path;
    if (abs.empty() || abs[0] != '/') {
        // The manager opens a relative path from the daemon's working directory.
        std::vector<char> cwd(PATH_MAX);
        if (!::getcwd(cwd.data(), cwd.size()))
            return opt + ": a relative path needs full rights here";
        abs = std::string(cwd.data()) + "/" + abs;
    }
    auto comps = path_components(abs);
    if (!comps)
        return opt + ": '..' is not allowed in a log path";
    auto root = path_components(log_root);
    if (!root || comps->size() < root->size() + (is_dir ? 0 : 1) ||
        !std::equal(root->begin(), root->end(), comps->begin())) {
        return opt + ": '" + path + "' is not beneath log_root";
    }
    // What the kernel will resolve beneath log_root must be what was checked: no symlink
    // (nor, for the file itself, anything but a regular file with one link).
    std::string at = "/" + join(*root, "/");
    for (size_t i = root->size(); i < comps->size(); ++i) {
        at += "/" + (*comps)[i];
        struct stat st;
        if (::lstat(at.c_str(), &st) < 0) {
            if (errno == ENOENT)
                break;
            return opt + ": cannot check '" + at + "': " + strerror(errno);
        }
        if (S_ISLNK(st.st_mode))
            return opt + ": '" + at + "' is a symbolic link";
        bool last = i + 1 == comps->size();
        if (last && !is_dir && (!S_ISREG(st.st_mode) || st.st_nlink != 1))
            return opt + ": '" + at + "' is not a regular file with a single link";
    }
    return std::nullopt;
}

std::optional<std::string> log_files_denial(const Policy& policy, const model::JobSpec& spec) {
    const std::string& root = policy.log_root;
    if (!spec.stdout_file.empty()) {
        if (auto why = log_path_denial(root, "stdout_file", spec.stdout_file, false))
            return why;
    }
    if (!spec.stderr_file.empty()) {
        if (auto why = log_path_denial(root, "stderr_file", spec.stderr_file, false))
            return why;
    }
    if (spec.log_dir.empty())
        return std::nullopt;
    if (auto why = log_path_denial(root, "log_dir", spec.log_dir, true))
        return why;
    // Every file the log_dir could hold for this job (lib/io/rotating_log.h log_path_for).
    std::vector<std::string> labels = {"stdout", "stderr"};
    labels.insert(labels.end(), spec.redirect_output.begin(), spec.redirect_output.end());
    for (const auto& label : labels) {
        std::string file = io::log_path_for(spec.log_dir, spec.name.qualified(), label);
        if (auto why = log_path_denial(root, "log_dir", file, false))
            return why;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> admit_job_spec(const Policy& policy, const Caller& rights, model::JobSpec& spec) {
    if (rights.perms.admin)
        return std::nullopt;
    if (spec.shell)
        return "shell = true needs full rights";
    if (!spec.capabilities.empty())
        return "capabilities need full rights";
    if (spec.os_env)
        return "os_env = true (the daemon's environment) needs full rights";
    // A critical job that gives up stops the daemon and every other session's jobs.
    if (spec.critical)
        return "critical = true (stopping the daemon) needs full rights";
    if (!spec.uid && !may_use_uid(policy, rights, policy.daemon_uid))
        return "gafferd runs as root: a job loaded without full rights must name a uid the caller may use";
    if (spec.uid && !may_use_uid(policy, rights, *spec.uid))
        return "uid " + std::to_string(*spec.uid) + " is not one the caller may use";
    if (spec.gid && !may_use_gid(policy, rights, *spec.gid))
        return "gid " + std::to_string(*spec.gid) + " is not the caller's own (leave gid out to use the uid's group)";
    if (auto why = log_files_denial(policy, spec))
        return why;
    spec.log_beneath = policy.log_root;
    return std::nullopt;
}

std::optional<std::string> commit_env_denial(const Policy& policy, const Caller& rights,
                                             const manager::Manager& manager, const model::JobName& job) {
    if (rights.perms.admin)
        return std::nullopt;
    auto spec = manager.spec(job);
    if (!spec)
        return std::nullopt;  // the commit itself answers 404
    if (!may_use_uid(policy, rights, spec->uid.value_or(policy.daemon_uid)))
        return "env on commit needs full rights or a job whose uid the caller may use";
    return std::nullopt;
}

}  // namespace gaffer::ops
