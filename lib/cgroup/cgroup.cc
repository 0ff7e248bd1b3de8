// SPDX-License-Identifier: MIT
#include "lib/cgroup/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstring>

#include "lib/base/log.h"
#include "lib/base/strutil.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace gaffer::cgroup {

namespace {

bool is_cgroup2(const char* path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 && static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC;
}

const char* mount_point(Mode m) { return m == Mode::kV2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified"; }

// The "0::/path" line of /proc/self/cgroup.
std::string own_v2_path() {
    auto text = read_file("/proc/self/cgroup");
    if (!text) return "/";
    for (const auto& line : split_any(*text, "\n")) {
        if (starts_with(line, "0::")) return line.substr(3);
    }
    return "/";
}

Status mkdir_p(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return ok();
    return fail(Error::from_errno("mkdir '%s'", path.c_str()));
}

}  // namespace

const char* to_string(Mode m) {
    switch (m) {
        case Mode::kNone: return "none";
        case Mode::kHybrid: return "hybrid";
        case Mode::kV2: return "v2";
    }
    return "none";
}

Mode detect_mode() {
    if (::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 && is_cgroup2("/sys/fs/cgroup")) return Mode::kV2;
    if (is_cgroup2("/sys/fs/cgroup/unified")) return Mode::kHybrid;
    return Mode::kNone;
}

std::unique_ptr<Tree> Tree::create(const std::string& name) {
    auto t = std::unique_ptr<Tree>(new Tree());
    Mode m = detect_mode();
    if (m == Mode::kNone) return t;
    std::string mount = mount_point(m);
    std::string own = own_v2_path();
    std::string base;
    bool delegated = own != "/" && ::access((mount + own + "/cgroup.subtree_control").c_str(), W_OK) == 0 &&
                     getenv("GAFFER_CGROUP_NO_DELEGATION") == nullptr;
    if (delegated) {
        base = mount + own;
        // Move ourselves into <base>/supervisor so <base> may hold child groups.
        std::string sup = base + "/supervisor";
        if (!mkdir_p(sup) || !write_file(sup + "/cgroup.procs", "0")) delegated = false;
    }
    if (!delegated) {
        base = mount + "/" + (name.empty() ? "gaffer" : name) + "-" + std::to_string(getpid());
        if (!mkdir_p(base)) {
            log_debug("cgroups disabled: cannot create '%s'", base.c_str());
            return t;
        }
        t->created_base_ = true;
    }
    if (!mkdir_p(base + "/jobs")) {
        if (t->created_base_) (void)::rmdir(base.c_str());
        t->created_base_ = false;
        return t;
    }
    t->mode_ = m;
    t->base_ = base;
    return t;
}

Tree::~Tree() {
    if (mode_ == Mode::kNone) return;
    (void)::rmdir((base_ + "/jobs").c_str());
    if (created_base_) (void)::rmdir(base_.c_str());
}

Result<Group> Tree::create_group(const std::string& job, int pid) {
    if (mode_ == Mode::kNone) return fail(Error::make(ENOTSUP, "no cgroups"));
    std::string jobdir = base_ + "/jobs/" + job;
    GAFFER_RETURN_IF_ERROR(mkdir_p(jobdir));
    Group g;
    g.path = jobdir + "/" + std::to_string(pid);
    GAFFER_RETURN_IF_ERROR(mkdir_p(g.path));
    g.procs.reset(::open((g.path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!g.procs) return fail(Error::from_errno("open '%s/cgroup.procs'", g.path.c_str()));
    g.events.reset(::open((g.path + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
    return g;
}

Status Tree::kill(const Group& g) {
    if (write_file(g.path + "/cgroup.kill", "1")) return ok();
    // FIXME(kernel 5.14): cgroup.kill is missing before 5.14; kill each member instead.
    auto procs = read_file(g.path + "/cgroup.procs");
    if (!procs) return fail(procs.error());
    for (const auto& line : split_any(*procs, "\n")) {
        if (auto pid = parse_int(line)) (void)::kill(static_cast<pid_t>(*pid), SIGKILL);
    }
    return ok();
}

bool Tree::populated(const Group& g) {
    char buf[256];
    ssize_t n = g.events ? pread(g.events.get(), buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) {
        auto text = read_file(g.path + "/cgroup.events");
        if (!text) return false;
        return text->find("populated 1") != std::string::npos;
    }
    buf[n] = '\0';
    return strstr(buf, "populated 1") != nullptr;
}

Status Tree::remove(Group& g, const std::string& job) {
    g.procs.reset();
    g.events.reset();
    if (::rmdir(g.path.c_str()) < 0 && errno != ENOENT) return fail(Error::from_errno("rmdir '%s'", g.path.c_str()));
    (void)::rmdir((base_ + "/jobs/" + job).c_str());  // fails with ENOTEMPTY while siblings live
    return ok();
}

}  // namespace gaffer::cgroup
