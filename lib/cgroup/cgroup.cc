// SPDX-License-Identifier: MIT
#include "lib/cgroup/cgroup.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "lib/base/log.h"
#include "lib/base/strutil.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace gaffer::cgroup {

namespace {

constexpr const char* kControllerNames[kControllerCount] = {"memory", "cpu", "pids"};
constexpr uint64_t kCpuPeriodUsec = 100000;
// cgroup.procs of a tree that big is not worth reading whole for statistics.
constexpr size_t kMaxStatBytes = 1 << 20;

int idx(Controller c) {
    return static_cast<int>(c);
}

bool is_cgroup2(const char* path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 && static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC;
}

const char* mount_point(Mode m) {
    return m == Mode::kV2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
}

std::optional<uint64_t> parse_u64(std::string_view s) {
    s = trim(s);
    if (s.empty())
        return std::nullopt;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size())
        return std::nullopt;
    return v;
}

// mkdir that reports whether it created the directory (EEXIST is fine).
Result<bool> make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) == 0)
        return true;
    if (errno == EEXIST)
        return false;
    return fail(Error::from_errno("mkdir '%s'", path.c_str()));
}

Status mkdir_p(const std::string& path) {
    auto r = make_dir(path);
    if (!r)
        return fail(r.error());
    return ok();
}

bool has_token(std::string_view text, std::string_view word) {
    for (const auto& t : split_any(text, " \n")) {
        if (t == word)
            return true;
    }
    return false;
}

// Enables, in `dir`'s children, those of `wanted` that `dir` itself has. One write per
// controller: a single write naming an unavailable one would fail as a whole.
void enable_v2_controllers(const std::string& dir, const std::vector<int>& wanted) {
    auto have = read_file(dir + "/cgroup.controllers", 4096);
    if (!have)
        return;
    for (int c : wanted) {
        if (!has_token(*have, kControllerNames[c]))
            continue;
        auto r = write_file(dir + "/cgroup.subtree_control", std::string("+") + kControllerNames[c]);
        if (!r)
            log_debug("cgroup: enable %s in '%s': %s", kControllerNames[c], dir.c_str(), r.error().message().c_str());
    }
}

// Reads a whole kernfs file through a kept fd. Every cgroup file is a seq_file, which
// fills the buffer until it runs out of records, so a short read means the end.
Result<std::string> pread_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(Error::from_errno("pread"));
        }
        out.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof buf)
            break;
        if (out.size() > kMaxStatBytes)
            return fail(Error::make(EFBIG, "stat file larger than %zu bytes", kMaxStatBytes));
    }
    return out;
}

// Octal escapes of /proc/self/mountinfo (\040 for a space, ...).
std::string unescape_mount(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        auto octal = [&](size_t k) { return s[k] >= '0' && s[k] <= '7'; };
        if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
            out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

size_t default_stat_fd_budget() {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1024;
    return static_cast<size_t>(rl.rlim_cur / 8);
}

// Directories made by one create_group() call, removed again if a later step fails.
class Undo {
public:
    ~Undo() {
        if (committed_)
            return;
        for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) (void)::rmdir(it->c_str());
    }
    Status mkdir(const std::string& path) {
        auto r = make_dir(path);
        if (!r)
            return fail(r.error());
        if (*r)
            dirs_.push_back(path);
        return ok();
    }
    bool created(const std::string& path) const { return std::find(dirs_.begin(), dirs_.end(), path) != dirs_.end(); }
    void commit() { committed_ = true; }

private:
    std::vector<std::string> dirs_;
    bool committed_ = false;
};

Status write_limit(const char* limit, const std::string& path, const std::string& value) {
    auto r = write_file(path, value);
    if (r)
        return ok();
    if (r.error().code == ENOENT) {
        return fail(Error::make(EOPNOTSUPP, "%s: '%s' does not exist (the controller is not enabled there)", limit,
                                path.c_str()));
    }
    return fail(Error{r.error().code, std::string(limit) + ": " + r.error().context});
}

}  // namespace

// ---------------------------------------------------------------------------
// Names

