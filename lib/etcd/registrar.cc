// SPDX-License-Identifier: MIT
#include "lib/etcd/registrar.h"

#include <utility>

#include "lib/base/log.h"
#include "lib/etcd/client.h"
#include "lib/manager/manager.h"
#include "lib/model/job_spec.h"

namespace gaffer::etcd {
namespace {

// The events after which a job's entry (its existence or its pids) may differ.
constexpr const char* kJobEvents[] = {"load", "unload", "update", "spawn", "reap", "exit", "stop_process"};

// The store revision a unary answer carries, or why there is none.
Result<int64_t> revision_of(const Result<std::string>& body) {
    if (!body)
        return fail(body.error());
    return parse_revision(*body);
}

}  // namespace

Result<std::unique_ptr<Registrar>> Registrar::create(loop::Loop& loop, events::EventBus& bus,
                                                     const manager::Manager& manager, RegistrarOptions options) {
    if (!valid_node_name(options.info.name))
        return fail(EINVAL, "etcd registry: invalid node name '" + options.info.name + "'");
    if (options.heartbeat < std::chrono::milliseconds(100))
        return fail(EINVAL, "etcd registry: the heartbeat must be at least 0.1 s");
    GAFFER_TRY(std::unique_ptr<Client> client, Client::create(loop, options.endpoints));
    std::unique_ptr<Registrar> r(new Registrar(loop, bus, manager, std::move(options), std::move(client)));
    r->begin();
    return r;
}

Registrar::Registrar(loop::Loop& loop, events::EventBus& bus, const manager::Manager& manager, RegistrarOptions options,
                     std::unique_ptr<Client> client)
    : loop_(loop),
      bus_(bus),
      manager_(manager),
      options_(std::move(options)),
      client_(std::move(client)),
      rng_(std::random_device{}()) {
    for (const char* type : kJobEvents)
        subs_.push_back(bus_.subscribe(type, [this](const std::string&, const json_t* msg) { on_event(msg); }));
}

Registrar::~Registrar() {
    for (auto id : subs_) bus_.unsubscribe(id);
    for (auto t : {timer_, keepalive_timer_, flush_timer_})
        if (t)
            loop_.cancel_timer(t);
    client_.reset();  // abandons the calls in flight, without callbacks
}

std::chrono::seconds Registrar::ttl() const {
    auto three = std::chrono::ceil<std::chrono::seconds>(3 * options_.heartbeat);
    return std::max(three, std::chrono::seconds(2));
}

bool Registrar::in_sync() const {
    return state_ == State::kWriting && lease_ != 0 && dirty_.empty() && call_ == 0;
}

void Registrar::cancel_calls() {
    client_->cancel(call_);
    client_->cancel(keepalive_);
    call_ = keepalive_ = 0;
    for (auto* t : {&timer_, &keepalive_timer_, &flush_timer_}) {
        if (*t)
            loop_.cancel_timer(*t);
        *t = 0;
    }
}

void Registrar::failed(const Error& why) {
    if (state_ == State::kStopped)
        return;
    cancel_calls();
    ++stats_.failures;
    if (failures_++ == 0)
        log_warning("etcd registry: %s; registering again", why.message().c_str());
    else
        log_debug("etcd registry: %s", why.message().c_str());
    lease_ = 0;
    written_.clear();
    present_.clear();
    state_ = State::kBackoff;
    auto delay = jittered_backoff(failures_, options_.first_backoff, options_.max_backoff, rng_);
    timer_ = loop_.add_timer(delay, [this] {
        timer_ = 0;
        begin();
    });
}

void Registrar::begin() {
    state_ = State::kGranting;
    complete_ = false;
    call_ = client_->call("/v3/lease/grant", grant_request(ttl()), [this](Result<std::string> body) {
        call_ = 0;
        auto grant = body ? parse_grant(*body) : Result<Grant>(fail(body.error()));
        if (!grant)
            return failed(grant.error());
        lease_ = grant->id;
        keepalive_timer_ = loop_.add_timer(options_.heartbeat, [this] { keepalive(); });
        survey();
    });
}

void Registrar::survey() {
    state_ = State::kSurveying;
    std::string prefix = node_prefix(options_.info.name) + "jobs/";
    call_ = client_->call("/v3/kv/range", range_request(prefix, prefix_end(prefix), /*keys_only=*/true),
                          [this](Result<std::string> body) {
                              call_ = 0;
                              auto range = body ? parse_range(*body) : Result<RangeResult>(fail(body.error()));
                              if (!range)
                                  return failed(range.error());
                              present_.clear();
                              for (const auto& kv : range->kvs)
                                  if (auto key = parse_key(kv.key); key && key->job && key->node == options_.info.name)
                                      present_.insert(*key->job);
                              put_info();
                          });
}

void Registrar::put_info() {
    call_ = client_->call("/v3/kv/put", put_request(info_key(options_.info.name), info_value(options_.info), lease_),
                          [this](Result<std::string> body) {
                              call_ = 0;
                              if (auto rev = revision_of(body); !rev)
                                  return failed(rev.error());
                              state_ = State::kWriting;
                              mark_all_dirty();
                              write_next();
                          });
}

void Registrar::mark_all_dirty() {
    for (auto& name : manager_.jobs()) dirty_.insert(name);
    dirty_.insert(present_.begin(), present_.end());
}

void Registrar::on_event(const json_t* msg) {
    const json_t* name = json_object_get(msg, "name");
    if (!json_is_string(name) || state_ == State::kStopped)
        return;
    dirty_.insert(json_string_value(name));
    schedule_flush();
}

void Registrar::schedule_flush() {
    if (flush_timer_ || state_ != State::kWriting)
        return;
    flush_timer_ = loop_.add_timer(options_.coalesce, [this] {
        flush_timer_ = 0;
        write_next();
    });
}

void Registrar::write_next() {
    if (state_ != State::kWriting || call_ != 0)
        return;
    // The dirty jobs whose entry differs from what this session wrote, as one transaction
    // (at most kMaxTxnOps keys and about kMaxTxnBytes): etcd syncs its log once per
    // request, so 500 jobs cost 4 requests, not 500.
    std::vector<TxnOp> ops;
    std::vector<std::pair<std::string, std::string>> batch;  // job, value ("" = deleted)
    std::size_t bytes = 0;
    while (!dirty_.empty() && ops.size() < kMaxTxnOps && bytes < kMaxTxnBytes) {
        std::string job = std::move(dirty_.extract(dirty_.begin()).value());
        auto pids = manager_.pids(model::JobName::parse(job));
        auto w = written_.find(job);
        TxnOp op{job_key(options_.info.name, job), std::nullopt, lease_};
        if (pids) {
            op.value = job_value(*pids);
            if (w != written_.end() && w->second == *op.value)
                continue;
        } else if (w == written_.end() && !present_.contains(job)) {
            continue;  // unloaded, and etcd has no key for it
        }
        bytes += op.key.size() + (op.value ? op.value->size() : 0);
        batch.emplace_back(job, op.value.value_or(std::string()));
        ops.push_back(std::move(op));
    }
    if (ops.empty()) {
        if (!complete_ && in_sync()) {
            complete_ = true;
            ++stats_.registrations;
            if (failures_ > 0)
                log_info("etcd registry: registered again as '%s'", options_.info.name.c_str());
            failures_ = 0;
        }
        return;
    }
    call_ = client_->call("/v3/kv/txn", txn_request(ops), [this, batch = std::move(batch)](Result<std::string> body) {
        call_ = 0;
        if (auto rev = revision_of(body); !rev) {
            for (const auto& [job, value] : batch) dirty_.insert(job);  // rewritten by the next session anyway
            return failed(rev.error());
        }
        stats_.writes += batch.size();
        for (const auto& [job, value] : batch) {
            present_.erase(job);
            if (value.empty())
                written_.erase(job);
            else
                written_[job] = value;
        }
        write_next();
    });
}

void Registrar::keepalive() {
    keepalive_timer_ = 0;
    keepalive_ = client_->call("/v3/lease/keepalive", lease_request(lease_), [this](Result<std::string> body) {
        keepalive_ = 0;
        auto left = body ? parse_keepalive(*body) : Result<int64_t>(fail(body.error()));
        if (!left)
            return failed(left.error());
        if (*left <= 0)
            return failed(Error{ENOENT, "etcd: the lease expired"});
        keepalive_timer_ = loop_.add_timer(options_.heartbeat, [this] { keepalive(); });
    });
}

void Registrar::shutdown(std::function<void()> done) {
    int64_t lease = lease_;
    cancel_calls();
    state_ = State::kStopped;
    lease_ = 0;
    if (lease == 0) {
        loop_.post(std::move(done));
        return;
    }
    // Whichever comes first, the answer or the timeout, calls `done` once.
    auto once = std::make_shared<std::function<void()>>(std::move(done));
    auto fire = [once] {
        if (auto f = std::exchange(*once, nullptr))
            f();
    };
    timer_ = loop_.add_timer(options_.revoke_timeout, [this, fire] {
        timer_ = 0;
        client_->cancel(call_);
        call_ = 0;
        fire();
    });
    call_ = client_->call("/v3/lease/revoke", lease_request(lease), [this, fire](Result<std::string> body) {
        call_ = 0;
        if (!body)
            log_debug("etcd registry: revoking the lease: %s", body.error().message().c_str());
        if (timer_)
            loop_.cancel_timer(timer_);
        timer_ = 0;
        fire();
    });
}

}  // namespace gaffer::etcd
