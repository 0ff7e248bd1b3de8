// SPDX-License-Identifier: MIT
#include "lib/manager/job_events.h"

#include <cstring>

namespace gaffer::manager {

using json::JsonPtr;
using model::JobName;

namespace {

JsonPtr jint(long long v) {
    return JsonPtr(json_integer(v));
}

}  // namespace

std::string template_name(const JobName& name) {
    return name.session == "default" ? name.job : name.session + ":" + name.job;
}

std::string job_event_type(const JobName& name, std::string_view event) {
    std::string type = "job." + name.qualified() + ".";
    type += event;
    return type;
}

std::string proc_event_type(int pid, std::string_view event) {
    std::string type = "proc." + std::to_string(pid) + ".";
    type += event;
    return type;
}

std::vector<std::string> aliases_04(std::string_view type, const JobName& name) {
    if (type == "load")
        return {"create"};
    if (type == "unload")
        return {"delete"};
    if (type == "stop_process")
        return {"stop_pid", "proc." + template_name(name) + ".stop_pid"};
    std::string prefix = job_event_type(name, "");
    if (type.substr(0, prefix.size()) != prefix)
        return {};
    std::string_view ev = type.substr(prefix.size());
    if (ev != "start" && ev != "stop" && ev != "spawn" && ev != "reap" && ev != "exit")
        return {};
    std::string alias = "proc." + template_name(name) + ".";
    alias += ev;
    return {std::move(alias)};
}

JsonPtr job_message(const JobName& name) {
    JsonPtr msg(json_object());
    json::set(msg.get(), "name", json::str(name.qualified()));
    return msg;
}

JsonPtr job_message(const JobName& name, const char* key, long long value) {
    JsonPtr msg = job_message(name);
    json::set(msg.get(), key, jint(value));
    return msg;
}

JsonPtr process_message(const JobName& name, int pid, int os_pid) {
    JsonPtr msg = job_message(name, "pid", pid);
    json::set(msg.get(), "os_pid", jint(os_pid));
    return msg;
}

JsonPtr exit_message(const JobName& name, const ExitReport& exit) {
    JsonPtr msg = process_message(name, exit.pid, exit.os_pid);
    json::set(msg.get(), "exit_status", jint(exit.exit_status));
    json::set(msg.get(), "term_signal", jint(exit.term_signal));
    json::set(msg.get(), "once", JsonPtr(json_boolean(exit.once)));
    if (exit.oom)
        json::set(msg.get(), "reason", json::str("oom"));
    return msg;
}

JsonPtr spawn_error_message(const JobName& name, int pid, std::string_view stage, int err) {
    JsonPtr msg = job_message(name, "pid", pid);
    json::set(msg.get(), "stage", json::str(stage));
    json::set(msg.get(), "errno", jint(err));
    json::set(msg.get(), "reason", json::str(strerror(err)));
    return msg;
}

void JobEvents::publish(std::string type, const JobName& name, JsonPtr msg) {
    // The aliases go first, as copies: the bus sets "event" on the message it is given.
    for (auto& alias : aliases_04(type, name))
        if (bus_.wanted(alias, true))
            bus_.publish_to_named(std::move(alias), JsonPtr(json_deep_copy(msg.get())));
    bus_.publish(std::move(type), std::move(msg));
}

void JobEvents::job(std::string_view event, const JobName& name) {
    publish(std::string(event), name, job_message(name));
}

void JobEvents::job_pair(std::string_view event, const JobName& name, const char* reason) {
    for (std::string type : {std::string(event), job_event_type(name, event)}) {
        JsonPtr msg = job_message(name);
        if (reason)
            json::set(msg.get(), "reason", json::str(reason));
        publish(std::move(type), name, std::move(msg));
    }
}

void JobEvents::spawned(const JobName& name, int pid, int os_pid, bool committed) {
    publish("spawn", name, process_message(name, pid, os_pid));
    if (!committed)
        publish(job_event_type(name, "spawn"), name, process_message(name, pid, os_pid));
}

void JobEvents::spawn_error(const JobName& name, int pid, std::string_view stage, int err) {
    publish("spawn_error", name, spawn_error_message(name, pid, stage, err));
}

void JobEvents::process(std::string_view event, const JobName& name, int pid, int os_pid) {
    publish(std::string(event), name, process_message(name, pid, os_pid));
}

void JobEvents::stopping(const JobName& name, int pid) {
    publish("stop_process", name, job_message(name, "pid", pid));
}

void JobEvents::reaped(const JobName& name, int pid, int os_pid) {
    for (std::string type : {std::string("reap"), job_event_type(name, "reap"), proc_event_type(pid, "reap")})
        publish(std::move(type), name, process_message(name, pid, os_pid));
}

void JobEvents::exited(const JobName& name, const ExitReport& exit) {
    for (std::string type : {std::string("exit"), job_event_type(name, "exit"), proc_event_type(exit.pid, "exit")})
        publish(std::move(type), name, exit_message(name, exit));
}

void JobEvents::job_killed(const JobName& name, int signum) {
    publish(job_event_type(name, "kill"), name, job_message(name, "signum", signum));
}

void JobEvents::process_killed(const JobName& name, int pid) {
    publish(proc_event_type(pid, "kill"), name, job_message(name, "pid", pid));
}

}  // namespace gaffer::manager
