// SPDX-License-Identifier: MIT
// Webhook delivery over libcurl's multi API on the gafferd loop (see dispatcher.h).
//
// The flow: an EventBus callback turns one event into one Delivery per matching URL and
// queues them (pending_, oldest first); pump() starts the oldest ready ones while fewer than
// max_in_flight are open on the CurlLoop (curl_loop.h); finished transfers are
// classified (retry.h): delivered, re-queued with a back-off, or failed. Every libcurl call
// goes through the CurlApi table (curl_api.h), loaded by the first non-empty set_hooks().
#include "lib/webhook/dispatcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cinttypes>
#include <ctime>

#include "lib/base/log.h"
#include "lib/json/json.h"
#include "lib/webhook/curl_api.h"
#include "lib/webhook/curl_loop.h"
#include "lib/webhook/retry.h"
#include "lib/webhook/signature.h"

#if __has_include("gaffer_config.h")
#include "gaffer_config.h"
#endif
#ifndef GAFFER_VERSION
#define GAFFER_VERSION "0.0.0"
#endif

namespace gaffer::webhook {

namespace {

using namespace std::chrono_literals;

constexpr auto kLogInterval = 10s;  // at most one drop and one failure warning per interval
constexpr const char* kUserAgent = "gafferd/" GAFFER_VERSION;

struct EasyDeleter {
    const CurlApi* curl = nullptr;
    void operator()(CURL* e) const { curl->easy_cleanup(e); }
};
struct SlistDeleter {
    const CurlApi* curl = nullptr;
    void operator()(curl_slist* l) const { curl->slist_free_all(l); }
};

// Response bodies are not wanted; total_timeout bounds how long one can stream.
size_t discard_body(char*, size_t size, size_t nmemb, void*) {
    return size * nmemb;
}

template <typename T>
bool set(const CurlApi& curl, CURL* easy, CURLoption option, T value) {
    return curl.easy_setopt(easy, option, value) == CURLE_OK;
}

// True when a rate-limited warning may be written now; counts the occurrence either way.
bool log_due(uint64_t& since_last, loop::Clock::time_point& last, loop::Clock::time_point now) {
    ++since_last;
    if (last != loop::Clock::time_point{} && now - last < kLogInterval)
        return false;
    last = now;
    return true;
}

}  // namespace

struct Dispatcher::Transfer {
    Delivery delivery;
    std::unique_ptr<CURL, EasyDeleter> easy;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
};

Dispatcher::Dispatcher(loop::Loop& loop, events::EventBus& bus, Options options)
    : loop_(loop), bus_(bus), options_(std::move(options)) {}

Result<std::unique_ptr<Dispatcher>> Dispatcher::create(loop::Loop& loop, events::EventBus& bus, Options options) {
    if (options.max_queue == 0 || options.max_in_flight == 0 || options.max_attempts < 1)
        return fail(EINVAL, "webhook options: max_queue, max_in_flight and max_attempts must be at least 1");
    if (options.connect_timeout <= 0ms || options.total_timeout <= 0ms)
        return fail(EINVAL, "webhook options: timeouts must be positive");
    if (options.first_backoff < 0ms || options.max_backoff < options.first_backoff)
        return fail(EINVAL, "webhook options: need 0 <= first_backoff <= max_backoff");
    return std::unique_ptr<Dispatcher>(new Dispatcher(loop, bus, std::move(options)));
}

Status Dispatcher::init_curl() {
    GAFFER_TRY(auto curl, CurlLoop::create(loop_, static_cast<long>(options_.max_in_flight)));
    async_dns_ = curl->async_dns();
    curl_ = std::move(curl);
    return ok();
}

Dispatcher::~Dispatcher() {
    for (auto& [pattern, id] : subs_) bus_.unsubscribe(id);
    closing_ = true;
    // The CurlLoop abandons the transfers (no callback) before their handles go.
    curl_.reset();
    transfers_.clear();
    loop_.cancel_timer(retry_timer_);
}

Status Dispatcher::set_hooks(const std::vector<std::pair<std::string, std::string>>& hooks, size_t* bad_index) {
    if (!hooks.empty() && !curl_)
        GAFFER_RETURN_IF_ERROR(init_curl());
    GAFFER_TRY(HookSet next, HookSet::make(hooks, async_dns_, bad_index));
    const std::vector<std::string>& patterns = next.patterns();
    for (auto it = subs_.begin(); it != subs_.end();) {
        if (std::find(patterns.begin(), patterns.end(), it->first) != patterns.end()) {
            ++it;
            continue;
        }
        bus_.unsubscribe(it->second);
        it = subs_.erase(it);
    }
    for (const std::string& p : patterns) {
        if (subs_.count(p))
            continue;
        subs_.emplace(
            p, bus_.subscribe(p, [this, p](const std::string& type, const json_t* msg) { on_event(p, type, msg); }));
    }
    hooks_ = std::move(next);
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (hooks_.has_url(it->second.url)) {
            ++it;
            continue;
        }
        ++stats_.dropped;
        it = pending_.erase(it);
    }
    log_debug("webhooks: %zu hook(s), %zu subscription(s)", hooks_.hooks().size(), subs_.size());
    return ok();
}

