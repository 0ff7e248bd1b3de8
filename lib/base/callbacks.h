// SPDX-License-Identifier: MIT
// Calling subscribers while they may change: a callback may subscribe or unsubscribe
// (itself or others) during a walk over the subscriptions. for_each_selected() takes the
// selected keys first and looks each one up again just before its call, so an entry
// erased by an earlier call is skipped and one added during the walk waits for the next.
#pragma once

#include <vector>

namespace gaffer {

// Calls fn(iterator) for each entry of `map` (std::map-like) for which selected(value)
// was true when the walk began and that is still there when its turn comes, in key order.
template <typename Map, typename Pred, typename Fn>
void for_each_selected(Map& map, Pred&& selected, Fn&& fn) {
    std::vector<typename Map::key_type> keys;
    for (const auto& [key, value] : map)
        if (selected(value))
            keys.push_back(key);
    for (const auto& key : keys) {
        auto it = map.find(key);
        if (it != map.end())
            fn(it);
    }
}

}  // namespace gaffer