const char* to_string(Mode m) {
    switch (m) {
        case Mode::kNone:
            return "none";
        case Mode::kHybrid:
            return "hybrid";
        case Mode::kV2:
            return "v2";
    }
    return "none";
}

const char* to_string(Controller c) {
    int i = idx(c);
    return i >= 0 && i < kControllerCount ? kControllerNames[i] : "?";
}

const char* to_string(Source s) {
    switch (s) {
        case Source::kNone:
            return "none";
        case Source::kV2:
            return "v2";
        case Source::kV1:
            return "v1";
    }
    return "none";
}

Mode detect_mode() {
    if (::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 && is_cgroup2("/sys/fs/cgroup"))
        return Mode::kV2;
    if (is_cgroup2("/sys/fs/cgroup/unified"))
        return Mode::kHybrid;
    return Mode::kNone;
}

// ---------------------------------------------------------------------------
// Parsers

std::map<std::string, uint64_t> parse_flat_keyed(std::string_view text) {
    std::map<std::string, uint64_t> out;
    for (const auto& line : split_any(text, "\n")) {
        std::string_view l = trim(line);
        size_t sp = l.find_first_of(" \t");
        if (sp == std::string_view::npos || sp == 0)
            continue;
        if (auto v = parse_u64(l.substr(sp + 1)))
            out.emplace(std::string(l.substr(0, sp)), *v);
    }
    return out;
}

std::optional<uint64_t> parse_cpu_stat(std::string_view text) {
    auto kv = parse_flat_keyed(text);
    auto it = kv.find("usage_usec");
    if (it == kv.end())
        return std::nullopt;
    return it->second;
}

std::optional<uint64_t> parse_single_value(std::string_view text) {
    return parse_u64(text);
}

std::vector<pid_t> parse_procs(std::string_view text) {
    std::vector<pid_t> out;
    for (const auto& line : split_any(text, "\n")) {
        auto v = parse_u64(line);
        if (v && *v > 0 && *v <= static_cast<uint64_t>(INT32_MAX))
            out.push_back(static_cast<pid_t>(*v));
    }
    return out;
}

MemoryStat parse_memory_stat(std::string_view text, bool v1) {
    auto kv = parse_flat_keyed(text);
    auto get = [&](const char* key) -> std::optional<uint64_t> {
        auto it = kv.find(key);
        if (it == kv.end())
            return std::nullopt;
        return it->second;
    };
    MemoryStat m;
    if (v1) {
        // The total_ values include descendant groups (use_hierarchy=1).
        m.anon = get("total_rss");
        if (!m.anon)
            m.anon = get("rss");
        m.file = get("total_cache");
        if (!m.file)
            m.file = get("cache");
    } else {
        m.anon = get("anon");
        m.file = get("file");
    }
    return m;
}

ProcCgroup parse_proc_cgroup(std::string_view text) {
    ProcCgroup out;
    for (const auto& line : split_any(text, "\n")) {
        size_t c1 = line.find(':');
        if (c1 == std::string::npos)
            continue;
        size_t c2 = line.find(':', c1 + 1);
        if (c2 == std::string::npos)
            continue;
        std::string_view id = std::string_view(line).substr(0, c1);
        std::string_view ctls = std::string_view(line).substr(c1 + 1, c2 - c1 - 1);
        std::string path = line.substr(c2 + 1);  // a cgroup name may contain ':'
        if (path.empty())
            continue;
        if (id == "0" && ctls.empty()) {
            out.v2_path = path;
            continue;
        }
        for (const auto& c : split_any(ctls, ",")) out.v1.emplace(c, path);
    }
    return out;
}