void Dispatcher::set_secret(std::string secret) {
    options_.secret = std::move(secret);
}

Dispatcher::Stats Dispatcher::stats() const {
    Stats s = stats_;
    s.queued = pending_.size();
    s.in_flight = transfers_.size();
    return s;
}

void Dispatcher::on_event(const std::string& pattern, const std::string& type, const json_t* msg) {
    // Several of our subscriptions may match one event; the first matching pattern speaks
    // for all of them, so each URL gets the event once.
    const std::string* first = hooks_.first_pattern_for(type);
    if (!first || *first != pattern)
        return;
    std::vector<std::string> urls = hooks_.urls_for(type);
    if (urls.empty())
        return;
    auto payload = std::make_shared<const Payload>(Payload{type, json::dump(msg)});
    auto now = loop_.now();
    for (std::string& url : urls) enqueue(Delivery{next_seq_++, std::move(url), payload, 0, now});
    pump();
}

void Dispatcher::enqueue(Delivery d) {
    uint64_t seq = d.seq;
    pending_.emplace(seq, std::move(d));
    while (pending_.size() > options_.max_queue) {
        pending_.erase(pending_.begin());
        ++stats_.dropped;
        if (log_due(drop_log_.since_last, drop_log_.last, loop_.now())) {
            log_warning("webhooks: queue full (%zu deliveries waiting): dropped %" PRIu64
                        " of the oldest since the last message (%" PRIu64 " in all)",
                        options_.max_queue, drop_log_.since_last, stats_.dropped);
            drop_log_.since_last = 0;
        }
    }
}

void Dispatcher::pump() {
    if (closing_)
        return;
    auto now = loop_.now();
    std::optional<loop::Clock::time_point> earliest;
    auto it = pending_.begin();
    while (transfers_.size() < options_.max_in_flight && it != pending_.end()) {
        if (it->second.not_before > now) {
            if (!earliest || it->second.not_before < *earliest)
                earliest = it->second.not_before;
            ++it;
            continue;
        }
        Delivery d = std::move(it->second);
        it = pending_.erase(it);
        start(std::move(d));
    }
    // With a free slot left, every waiting delivery was looked at: wake up for the first
    // whose back-off ends. Without one, the next finished transfer pumps again.
    if (transfers_.size() < options_.max_in_flight && earliest)
        arm_retry_timer(*earliest);
}

void Dispatcher::arm_retry_timer(loop::Clock::time_point when) {
    if (retry_timer_ != 0 && retry_at_ <= when)
        return;
    loop_.cancel_timer(retry_timer_);
    retry_at_ = when;
    retry_timer_ = loop_.add_timer(when - loop_.now(), [this] {
        retry_timer_ = 0;
        pump();
    });
}

