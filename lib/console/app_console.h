// SPDX-License-Identifier: MIT
// AppConsole: the console of `gaffer start` (issue 14), foreman style. Every line a
// process writes is printed as
//     HH:MM:SS web.1    | text
// (local time, the process name `type.N` padded to the longest name seen, N its slot),
// the whole line in the colour of its process type (reference §12.3's palette, types
// coloured in Procfile order) when colour is on. Lifecycle lines (started, exited,
// flapping, failed to start) use the same prefix; lines about the app as a whole use
// "system".
//
// Output is read as it arrives: complete lines at once; a partial line (no newline yet)
// is printed after kPartialDelay of silence from that stream, so a prompt or a progress
// dot shows up without waiting for a newline; what follows it starts a new line. A line
// is printed as written (trailing CR removed; leading blanks kept: indentation of stack
// traces matters), empty lines included; a line longer than kMaxLine is cut in pieces.
//
// Lines go out through a ConsoleWriter (lib/console/writer.h): never a blocking write on
// the loop; a terminal that stops reading loses lines on screen (counted and announced),
// never the supervision.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "lib/console/writer.h"
#include "lib/events/event_bus.h"
#include "lib/loop/loop.h"
#include "lib/manager/manager.h"

namespace gaffer::console {

struct AppConsoleStyle {
    bool colour = false;
    bool prefix = true;
    bool timestamp = true;
};

class AppConsole {
public:
    static constexpr std::chrono::milliseconds kPartialDelay{40};
    static constexpr size_t kMaxLine = 64 * 1024;

    // `types`: the process types in Procfile order (their colours); `names`: the process
    // names planned at start, for the padding.
    // `out_fd`: where the lines go (stdout), borrowed.
    AppConsole(loop::Loop& loop, events::EventBus& bus, manager::Manager& manager, AppConsoleStyle style, int out_fd,
               const std::vector<std::string>& types, const std::vector<std::string>& names);
    ~AppConsole();
    AppConsole(const AppConsole&) = delete;
    AppConsole& operator=(const AppConsole&) = delete;

    // A line under the "system" name.
    void system(const std::string& text);
    // Prints every partial line now (before exiting).
    void flush();

private:
    struct Stream {
        std::string partial;
        loop::Loop::TimerId timer = 0;
    };
    void on_event(const std::string& type, const json_t* msg);
    void on_output(const manager::OutputChunk& chunk);
    void flush_partial(std::pair<int, std::string> key);
    // The name of internal pid `pid` of job `job`: "type.N".
    const std::string& name_of(int pid, const std::string& type);
    void print(const std::string& type, const std::string& name, std::string_view text);

    loop::Loop& loop_;
    events::EventBus& bus_;
    manager::Manager& manager_;
    AppConsoleStyle style_;
    ConsoleWriter out_;
    time_t clock_second_ = 0;  // the second clock_ shows
    std::string clock_;
    events::EventBus::SubId sub_ = 0;
    size_t width_ = 6;  // strlen("system")
    std::map<std::string, int> colours_;
    std::map<int, std::string> names_;  // internal pid -> "type.N", while it may print
    std::map<std::pair<int, std::string>, Stream> streams_;
};

}  // namespace gaffer::console