std::map<std::string, V1Mount> parse_v1_mounts(std::string_view mountinfo) {
    std::map<std::string, V1Mount> out;
    for (const auto& line : split_any(mountinfo, "\n")) {
        auto f = split_any(line, " ");
        // id parent maj:min root mount_point options [optional...] - fstype source super_options
        auto dash = std::find(f.begin(), f.end(), "-");
        if (dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 4)
            continue;
        if (*(dash + 1) != "cgroup")
            continue;
        V1Mount m{unescape_mount(f[4]), unescape_mount(f[3])};
        for (const auto& opt : split_any(*(dash + 3), ",")) {
            if (opt == "rw" || opt == "ro")
                continue;
            if (opt.find('=') != std::string::npos && !starts_with(opt, "name="))
                continue;  // release_agent=...
            if (opt == "xattr" || opt == "noprefix" || opt == "clone_children" || opt == "cpuset_v2_mode" ||
                opt == "favordynmods" || opt == "none" || opt == "all")
                continue;
            out.emplace(opt, m);  // the first mount of a hierarchy wins over later bind mounts
        }
    }
    return out;
}

std::optional<std::string> v1_dir(const V1Mount& m, const std::string& path) {
    if (path.empty() || path[0] != '/')
        return std::nullopt;
    if (m.root == "/")
        return path == "/" ? m.mount_point : m.mount_point + path;
    if (path == m.root)
        return m.mount_point;
    if (starts_with(path, m.root + "/"))
        return m.mount_point + path.substr(m.root.size());
    return std::nullopt;
}

std::optional<uint64_t> cpu_quota_usec(double percent, uint64_t period_usec) {
    // 100000 % is a thousand CPUs: anything above is a typo, not a limit.
    if (!std::isfinite(percent) || !(percent > 0) || percent > 100000.0 || period_usec == 0)
        return std::nullopt;
    auto q = static_cast<uint64_t>(std::llround(percent / 100.0 * static_cast<double>(period_usec)));
    return std::max<uint64_t>(q, 1000);  // the kernel's minimum quota is 1 ms
}

// ---------------------------------------------------------------------------
// Group

std::vector<int> Group::procs_fds() const {
    std::vector<int> out;
    if (procs)
        out.push_back(procs.get());
    for (int fd : v1_procs_fds()) out.push_back(fd);
    return out;
}

std::vector<int> Group::v1_procs_fds() const {
    std::vector<int> out;
    for (const auto& fd : v1_procs)
        if (fd)
            out.push_back(fd.get());
    return out;
}

void Group::close_join_fds() {
    dir.reset();
    procs.reset();
    for (auto& fd : v1_procs) fd.reset();
}

// ---------------------------------------------------------------------------
// Tree

