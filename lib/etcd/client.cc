// SPDX-License-Identifier: MIT
#include "lib/etcd/client.h"

#include <curl/curl.h>

#include <utility>

#include "lib/webhook/curl_api.h"
#include "lib/webhook/curl_loop.h"

namespace gaffer::etcd {
namespace {

void free_easy(const webhook::CurlApi* curl, CURL* easy) {
    if (easy)
        curl->easy_cleanup(easy);
}

// A failure that says nothing about the request, only about the connection: another
// endpoint may answer it.
bool connection_failed(int code) {
    switch (code) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
            return true;
        default:
            return false;
    }
}

bool literal_or_localhost(const std::string& url) {
    std::string_view hp(url);
    hp.remove_prefix(hp.find("://") + 3);
    if (hp.starts_with('['))
        return true;
    std::string_view host = hp.substr(0, hp.rfind(':'));
    return host == "localhost" || host.find_first_not_of("0123456789.") == std::string_view::npos;
}

}  // namespace

struct Client::Call {
    Client* client = nullptr;
    CallId id = 0;
    bool streaming = false;
    std::string path, body;
    Reply reply;
    OnMessage on_message;
    OnEnd on_end;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::size_t endpoint = 0;  // index into endpoints_
    std::size_t tried = 0;     // endpoints tried so far
    bool answered = false;     // some byte came back: do not try another endpoint
    std::string answer;        // unary: the body so far
    JsonStreamSplitter splitter{0};
    std::deque<std::string> ready;  // stream: whole messages waiting for delivery
    std::size_t ready_bytes = 0;
    bool delivery_posted = false;
    bool overflow = false;
};

Result<std::unique_ptr<Client>> Client::create(loop::Loop& loop, std::vector<std::string> endpoints,
                                               ClientOptions options) {
    if (endpoints.empty())
        return fail(EINVAL, "etcd: no endpoint");
    GAFFER_TRY(std::unique_ptr<webhook::CurlLoop> curl, webhook::CurlLoop::create(loop));
    if (!curl->async_dns())
        for (const auto& url : endpoints)
            if (!literal_or_localhost(url))
                return fail(EINVAL, "etcd endpoint '" + url +
                                        "': this libcurl resolves names synchronously; give an IP address");
    return std::unique_ptr<Client>(new Client(loop, std::move(endpoints), options, std::move(curl)));
}

Client::Client(loop::Loop& loop, std::vector<std::string> endpoints, ClientOptions options,
               std::unique_ptr<webhook::CurlLoop> curl)
    : loop_(loop), endpoints_(std::move(endpoints)), options_(options), curl_(std::move(curl)) {}

Client::~Client() {
    *alive_ = false;
    while (!calls_.empty()) (void)take(calls_.begin()->first);
}

Client::CallId Client::call(std::string path, std::string body, Reply reply) {
    auto c = std::make_unique<Call>();
    c->path = std::move(path);
    c->body = std::move(body);
    c->reply = std::move(reply);
    return start(std::move(c));
}

Client::CallId Client::stream(std::string path, std::string body, OnMessage on_message, OnEnd on_end) {
    auto c = std::make_unique<Call>();
    c->streaming = true;
    c->path = std::move(path);
    c->body = std::move(body);
    c->on_message = std::move(on_message);
    c->on_end = std::move(on_end);
    c->splitter = JsonStreamSplitter(options_.max_message_bytes);
    return start(std::move(c));
}

Client::CallId Client::start(std::unique_ptr<Call> c) {
    CallId id = next_id_++;
    c->client = this;
    c->id = id;
    c->endpoint = current_;
    Call& call = *c;
    calls_.emplace(id, std::move(c));
    if (auto st = send(call); !st) {
        // Never call back from inside call()/stream().
        std::weak_ptr<bool> alive = alive_;
        loop_.post([this, alive, id, err = st.error()] {
            if (!alive.expired())
                finish(id, fail(err));
        });
    }
    return id;
}

Status Client::send(Call& call) {
    const webhook::CurlApi& curl = curl_->curl();
    free_easy(&curl, call.easy);
    call.easy = curl.easy_init();
    if (!call.easy)
        return fail(ENOMEM, "etcd: curl_easy_init failed");
    if (!call.headers) {
        // No "Expect: 100-continue" round trip before a large transaction.
        for (const char* h : {"Content-Type: application/json", "Expect:"}) {
            curl_slist* next = curl.slist_append(call.headers, h);
            if (!next)
                return fail(ENOMEM, "etcd: curl_slist_append failed");
            call.headers = next;
        }
    }
    call.answer.clear();
    call.answered = false;
    std::string url = endpoints_[call.endpoint] + call.path;
    CURL* e = call.easy;
    bool good =
        curl.easy_setopt(e, CURLOPT_URL, url.c_str()) == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
        curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
#else
        curl.easy_setopt(e, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK &&
#endif
        curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size())) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_POSTFIELDS, call.body.data()) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_HTTPHEADER, call.headers) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count())) ==
            CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_TIMEOUT_MS,
                         call.streaming ? 0L : static_cast<long>(options_.request_timeout.count())) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 5L) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 5L) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, &Client::on_data) == CURLE_OK &&
        curl.easy_setopt(e, CURLOPT_WRITEDATA, &call) == CURLE_OK;
    if (!good)
        return fail(EIO, "etcd: cannot configure a request to " + url);
    CallId id = call.id;
    std::weak_ptr<bool> alive = alive_;
    return curl_->add(e, [this, alive, id](CURLcode code) {
        if (!alive.expired())
            on_done(id, code);
    });
}

