// SPDX-License-Identifier: MIT
#include "lib/console/app_console.h"

#include <string.h>

#include "lib/console/line.h"

namespace gaffer::console {

namespace {
constexpr size_t kMaxNames = 4096;  // names of exited processes kept for late output

std::string_view without_cr(std::string_view line) {
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    return line;
}

std::string exit_text(const json_t* msg) {
    int status = static_cast<int>(json_integer_value(json_object_get(msg, "exit_status")));
    int sig = static_cast<int>(json_integer_value(json_object_get(msg, "term_signal")));
    if (sig) {
        const char* abbrev = sigabbrev_np(sig);
        return abbrev ? std::string("terminated by SIG") + abbrev : "terminated by signal " + std::to_string(sig);
    }
    return "exited with code " + std::to_string(status);
}

// "app.web" -> "web".
std::string type_of(const char* qualified) {
    std::string_view q = qualified ? qualified : "";
    size_t dot = q.find('.');
    return std::string(dot == std::string_view::npos ? q : q.substr(dot + 1));
}
}  // namespace

AppConsole::AppConsole(loop::Loop& loop, events::EventBus& bus, manager::Manager& manager, AppConsoleStyle style,
                       int out_fd, const std::vector<std::string>& types, const std::vector<std::string>& names)
    : loop_(loop), bus_(bus), manager_(manager), style_(style), out_(loop, out_fd) {
    for (const auto& t : types) colours_.emplace(t, static_cast<int>(colours_.size() % 12));
    for (const auto& n : names) width_ = std::max(width_, n.size());
    sub_ = bus_.subscribe(".", [this](const std::string& type, const json_t* msg) { on_event(type, msg); });
    manager_.set_output_handler([this](const manager::OutputChunk& c) { on_output(c); });
    // A reader that falls behind pauses the children's output instead of losing it.
    out_.set_pressure_handler([this](bool behind) { manager_.pause_output(behind); });
}

AppConsole::~AppConsole() {
    flush();
    out_.set_pressure_handler(nullptr);
    manager_.pause_output(false);
    manager_.set_output_handler(nullptr);
    bus_.unsubscribe(sub_);
}

void AppConsole::print(const std::string& type, const std::string& name, std::string_view text) {
    std::string line;
    if (style_.prefix) {
        if (style_.timestamp) {
            time_t now = time(nullptr);
            if (now != clock_second_) {
                clock_second_ = now;
                clock_ = clock_text();
            }
            line = clock_ + " ";
        }
        line += name;
        if (name.size() < width_)
            line.append(width_ - name.size(), ' ');
        line += " | ";
    }
    line += text;
    if (style_.colour) {
        auto it = colours_.find(type);
        line = coloured(it == colours_.end() ? -1 : it->second, line);
    }
    line += '\n';
    out_.write(line);
}

void AppConsole::system(const std::string& text) {
    print("", "system", text);
}

const std::string& AppConsole::name_of(int pid, const std::string& type) {
    auto it = names_.find(pid);
    if (it != names_.end())
        return it->second;
    std::string name = type + ".";
    auto info = manager_.process_info(pid);
    name += std::to_string(info && info->slot > 0 ? info->slot : pid);
    width_ = std::max(width_, name.size());
    if (names_.size() >= kMaxNames)
        names_.erase(names_.begin());  // the oldest internal pid
    return names_.emplace(pid, std::move(name)).first->second;
}

void AppConsole::on_event(const std::string& type, const json_t* msg) {
    const char* job = json_string_value(json_object_get(msg, "name"));
    if (!job)
        return;
    std::string ptype = type_of(job);
    const json_t* jpid = json_object_get(msg, "pid");
    int pid = json_is_integer(jpid) ? static_cast<int>(json_integer_value(jpid)) : 0;
    if (type == "spawn" && pid) {
        print(ptype, name_of(pid, ptype),
              "started with pid " + std::to_string(json_integer_value(json_object_get(msg, "os_pid"))));
    } else if (type == "exit" && pid) {
        print(ptype, name_of(pid, ptype), exit_text(msg));
    } else if (type == "spawn_error" && pid) {
        const char* stage = json_string_value(json_object_get(msg, "stage"));
        const char* reason = json_string_value(json_object_get(msg, "reason"));
        print(ptype, name_of(pid, ptype),
              std::string("failed to start (") + (stage ? stage : "?") + "): " + (reason ? reason : "?"));
    } else if (type == "flap") {
        print(ptype, ptype, "flapping: restarted too often, waiting before the next try");
    } else if (type == "stop") {
        const char* reason = json_string_value(json_object_get(msg, "reason"));
        if (reason)
            print(ptype, ptype, std::string("stopped (") + reason + ")");
    }
}

void AppConsole::on_output(const manager::OutputChunk& c) {
    const std::string& type = c.job.job;
    auto key = std::make_pair(c.pid, c.label);
    Stream& s = streams_[key];
    const std::string& name = name_of(c.pid, type);
    std::string_view data = c.data;
    if (!s.partial.empty()) {
        // Complete the waiting line first.
        size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
            s.partial.append(data);
            data = {};
        } else {
            s.partial.append(data.substr(0, nl));
            print(type, name, without_cr(s.partial));
            s.partial.clear();
            data.remove_prefix(nl + 1);
        }
    }
    while (!data.empty()) {
        size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
            s.partial.assign(data);
            break;
        }
        print(type, name, without_cr(data.substr(0, nl)));
        data.remove_prefix(nl + 1);
    }
    while (s.partial.size() >= kMaxLine) {
        print(type, name, std::string_view(s.partial).substr(0, kMaxLine));
        s.partial.erase(0, kMaxLine);
    }
    if (s.timer) {
        loop_.cancel_timer(s.timer);
        s.timer = 0;
    }
    if (s.partial.empty()) {
        streams_.erase(key);
        return;
    }
    s.timer = loop_.add_timer(kPartialDelay, [this, key] { flush_partial(key); });
}

void AppConsole::flush_partial(std::pair<int, std::string> key) {
    auto it = streams_.find(key);
    if (it == streams_.end())
        return;
    it->second.timer = 0;
    auto n = names_.find(key.first);
    std::string type;
    std::string name = n != names_.end() ? n->second : std::to_string(key.first);
    if (size_t dot = name.rfind('.'); dot != std::string::npos)
        type = name.substr(0, dot);
    std::string text = std::move(it->second.partial);
    streams_.erase(it);
    print(type, name, without_cr(text));
}

void AppConsole::flush() {
    while (!streams_.empty()) {
        auto key = streams_.begin()->first;
        if (streams_.begin()->second.timer)
            loop_.cancel_timer(streams_.begin()->second.timer);
        flush_partial(key);
    }
}

}  // namespace gaffer::console
