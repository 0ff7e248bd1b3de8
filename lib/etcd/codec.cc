// SPDX-License-Identifier: MIT
#include "lib/etcd/codec.h"

#include <nettle/base64.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "lib/base/utf8.h"
#include "lib/webhook/retry.h"

namespace gaffer::etcd {
namespace {

// A gateway int64: a JSON string of digits ("123"), or a plain integer.
int64_t int64_member(const json_t* obj, const char* key) {
    const json_t* v = json_object_get(obj, key);
    if (json_is_integer(v))
        return static_cast<int64_t>(json_integer_value(v));
    if (!json_is_string(v))
        return 0;
    const char* s = json_string_value(v);
    int64_t out = 0;
    auto [end, ec] = std::from_chars(s, s + std::strlen(s), out);
    return ec == std::errc() && *end == '\0' ? out : 0;
}

Result<json::JsonPtr> parse_answer(std::string_view text) {
    GAFFER_TRY(json::JsonPtr doc, json::parse(text));
    if (!json_is_object(doc.get()))
        return fail(EIO, "etcd answer is not a JSON object");
    if (auto err = gateway_error(doc.get()))
        return fail(*err);
    return doc;
}

Result<std::string> b64_member(const json_t* obj, const char* key) {
    const json_t* v = json_object_get(obj, key);
    if (!v)
        return std::string();
    if (!json_is_string(v))
        return fail(EIO, std::string("etcd answer: '") + key + "' is not a string");
    return base64_decode(std::string_view(json_string_value(v), json_string_length(v)));
}

Result<KeyValue> parse_kv(const json_t* kv) {
    if (!json_is_object(kv))
        return fail(EIO, "etcd answer: a key-value is not an object");
    KeyValue out;
    GAFFER_TRY(out.key, b64_member(kv, "key"));
    GAFFER_TRY(out.value, b64_member(kv, "value"));
    out.mod_revision = int64_member(kv, "mod_revision");
    out.lease = int64_member(kv, "lease");
    return out;
}

int64_t header_revision(const json_t* answer) {
    return int64_member(json_object_get(answer, "header"), "revision");
}

std::string dump_object(json::JsonPtr obj) {
    return json::dump(obj.get());
}

json::JsonPtr int64_str(int64_t v) {
    return json::str(std::to_string(v));
}

bool valid_port(std::string_view port) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    return !port.empty() && ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

// "host:port" or "[v6]:port", nothing else.
bool valid_host_port(std::string_view hp) {
    std::string_view host, port;
    if (hp.starts_with('[')) {
        size_t close = hp.find(']');
        if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
            return false;
        host = hp.substr(1, close - 1);
        port = hp.substr(close + 2);
    } else {
        size_t colon = hp.rfind(':');
        if (colon == std::string_view::npos)
            return false;
        host = hp.substr(0, colon);
        port = hp.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return false;
    }
    if (host.empty() || !valid_port(port))
        return false;
    return std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_';
    });
}

}  // namespace

std::string base64_encode(std::string_view data) {
    std::string out(BASE64_ENCODE_RAW_LENGTH(data.size()), '\0');
    base64_encode_raw(out.data(), data.size(), reinterpret_cast<const uint8_t*>(data.data()));
    return out;
}

Result<std::string> base64_decode(std::string_view text) {
    std::string out(BASE64_DECODE_LENGTH(text.size()), '\0');
    base64_decode_ctx ctx;
    base64_decode_init(&ctx);
    size_t len = out.size();
    if (text.size() % 4 != 0 ||
        !base64_decode_update(&ctx, &len, reinterpret_cast<uint8_t*>(out.data()), text.size(), text.data()) ||
        !base64_decode_final(&ctx))
        return fail(EINVAL, "invalid base64");
    out.resize(len);
    return out;
}

std::chrono::milliseconds jittered_backoff(int failures, std::chrono::milliseconds first, std::chrono::milliseconds max,
                                           std::minstd_rand& rng) {
    std::chrono::milliseconds full = webhook::backoff(failures < 1 ? 1 : failures, first, max);
    std::uniform_int_distribution<long long> keep(full.count() / 2, full.count());
    return std::chrono::milliseconds(keep(rng));
}

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto last = static_cast<unsigned char>(end.back());
        if (last < 0xff) {
            end.back() = static_cast<char>(last + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');
}

Result<std::vector<std::string>> parse_endpoints(std::string_view spec) {
    std::vector<std::string> out;
    std::string scheme = "http";
    size_t pos = 0;
    while (pos <= spec.size()) {
        size_t comma = spec.find(',', pos);
        std::string_view item =
            spec.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        pos = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
        std::string_view hp = item;
        if (size_t sep = item.find("://"); sep != std::string_view::npos) {
            std::string_view given = item.substr(0, sep);
            if (given == "etcd" || given == "http")
                scheme = "http";
            else if (given == "https")
                scheme = "https";
            else
                return fail(EINVAL,
                            "etcd endpoint '" + std::string(item) + "': the scheme must be etcd, http or https");
            hp = item.substr(sep + 3);
        }
        if (hp.ends_with('/'))
            hp.remove_suffix(1);
        if (!valid_host_port(hp))
            return fail(EINVAL, "etcd endpoint '" + std::string(item) + "': expected host:port");
        out.push_back(scheme + "://" + std::string(hp));
    }
    return out;
}

std::string grant_request(std::chrono::seconds ttl) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "TTL", int64_str(ttl.count()));
    return dump_object(std::move(o));
}

