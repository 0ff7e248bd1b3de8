// SPDX-License-Identifier: MIT
// ConfigSync: applies the jobs of a config file to the manager, and on SIGHUP only the
// difference with the previous file (reference §10.5, gafferd's rule): jobs added to the
// file are loaded (honouring `start`), jobs removed from it are unloaded, jobs whose
// config changed are updated as by PUT with start=false, unchanged jobs are left alone.
// Jobs loaded through the API are never touched: only names that came from a file are
// tracked here.
//
// A job option removed from the file returns to its default: the update carries the
// whole new config, and a changed `numprocesses` sets the target exactly (a PUT keeps
// max(new, current); the file says how many, while a scaling through the API survives
// reloads that do not change the file's `numprocesses`).
//
// The file's jobs alone must fit the manager's limits (max_jobs, max_config_bytes);
// otherwise nothing is applied. Jobs loaded through the API count too: a file job that
// does not fit beside them is reported in SyncReport::errors like any failed load.
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
    // `jobs` in load order (ascending priority). EINVAL, with nothing applied, when the
    // jobs alone exceed the manager's limits ("3 jobs, more than max_jobs (2)").
    Result<SyncReport> apply(const std::vector<model::JobSpec>& jobs);
    // apply()'s check alone.
    Status check(const std::vector<model::JobSpec>& jobs) const;

private:
    Manager& manager_;
    std::map<model::JobName, model::JobSpec> current_;
};

}  // namespace gaffer::manager
