// SPDX-License-Identifier: MIT
// Console output of `gafferd -v/-vv` (reference §12.3): event lines
// "HH:MM:SS <name> | <text>" and, with -vv, every event and every line of process
// output as "HH:MM:SS <name>.<pid> | <line>". One colour per job when stdout is a tty.
#pragma once

#include <map>
#include <string>

#include "lib/console/writer.h"
#include "lib/events/event_bus.h"
#include "lib/manager/manager.h"

namespace gaffer::console {

class EventConsole {
public:
    // verbosity 1: process events; 2: every event plus process output. Lines go to
    // stdout through a ConsoleWriter (never a blocking write on the loop; a stdout that
    // does not keep up loses lines, counted and announced: gafferd's processes never wait
    // for its console).
    EventConsole(loop::Loop& loop, events::EventBus& bus, manager::Manager& manager, int verbosity);
    ~EventConsole();

private:
    void on_event(const std::string& type, const json_t* msg);
    void on_output(const manager::OutputChunk& chunk);
    void print(const std::string& job, const std::string& name, const std::string& text);
    int colour_index(const std::string& job);

    events::EventBus& bus_;
    manager::Manager& manager_;
    ConsoleWriter out_;
    events::EventBus::SubId sub_ = 0;
    int verbosity_;
    bool tty_;
    std::map<std::string, int> colours_;
    std::map<std::pair<int, std::string>, std::string> partial_;  // unfinished output lines
};

}  // namespace gaffer::console
