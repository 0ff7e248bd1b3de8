// SPDX-License-Identifier: MIT
#include "lib/manager/config_sync.h"

#include <set>

#include "lib/base/log.h"

namespace gaffer::manager {

Status ConfigSync::check(const std::vector<model::JobSpec>& jobs) const {
    const Limits& limits = manager_.limits();
    if (jobs.size() > limits.max_jobs)
        return fail(Error::make(EINVAL, "%zu jobs, more than max_jobs (%zu)", jobs.size(), limits.max_jobs));
    size_t bytes = 0;
    for (const auto& spec : jobs) bytes += Manager::config_size(spec);
    if (bytes > limits.max_config_bytes)
        return fail(Error::make(EINVAL, "the jobs' configs take %zu bytes, more than max_config_bytes (%zu)", bytes,
                                limits.max_config_bytes));
    return ok();
}

Result<SyncReport> ConfigSync::apply(const std::vector<model::JobSpec>& jobs) {
    GAFFER_RETURN_IF_ERROR(check(jobs));
    SyncReport rep;
    std::set<model::JobName> wanted;
    for (const auto& spec : jobs) wanted.insert(spec.name);

    // Removed from the file: unload (only if it came from the file).
    for (auto it = current_.begin(); it != current_.end();) {
        if (wanted.count(it->first)) {
            ++it;
            continue;
        }
        if (manager_.has_job(it->first)) {
            auto r = manager_.unload(it->first);
            if (!r)
                rep.errors.push_back(it->first.qualified() + ": " + r.error().message());
            else
                ++rep.unloaded;
        }
        it = current_.erase(it);
    }

    for (const auto& spec : jobs) {
        auto it = current_.find(spec.name);
        if (it != current_.end() && manager_.has_job(spec.name)) {
            if (it->second.same_config(spec)) {
                ++rep.unchanged;
                continue;
            }
            model::JobSpec upd = spec;
            upd.start = false;
            auto r = manager_.update(upd, {}, /*exact_target=*/it->second.numprocesses != spec.numprocesses);
            if (!r) {
                rep.errors.push_back(spec.name.qualified() + ": " + r.error().message());
                continue;
            }
            it->second = spec;
            ++rep.updated;
            continue;
        }
        if (manager_.has_job(spec.name)) {
            // Loaded through the API under the same name: the file does not own it.
            rep.errors.push_back(spec.name.qualified() + ": already loaded through the API; left alone");
            continue;
        }
        auto r = manager_.load(spec);
        if (!r) {
            rep.errors.push_back(spec.name.qualified() + ": " + r.error().message());
            continue;
        }
        current_[spec.name] = spec;
        ++rep.loaded;
    }
    return rep;
}

}  // namespace gaffer::manager
