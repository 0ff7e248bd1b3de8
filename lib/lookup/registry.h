// SPDX-License-Identifier: MIT
// Registry: the whole state of gaffer_lookupd (spec §13.2-§13.4) with no I/O. It owns no
// socket and reads no clock: the front end opens a connection, feeds it each text frame
// with the time it arrived, closes it, and calls expire() now and then; the registry
// answers with the reply text, emits the §13.4 events to one sink and answers the §13.3
// queries. Invariants it keeps:
//   * every reply is one JSON object, {"ok": true, "msgid": M} or {"errno": E, "reason": R,
//     "msgid": M}, M being the message's msgid when it had a string one, else null;
//   * a message that fails changes nothing and emits no event;
//   * everything a client can grow is bounded (RegistryLimits): connections, jobs per
//     node, processes per job and per node, message bytes, name bytes;
//   * a node, and all it registered, disappears with its connection (close()) or after
//     3 heartbeat periods without any message (expire(); not a connection opened with
//     expires = false), with the events of close().
// The event sink is called synchronously from open/close/handle/expire; it must not call
// back into the registry's mutators.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/json/json.h"

namespace gaffer::lookup {

using ConnId = std::uint64_t;
using Clock = std::chrono::steady_clock;

// The defaults keep the worst case near 150 MB (256 nodes, each with 1024 jobs of 255-byte
// names and 16384 pids) while a node running 1000 jobs still fits.
struct RegistryLimits {
    std::size_t max_nodes = 256;                 // connections, identified or not
    std::size_t max_jobs_per_node = 1024;        // REGISTER_JOB past it: 429
    std::size_t max_processes_per_job = 1024;    // REGISTER_PROCESS past it: 429
    std::size_t max_processes_per_node = 16384;  // REGISTER_PROCESS past it: 429
    std::size_t max_message_bytes = 64 * 1024;   // a longer frame: 413, not parsed
    std::size_t max_name_bytes = 255;            // name, origin, version, job_name: 413
    std::chrono::milliseconds heartbeat{15000};  // silent for 3 of them: expired
};

class Registry {
public:
    // Receives each §13.4 event (one new reference per call).
    using EventSink = std::function<void(json::JsonPtr event)>;

    explicit Registry(RegistryLimits limits = {});

    void set_event_sink(EventSink sink) { sink_ = std::move(sink); }
    const RegistryLimits& limits() const { return limits_; }

    // A new connection; emits add_node with null fields. EAGAIN when max_nodes
    // connections are open (the front end refuses the upgrade with 429). `expires` = false
    // exempts it from expire(): for connections whose liveness is kept elsewhere (the etcd
    // mirror's nodes live as long as their etcd lease, lib/etcd/mirror.h).
    Result<ConnId> open(Clock::time_point now, bool expires = true);
    // Binds the connection to a node name (from the API key's `register` right): an
    // IDENTIFY with another name is refused with 403 `forbidden`. ENOENT for an unknown
    // id; EINVAL once the connection is identified under another name.
    Status set_required_name(ConnId id, std::string name);
    // The same for a key that allows several names: IDENTIFY must name one of `names`
    // (an empty list allows none). EINVAL once identified under a name not in it.
    Status set_allowed_names(ConnId id, std::vector<std::string> names);
    // One text frame → the reply text. Any frame, even a refused one, counts as a sign of
    // life for expire(). An unknown id gets a 404 reply and changes nothing.
    std::string handle(ConnId id, std::string_view text, Clock::time_point now);
    // Removes the node and everything it registered. Events, in this order: for each job
    // in registration order, remove_process for each pid in registration order, then
    // remove_job; last remove_node. An unknown id is ignored.
    void close(ConnId id);
    // Closes (as close()) every connection silent for 3 heartbeat periods or more at
    // `now` and returns their ids in connection order, for the front end to end them.
    std::vector<ConnId> expire(Clock::time_point now);

    // §13.3 bodies. Nodes in connection order (identified ones only), jobs in
    // first-registration order (a job registered by no node any more loses its place),
    // sessions in the order of their first job, sources in connection order, pids in
    // registration order.
    json::JsonPtr nodes() const;                                         // GET /nodes
    json::JsonPtr sessions(std::optional<std::string_view> node) const;  // GET /sessions[/node]
    json::JsonPtr jobs() const;                                          // GET /jobs
    json::JsonPtr find_job(std::string_view name) const;                 // GET /findJob
    json::JsonPtr find_session(std::string_view sessionid) const;        // GET /findSession

    std::size_t connections() const { return nodes_.size(); }
    // Changes with every change the §13.3 bodies can show (every change emits an event):
    // a front end may keep an answer for as long as the generation stays the same.
    std::uint64_t generation() const { return generation_; }

private:
    struct JobReg {
        std::uint64_t seq = 0;  // registration order on this node
        std::vector<int> pids;  // registration order
    };
    struct Node {
        bool identified = false;
        bool expires = true;  // open(now, expires)
        std::string name, origin, version;
        std::optional<std::vector<std::string>> allowed_names;
        Clock::time_point last_seen;
        std::map<std::string, JobReg, std::less<>> jobs;
        std::size_t processes = 0;  // pids over all jobs
    };
    struct Global {
        std::uint64_t seq = 0;  // first registration among the nodes holding it now
        std::size_t holders = 0;
    };
    struct Message;
    using JobIter = std::map<std::string, JobReg, std::less<>>::iterator;
    // The job (registered on this node) and pid a (UN)REGISTER_PROCESS names.
    struct ProcessTarget {
        JobIter job;
        int pid = 0;
    };

    std::string dispatch(Node& node, const Message& m);
    std::string identify(Node& node, const Message& m);
    std::string register_job(Node& node, const Message& m);
    std::string unregister_job(Node& node, const Message& m);
    std::string register_process(Node& node, const Message& m);
    std::string unregister_process(Node& node, const Message& m);
    Result<ProcessTarget> process_target(Node& node, const Message& m);

    void drop_job(Node& node, JobIter it);
    void emit(json::JsonPtr event) const;
    json::JsonPtr node_event(const char* event, const Node& node) const;
    json::JsonPtr job_event(const char* event, const Node& node, std::string_view job) const;
    json::JsonPtr process_event(const char* event, const Node& node, std::string_view job, int pid) const;
    // {"nb_jobs", "jobs": [{"name", "sources"}]} for every job, or those of one session.
    json::JsonPtr jobs_body(std::optional<std::string_view> session) const;
    json::JsonPtr sources(std::string_view job, const std::string* only_node) const;
    std::vector<std::string> ordered(const std::map<std::string, Global, std::less<>>& index,
                                     std::string_view session_prefix) const;

    RegistryLimits limits_;
    EventSink sink_;
    mutable std::uint64_t generation_ = 0;  // counted by emit()
    ConnId next_id_ = 1;
    std::uint64_t next_seq_ = 1;
    std::map<ConnId, Node> nodes_;                         // connection order
    std::map<std::string, Global, std::less<>> jobs_;      // every job some node holds
    std::map<std::string, Global, std::less<>> sessions_;  // holders = jobs in it
};

}  // namespace gaffer::lookup
