// SPDX-License-Identifier: MIT
// etcd codec: the pure half of the etcd backend (no I/O). It builds the request bodies of
// etcd's v3 JSON gateway (grpc-gateway, served at /v3/... by etcd 3.4) and parses its
// answers, knows the layout of the gaffer keys, and splits the gateway's streaming answers
// (watch) into messages with a bounded buffer.
//
// Gateway conventions this file hides: keys and values are base64 (nettle), 64-bit integers
// are JSON strings ("123"; plain numbers are accepted too), members equal to their default
// (0, false, PUT) are left out, and an error is {"error","message","code"} (a gRPC code)
// instead of the answer, sometimes wrapped in {"error": {...}} on a stream.
//
// Key layout (the shared decisions of issue 15), every value JSON:
//   /gaffer/v1/nodes/<name>/info              {"name","origin","version"}
//   /gaffer/v1/nodes/<name>/jobs/<sid.job>    {"pids":[...]}
// A node or job name is valid UTF-8, not empty, without '/' or control characters; a job
// name is "sid.job" (the registry checks that part).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/json/json.h"

namespace gaffer::etcd {

// ---- base64 and ranges ----
std::string base64_encode(std::string_view data);
// EINVAL unless `text` is standard base64 with padding.
Result<std::string> base64_decode(std::string_view text);
// The range_end that selects every key starting with `prefix`: the prefix with its last
// byte below 0xff incremented (trailing 0xff bytes dropped); "\0" (every key) when there
// is none.
std::string prefix_end(std::string_view prefix);

// ---- retries ----
// The delay before retry number `failures` (>= 1): webhook::backoff (first doubling, capped
// at max) with a uniform jitter that keeps between half and all of it, so that the nodes
// of a fleet that lost etcd together do not come back in step.
std::chrono::milliseconds jittered_backoff(int failures, std::chrono::milliseconds first, std::chrono::milliseconds max,
                                           std::minstd_rand& rng);

// ---- endpoints ----
// `spec`: comma-separated endpoints, each `etcd://host:port`, `http://host:port`,
// `https://host:port` or bare `host:port` (host may be `[v6]`); a scheme given once
// applies to the bare ones that follow ("etcd://a:1,b:2"). Returns base URLs without a
// trailing slash ("http://a:1"). EINVAL names the bad entry (empty, another scheme, a
// path, no port, a port outside 1-65535).
Result<std::vector<std::string>> parse_endpoints(std::string_view spec);

// ---- requests (JSON text) ----
// POST /v3/lease/grant.
std::string grant_request(std::chrono::seconds ttl);
// POST /v3/lease/keepalive and /v3/lease/revoke.
std::string lease_request(int64_t lease);
// POST /v3/kv/put; lease 0 = none.
std::string put_request(std::string_view key, std::string_view value, int64_t lease);
// POST /v3/kv/range and /v3/kv/deleterange; range_end empty = the one key; `keys_only`:
// a range without the values.
std::string range_request(std::string_view key, std::string_view range_end, bool keys_only = false);
// One operation of a transaction: a put (with `lease`, 0 = none) or, without a value, a
// delete of the one key.
struct TxnOp {
    std::string key;
    std::optional<std::string> value;
    int64_t lease = 0;
};
// etcd refuses a transaction of more operations (its --max-txn-ops default), or one that
// names a key twice.
inline constexpr std::size_t kMaxTxnOps = 128;
// POST /v3/kv/txn: no compare, every op in `success` (applied atomically, in one revision).
std::string txn_request(const std::vector<TxnOp>& ops);
// POST /v3/watch: a create_request from `start_revision` (0 = from now).
std::string watch_request(std::string_view key, std::string_view range_end, int64_t start_revision);

// ---- answers ----
// The gateway's error object as an Error: gRPC NOT_FOUND (5: a lease that expired or was
// revoked) is ENOENT, everything else EIO, with the gateway's message. nullopt when
// `answer` is no error.
std::optional<Error> gateway_error(const json_t* answer);

struct KeyValue {
    std::string key;
    std::string value;
    int64_t mod_revision = 0;
    int64_t lease = 0;
};

struct Grant {
    int64_t id = 0;
    int64_t ttl = 0;  // seconds, as etcd granted it (it may raise a short TTL)
};
Result<Grant> parse_grant(std::string_view text);
// The TTL left after a keepalive; 0 means the lease is gone (expired or revoked).
Result<int64_t> parse_keepalive(std::string_view text);
// Any unary answer: the header's revision, or the gateway's error.
Result<int64_t> parse_revision(std::string_view text);

struct RangeResult {
    int64_t revision = 0;  // of the store when it was read
    std::vector<KeyValue> kvs;
};
Result<RangeResult> parse_range(std::string_view text);

struct WatchEvent {
    bool deleted = false;  // DELETE (a key deleted or its lease expired), else PUT
    KeyValue kv;           // key only for a DELETE
};
struct WatchMessage {
    int64_t revision = 0;
    bool created = false;
    bool canceled = false;         // the watch ended; the stream will end too
    int64_t compact_revision = 0;  // set when canceled because history was compacted
    std::vector<WatchEvent> events;
};
// One message of the watch stream, {"result": {...}} or an error.
Result<WatchMessage> parse_watch_message(std::string_view text);

// ---- streams ----
// Splits a byte stream of JSON objects (the gateway writes one per line) into whole
// messages. Holds at most `max_bytes` of an unfinished message: feed() past it fails
// with E2BIG and the splitter stays failed (the stream must be dropped).
class JsonStreamSplitter {
public:
    explicit JsonStreamSplitter(std::size_t max_bytes) : max_bytes_(max_bytes) {}
    Status feed(std::string_view data);
    // The next whole message (without its line end), oldest first.
    std::optional<std::string> next();
    std::size_t buffered() const { return buf_.size(); }

private:
    std::size_t max_bytes_;
    std::string buf_;
    std::size_t scanned_ = 0;  // buf_[0, scanned_) holds no line end
    bool failed_ = false;
};

// ---- the gaffer keys ----
inline constexpr std::string_view kNodesPrefix = "/gaffer/v1/nodes/";
inline constexpr const char* kProtocolVersion = "0.1";

// False for an empty name, one with '/', control bytes or invalid UTF-8.
bool valid_node_name(std::string_view name);
std::string node_prefix(std::string_view node);  // ".../nodes/<node>/"
std::string info_key(std::string_view node);
std::string job_key(std::string_view node, std::string_view job);

struct ParsedKey {
    std::string node;
    std::optional<std::string> job;  // nullopt: the info key
};
// nullopt for any key outside the layout (ignored by readers).
std::optional<ParsedKey> parse_key(std::string_view key);

struct NodeInfo {
    std::string name, origin, version;
    bool operator==(const NodeInfo&) const = default;
};
std::string info_value(const NodeInfo& info);
Result<NodeInfo> parse_info_value(std::string_view text);
std::string job_value(const std::vector<int>& pids);
// EINVAL unless {"pids": [positive integers]}.
Result<std::vector<int>> parse_job_value(std::string_view text);

}  // namespace gaffer::etcd