std::unique_ptr<Tree> Tree::create(const std::string& name) {
    auto t = std::unique_ptr<Tree>(new Tree());
    t->stat_fd_budget_ = default_stat_fd_budget();
    Mode m = detect_mode();
    if (m == Mode::kNone)
        return t;
    std::string mount = mount_point(m);
    auto self_text = read_file("/proc/self/cgroup", 1 << 16);
    ProcCgroup self = self_text ? parse_proc_cgroup(*self_text) : ProcCgroup{};
    std::string own = self.v2_path.value_or("/");
    std::string leaf = (name.empty() ? "gaffer" : name) + "-" + std::to_string(getpid());
    std::string base;
    bool delegated = own != "/" && ::access((mount + own + "/cgroup.subtree_control").c_str(), W_OK) == 0 &&
                     getenv("GAFFER_CGROUP_NO_DELEGATION") == nullptr;
    if (delegated) {
        base = mount + own;
        // Move ourselves into <base>/supervisor so <base> may hold child groups.
        std::string sup = base + "/supervisor";
        if (!mkdir_p(sup) || !write_file(sup + "/cgroup.procs", "0"))
            delegated = false;
    }
    if (!delegated) {
        base = mount + "/" + leaf;
        if (!mkdir_p(base)) {
            log_debug("cgroups disabled: cannot create '%s'", base.c_str());
            return t;
        }
        t->created_base_ = true;
    }
    if (!mkdir_p(base + "/jobs")) {
        if (t->created_base_)
            (void)::rmdir(base.c_str());
        t->created_base_ = false;
        return t;
    }
    t->mode_ = m;
    t->base_ = base;

    // Which controllers are v1 hierarchies (hybrid hosts only; on pure v2 nothing is).
    std::map<std::string, V1Mount> v1_mounts;
    if (m == Mode::kHybrid) {
        auto mi = read_file("/proc/self/mountinfo", 1 << 20);
        if (mi)
            v1_mounts = parse_v1_mounts(*mi);
    }
    std::vector<int> want_v2;
    for (int c = 0; c < kControllerCount; ++c) {
        auto mit = v1_mounts.find(kControllerNames[c]);
        auto pit = self.v1.find(kControllerNames[c]);
        if (mit == v1_mounts.end() || pit == self.v1.end()) {
            want_v2.push_back(c);
            continue;
        }
        auto dir = v1_dir(mit->second, pit->second);
        if (!dir) {
            log_debug("cgroup: own %s cgroup '%s' is outside its mount", kControllerNames[c], pit->second.c_str());
            continue;
        }
        std::string b = *dir + "/" + leaf;
        if (!mkdir_p(b)) {
            log_debug("cgroup: v1 %s unusable: cannot create '%s'", kControllerNames[c], b.c_str());
            continue;
        }
        if (c == idx(Controller::kMemory)) {
            // Without use_hierarchy a v1 memcg's limit and counters ignore its children.
            // Kernels >= 5.x always have it; older ones let an empty group switch it on.
            auto uh = read_file(b + "/memory.use_hierarchy", 64);
            if (uh && trim(*uh) == "0" && !write_file(b + "/memory.use_hierarchy", "1"))
                log_debug("cgroup: cannot set use_hierarchy in '%s'", b.c_str());
        }
        if (!mkdir_p(b + "/jobs")) {
            (void)::rmdir(b.c_str());
            continue;
        }
        t->source_[c] = Source::kV1;
        t->v1_base_[c] = b;
    }
    if (!want_v2.empty()) {
        enable_v2_controllers(base, want_v2);
        enable_v2_controllers(base + "/jobs", want_v2);
        auto enabled = read_file(base + "/jobs/cgroup.subtree_control", 4096);
        for (int c : want_v2) {
            if (enabled && has_token(*enabled, kControllerNames[c]))
                t->source_[c] = Source::kV2;
        }
    }
    log_debug("cgroup: mode %s, base '%s', memory %s, cpu %s, pids %s", to_string(m), base.c_str(),
              to_string(t->source_[0]), to_string(t->source_[1]), to_string(t->source_[2]));
    return t;
}

Tree::~Tree() {
    if (mode_ == Mode::kNone)
        return;
    (void)::rmdir((base_ + "/jobs").c_str());
    if (created_base_)
        (void)::rmdir(base_.c_str());
    for (const auto& b : v1_base_) {
        if (b.empty())
            continue;
        (void)::rmdir((b + "/jobs").c_str());
        (void)::rmdir(b.c_str());
    }
}

