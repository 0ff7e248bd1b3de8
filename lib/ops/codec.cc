// SPDX-License-Identifier: MIT
// JSON shapes of the gaffer HTTP API; see codec.h.
#include "lib/ops/codec.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

namespace gaffer::ops {

namespace {

json::JsonPtr na() {
    return json::take(json_string("N/A"));
}

double round1(double v) {
    return std::round(v * 10.0) / 10.0;
}

json::JsonPtr number_or_na(const std::optional<double>& v) {
    if (!v || !std::isfinite(*v))
        return na();
    return json::take(json_real(round1(*v)));
}

json::JsonPtr env_object(const model::Env& env) {
    json::JsonPtr o = json::take(json_object());
    for (const auto& [k, v] : env) json::set(o.get(), k.c_str(), json::str(v));
    return o;
}

json::JsonPtr opt_id(const std::optional<unsigned>& v) {
    if (!v)
        return json::take(json_null());
    return json::take(json_integer(static_cast<json_int_t>(*v)));
}

}  // namespace

std::string human_size(uint64_t bytes) {
    static const char kUnits[] = "KMGTPEZY";
    if (bytes < 1024)
        return std::to_string(bytes) + "B";
    int k = -1;
    uint64_t v = bytes;
    // Largest unit whose size is <= the value: divide while at least 1024 remain.
    while (v >= 1024 && k < 7) {
        v /= 1024;
        ++k;
    }
    return std::to_string(v) + kUnits[k];
}

std::string format_ctime(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0)
        seconds = 0;
    // Hundredths, truncated: a process never shows more CPU time than it used.
    auto total = static_cast<unsigned long long>(seconds * 100.0 + 1e-6);
    unsigned long long cc = total % 100;
    unsigned long long secs = total / 100;
    unsigned long long s = secs % 60;
    unsigned long long m = (secs / 60) % 60;
    unsigned long long h = secs / 3600;
    char buf[64];
    if (h > 0) {
        snprintf(buf, sizeof buf, "%llu:%02llu:%02llu.%02llu", h, m, s, cc);
    } else {
        snprintf(buf, sizeof buf, "%llu:%02llu.%02llu", m, s, cc);
    }
    return buf;
}

json::JsonPtr encode_config(const std::string& config_json, std::string_view short_name) {
    json::JsonPtr cfg;
    if (!config_json.empty()) {
        auto parsed = json::parse(config_json);
        if (parsed && json_is_object(parsed->get()))
            cfg = std::move(*parsed);
    }
    if (!cfg)
        cfg = json::take(json_object());
    if (!json_object_get(cfg.get(), "name")) {
        // Keep "name" first, as the client usually sends it.
        json::JsonPtr with_name = json::take(json_object());
        json::set(with_name.get(), "name", json::str(short_name));
        json_object_update(with_name.get(), cfg.get());
        cfg = std::move(with_name);
    }
    (void)json_object_del(cfg.get(), "start");
    (void)json_object_del(cfg.get(), "custom_channels");
    return cfg;
}

json::JsonPtr encode_job_info(const model::JobInfo& info) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "name", json::str(info.name.qualified()));
    json::set(o.get(), "active", json::take(json_boolean(info.active)));
    json::set(o.get(), "running", json::take(json_integer(info.running)));
    json::set(o.get(), "running_out", json::take(json_integer(info.running_out)));
    json::set(o.get(), "max_processes", json::take(json_integer(info.max_processes)));
    json::set(o.get(), "processes", json::ints(info.processes));
    json::set(o.get(), "config", encode_config(info.config_json, info.name.job));
    return o;
}

json::JsonPtr encode_process_info(const model::ProcessInfo& p) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "pid", json::take(json_integer(p.pid)));
    json::set(o.get(), "name", json::str(p.job.qualified()));
    json::set(o.get(), "cmd", json::str(p.cmd));
    json::set(o.get(), "args", p.args ? json::strings(*p.args) : json::take(json_array()));
    json::set(o.get(), "env", p.env ? env_object(*p.env) : json::take(json_object()));
    json::set(o.get(), "uid", opt_id(p.uid ? std::optional<unsigned>(*p.uid) : std::nullopt));
    json::set(o.get(), "gid", opt_id(p.gid ? std::optional<unsigned>(*p.gid) : std::nullopt));
    json::set(o.get(), "os_pid", json::take(json_integer(p.os_pid)));
    json::set(o.get(), "create_time", json::take(json_real(p.create_time)));
    json::set(o.get(), "commited", json::take(json_boolean(p.commited)));
    json::set(o.get(), "slot", json::take(json_integer(p.slot)));
    json::set(o.get(), "redirect_output", json::strings(p.redirect_output));
    json::set(o.get(), "redirect_input", json::take(json_boolean(p.redirect_input)));
    json::set(o.get(), "custom_streams", json::strings(p.custom_streams));
    json::set(o.get(), "active", json::take(json_boolean(p.active)));
    return o;
}

