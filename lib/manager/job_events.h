// SPDX-License-Identifier: MIT
// JobEvents: the names and messages of the events the manager publishes (reference §6.2)
// and their 0.4 aliases (§6.3). The manager decides *when* something happened; this file
// alone decides what the event is called and which members its message carries, so the
// catalogue of §6.2 can be read (and tested) in one place.
//
// The pure part (type names, alias names, payloads) makes no call on the bus and is
// unit-tested against the reference's tables. JobEvents publishes: every event under its
// HEAD type, plus its 0.4 aliases for subscribers that named them (an "every event"
// subscriber gets each event once, under its HEAD name).
//
// Every message carries `name` (the qualified job name); the bus sets `event`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/events/event_bus.h"
#include "lib/json/json.h"
#include "lib/model/job_spec.h"

namespace gaffer::manager {

// ---- names ----
// The 0.4 template name of a job: its name in the default session, else "session:job".
std::string template_name(const model::JobName& name);
// "job.<session>.<job>.<event>".
std::string job_event_type(const model::JobName& name, std::string_view event);
// "proc.<pid>.<event>".
std::string proc_event_type(int pid, std::string_view event);
// The 0.4 names (§6.3) an event of HEAD `type` about job `name` is also published under,
// in publication order: load → create, unload → delete, stop_process → stop_pid and
// proc.<template>.stop_pid, job.<sid>.<job>.{start,stop,spawn,reap,exit} →
// proc.<template>.<event>. Empty for every other type (whose 0.4 name is the HEAD one).
std::vector<std::string> aliases_04(std::string_view type, const model::JobName& name);

// ---- messages ----
// {"name": <qualified>}, and {"name": ..., <key>: <value>} (stop_process, the kills).
json::JsonPtr job_message(const model::JobName& name);
json::JsonPtr job_message(const model::JobName& name, const char* key, long long value);
// A process event (spawn, reap, watchdog, ready_timeout): name, pid, os_pid.
json::JsonPtr process_message(const model::JobName& name, int pid, int os_pid);

// An exit as the three exit events report it.
struct ExitReport {
    int pid = 0;
    int os_pid = 0;
    int exit_status = 0;
    int term_signal = 0;
    bool once = false;  // a committed process
    bool oom = false;   // killed by the OOM killer: "reason": "oom"
};
json::JsonPtr exit_message(const model::JobName& name, const ExitReport& exit);
// spawn_error: name, pid, stage, errno, reason (strerror).
json::JsonPtr spawn_error_message(const model::JobName& name, int pid, std::string_view stage, int err);

// ---- publishing ----
class JobEvents {
public:
    explicit JobEvents(events::EventBus& bus) : bus_(bus) {}

    // One job event with only `name`: load, unload, update, flap.
    void job(std::string_view event, const model::JobName& name);
    // start or stop: the global event, then job.<sid>.<job>.<event>; `reason` (e.g.
    // "flapping") is added to both when given.
    void job_pair(std::string_view event, const model::JobName& name, const char* reason = nullptr);
    // spawn, and job.<sid>.<job>.spawn unless the process is a committed one.
    void spawned(const model::JobName& name, int pid, int os_pid, bool committed);
    void spawn_error(const model::JobName& name, int pid, std::string_view stage, int err);
    // A process event with pid and os_pid under a global type (watchdog, ready_timeout).
    void process(std::string_view event, const model::JobName& name, int pid, int os_pid);
    // stop_process: a process is being stopped.
    void stopping(const model::JobName& name, int pid);
    // reap, job.<sid>.<job>.reap, proc.<pid>.reap.
    void reaped(const model::JobName& name, int pid, int os_pid);
    // exit, job.<sid>.<job>.exit, proc.<pid>.exit.
    void exited(const model::JobName& name, const ExitReport& exit);
    // job.<sid>.<job>.kill (job-wide signal) and proc.<pid>.kill (one process).
    void job_killed(const model::JobName& name, int signum);
    void process_killed(const model::JobName& name, int pid);

private:
    void publish(std::string type, const model::JobName& name, json::JsonPtr msg);
    events::EventBus& bus_;
};

}  // namespace gaffer::manager
