// SPDX-License-Identifier: MIT
#include "lib/manager/config_sync.h"

#include <set>

#include "lib/base/log.h"

namespace gaffer::manager {

SyncReport ConfigSync::apply(const std::vector<model::JobSpec>& jobs) {
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
            if (!r) rep.errors.push_back(it->first.qualified() + ": " + r.error().message());
            else ++rep.unloaded;
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
            auto r = manager_.update(upd);
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
