// SPDX-License-Identifier: MIT
#include "ctl/gaffer/cli.h"

namespace gaffer::cli {

std::span<const Command> node_commands() {
    return {};
}

}  // namespace gaffer::cli