size_t Client::on_data(char* data, size_t size, size_t nmemb, void* userp) {
    auto& call = *static_cast<Call*>(userp);
    Client& self = *call.client;
    size_t n = size * nmemb;
    call.answered = true;
    if (!call.streaming) {
        if (call.answer.size() + n > self.options_.max_answer_bytes) {
            call.overflow = true;
            return 0;  // CURLE_WRITE_ERROR
        }
        call.answer.append(data, n);
        return n;
    }
    if (!call.splitter.feed(std::string_view(data, n))) {
        call.overflow = true;
        return 0;
    }
    while (auto msg = call.splitter.next()) {
        call.ready_bytes += msg->size();
        call.ready.push_back(std::move(*msg));
    }
    if (call.ready_bytes > 2 * self.options_.max_message_bytes) {
        call.overflow = true;
        return 0;
    }
    // Deliver on the next turn: the receiver may cancel, which libcurl forbids from here.
    if (!call.ready.empty() && !call.delivery_posted) {
        call.delivery_posted = true;
        std::weak_ptr<bool> alive = self.alive_;
        CallId id = call.id;
        self.loop_.post([&self, alive, id] {
            if (!alive.expired())
                self.deliver(id);
        });
    }
    return n;
}

void Client::deliver(CallId id) {
    auto it = calls_.find(id);
    if (it == calls_.end())
        return;
    it->second->delivery_posted = false;
    while (true) {
        it = calls_.find(id);  // on_message may cancel the call
        if (it == calls_.end() || it->second->ready.empty())
            return;
        Call& call = *it->second;
        std::string msg = std::move(call.ready.front());
        call.ready.pop_front();
        call.ready_bytes -= msg.size();
        OnMessage cb = call.on_message;
        cb(std::move(msg));
    }
}

void Client::on_done(CallId id, int code) {
    auto it = calls_.find(id);
    if (it == calls_.end())
        return;
    Call& call = *it->second;
    const webhook::CurlApi& curl = curl_->curl();
    if (call.overflow)
        return finish(id, fail(E2BIG, "etcd: answer too long"));
    if (code != CURLE_OK && connection_failed(code) && !call.answered) {
        if (++call.tried < endpoints_.size()) {
            call.endpoint = (call.endpoint + 1) % endpoints_.size();
            if (auto st = send(call); !st)
                return finish(id, fail(st.error()));
            return;
        }
        return finish(id, fail(EHOSTUNREACH, std::string("etcd: no endpoint answered (last: ") +
                                                 curl.easy_strerror(static_cast<CURLcode>(code)) + ")"));
    }
    current_ = call.endpoint;
    if (code == CURLE_OPERATION_TIMEDOUT)
        return finish(id, fail(ETIMEDOUT, "etcd: request timed out"));
    if (code != CURLE_OK)
        return finish(id, fail(EIO, std::string("etcd: ") + curl.easy_strerror(static_cast<CURLcode>(code))));
    long status = 0;
    (void)curl.easy_getinfo(call.easy, CURLINFO_RESPONSE_CODE, &status);
    if (call.streaming) {
        // Messages still waiting are delivered before the end.
        deliver(id);
        if (!calls_.contains(id))
            return;
        if (status / 100 != 2)
            return finish(id, fail(EIO, "etcd: HTTP " + std::to_string(status)));
        return finish(id, std::string());
    }
    if (status / 100 != 2) {
        auto doc = json::parse(call.answer);
        if (doc && json_is_object(doc->get()))
            if (auto err = gateway_error(doc->get()))
                return finish(id, fail(*err));
        return finish(id, fail(EIO, "etcd: HTTP " + std::to_string(status)));
    }
    std::string answer = std::move(call.answer);
    finish(id, std::move(answer));
}

std::unique_ptr<Client::Call> Client::take(CallId id) {
    auto it = calls_.find(id);
    if (it == calls_.end())
        return nullptr;
    std::unique_ptr<Call> call = std::move(it->second);
    calls_.erase(it);
    curl_->remove(call->easy);
    free_easy(&curl_->curl(), call->easy);
    curl_->curl().slist_free_all(call->headers);
    return call;
}

void Client::finish(CallId id, Result<std::string> result) {
    std::unique_ptr<Call> call = take(id);
    if (!call)
        return;
    if (call->streaming) {
        if (call->on_end)
            call->on_end(result ? ok() : Status(fail(result.error())));
    } else if (call->reply) {
        call->reply(std::move(result));
    }
}

void Client::cancel(CallId id) {
    (void)take(id);
}

}  // namespace gaffer::etcd
