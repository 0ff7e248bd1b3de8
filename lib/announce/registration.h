// SPDX-License-Identifier: MIT
// Registration: what one gafferd tells one gaffer_lookupd (reference §13.2), without I/O.
// A Registration is the shadow of what the lookupd at the other end of one link holds for
// this node: the jobs registered and, per job, the pids. Every operation answers with the
// messages (Ops) that bring the lookupd to the wanted state, and updates the shadow as if
// they were all accepted:
//   - sync(want): the whole difference (removals first, then additions in `want`'s order),
//     used when a link comes up (the shadow is empty then: everything is registered) and
//     when the event stream lost events (EventBus overflow);
//   - load/unload/spawn/exit: one manager event; an event that changes nothing (a spawn
//     already registered by the snapshot of a link that came up after it was published)
//     gives no message, so the lookupd never sees a duplicate REGISTER.
// The shadow is bounded by what the manager holds (its job and process limits).
//
// Also here: the JSON text of each message, the parsing of the lookupd's replies and the
// reconnect back-off.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.h"

namespace gaffer::announce {

inline constexpr const char* kProtocolVersion = "0.1";

enum class OpType { kIdentify, kPing, kRegisterJob, kUnregisterJob, kRegisterProcess, kUnregisterProcess };

// "IDENTIFY", "PING", "REGISTER_JOB", ...
const char* op_name(OpType type);

struct Op {
    OpType type = OpType::kPing;
    std::string job;  // "sid.job" (REGISTER_* and UNREGISTER_*)
    int pid = 0;      // gaffer's internal pid (REGISTER_PROCESS, UNREGISTER_PROCESS)
    bool operator==(const Op&) const = default;
};

// Who this node says it is in IDENTIFY.
struct Identity {
    std::string name;    // FQDN hostname or --node-name
    std::string origin;  // the broadcast address
};

// One text frame: {"type": ..., <members>, "msgid": msgid}; IDENTIFY carries name,
// origin and version "0.1".
std::string encode(const Op& op, const Identity& identity, std::string_view msgid);

// What the manager holds now: the loaded jobs in load order, each with its live pids.
using Snapshot = std::vector<std::pair<std::string, std::vector<int>>>;

class Registration {
public:
    std::vector<Op> sync(const Snapshot& want);
    std::vector<Op> load(const std::string& job);
    std::vector<Op> unload(const std::string& job);
    // A spawn for a job not registered registers the job first (its load event was lost).
    std::vector<Op> spawn(const std::string& job, int pid);
    std::vector<Op> exit(const std::string& job, int pid);
    // The link went down: the lookupd forgot everything.
    void clear() { jobs_.clear(); }

    size_t job_count() const { return jobs_.size(); }
    bool has(const std::string& job) const { return jobs_.count(job) != 0; }

private:
    std::map<std::string, std::set<int>> jobs_;
};

// A reply of the lookupd: {"ok": true, "msgid": M} or {"errno": E, "reason": R, "msgid": M}.
struct Reply {
    std::string msgid;  // empty when the lookupd sent none (or null)
    bool ok = false;
    int error = 0;       // errno member
    std::string reason;  // reason member
};
// EPROTO for anything that is not such an object.
Result<Reply> parse_reply(std::string_view text);

// The wait before reconnect attempt number `failures` (>= 1): 0.5 s doubling per failure
// up to 30 s, then spread by +-25 % with `random` (uniform over uint32): many nodes that
// lost one lookupd do not come back in step.
std::chrono::milliseconds reconnect_delay(int failures, uint32_t random);

}  // namespace gaffer::announce
