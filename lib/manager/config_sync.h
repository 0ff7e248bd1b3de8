// SPDX-License-Identifier: MIT
// ConfigSync: applies the jobs of a config file to the manager, and on SIGHUP only the
// difference with the previous file (reference §10.5, gafferd's rule): jobs added to the
// file are loaded (honouring `start`), jobs removed from it are unloaded, jobs whose
// config changed are updated as by PUT with start=false, unchanged jobs are left alone.
// Jobs loaded through the API are never touched: only names that came from a file are
// tracked here.
#pragma once

#include <map>
#include <vector>

#include "lib/manager/manager.h"

namespace gaffer::manager {

struct SyncReport {
    int loaded = 0, updated = 0, unloaded = 0, unchanged = 0;
    std::vector<std::string> errors;  // per-job failures; the other jobs were applied
};

class ConfigSync {
public:
    explicit ConfigSync(Manager& manager) : manager_(manager) {}
    // `jobs` in load order (ascending priority).
    SyncReport apply(const std::vector<model::JobSpec>& jobs);

private:
    Manager& manager_;
    std::map<model::JobName, model::JobSpec> current_;
};

}  // namespace gaffer::manager
