// SPDX-License-Identifier: MIT
#include "ctl/gaffer/cli.h"

namespace gaffer::cli {

std::span<const Command> node_commands() {
    return {};
}

}  // namespace gaffer::cli
namespace gaffer::cli {
int run_on_node(Session& s, const Invocation&) {
    return s.fail("run <job>: node commands are not in this build yet");
}
}  // namespace gaffer::cli
