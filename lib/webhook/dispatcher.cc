// SPDX-License-Identifier: MIT
// Webhook delivery over libcurl's multi API on the gafferd loop (see dispatcher.h).
//
// The flow: an EventBus callback turns one event into one Delivery per matching URL and
// queues them (pending_, oldest first); pump() starts the oldest ready ones while fewer than
// max_in_flight are open; libcurl asks for socket watches and one timer, which call
// curl_multi_socket_action; finished transfers are read with curl_multi_info_read and
// classified (retry.h): delivered, re-queued with a back-off, or failed. libcurl functions
// are never called from inside libcurl's own callbacks: those only touch loop watches and
// the timer. Every libcurl call goes through the CurlApi table (curl_api.h), loaded by the
// first non-empty set_hooks().
#include "lib/webhook/dispatcher.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cinttypes>
#include <ctime>

#include "lib/base/log.h"
#include "lib/json/json.h"
#include "lib/webhook/curl_api.h"
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

// Every socket is born close-on-exec (style rule 10); libcurl makes it non-blocking.
curl_socket_t open_socket(void*, curlsocktype, struct curl_sockaddr* addr) {
    int fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
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

void CurlMultiDeleter::operator()(void* multi) const {
    (void)curl->multi_cleanup(multi);
}

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
    GAFFER_TRY(const CurlApi* curl, curl_api());
    const curl_version_info_data* info = curl->version_info(CURLVERSION_NOW);
    bool async_dns = info && (info->features & CURL_VERSION_ASYNCHDNS);
    log_debug("webhooks: %s, libcurl %s, %s resolver", curl->soname.c_str(), info ? info->version : "?",
              !async_dns ? "synchronous (host names refused)" : (info->ares ? "c-ares" : "threaded"));
    std::unique_ptr<void, CurlMultiDeleter> multi(curl->multi_init(), CurlMultiDeleter{curl});
    if (!multi)
        return fail(EIO, "curl_multi_init failed");
    bool good =
        curl->multi_setopt(multi.get(), CURLMOPT_SOCKETFUNCTION, &Dispatcher::on_curl_socket) == CURLM_OK &&
        curl->multi_setopt(multi.get(), CURLMOPT_SOCKETDATA, this) == CURLM_OK &&
        curl->multi_setopt(multi.get(), CURLMOPT_TIMERFUNCTION, &Dispatcher::on_curl_timer) == CURLM_OK &&
        curl->multi_setopt(multi.get(), CURLMOPT_TIMERDATA, this) == CURLM_OK &&
        curl->multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_in_flight)) == CURLM_OK;
    if (!good)
        return fail(EIO, "curl_multi_setopt failed");
    curl_ = curl;
    async_dns_ = async_dns;
    multi_ = std::move(multi);
    return ok();
}

Dispatcher::~Dispatcher() {
    for (auto& [pattern, id] : subs_) bus_.unsubscribe(id);
    // Drop the watches first: libcurl closes its sockets below, and a watch must go before
    // its fd does. The callbacks then find nothing to do.
    closing_ = true;
    for (auto& [fd, id] : sockets_) loop_.unwatch(id);
    sockets_.clear();
    for (auto& [easy, t] : transfers_) (void)curl_->multi_remove_handle(multi_.get(), easy);
    transfers_.clear();
    multi_.reset();
    loop_.cancel_timer(curl_timer_);
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
    const CurlApi& curl = *curl_;  // deliveries exist only once hooks (and libcurl) were set
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
           set(curl, easy, CURLOPT_NOSIGNAL, 1L) &&
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
           set(curl, easy, CURLOPT_WRITEFUNCTION, &discard_body) &&
           set(curl, easy, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
    if (!good)
        return note_failure(dv, "cannot set up the request");

    Transfer* raw = t.get();
    transfers_.emplace(easy, std::move(t));
    CURLMcode rc = curl.multi_add_handle(multi_.get(), easy);
    if (rc != CURLM_OK) {
        Delivery failed = std::move(raw->delivery);
        transfers_.erase(easy);
        return note_failure(failed, curl.multi_strerror(rc));
    }
    log_debug("webhook %s: POST '%s' (attempt %d)", redact_url(raw->delivery.url).c_str(),
              raw->delivery.payload->type.c_str(), raw->delivery.attempts);
}

int Dispatcher::on_curl_socket(void* /*easy*/, int fd, int what, void* userp, void* /*socketp*/) {
    auto* self = static_cast<Dispatcher*>(userp);
    if (self->closing_)
        return 0;
    auto it = self->sockets_.find(fd);
    if (what == CURL_POLL_REMOVE) {
        if (it != self->sockets_.end()) {
            self->loop_.unwatch(it->second);
            self->sockets_.erase(it);
        }
        return 0;
    }
    uint32_t events = 0;
    if (what & CURL_POLL_IN)
        events |= POLLIN;
    if (what & CURL_POLL_OUT)
        events |= POLLOUT;
    if (it != self->sockets_.end()) {
        if (self->loop_.modify(it->second, events))
            return 0;
        // The registration is stale (say the backend lost it); start afresh.
        self->loop_.unwatch(it->second);
        self->sockets_.erase(it);
    }
    auto w = self->loop_.watch(fd, events, [self, fd](uint32_t revents) {
        int mask = 0;
        if (revents & (POLLIN | POLLHUP))
            mask |= CURL_CSELECT_IN;
        if (revents & POLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (revents & POLLERR)
            mask |= CURL_CSELECT_ERR;
        self->socket_action(fd, mask);
    });
    if (!w) {
        log_debug("webhooks: cannot watch fd %d: %s", fd, w.error().message().c_str());
        return -1;  // libcurl fails the transfers on this socket
    }
    self->sockets_.emplace(fd, *w);
    return 0;
}

int Dispatcher::on_curl_timer(void* /*multi*/, long timeout_ms, void* userp) {
    auto* self = static_cast<Dispatcher*>(userp);
    if (self->closing_)
        return 0;
    self->loop_.cancel_timer(self->curl_timer_);
    self->curl_timer_ = 0;
    if (timeout_ms < 0)
        return 0;
    // Zero means "as soon as possible", but not from inside this callback: a loop timer
    // due now runs on the next turn.
    self->curl_timer_ = self->loop_.add_timer(std::chrono::milliseconds(timeout_ms), [self] {
        self->curl_timer_ = 0;
        self->socket_action(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
}

void Dispatcher::socket_action(int fd, int mask) {
    int running = 0;
    CURLMcode rc = curl_->multi_socket_action(multi_.get(), fd, mask, &running);
    if (rc != CURLM_OK)
        log_debug("webhooks: curl_multi_socket_action: %s", curl_->multi_strerror(rc));
    drain_done();
    pump();
}

void Dispatcher::drain_done() {
    int left = 0;
    while (CURLMsg* m = curl_->multi_info_read(multi_.get(), &left)) {
        if (m->msg != CURLMSG_DONE)
            continue;
        // The message dies with the handle: copy what finish() needs first.
        CURL* easy = m->easy_handle;
        CURLcode result = m->data.result;
        finish(easy, result);
    }
}

void Dispatcher::finish(void* easy, int curl_code) {
    long status = 0;
    (void)curl_->easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    (void)curl_->multi_remove_handle(multi_.get(), easy);
    auto it = transfers_.find(easy);
    if (it == transfers_.end())
        return;  // not ours: cannot happen, nothing to account
    Delivery d = std::move(it->second->delivery);
    transfers_.erase(it);

    std::string why = curl_code != CURLE_OK ? curl_->easy_strerror(static_cast<CURLcode>(curl_code))
                                            : "HTTP " + std::to_string(status);
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