json::JsonPtr encode_process_entry(const model::ProcessInfo& p) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "pid", json::take(json_integer(p.pid)));
    json::set(o.get(), "os_pid", json::take(json_integer(p.os_pid)));
    json::set(o.get(), "name", json::str(p.job.qualified()));
    json::set(o.get(), "state", json::str(model::to_string(p.state)));
    json::set(o.get(), "create_time", json::take(json_real(p.create_time)));
    json::set(o.get(), "commited", json::take(json_boolean(p.commited)));
    json::set(o.get(), "restarts", json::take(json_integer(p.restarts)));
    json::set(o.get(), "slot", json::take(json_integer(p.slot)));
    return o;
}

json::JsonPtr encode_process_list(const std::vector<model::ProcessInfo>& ps) {
    json::JsonPtr arr = json::take(json_array());
    for (const auto& p : ps) json_array_append_new(arr.get(), encode_process_entry(p).release());
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "processes", std::move(arr));
    return o;
}

json::JsonPtr encode_process_stats(const model::ProcessStats& s) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "mem_info1", s.rss ? json::str(human_size(*s.rss)) : na());
    json::set(o.get(), "mem_info2", s.vms ? json::str(human_size(*s.vms)) : na());
    json::set(o.get(), "cpu", number_or_na(s.cpu));
    json::set(o.get(), "mem", number_or_na(s.mem));
    json::set(o.get(), "ctime", s.cpu_time ? json::str(format_ctime(*s.cpu_time)) : na());
    json::set(o.get(), "username", json::str(s.username));
    json::set(o.get(), "nice", json::take(json_integer(s.nice)));
    json::set(o.get(), "cmdline", json::str(s.cmdline));
    json::JsonPtr children = json::take(json_array());
    for (const auto& c : s.children) {
        json::JsonPtr co = encode_process_stats(c);
        json::set(co.get(), "pid", json::take(json_integer(c.os_pid)));
        json_array_append_new(children.get(), co.release());
    }
    json::set(o.get(), "children", std::move(children));
    return o;
}

json::JsonPtr encode_process_stats_entry(const model::ProcessStats& s, StatsFlavor flavor) {
    json::JsonPtr o = encode_process_stats(s);
    if (flavor == StatsFlavor::kHead) {
        json::set(o.get(), "pid", json::take(json_integer(s.pid)));
        json::set(o.get(), "os_pid", json::take(json_integer(s.os_pid)));
    } else {
        json::set(o.get(), "id", json::take(json_integer(s.pid)));
        json::set(o.get(), "pid", json::take(json_integer(s.os_pid)));
    }
    return o;
}

json::JsonPtr encode_job_stats(std::string_view name, const std::vector<model::ProcessStats>& stats,
                               StatsFlavor flavor) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "name", json::str(name));
    json::JsonPtr arr = json::take(json_array());
    bool complete = !stats.empty();
    double mem = 0, cpu = 0, max_mem = 0, min_mem = 0, max_cpu = 0, min_cpu = 0;
    bool first = true;
    for (const auto& s : stats) {
        json_array_append_new(arr.get(), encode_process_stats_entry(s, flavor).release());
        if (!s.mem || !s.cpu || !std::isfinite(*s.mem) || !std::isfinite(*s.cpu)) {
            complete = false;
            continue;
        }
        double m = round1(*s.mem), c = round1(*s.cpu);
        mem += m;
        cpu += c;
        if (first) {
            max_mem = min_mem = m;
            max_cpu = min_cpu = c;
            first = false;
        } else {
            max_mem = std::max(max_mem, m);
            min_mem = std::min(min_mem, m);
            max_cpu = std::max(max_cpu, c);
            min_cpu = std::min(min_cpu, c);
        }
    }
    json::set(o.get(), "stats", std::move(arr));
    auto agg = [&](const char* key, double v) {
        json::set(o.get(), key, complete ? json::take(json_real(round1(v))) : na());
    };
    agg("mem", mem);
    agg("max_mem", max_mem);
    agg("min_mem", min_mem);
    agg("cpu", cpu);
    agg("max_cpu", max_cpu);
    agg("min_cpu", min_cpu);
    return o;
}

std::string compat_name(const model::JobName& name) {
    if (name.session == "default")
        return name.job;
    return name.session + ":" + name.job;
}

model::JobName parse_compat_name(std::string_view name) {
    auto colon = name.find(':');
    if (colon != std::string_view::npos) {
        return model::JobName{std::string(name.substr(0, colon)), std::string(name.substr(colon + 1))};
    }
    if (name.find('.') != std::string_view::npos)
        return model::JobName::parse(name);
    return model::JobName{"default", std::string(name)};
}

}  // namespace gaffer::ops
