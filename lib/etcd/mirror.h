// SPDX-License-Identifier: MIT
// etcd mirror (the gaffer_lookupd side of the etcd backend): keeps a lookup::Registry
// equal to what the gafferd nodes wrote under /gaffer/v1/nodes/ (codec.h), so that the
// lookupd's §13.3 answers and §13.4 events for a node registered in etcd are exactly
// those of a node connected to it directly.
//
// MirrorCore is the pure half: each etcd node becomes one registry connection, opened
// with expires = false (its liveness is its etcd lease, not the registry's silence rule),
// fed the §13.2 messages a directly connected gafferd would send:
//   info appears         -> open, IDENTIFY, then REGISTER_JOB/REGISTER_PROCESS of its jobs
//   info changes/deleted -> close (every job and process removed), reopened if changed
//   jobs/<j> put         -> REGISTER_JOB if new, UNREGISTER_PROCESS of the pids gone,
//                           REGISTER_PROCESS of the new ones (registration order kept)
//   jobs/<j> deleted     -> UNREGISTER_JOB
// Jobs written before their node's info wait (bounded by the registry's own limits per
// node, and by max_nodes nodes) until it comes. reconcile() takes a whole snapshot and
// applies only the differences, so a re-read after a broken watch emits only real changes.
// Keys outside the layout and unparsable values are ignored (a bad value counts as absent).
// A node the registry refuses (a direct connection with the same name and origin, the
// node bound) stays out, and is tried again when its info changes or at the next reconcile.
//
// EtcdMirror is the I/O half on the loop: range the prefix, reconcile, then watch from
// the next revision; a broken, cancelled or compacted watch (or a failed range) is
// retried with jittered exponential back-off (heartbeat/4 doubling up to 4 heartbeats)
// and ends in a fresh range + reconcile. While etcd cannot be read the registry keeps the
// last state it saw. Must be destroyed before the Loop and the Registry; destroying it
// closes every registry connection it opened (their remove events are emitted).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "lib/base/result.h"
#include "lib/etcd/codec.h"
#include "lib/lookup/registry.h"
#include "lib/loop/loop.h"

namespace gaffer::etcd {

class Client;

class MirrorCore {
public:
    explicit MirrorCore(lookup::Registry& registry, std::size_t max_nodes = 4096)
        : registry_(registry), max_nodes_(max_nodes) {}
    ~MirrorCore();
    MirrorCore(const MirrorCore&) = delete;
    MirrorCore& operator=(const MirrorCore&) = delete;

    // One watch event.
    void apply(const WatchEvent& event);
    // The whole content of the prefix: brings the registry to it.
    void reconcile(const std::vector<KeyValue>& kvs);
    // Nodes known (with or without info) and those with an open registry connection.
    std::size_t nodes() const { return nodes_.size(); }
    std::size_t connected() const;

private:
    struct NodeState {
        std::optional<NodeInfo> info;                  // desired, from etcd
        std::map<std::string, std::vector<int>> jobs;  // desired, from etcd
        lookup::ConnId conn = 0;                       // 0: not open
        std::optional<NodeInfo> applied_info;          // what conn was identified with
        std::map<std::string, std::vector<int>> applied_jobs;
        // The info the registry refused to IDENTIFY (say a node connected directly with the
        // same name and origin): not tried again until it changes or a reconcile().
        std::optional<NodeInfo> refused;
    };
    using Nodes = std::map<std::string, NodeState>;

    // Sets the desired value of one key; false when the key is not ours.
    bool set(const std::string& key, const std::optional<std::string>& value);
    // Brings the registry to the node's desired state; erases an empty node.
    void sync(Nodes::iterator it);
    void close(NodeState& node);
    bool send(lookup::ConnId conn, json::JsonPtr msg);

    lookup::Registry& registry_;
    std::size_t max_nodes_;
    Nodes nodes_;
    std::uint64_t msgid_ = 0;
};

class EtcdMirror {
public:
    struct Stats {
        std::uint64_t ranges = 0;    // full reads (the first one and each resync)
        std::uint64_t events = 0;    // watch events applied
        std::uint64_t failures = 0;  // failed reads and broken watches
    };

    // `urls`: etcd endpoints (codec.h parse_endpoints syntax, each may hold a list);
    // EINVAL for a bad one, ELIBACC without libcurl. Starts reading at once.
    static Result<std::unique_ptr<EtcdMirror>> create(loop::Loop& loop, lookup::Registry& registry,
                                                      std::vector<std::string> urls,
                                                      std::chrono::milliseconds heartbeat);
    ~EtcdMirror();
    EtcdMirror(const EtcdMirror&) = delete;
    EtcdMirror& operator=(const EtcdMirror&) = delete;

    // True once a range was applied and its watch is running.
    bool watching() const { return watching_; }
    const Stats& stats() const { return stats_; }
    const MirrorCore& core() const { return core_; }

private:
    EtcdMirror(loop::Loop& loop, lookup::Registry& registry, std::unique_ptr<Client> client,
               std::chrono::milliseconds heartbeat);
    void read();
    void watch(int64_t from);
    void on_watch_message(const std::string& text);
    void retry(const Error& why);

    loop::Loop& loop_;
    MirrorCore core_;
    std::unique_ptr<Client> client_;
    std::chrono::milliseconds heartbeat_;
    std::uint64_t call_ = 0;  // the range or watch in flight
    loop::Loop::TimerId timer_ = 0;
    int failures_ = 0;  // in a row, for the back-off
    bool watching_ = false;
    Stats stats_;
    std::minstd_rand rng_;
};

}  // namespace gaffer::etcd
