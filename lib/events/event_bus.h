// SPDX-License-Identifier: MIT
// EventBus: publish/subscribe for manager events (reference §6). An event has a
// dot-separated type and a JSON message whose "event" member equals the type.
//
// Subscribing to T delivers events whose type equals T or starts with "T." (whole
// segments, any depth); a trailing '.' is ignored; "." or "" delivers everything.
// Delivery is asynchronous (the next loop turn), in publish order, exactly once per
// subscription. The queue of undelivered events is bounded (kMaxPending): past it the
// oldest are dropped and counted, so a publish storm can never grow the daemon.
// Subscribers that buffer (HTTP streams, websockets) bound their own queues.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "lib/json/json.h"
#include "lib/loop/loop.h"

namespace gaffer::events {

class EventBus {
public:
    using SubId = uint64_t;
    using Callback = std::function<void(const std::string& type, const json_t* msg)>;
    static constexpr size_t kMaxPending = 65536;

    explicit EventBus(loop::Loop& loop) : loop_(loop) {}
    ~EventBus();
    EventBus(const EventBus&) = delete;
    EventBus& operator=(const EventBus&) = delete;

    SubId subscribe(std::string_view pattern, Callback cb);
    void unsubscribe(SubId id);
    // True if some subscription would receive an event of this type: publishers of
    // optional aliases (the 0.4 event names) skip the work when nobody listens.
    // `named_only`: count only subscriptions that name a prefix (not "." / "").
    bool wanted(std::string_view type, bool named_only = false) const;
    size_t subscriber_count() const { return subs_.size(); }

    // `msg` may be null; "event" is set to `type` either way.
    void publish(std::string type, json::JsonPtr msg);
    // For aliases: delivered only to subscriptions that name a prefix of `type`, never
    // to "everything" subscribers, who would see each event twice under two names.
    void publish_to_named(std::string type, json::JsonPtr msg);
    // Delivers everything queued now (the loop calls this; tests may too).
    void flush();

    uint64_t dropped() const { return dropped_; }
    size_t pending() const { return queue_.size(); }

    static bool matches(std::string_view pattern, std::string_view type);

private:
    struct Sub {
        std::string pattern;
        Callback cb;
    };
    struct Event {
        std::string type;
        json::JsonPtr msg;
        bool named_only = false;
    };
    void enqueue(Event ev);
    static bool is_wildcard(std::string_view pattern);
    loop::Loop& loop_;
    std::map<SubId, Sub> subs_;
    SubId next_id_ = 1;
    std::deque<Event> queue_;
    bool scheduled_ = false;
    uint64_t dropped_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace gaffer::events