Result<Group> Tree::create_group(const std::string& job, int pid, const Limits& limits) {
    if (limits.cpu_max_percent && !cpu_quota_usec(*limits.cpu_max_percent))
        return fail(Error::make(EINVAL, "cpu_max: %g is not a percentage of one CPU > 0", *limits.cpu_max_percent));
    if (mode_ == Mode::kNone) {
        if (limits.any())
            return fail(Error::make(EOPNOTSUPP,
                                    "resource limits need cgroups, which are not usable here (no cgroup2 mount, or "
                                    "no right to create groups)"));
        return fail(Error::make(ENOTSUP, "no cgroups"));
    }
    const bool wanted[kControllerCount] = {limits.memory_max.has_value(), limits.cpu_max_percent.has_value(),
                                           limits.pids_max.has_value()};
    const char* limit_names[kControllerCount] = {"memory_max", "cpu_max", "pids_max"};
    for (int c = 0; c < kControllerCount; ++c) {
        if (wanted[c] && source_[c] == Source::kNone)
            return fail(Error::make(EOPNOTSUPP,
                                    "%s: no %s controller is usable on this host (cgroup mode %s: neither cgroup2 "
                                    "nor a v1 %s hierarchy offers it)",
                                    limit_names[c], kControllerNames[c], to_string(mode_), kControllerNames[c]));
    }

    Undo undo;
    Group g;
    std::string jobdir = base_ + "/jobs/" + job;
    GAFFER_RETURN_IF_ERROR(undo.mkdir(jobdir));
    if (undo.created(jobdir)) {
        std::vector<int> v2;
        for (int c = 0; c < kControllerCount; ++c)
            if (source_[c] == Source::kV2)
                v2.push_back(c);
        if (!v2.empty())
            enable_v2_controllers(jobdir, v2);
    }
    g.path = jobdir + "/" + std::to_string(pid);
    GAFFER_RETURN_IF_ERROR(undo.mkdir(g.path));
    g.procs.reset(::open((g.path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!g.procs)
        return fail(Error::from_errno("open '%s/cgroup.procs'", g.path.c_str()));
    g.events.reset(::open((g.path + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
    g.dir.reset(::open(g.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));  // optional: procs is the fallback

    // v1 directories only for their limits: joining one costs the child a cgroup
    // migration, which waits for an RCU grace period (~10 ms, the whole restart budget);
    // the v2 group is joined for free at clone3. CPU time comes from v2 cpu.stat, the
    // task count from cgroup.procs, and the memory of an unlimited tree from the
    // members' /proc (stats::CgroupSampler).
    for (int c = 0; c < kControllerCount; ++c) {
        if (source_[c] != Source::kV1)
            continue;
        if (!wanted[c])
            continue;
        std::string dir = v1_base_[c] + "/jobs/" + job + "/" + std::to_string(pid);
        bool shared = false;  // co-mounted with an earlier controller: same directory
        for (int d = 0; d < c; ++d) shared = shared || g.v1_path[d] == dir;
        Status made = undo.mkdir(v1_base_[c] + "/jobs/" + job);
        if (made)
            made = undo.mkdir(dir);
        UniqueFd fd;
        if (made && !shared) {
            fd.reset(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
            if (!fd)
                made = fail(Error::from_errno("open '%s/cgroup.procs'", dir.c_str()));
        }
        if (!made) {
            if (wanted[c])
                return fail(Error{made.error().code, std::string(limit_names[c]) + ": " + made.error().context});
            log_debug("cgroup: no v1 %s group for %d: %s", kControllerNames[c], pid, made.error().message().c_str());
            continue;
        }
        g.v1_path[c] = dir;
        g.v1_procs[c] = std::move(fd);
    }

    auto applied = apply_limits(g, limits);
    if (!applied) {
        g = Group{};  // close the fds before the directories go
        return fail(applied.error());
    }
    undo.commit();
    return g;
}

Status Tree::apply_limits(Group& g, const Limits& limits) {
    const int mem = idx(Controller::kMemory), cpu = idx(Controller::kCpu), pids = idx(Controller::kPids);
    if (limits.memory_max) {
        std::string v = std::to_string(*limits.memory_max);
        if (source_[mem] == Source::kV2) {
            GAFFER_RETURN_IF_ERROR(write_limit("memory_max", g.path + "/memory.max", v));
            // Like v1's memsw limit below: the limit is not dodged by swapping (an OOM
            // kill, not a thrashing process). No swap controller, no file: nothing to do.
            std::string swap = g.path + "/memory.swap.max";
            if (::access(swap.c_str(), F_OK) == 0)
                GAFFER_RETURN_IF_ERROR(write_limit("memory_max", swap, "0"));
        } else {
            // memsw (memory+swap) must stay >= the memory limit, so the memory limit goes
            // first; without swap accounting the memsw file does not exist.
            GAFFER_RETURN_IF_ERROR(write_limit("memory_max", g.v1_path[mem] + "/memory.limit_in_bytes", v));
            std::string memsw = g.v1_path[mem] + "/memory.memsw.limit_in_bytes";
            if (::access(memsw.c_str(), F_OK) == 0)
                GAFFER_RETURN_IF_ERROR(write_limit("memory_max", memsw, v));
        }
    }
    if (limits.cpu_max_percent) {
        uint64_t quota = *cpu_quota_usec(*limits.cpu_max_percent, kCpuPeriodUsec);
        if (source_[cpu] == Source::kV2) {
            GAFFER_RETURN_IF_ERROR(write_limit("cpu_max", g.path + "/cpu.max",
                                               std::to_string(quota) + " " + std::to_string(kCpuPeriodUsec)));
        } else {
            GAFFER_RETURN_IF_ERROR(
                write_limit("cpu_max", g.v1_path[cpu] + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUsec)));
            GAFFER_RETURN_IF_ERROR(write_limit("cpu_max", g.v1_path[cpu] + "/cpu.cfs_quota_us", std::to_string(quota)));
        }
    }
    if (limits.pids_max) {
        std::string dir = source_[pids] == Source::kV2 ? g.path : g.v1_path[pids];
        GAFFER_RETURN_IF_ERROR(write_limit("pids_max", dir + "/pids.max", std::to_string(*limits.pids_max)));
    }
    return ok();
}

Status Tree::kill(const Group& g) {
    if (g.path.empty())
        return fail(Error::make(EINVAL, "kill: empty group"));
    if (write_file(g.path + "/cgroup.kill", "1"))
        return ok();
    // FIXME(kernel 5.14): cgroup.kill is missing before 5.14; kill each member instead,
    // from every hierarchy the process joined.
    std::vector<pid_t> pids;
    auto procs = read_file(g.path + "/cgroup.procs", kMaxStatBytes);
    if (procs)
        pids = parse_procs(*procs);
    for (const auto& dir : g.v1_path) {
        if (dir.empty())
            continue;
        if (auto t = read_file(dir + "/cgroup.procs", kMaxStatBytes)) {
            for (pid_t p : parse_procs(*t)) pids.push_back(p);
        }
    }
    if (!procs && pids.empty())
        return fail(procs.error());
    std::sort(pids.begin(), pids.end());
    pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
    for (pid_t p : pids) (void)::kill(p, SIGKILL);
    return ok();
}

bool Tree::populated(const Group& g) {
    char buf[256];
    ssize_t n = g.events ? pread(g.events.get(), buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) {
        auto text = read_file(g.path + "/cgroup.events");
        if (!text)
            return false;
        return text->find("populated 1") != std::string::npos;
    }
    buf[n] = '\0';
    return strstr(buf, "populated 1") != nullptr;
}

Status Tree::remove(Group& g, const std::string& job) {
    g.procs.reset();
    g.events.reset();
    for (auto& fd : g.v1_procs) fd.reset();
    close_stat_fds(g);
    if (g.path.empty())
        return ok();
    if (::rmdir(g.path.c_str()) < 0 && errno != ENOENT)
        return fail(Error::from_errno("rmdir '%s'", g.path.c_str()));
    (void)::rmdir((base_ + "/jobs/" + job).c_str());  // fails with ENOTEMPTY while siblings live
    Status result;
    for (int c = 0; c < kControllerCount; ++c) {
        if (g.v1_path[c].empty())
            continue;
        if (::rmdir(g.v1_path[c].c_str()) < 0 && errno != ENOENT && result)
            result = fail(Error::from_errno("rmdir '%s'", g.v1_path[c].c_str()));
        (void)::rmdir((v1_base_[c] + "/jobs/" + job).c_str());
    }
    return result;
}

std::string Tree::stat_path(const Group& g, Stat s) const {
    const int mem = idx(Controller::kMemory), pids = idx(Controller::kPids);
    auto mem_file = [&](const char* v2, const char* v1) -> std::string {
        if (source_[mem] == Source::kV2)
            return g.path + "/" + v2;
        if (source_[mem] == Source::kV1 && !g.v1_path[mem].empty())
            return g.v1_path[mem] + "/" + v1;
        return {};
    };
    switch (s) {
        case Stat::kCpuStat:
            return g.path + "/cpu.stat";
        case Stat::kProcs:
            return g.path + "/cgroup.procs";
        case Stat::kMemCurrent:
            return mem_file("memory.current", "memory.usage_in_bytes");
        case Stat::kMemPeak:
            return mem_file("memory.peak", "memory.max_usage_in_bytes");
        case Stat::kMemEvents:
            return mem_file("memory.events", "memory.oom_control");
        case Stat::kMemStat:
            return mem_file("memory.stat", "memory.stat");
        case Stat::kPidsCurrent:
            if (source_[pids] == Source::kV2)
                return g.path + "/pids.current";
            if (source_[pids] == Source::kV1 && !g.v1_path[pids].empty())
                return g.v1_path[pids] + "/pids.current";
            return {};
    }
    return {};
}

void Tree::open_stat_fds(Group& g) {
    for (int i = 0; i < kStatCount; ++i) {
        if (kept_stat_fds_ >= stat_fd_budget_)
            return;
        if (g.stat_fds[i] || (g.stat_missing & (1u << i)))
            continue;
        std::string path = stat_path(g, static_cast<Stat>(i));
        if (path.empty()) {
            g.stat_missing |= 1u << i;
            continue;
        }
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            // Out of fds: read by path this time, try to keep one later. Anything else
            // (ENOENT: an older kernel without memory.peak) will not change.
            // cgroup.procs is never marked: its absence means the group is gone, which
            // usage() reports on every call.
            bool transient = errno == EMFILE || errno == ENFILE || errno == ENOMEM;
            if (!transient && i != static_cast<int>(Stat::kProcs))
                g.stat_missing |= 1u << i;
            continue;
        }
        g.stat_fds[i].reset(fd);
        ++kept_stat_fds_;
    }
}

void Tree::close_stat_fds(Group& g) {
    for (auto& fd : g.stat_fds) {
        if (!fd)
            continue;
        fd.reset();
        if (kept_stat_fds_ > 0)
            --kept_stat_fds_;
    }
}

Result<std::string> Tree::read_stat(Group& g, Stat s) {
    int i = static_cast<int>(s);
    if (g.stat_missing & (1u << i))
        return fail(Error::make(ENOENT, "no %d stat file", i));
    if (g.stat_fds[i]) {
        auto r = pread_all(g.stat_fds[i].get());
        if (r)
            return r;
        return fail(Error{r.error().code, r.error().context + " '" + stat_path(g, s) + "'"});
    }
    std::string path = stat_path(g, s);
    if (path.empty())
        return fail(Error::make(ENOENT, "no %d stat file", i));
    return read_file(path, kMaxStatBytes);
}

Result<Usage> Tree::usage(Group& g) {
    ++stat_reads_;
    if (mode_ == Mode::kNone || g.path.empty())
        return fail(Error::make(ENOTSUP, "no cgroup"));
    open_stat_fds(g);
    Usage u;
    // The member list doubles as the existence check: a removed group has no cgroup.procs.
    GAFFER_TRY(std::string procs, read_stat(g, Stat::kProcs));
    u.members = parse_procs(procs);
    if (auto t = read_stat(g, Stat::kCpuStat))
        u.cpu_usec = parse_cpu_stat(*t);
    if (auto t = read_stat(g, Stat::kMemCurrent))
        u.memory_bytes = parse_single_value(*t);
    if (auto t = read_stat(g, Stat::kMemPeak))
        u.memory_peak = parse_single_value(*t);
    if (auto t = read_stat(g, Stat::kMemStat))
        u.memory_anon = parse_memory_stat(*t, source_[idx(Controller::kMemory)] == Source::kV1).anon;
    if (auto t = read_stat(g, Stat::kMemEvents)) {
        auto kv = parse_flat_keyed(*t);
        if (auto it = kv.find("oom_kill"); it != kv.end())
            u.oom_kills = it->second;
    }
    if (auto t = read_stat(g, Stat::kPidsCurrent))
        u.pids = parse_single_value(*t);
    if (!u.pids)
        u.pids = u.members.size();
    return u;
}

bool Tree::oom_killed(Group& g) {
    if (mode_ == Mode::kNone || g.path.empty())
        return false;
    auto t = read_stat(g, Stat::kMemEvents);
    if (!t)
        return false;
    auto kv = parse_flat_keyed(*t);
    auto it = kv.find("oom_kill");
    return it != kv.end() && it->second > 0;
}

}  // namespace gaffer::cgroup
