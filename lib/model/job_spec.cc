// SPDX-License-Identifier: MIT
#include "lib/model/job_spec.h"

namespace gaffer::model {

JobName JobName::parse(std::string_view q) {
    JobName n;
    size_t dot = q.find('.');
    if (dot == std::string_view::npos)
        dot = q.find('/');
    if (dot == std::string_view::npos) {
        n.job = std::string(q);
    } else {
        n.session = std::string(q.substr(0, dot));
        n.job = std::string(q.substr(dot + 1));
    }
    return n;
}

const char* to_string(ProcState s) {
    switch (s) {
        case ProcState::kStarting:
            return "starting";
        case ProcState::kRunning:
            return "running";
        case ProcState::kStopping:
            return "stopping";
        case ProcState::kExited:
            return "exited";
    }
    return "unknown";
}

}  // namespace gaffer::model
