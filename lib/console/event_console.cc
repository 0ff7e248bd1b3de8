// SPDX-License-Identifier: MIT
#include "lib/console/event_console.h"

#include <unistd.h>

#include <cstdio>

#include "lib/base/strutil.h"
#include "lib/console/line.h"

namespace gaffer::console {

namespace {
constexpr size_t kMaxPartial = 64 * 1024;  // a line longer than this is printed in pieces
constexpr size_t kMaxPending = 1 << 20;    // console bytes waiting for stdout
}  // namespace

EventConsole::EventConsole(loop::Loop& loop, events::EventBus& bus, manager::Manager& manager, int verbosity)
    : bus_(bus),
      manager_(manager),
      out_(loop, STDOUT_FILENO, kMaxPending),
      verbosity_(verbosity),
      tty_(isatty(STDOUT_FILENO) == 1) {
    sub_ = bus_.subscribe(".", [this](const std::string& type, const json_t* msg) { on_event(type, msg); });
    if (verbosity_ >= 2)
        manager.set_output_handler([this](const manager::OutputChunk& c) { on_output(c); });
}

EventConsole::~EventConsole() {
    if (verbosity_ >= 2)
        manager_.set_output_handler(nullptr);
    bus_.unsubscribe(sub_);
}

int EventConsole::colour_index(const std::string& job) {
    auto it = colours_.find(job);
    if (it == colours_.end())
        it = colours_.emplace(job, static_cast<int>(colours_.size() % 12)).first;
    return it->second;
}

void EventConsole::print(const std::string& job, const std::string& name, const std::string& text) {
    std::string line = clock_text() + " " + name + " | " + text;
    // Round-robin over six colours, then their bright variants (§12.3).
    line = coloured(tty_ ? colour_index(job) : -1, line);
    line += '\n';
    out_.write(line);
}

void EventConsole::on_event(const std::string& type, const json_t* msg) {
    static const char* kDefault[] = {"start", "stop", "spawn", "reap", "exit", "stop_process", "flap", "spawn_error"};
    bool shown = verbosity_ >= 2;
    for (const char* d : kDefault) shown = shown || type == d;
    if (!shown)
        return;
    const char* name = json_string_value(json_object_get(msg, "name"));
    json_t* pid = json_object_get(msg, "pid");
    std::string text;
    if (type == "spawn") {
        text = "spawn process with pid " + std::to_string(json_integer_value(pid));
    } else if (pid && json_is_integer(pid)) {
        text = type + " process with pid " + std::to_string(json_integer_value(pid));
        if (type == "exit") {
            text += " (status " + std::to_string(json_integer_value(json_object_get(msg, "exit_status"))) +
                    ", signal " + std::to_string(json_integer_value(json_object_get(msg, "term_signal"))) + ")";
        }
        if (type == "spawn_error") {
            const char* stage = json_string_value(json_object_get(msg, "stage"));
            const char* reason = json_string_value(json_object_get(msg, "reason"));
            text += std::string(": ") + (stage ? stage : "") + " stage: " + (reason ? reason : "");
        }
    } else {
        text = type + " " + (name ? name : "");
    }
    print(name ? name : "gafferd", name ? name : "gafferd", text);
}

void EventConsole::on_output(const manager::OutputChunk& c) {
    // Output arrives in pipe-sized chunks; print whole lines, stripped, empty ones dropped.
    auto key = std::make_pair(c.pid, c.label);
    std::string& buf = partial_[key];
    buf.append(c.data.data(), c.data.size());
    std::string prefix = c.job.qualified() + "." + std::to_string(c.pid);
    size_t start = 0;
    for (;;) {
        size_t nl = buf.find('\n', start);
        if (nl == std::string::npos)
            break;
        auto line = trim(std::string_view(buf).substr(start, nl - start));
        if (!line.empty())
            print(c.job.qualified(), prefix, std::string(line));
        start = nl + 1;
    }
    buf.erase(0, start);
    if (buf.size() > kMaxPartial) {
        print(c.job.qualified(), prefix, std::string(trim(buf)));
        buf.clear();
    }
    if (buf.empty())
        partial_.erase(key);
}

}  // namespace gaffer::console
