// SPDX-License-Identifier: MIT
#include "lib/stats/proc_stats.h"

#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"

namespace gaffer::stats {

std::optional<ProcStat> parse_proc_stat(std::string_view t) {
    size_t open = t.find('(');
    size_t close = t.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return std::nullopt;
    ProcStat s;
    auto pid = parse_int(t.substr(0, open));
    if (!pid)
        return std::nullopt;
    s.pid = static_cast<pid_t>(*pid);
    s.comm = std::string(t.substr(open + 1, close - open - 1));
    auto f = split_any(t.substr(close + 1), " \n");
    // f[0] = state (field 3); utime is field 14 → f[11]; stime f[12]; nice f[16];
    // vsize f[20]; rss (pages) f[21].
    if (f.size() < 22)
        return std::nullopt;
    static const long ticks = sysconf(_SC_CLK_TCK);
    static const long page = sysconf(_SC_PAGESIZE);
    s.state = f[0].empty() ? '?' : f[0][0];
    s.ppid = static_cast<pid_t>(parse_int(f[1]).value_or(0));
    s.utime = static_cast<double>(parse_int(f[11]).value_or(0)) / static_cast<double>(ticks);
    s.stime = static_cast<double>(parse_int(f[12]).value_or(0)) / static_cast<double>(ticks);
    s.nice = static_cast<long>(parse_int(f[16]).value_or(0));
    s.vsize = static_cast<uint64_t>(parse_int(f[20]).value_or(0));
    s.rss = static_cast<uint64_t>(parse_int(f[21]).value_or(0)) * static_cast<uint64_t>(page);
    return s;
}

namespace {

uint64_t mem_total() {
    static uint64_t total = [] {
        auto text = read_file("/proc/meminfo");
        if (!text)
            return uint64_t{0};
        for (const auto& line : split_any(*text, "\n")) {
            if (starts_with(line, "MemTotal:")) {
                auto parts = split_any(line, " ");
                if (parts.size() >= 2)
                    return static_cast<uint64_t>(parse_int(parts[1]).value_or(0)) * 1024;
            }
        }
        return uint64_t{0};
    }();
    return total;
}

std::string user_name(uid_t uid) {
    static std::map<uid_t, std::string> cache;
    auto it = cache.find(uid);
    if (it != cache.end())
        return it->second;
    struct passwd pw, *res = nullptr;
    char buf[1024];
    std::string name = std::to_string(uid);
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
        name = res->pw_name;
    if (cache.size() < 1024)
        cache.emplace(uid, name);
    return name;
}

std::string basename_of(std::string_view s) {
    size_t slash = s.rfind('/');
    return std::string(slash == std::string_view::npos ? s : s.substr(slash + 1));
}

model::ProcessStats one(pid_t os_pid, const ProcStat* st) {
    model::ProcessStats s;
    s.os_pid = os_pid;
    std::string dir = "/proc/" + std::to_string(os_pid);
    if (st) {
        s.rss = st->rss;
        s.vms = st->vsize;
        s.cpu_time = st->utime + st->stime;
        s.nice = static_cast<int>(st->nice);
        s.mem = memory_percent(st->rss);
        s.cmdline = st->comm;
    }
    struct stat sb;
    if (::stat(dir.c_str(), &sb) == 0)
        s.username = user_name(sb.st_uid);
    auto cmd = read_file(dir + "/cmdline", 1 << 16);
    if (cmd && !cmd->empty())
        s.cmdline = basename_of(std::string_view(cmd->c_str()));
    return s;
}

// Descendants of `root`, from the children lists of every thread.
void collect_children(pid_t root, std::vector<pid_t>& out, int depth) {
    if (depth > 16 || out.size() > 4096)
        return;
    std::string task_dir = "/proc/" + std::to_string(root) + "/task";
    DIR* d = opendir(task_dir.c_str());
    if (!d)
        return;
    while (struct dirent* e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        auto kids = read_file(task_dir + "/" + e->d_name + "/children", 1 << 16);
        if (!kids)
            continue;
        for (const auto& k : split_any(*kids, " \n")) {
            if (auto pid = parse_int(k)) {
                out.push_back(static_cast<pid_t>(*pid));
                collect_children(static_cast<pid_t>(*pid), out, depth + 1);
            }
        }
    }
    closedir(d);
}

}  // namespace

std::optional<double> memory_percent(uint64_t bytes) {
    uint64_t total = mem_total();
    if (!total)
        return std::nullopt;
    return std::round(static_cast<double>(bytes) * 1000.0 / static_cast<double>(total)) / 10.0;
}

model::ProcessStats process_snapshot(pid_t os_pid) {
    auto text = read_file("/proc/" + std::to_string(os_pid) + "/stat", 4096);
    std::optional<ProcStat> st;
    if (text)
        st = parse_proc_stat(*text);
    return one(os_pid, st ? &*st : nullptr);
}

model::ProcessStats ProcSampler::sample(pid_t os_pid, std::chrono::steady_clock::time_point now) {
    auto text = read_file("/proc/" + std::to_string(os_pid) + "/stat", 4096);
    std::optional<ProcStat> st;
    if (text)
        st = parse_proc_stat(*text);
    model::ProcessStats s = one(os_pid, st ? &*st : nullptr);
    if (st) {
        double cpu = st->utime + st->stime;
        if (last_cpu_) {
            double dt = std::chrono::duration<double>(now - last_time_).count();
            s.cpu = dt > 0 ? std::round((cpu - *last_cpu_) * 1000.0 / dt) / 10.0 : 0.0;
        } else {
            s.cpu = 0.0;
        }
        last_cpu_ = cpu;
        last_time_ = now;
    }
    std::vector<pid_t> kids;
    collect_children(os_pid, kids, 0);
    for (pid_t k : kids) {
        auto kt = read_file("/proc/" + std::to_string(k) + "/stat", 4096);
        std::optional<ProcStat> ks;
        if (kt)
            ks = parse_proc_stat(*kt);
        auto c = one(k, ks ? &*ks : nullptr);
        c.cpu = 0.0;
        s.children.push_back(std::move(c));
    }
    return s;
}

std::string human_size(uint64_t bytes) {
    static const char* units = "KMGTPEZY";
    if (bytes < 1024)
        return std::to_string(bytes) + "B";
    // Integer division: floor(floor(b / 1024) / 1024) == floor(b / 1024^2), and no
    // rounding up near a unit boundary (a double rounds 2^64 - 1 up to 16E).
    uint64_t v = bytes;
    int k = 0;
    while (v >= 1024 && k < 8) {
        v /= 1024;
        ++k;
    }
    return std::to_string(v) + units[k - 1];
}

std::string format_ctime(double seconds) {
    if (!(seconds >= 0))
        seconds = 0;
    auto total_cs = static_cast<uint64_t>(std::llround(seconds * 100.0));
    uint64_t cs = total_cs % 100;
    uint64_t secs = total_cs / 100;
    uint64_t h = secs / 3600, m = (secs / 60) % 60, s = secs % 60;
    char buf[64];
    if (h > 0) {
        snprintf(buf, sizeof buf, "%llu:%02llu:%02llu.%02llu", static_cast<unsigned long long>(h),
                 static_cast<unsigned long long>(m), static_cast<unsigned long long>(s),
                 static_cast<unsigned long long>(cs));
    } else {
        snprintf(buf, sizeof buf, "%llu:%02llu.%02llu", static_cast<unsigned long long>(m),
                 static_cast<unsigned long long>(s), static_cast<unsigned long long>(cs));
    }
    return buf;
}

}  // namespace gaffer::stats