void Dispatcher::start(Delivery d) {
    ++d.attempts;
    const CurlApi& curl = curl_->curl();  // deliveries exist only once hooks (and libcurl) were set
    auto t = std::make_unique<Transfer>(
        Transfer{std::move(d), {nullptr, EasyDeleter{&curl}}, {nullptr, SlistDeleter{&curl}}});
    const Delivery& dv = t->delivery;
    t->easy.reset(curl.easy_init());
    if (!t->easy)
        return note_failure(dv, "curl_easy_init failed");
    CURL* easy = t->easy.get();

    bool good = true;
    auto header = [&](const std::string& line) {
        curl_slist* head = curl.slist_append(t->headers.get(), line.c_str());
        if (!head) {
            good = false;
            return;
        }
        (void)t->headers.release();  // the same list, now with one more node
        t->headers.reset(head);
    };
    header("Content-Type: application/json");
    header("Expect:");  // no 100-continue round trip
    if (!options_.secret.empty()) {
        auto secs =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
        std::string ts = std::to_string(secs.count());
        header("X-Gaffer-Timestamp: " + ts);
        header("X-Gaffer-Signature: " + signature(options_.secret, ts, dv.payload->body));
    }
    const std::string& body = dv.payload->body;
    good = good && set(curl, easy, CURLOPT_URL, dv.url.c_str()) && set(curl, easy, CURLOPT_PRIVATE, t.get()) &&
#if LIBCURL_VERSION_NUM >= 0x075500
           set(curl, easy, CURLOPT_PROTOCOLS_STR, "http,https") &&
#else
           set(curl, easy, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS)) &&
#endif
           set(curl, easy, CURLOPT_FOLLOWLOCATION, 0L) && set(curl, easy, CURLOPT_POST, 1L) &&
           set(curl, easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())) &&
           set(curl, easy, CURLOPT_POSTFIELDS, body.data()) && set(curl, easy, CURLOPT_HTTPHEADER, t->headers.get()) &&
           set(curl, easy, CURLOPT_USERAGENT, kUserAgent) &&
           set(curl, easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count())) &&
           set(curl, easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count())) &&
           set(curl, easy, CURLOPT_WRITEFUNCTION, &discard_body);
    if (!good)
        return note_failure(dv, "cannot set up the request");

    Transfer* raw = t.get();
    transfers_.emplace(easy, std::move(t));
    Status added = curl_->add(easy, [this, easy](CURLcode result) {
        finish(easy, result);
        pump();
    });
    if (!added) {
        Delivery failed = std::move(raw->delivery);
        transfers_.erase(easy);
        return note_failure(failed, added.error().message());
    }
    log_debug("webhook %s: POST '%s' (attempt %d)", redact_url(raw->delivery.url).c_str(),
              raw->delivery.payload->type.c_str(), raw->delivery.attempts);
}

void Dispatcher::finish(void* easy, int curl_code) {
    const CurlApi& curl = curl_->curl();
    long status = 0;
    (void)curl.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    auto it = transfers_.find(easy);
    if (it == transfers_.end())
        return;  // not ours: cannot happen, nothing to account
    Delivery d = std::move(it->second->delivery);
    transfers_.erase(it);

    std::string why =
        curl_code != CURLE_OK ? curl.easy_strerror(static_cast<CURLcode>(curl_code)) : "HTTP " + std::to_string(status);
    switch (classify(curl_code, status)) {
        case Outcome::kDelivered:
            ++stats_.delivered;
            log_debug("webhook %s: '%s' delivered (%s)", redact_url(d.url).c_str(), d.payload->type.c_str(),
                      why.c_str());
            return;
        case Outcome::kRetry:
            if (d.attempts < options_.max_attempts && hooks_.has_url(d.url)) {
                auto delay = backoff(d.attempts, options_.first_backoff, options_.max_backoff);
                log_debug("webhook %s: '%s' attempt %d: %s; retrying in %lld ms", redact_url(d.url).c_str(),
                          d.payload->type.c_str(), d.attempts, why.c_str(), static_cast<long long>(delay.count()));
                d.not_before = loop_.now() + delay;
                ++stats_.retried;
                enqueue(std::move(d));
                return;
            }
            break;
        case Outcome::kFail:
            break;
    }
    note_failure(d, why);
}

void Dispatcher::note_failure(const Delivery& d, const std::string& why) {
    ++stats_.failed;
    if (!log_due(fail_log_.since_last, fail_log_.last, loop_.now()))
        return;
    log_warning("webhook %s: giving up on '%s' after %d attempt(s): %s (%" PRIu64
                " failure(s) since the last message, %" PRIu64 " in all)",
                redact_url(d.url).c_str(), d.payload->type.c_str(), d.attempts, why.c_str(), fail_log_.since_last,
                stats_.failed);
    fail_log_.since_last = 0;
}

}  // namespace gaffer::webhook
