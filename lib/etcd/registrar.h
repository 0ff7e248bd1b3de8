// SPDX-License-Identifier: MIT
// etcd Registrar (the gafferd side of the etcd backend, `--registry=etcd://...`): keeps
// this node's entry in etcd (codec.h layout) equal to the Manager's jobs and pids, under
// one lease, so that the node disappears from every etcd-backed lookupd when it dies.
//
// Registration, from the start and after any failure:
//   1. grant a lease of TTL = 3 heartbeats (rounded up to whole seconds, at least 2: etcd
//      raises shorter ones to its minimum anyway);
//   2. read which job keys the node already has under /gaffer/v1/nodes/<name>/ (what an
//      older lease left: etcd was away for a while, a crashed predecessor);
//   3. put `info`, then `jobs/<sid.job>` = {"pids": [...]} for every job (pids as the HTTP
//      API shows them, Manager::pids), all with the new lease, and delete the keys of 2.
//      that name no loaded job. Nothing is deleted and put again: a mirror (mirror.h)
//      sees only what really changed, so a node re-registering after etcd came back
//      makes no churn of remove/add events in the lookupds.
// Then the lease is kept alive every heartbeat, and the events that change a job's pids
// (load, unload, spawn, reap, exit, stop_process, update) mark the job dirty; dirty jobs are
// rewritten after a short coalescing delay (a burst of events costs one write per job),
// from the Manager's state at that time (its pids, or a delete once it is unloaded), in
// transactions of up to kMaxTxnOps jobs, one request at a time so that writes to a key
// land in order. A value equal to the one written last is not sent again.
//
// Any failure (etcd unreachable, an error answer, a keepalive finding the lease gone, as
// after a SIGSTOP longer than the TTL) abandons the session and starts again from 1 after a
// jittered exponential back-off (first_backoff doubling up to max_backoff). Nothing here
// waits: an etcd that is down or slow never blocks the loop or delays the API.
//
// Bounds: one request in flight plus the keepalive; the dirty set holds job names only and
// at most the jobs the Manager has (plus those unloaded since the last write).
// Must be destroyed before the Loop, the EventBus and the Manager; destroying it abandons
// everything without revoking (the lease then expires): call shutdown() first for a clean
// exit.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lib/base/result.h"
#include "lib/etcd/codec.h"
#include "lib/events/event_bus.h"
#include "lib/loop/loop.h"

namespace gaffer::manager {
class Manager;
}

namespace gaffer::etcd {

class Client;

// A transaction of job writes stops growing past this many bytes of keys and values (etcd
// refuses requests over --max-request-bytes, 1.5 MiB by default).
inline constexpr std::size_t kMaxTxnBytes = 512 * 1024;

struct RegistrarOptions {
    std::vector<std::string> endpoints;  // parse_endpoints()
    NodeInfo info;                       // name (the key), origin (broadcast URL), version
    std::chrono::milliseconds heartbeat{15000};
    std::chrono::milliseconds coalesce{20};
    std::chrono::milliseconds first_backoff{250};
    std::chrono::milliseconds max_backoff{15000};
    std::chrono::milliseconds revoke_timeout{1000};  // shutdown() waits at most this
};

class Registrar {
public:
    struct Stats {
        std::uint64_t registrations = 0;  // sessions completed (every job written)
        std::uint64_t failures = 0;       // sessions abandoned
        std::uint64_t writes = 0;         // puts and deletes of job keys (not requests)
    };

    // EINVAL for an invalid node name (codec.h valid_node_name) or heartbeat below 100 ms,
    // ELIBACC without libcurl. Registers at once (asynchronously).
    static Result<std::unique_ptr<Registrar>> create(loop::Loop& loop, events::EventBus& bus,
                                                     const manager::Manager& manager, RegistrarOptions options);
    ~Registrar();
    Registrar(const Registrar&) = delete;
    Registrar& operator=(const Registrar&) = delete;

    // Stops writing, revokes the lease (at most revoke_timeout) and then calls `done` on the
    // loop, whether the revoke worked or not.
    void shutdown(std::function<void()> done);

    // The lease is held and every dirty job was written.
    bool in_sync() const;
    int64_t lease() const { return lease_; }
    std::chrono::seconds ttl() const;
    const Stats& stats() const { return stats_; }

private:
    enum class State {
        kBackoff,    // waiting to start a session (timer_)
        kGranting,   // lease grant in flight
        kSurveying,  // the range of the node's job keys in flight
        kWriting,    // info written; dirty jobs being written
        kStopped,    // shutdown()
    };

    Registrar(loop::Loop& loop, events::EventBus& bus, const manager::Manager& manager, RegistrarOptions options,
              std::unique_ptr<Client> client);
    void begin();     // 1. grant
    void survey();    // 2. read what the node has
    void put_info();  // 3. info, then every job
    void on_event(const json_t* msg);
    void mark_all_dirty();
    void schedule_flush();
    void write_next();
    void keepalive();
    void failed(const Error& why);
    void cancel_calls();

    loop::Loop& loop_;
    events::EventBus& bus_;
    const manager::Manager& manager_;
    RegistrarOptions options_;
    std::unique_ptr<Client> client_;
    std::vector<events::EventBus::SubId> subs_;
    State state_ = State::kBackoff;
    int64_t lease_ = 0;
    std::uint64_t call_ = 0;                   // the grant, clear or write in flight
    std::uint64_t keepalive_ = 0;              // the keepalive in flight
    loop::Loop::TimerId timer_ = 0;            // back-off
    loop::Loop::TimerId keepalive_timer_ = 0;  // next keepalive
    loop::Loop::TimerId flush_timer_ = 0;      // coalescing
    std::set<std::string> dirty_;
    std::map<std::string, std::string> written_;  // job -> value written in this session
    std::set<std::string> present_;               // job keys survey() found, not rewritten yet
    int failures_ = 0;                            // in a row
    bool complete_ = false;                       // this session wrote everything once
    Stats stats_;
    std::minstd_rand rng_;
};

}  // namespace gaffer::etcd
