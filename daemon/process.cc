// SPDX-License-Identifier: MIT
// Process duties the daemons share; see process.h.
#include "daemon/process.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "lib/auth/store.h"
#include "lib/base/strutil.h"

namespace gaffer::daemon {

namespace {

enum ProcessOption {
    kStateDir = kProcessOptionBase,
    kDaemon,
    kPidfile,
    kErrorLog,
    kLogLevel,
    kCreateAdmin,
    kUsername,
    kPassword,
    kListAdmins,
};

}  // namespace

const std::vector<struct option>& process_options() {
    static const std::vector<struct option> rows = {
        {"state-dir", required_argument, nullptr, kStateDir}, {"daemon", no_argument, nullptr, kDaemon},
        {"pidfile", required_argument, nullptr, kPidfile},    {"error-log", required_argument, nullptr, kErrorLog},
        {"log-level", required_argument, nullptr, kLogLevel}, {"create-admin-user", no_argument, nullptr, kCreateAdmin},
        {"username", required_argument, nullptr, kUsername},  {"password", required_argument, nullptr, kPassword},
        {"list-admins", no_argument, nullptr, kListAdmins},
    };
    return rows;
}

std::vector<struct option> option_table(std::initializer_list<struct option> own) {
    std::vector<struct option> table(own);
    const auto& shared = process_options();
    table.insert(table.end(), shared.begin(), shared.end());
    table.push_back({nullptr, 0, nullptr, 0});
    return table;
}

bool apply_process_option(int code, const char* arg, ProcessOptions& out) {
    switch (code) {
        case kStateDir:
            out.state_dir = arg;
            return true;
        case kDaemon:
            out.daemonize = true;
            return true;
        case kPidfile:
            out.pidfile = arg;
            return true;
        case kErrorLog:
            out.error_log = arg;
            return true;
        case kLogLevel:
            out.log_level = arg;
            return true;
        case kCreateAdmin:
            out.create_admin = true;
            return true;
        case kUsername:
            out.username = arg;
            return true;
        case kPassword:
            out.password = arg;
            return true;
        case kListAdmins:
            out.list_admins = true;
            return true;
        default:
            return false;
    }
}

std::string home_dir() {
    const char* h = getenv("HOME");
    if (h && *h)
        return h;
    struct passwd* pw = getpwuid(getuid());
    return pw ? pw->pw_dir : "/";
}

std::string default_state_dir(const std::string& name) {
    // Root: /var/lib/<name> (the unit's StateDirectory=), whatever the install prefix.
    if (geteuid() == 0)
        return "/var/lib/" + name;
    if (const char* x = getenv("XDG_STATE_HOME"); x && *x)
        return std::string(x) + "/" + name;
    return home_dir() + "/.local/state/" + name;
}

Status mkdir_parents(const std::string& path, mode_t mode) {
    std::string cur;
    for (const auto& part : split_any(path, "/")) {
        cur += "/" + part;
        if (mkdir(cur.c_str(), mode) < 0 && errno != EEXIST)
            return fail(Error::from_errno("mkdir '%s'", cur.c_str()));
    }
    return ok();
}

PidFile::~PidFile() {
    if (path_.empty())
        return;
    auto text = read_file(path_, 64);
    if (text && parse_int(*text) == static_cast<int64_t>(getpid()))
        (void)unlink(path_.c_str());
}

Status PidFile::create(const std::string& path) {
    auto text = read_file(path, 64);
    if (text) {
        auto pid = parse_int(*text);
        if (pid && *pid > 0 && *pid != getpid() && (kill(static_cast<pid_t>(*pid), 0) == 0 || errno == EPERM))
            return fail(Error::make(EEXIST, "Already running on PID %lld (or pid file '%s' is stale)",
                                    static_cast<long long>(*pid), path.c_str()));
    }
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    FILE* f = fopen(tmp.c_str(), "we");
    if (!f)
        return fail(Error::from_errno("create pid file '%s'", tmp.c_str()));
    fprintf(f, "%d\n", static_cast<int>(getpid()));
    fchmod(fileno(f), 0644);
    if (fclose(f) != 0 || rename(tmp.c_str(), path.c_str()) < 0) {
        (void)unlink(tmp.c_str());
        return fail(Error::from_errno("write pid file '%s'", path.c_str()));
    }
    path_ = path;
    return ok();
}

Status Daemonizer::detach() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return fail(Error::from_errno("pipe2"));
    pid_t pid = fork();
    if (pid < 0)
        return fail(Error::from_errno("fork"));
    if (pid > 0) {
        close(fds[1]);
        char c = 1;
        ssize_t n;
        do {
            n = read(fds[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 && c == 0 ? 0 : 1);
    }
    close(fds[0]);
    ready_.reset(fds[1]);
    if (setsid() < 0)
        return fail(Error::from_errno("setsid"));
    pid = fork();
    if (pid < 0)
        return fail(Error::from_errno("fork"));
    if (pid > 0)
        _exit(0);
    return ok();
}

void Daemonizer::started() {
    if (!ready_)
        return;
    char c = 0;
    (void)!write(ready_.get(), &c, 1);
    ready_.reset();
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
}

int admin_command(const char* prog, const std::string& state_dir, bool list_admins, const std::string& username,
                  const std::string& password) {
    if (auto r = mkdir_parents(state_dir, 0700); !r) {
        fprintf(stderr, "%s: %s\n", prog, r.error().message().c_str());
        return 1;
    }
    auto store = auth::Store::open(state_dir + "/auth.json");
    if (!store) {
        fprintf(stderr, "%s: %s\n", prog, store.error().message().c_str());
        return 1;
    }
    if (list_admins) {
        for (auto& [user, key] : (*store)->admins()) printf("%s - %s\n", user.c_str(), key.c_str());
        return 0;
    }
    std::string user = username, pass = password;
    if (user.empty()) {
        char buf[256];
        printf("Username: ");
        fflush(stdout);
        if (!fgets(buf, sizeof buf, stdin))
            return 1;
        user = std::string(trim(buf));
    }
    if (pass.empty()) {
        char* p1 = getpass("Password: ");
        std::string first = p1 ? p1 : "";
        char* p2 = getpass("Confirm password: ");
        if (!p2 || first != p2) {
            fprintf(stderr, "%s: passwords do not match\n", prog);
            return 1;
        }
        pass = first;
    }
    auto key = (*store)->create_admin(user, pass);
    if (!key) {
        fprintf(stderr, "%s: %s\n", prog, key.error().message().c_str());
        return 1;
    }
    printf("User '%s' created.\nAPI Key: %s\n", user.c_str(), key->c_str());
    return 0;
}

}  // namespace gaffer::daemon
