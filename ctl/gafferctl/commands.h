// SPDX-License-Identifier: MIT
// gafferctl commands: the table the dispatcher in main.cc walks, and what each command
// needs to run.
//
// Each command sends one or a few requests through the HttpClient and prints either a
// human-readable answer (0.4 rule: an action prints `ok`, a count prints the number, a
// list prints one item per line) or, with --json, the raw JSON body. A command reports
// its own failures, once, as one `gafferctl: <what>: <why>` line on stderr, and returns
// the exit status: 0 success, 1 failure (transport, HTTP error status, bad input file),
// 2 usage error.
//
// Names shared by the 0.4 and HEAD command sets (start, stop, kill, pids, status, and the
// other 0.4 commands taking a name) pick their API from the argument: a name containing
// '.' or '/' (`sid.job`) or a number (internal pid) goes to the HEAD routes, a bare name
// to the 0.4 `/processes/<name>` routes (the job `default.<name>`).
#pragma once

#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl/client/answers.h"
#include "ctl/client/http_client.h"
#include "ctl/client/invocation.h"

namespace gaffer::ctl {

enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

struct OptionSpec {
    const char* name;      // long name, without "--"
    char short_name;       // 0 if none
    const char* arg_name;  // nullptr for a flag
    const char* help;
    bool repeatable = false;
};

using Invocation = client::Invocation;

struct Context {
    client::HttpClient* http = nullptr;
    bool json = false;  // print raw JSON bodies
    // --lookupd URLs in order (fleet commands; empty: the default lookupd).
    std::vector<std::string> lookupds;
    FILE* out = stdout;
    FILE* err = stderr;
};

struct Command {
    const char* name;
    const char* usage;    // arguments, after the command name
    const char* summary;  // one line for the command list
    const char* help;     // a paragraph for `help <command>`
    std::span<const OptionSpec> options;
    int min_args;
    int max_args;  // -1: no limit
    int (*run)(Context& ctx, const Command& cmd, const Invocation& inv);
    // Positionals may look like negative numbers ("-2" for scale); the parser keeps them.
    bool negative_args = false;
};

// `fleet ps` (fleet.cc): the processes of every node the lookupds know.
int cmd_fleet(Context& ctx, const Command& cmd, const Invocation& inv);

std::span<const Command> command_table();
const Command* find_command(std::string_view name);

// Prints "gafferctl: <cmd>: <message>" and the command's usage line; returns kExitUsage.
int usage_error(Context& ctx, const Command& cmd, const std::string& message);
// The usage line "gafferctl <name> <usage>".
std::string usage_line(const Command& cmd);

// Shared with the `gaffer` CLI (ctl/client/answers.h).
using client::http_error_text;
using client::is_pid;
using client::is_qualified;

}  // namespace gaffer::ctl
