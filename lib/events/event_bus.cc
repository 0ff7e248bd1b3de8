// SPDX-License-Identifier: MIT
#include "lib/events/event_bus.h"

#include <vector>

#include "lib/base/callbacks.h"
#include "lib/base/log.h"

namespace gaffer::events {

EventBus::~EventBus() {
    *alive_ = false;
}

bool EventBus::matches(std::string_view pattern, std::string_view type) {
    while (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
    if (pattern.empty())
        return true;
    if (type.size() < pattern.size() || type.substr(0, pattern.size()) != pattern)
        return false;
    return type.size() == pattern.size() || type[pattern.size()] == '.';
}

EventBus::SubId EventBus::subscribe(std::string_view pattern, Callback cb) {
    SubId id = next_id_++;
    subs_.emplace(id, Sub{std::string(pattern), std::move(cb)});
    return id;
}

void EventBus::unsubscribe(SubId id) {
    subs_.erase(id);
}

bool EventBus::is_wildcard(std::string_view pattern) {
    return pattern.find_first_not_of('.') == std::string_view::npos;
}

bool EventBus::wanted(std::string_view type, bool named_only) const {
    for (const auto& [id, sub] : subs_)
        if (matches(sub.pattern, type) && !(named_only && is_wildcard(sub.pattern)))
            return true;
    return false;
}

void EventBus::publish(std::string type, json::JsonPtr msg) {
    enqueue({std::move(type), std::move(msg), false});
}

void EventBus::publish_to_named(std::string type, json::JsonPtr msg) {
    enqueue({std::move(type), std::move(msg), true});
}

void EventBus::enqueue(Event ev) {
    if (!ev.msg)
        ev.msg.reset(json_object());
    json_object_set_new(ev.msg.get(), "event", json_stringn(ev.type.data(), ev.type.size()));
    if (queue_.size() >= kMaxPending) {
        queue_.pop_front();
        if (dropped_++ % 10000 == 0)
            log_warning("event queue full: dropping the oldest events");
    }
    queue_.push_back(std::move(ev));
    if (!scheduled_) {
        scheduled_ = true;
        std::weak_ptr<bool> alive = alive_;
        loop_.post([this, alive] {
            if (alive.expired() || !*alive.lock())
                return;
            flush();
        });
    }
}

void EventBus::flush() {
    scheduled_ = false;
    // Events published by subscribers while we deliver are appended and delivered in
    // this same pass, after the ones before them.
    while (!queue_.empty()) {
        Event ev = std::move(queue_.front());
        queue_.pop_front();
        // A callback may unsubscribe others: they are skipped.
        for_each_selected(
            subs_,
            [&](const Sub& sub) {
                return matches(sub.pattern, ev.type) && !(ev.named_only && is_wildcard(sub.pattern));
            },
            [&ev](auto it) {
                Callback cb = it->second.cb;
                cb(ev.type, ev.msg.get());
            });
    }
}

}  // namespace gaffer::events
