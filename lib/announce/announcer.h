// SPDX-License-Identifier: MIT
// Announcer: registers this gafferd with every configured gaffer_lookupd (reference §13.2,
// §10.1 --lookupd-address). One LookupdLink (link.h) per address; each, once its websocket
// is up, sends IDENTIFY and then the whole state of the manager (every loaded job, every
// live process by its gaffer pid), and from then on follows the EventBus: load ->
// REGISTER_JOB, unload -> UNREGISTER_JOB, spawn -> REGISTER_PROCESS, exit and
// stop_process -> UNREGISTER_PROCESS.
//
// Invariants:
// - Nothing here blocks the loop: connections, TLS and name resolution are libcurl's,
//   asynchronous; a lookupd that is down, slow or blackholed costs a timer and a socket.
// - Each link's registration is rebuilt from the manager (not from remembered messages)
//   whenever the link comes up, and re-synced from the manager whenever the EventBus
//   dropped events (EventBus::dropped() grew): a lookupd never stays out of sync silently.
// - libcurl is loaded (lib/webhook/curl_api.h) only once there is an address.
// - Must be destroyed before the Loop, the EventBus and the Manager it was created with;
//   destroying it closes every link and leaves no watch, timer or subscription behind.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/announce/link.h"
#include "lib/base/result.h"
#include "lib/events/event_bus.h"
#include "lib/loop/loop.h"

namespace gaffer::manager {
class Manager;
}

namespace gaffer::announce {

struct Options {
    std::vector<std::string> addresses;  // lookupd base URLs (parse_lookupd_url)
    LinkOptions link;
};

// EINVAL unless `origin` starts with http:// or https:// and has more after it, with no
// space or control character (the broadcast address rule of §10.1).
Status check_broadcast_address(std::string_view origin);

class Announcer {
public:
    // Checks every address and the options (EINVAL names the bad one) and starts a link
    // for each.
    static Result<std::unique_ptr<Announcer>> create(loop::Loop& loop, events::EventBus& bus,
                                                     const manager::Manager& manager, Options options);
    ~Announcer();
    Announcer(const Announcer&) = delete;
    Announcer& operator=(const Announcer&) = delete;

    // SIGHUP: the new address list. Links to addresses still listed are kept (they already
    // follow the events of the reload); removed ones are closed; new ones started. A bad
    // address (EINVAL) changes nothing. Duplicates count once.
    Status set_addresses(const std::vector<std::string>& addresses);

    struct LinkInfo {
        std::string address;
        bool open = false;
        LookupdLink::Stats stats;
    };
    std::vector<LinkInfo> links() const;

private:
    Announcer(loop::Loop& loop, events::EventBus& bus, const manager::Manager& manager, Options options);
    Status ensure_connector();
    Snapshot snapshot() const;
    void on_event(const std::string& type, const json_t* msg);

    loop::Loop& loop_;
    events::EventBus& bus_;
    const manager::Manager& manager_;
    Options options_;
    std::unique_ptr<webhook::CurlLoop> connector_;     // declared before links_: outlives them
    std::vector<std::unique_ptr<LookupdLink>> links_;  // in address order
    std::vector<events::EventBus::SubId> subs_;
    uint64_t seen_dropped_ = 0;
};

}  // namespace gaffer::announce
