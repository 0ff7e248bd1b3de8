// SPDX-License-Identifier: MIT
#include "ctl/gaffer/cli.h"

namespace gaffer::cli {

std::span<const Command> local_commands() {
    return {};
}

}  // namespace gaffer::cli