std::string lease_request(int64_t lease) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "ID", int64_str(lease));
    return dump_object(std::move(o));
}

std::string put_request(std::string_view key, std::string_view value, int64_t lease) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "key", json::str(base64_encode(key)));
    json::set(o.get(), "value", json::str(base64_encode(value)));
    if (lease != 0)
        json::set(o.get(), "lease", int64_str(lease));
    return dump_object(std::move(o));
}

std::string range_request(std::string_view key, std::string_view range_end, bool keys_only) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "key", json::str(base64_encode(key)));
    if (!range_end.empty())
        json::set(o.get(), "range_end", json::str(base64_encode(range_end)));
    if (keys_only)
        json::set(o.get(), "keys_only", json::take(json_true()));
    return dump_object(std::move(o));
}

std::string txn_request(const std::vector<TxnOp>& ops) {
    json::JsonPtr success = json::take(json_array());
    for (const auto& op : ops) {
        json::JsonPtr req = json::take(json_object());
        json::set(req.get(), "key", json::str(base64_encode(op.key)));
        if (op.value) {
            json::set(req.get(), "value", json::str(base64_encode(*op.value)));
            if (op.lease != 0)
                json::set(req.get(), "lease", int64_str(op.lease));
        }
        json::JsonPtr item = json::take(json_object());
        json::set(item.get(), op.value ? "request_put" : "request_delete_range", std::move(req));
        json_array_append_new(success.get(), item.release());
    }
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "success", std::move(success));
    return dump_object(std::move(o));
}

std::string watch_request(std::string_view key, std::string_view range_end, int64_t start_revision) {
    json::JsonPtr create = json::take(json_object());
    json::set(create.get(), "key", json::str(base64_encode(key)));
    if (!range_end.empty())
        json::set(create.get(), "range_end", json::str(base64_encode(range_end)));
    if (start_revision > 0)
        json::set(create.get(), "start_revision", int64_str(start_revision));
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "create_request", std::move(create));
    return dump_object(std::move(o));
}

std::optional<Error> gateway_error(const json_t* answer) {
    const json_t* err = json_object_get(answer, "error");
    if (!err)
        return std::nullopt;
    // A stream wraps it: {"error": {"grpc_code", "http_code", "message", ...}}.
    const json_t* holder = json_is_object(err) ? err : answer;
    int64_t code = int64_member(holder, "code");
    if (code == 0)
        code = int64_member(holder, "grpc_code");
    const json_t* msg = json_object_get(holder, "message");
    std::string text = json_is_string(msg)   ? json_string_value(msg)
                       : json_is_string(err) ? json_string_value(err)
                                             : "error";
    return Error{code == 5 ? ENOENT : EIO, "etcd: " + text};
}

Result<Grant> parse_grant(std::string_view text) {
    GAFFER_TRY(json::JsonPtr doc, parse_answer(text));
    Grant g{int64_member(doc.get(), "ID"), int64_member(doc.get(), "TTL")};
    if (g.id == 0 || g.ttl <= 0)
        return fail(EIO, "etcd lease grant: no lease in the answer");
    return g;
}

Result<int64_t> parse_keepalive(std::string_view text) {
    GAFFER_TRY(json::JsonPtr doc, parse_answer(text));
    // The gateway streams it: {"result": {"ID", "TTL"}}; a lease that is gone has no TTL.
    const json_t* result = json_object_get(doc.get(), "result");
    return int64_member(result ? result : doc.get(), "TTL");
}

Result<int64_t> parse_revision(std::string_view text) {
    GAFFER_TRY(json::JsonPtr doc, parse_answer(text));
    return header_revision(doc.get());
}

Result<RangeResult> parse_range(std::string_view text) {
    GAFFER_TRY(json::JsonPtr doc, parse_answer(text));
    RangeResult out;
    out.revision = header_revision(doc.get());
    const json_t* kvs = json_object_get(doc.get(), "kvs");
    if (kvs && !json_is_array(kvs))
        return fail(EIO, "etcd range: 'kvs' is not an array");
    size_t i;
    const json_t* kv;
    json_array_foreach(kvs, i, kv) {
        GAFFER_TRY(KeyValue one, parse_kv(kv));
        out.kvs.push_back(std::move(one));
    }
    return out;
}

Result<WatchMessage> parse_watch_message(std::string_view text) {
    GAFFER_TRY(json::JsonPtr doc, parse_answer(text));
    const json_t* result = json_object_get(doc.get(), "result");
    if (!json_is_object(result))
        return fail(EIO, "etcd watch: no result in the message");
    WatchMessage out;
    out.revision = header_revision(result);
    out.created = json_is_true(json_object_get(result, "created"));
    out.canceled = json_is_true(json_object_get(result, "canceled"));
    out.compact_revision = int64_member(result, "compact_revision");
    const json_t* events = json_object_get(result, "events");
    if (events && !json_is_array(events))
        return fail(EIO, "etcd watch: 'events' is not an array");
    size_t i;
    const json_t* ev;
    json_array_foreach(events, i, ev) {
        const json_t* type = json_object_get(ev, "type");
        WatchEvent one;
        if (json_is_string(type) && std::strcmp(json_string_value(type), "DELETE") == 0)
            one.deleted = true;
        else if (type && !(json_is_string(type) && std::strcmp(json_string_value(type), "PUT") == 0))
            return fail(EIO, "etcd watch: unknown event type");
        GAFFER_TRY(one.kv, parse_kv(json_object_get(ev, "kv")));
        out.events.push_back(std::move(one));
    }
    return out;
}

Status JsonStreamSplitter::feed(std::string_view data) {
    if (failed_)
        return fail(E2BIG, "etcd stream: message too long");
    buf_.append(data);
    // Whole messages may be waiting in buf_; only the unfinished tail counts.
    size_t last_end = buf_.rfind('\n');
    size_t tail = last_end == std::string::npos ? buf_.size() : buf_.size() - last_end - 1;
    if (tail > max_bytes_) {
        failed_ = true;
        buf_.clear();
        scanned_ = 0;
        return fail(E2BIG, "etcd stream: message longer than " + std::to_string(max_bytes_) + " bytes");
    }
    return ok();
}

std::optional<std::string> JsonStreamSplitter::next() {
    while (true) {
        size_t nl = buf_.find('\n', scanned_);
        if (nl == std::string::npos) {
            scanned_ = buf_.size();
            return std::nullopt;
        }
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        scanned_ = 0;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") != std::string::npos)
            return line;
    }
}

bool valid_node_name(std::string_view name) {
    return !name.empty() && utf8::valid(name) && std::none_of(name.begin(), name.end(), [](char c) {
        return c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
}

std::string node_prefix(std::string_view node) {
    return std::string(kNodesPrefix) + std::string(node) + "/";
}

std::string info_key(std::string_view node) {
    return node_prefix(node) + "info";
}

std::string job_key(std::string_view node, std::string_view job) {
    return node_prefix(node) + "jobs/" + std::string(job);
}

std::optional<ParsedKey> parse_key(std::string_view key) {
    if (!key.starts_with(kNodesPrefix))
        return std::nullopt;
    key.remove_prefix(kNodesPrefix.size());
    size_t slash = key.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    ParsedKey out{std::string(key.substr(0, slash)), std::nullopt};
    if (!valid_node_name(out.node))
        return std::nullopt;
    std::string_view rest = key.substr(slash + 1);
    if (rest == "info")
        return out;
    if (!rest.starts_with("jobs/"))
        return std::nullopt;
    rest.remove_prefix(5);
    // The same rule as a node name: two names that differ only in invalid bytes would
    // become one job once written as JSON (U+FFFD), and the registry would see one.
    if (!valid_node_name(rest))
        return std::nullopt;
    out.job = std::string(rest);
    return out;
}

std::string info_value(const NodeInfo& info) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "name", json::str(info.name));
    json::set(o.get(), "origin", json::str(info.origin));
    json::set(o.get(), "version", json::str(info.version));
    return dump_object(std::move(o));
}

Result<NodeInfo> parse_info_value(std::string_view text) {
    GAFFER_TRY(json::JsonPtr doc, json::parse(text));
    NodeInfo out;
    for (auto [key, field] : {std::pair{"name", &out.name}, {"origin", &out.origin}, {"version", &out.version}}) {
        const json_t* v = json_object_get(doc.get(), key);
        if (!json_is_string(v))
            return fail(EINVAL, std::string("node info: '") + key + "' is not a string");
        *field = json_string_value(v);
    }
    return out;
}

std::string job_value(const std::vector<int>& pids) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "pids", json::ints(pids));
    return dump_object(std::move(o));
}

Result<std::vector<int>> parse_job_value(std::string_view text) {
    GAFFER_TRY(json::JsonPtr doc, json::parse(text));
    const json_t* pids = json_object_get(doc.get(), "pids");
    if (!json_is_array(pids))
        return fail(EINVAL, "job value: 'pids' is not an array");
    std::vector<int> out;
    size_t i;
    const json_t* p;
    json_array_foreach(pids, i, p) {
        if (!json_is_integer(p) || json_integer_value(p) <= 0 || json_integer_value(p) > INT32_MAX)
            return fail(EINVAL, "job value: a pid is not a positive integer");
        out.push_back(static_cast<int>(json_integer_value(p)));
    }
    return out;
}

}  // namespace gaffer::etcd
