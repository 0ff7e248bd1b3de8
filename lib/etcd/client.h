// SPDX-License-Identifier: MIT
// etcd Client: POSTs to etcd's v3 JSON gateway on the gafferd loop, through a CurlLoop
// (lib/webhook/curl_loop.h: libcurl multi, dlopen'ed; gafferd does not link libcurl).
// Bodies are built and answers parsed by codec.h; this file only moves bytes.
//
// Two kinds of call:
// - call(): one request, one answer (lease grant/keepalive/revoke, put, range,
//   deleterange). The gateway's keepalive is a streaming endpoint, but its first message
//   is the answer and the server ends the stream when the request body ends, so one POST
//   per keepalive works as a unary call.
// - stream(): a long-lived POST (watch) whose answer is a stream of JSON messages, each
//   handed over whole (codec.h JsonStreamSplitter), until the stream ends.
//
// Endpoints: tried in order from the last one that answered; a call whose connection
// fails (refused, unreachable, reset before an answer) goes to the next one, each
// endpoint at most once per call. An answer, even an error, ends the call.
//
// Invariants and bounds:
// - Callbacks run on the loop, never from inside call()/stream()/cancel() and never
//   inside a libcurl callback; a cancelled call's callbacks never run.
// - A unary answer is at most Options::max_answer_bytes, a stream message at most
//   Options::max_message_bytes (with at most twice that waiting for delivery); past
//   either, the call fails with E2BIG.
// - Every unary call has a total timeout; a stream only a connect timeout and TCP
//   keepalive (a watch may be silent for hours).
// - Destroying the Client abandons every call, with no callback; it must be destroyed
//   before the Loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/result.h"
#include "lib/etcd/codec.h"
#include "lib/loop/loop.h"

namespace gaffer::webhook {
class CurlLoop;
}

namespace gaffer::etcd {

struct ClientOptions {
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds request_timeout{5000};  // unary calls, connect included
    std::size_t max_answer_bytes = 32 * 1024 * 1024;  // a range over a big fleet
    std::size_t max_message_bytes = 4 * 1024 * 1024;  // one watch message
};

class Client {
public:
    using CallId = std::uint64_t;
    // The body of a 2xx answer, or the error: the gateway's (codec.h gateway_error),
    // EHOSTUNREACH when no endpoint could be reached, ETIMEDOUT, E2BIG, EIO.
    using Reply = std::function<void(Result<std::string> body)>;
    using OnMessage = std::function<void(std::string message)>;
    // The stream ended: ok() when the server closed it cleanly, else why.
    using OnEnd = std::function<void(Status status)>;

    // `endpoints`: base URLs as parse_endpoints() returns them (at least one). Loads
    // libcurl (ELIBACC when it is missing). EINVAL for a host name when libcurl cannot
    // resolve names asynchronously (only IP literals and localhost then).
    static Result<std::unique_ptr<Client>> create(loop::Loop& loop, std::vector<std::string> endpoints,
                                                  ClientOptions options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // POST `path` ("/v3/kv/put") with the JSON `body`; `reply` runs once, later.
    CallId call(std::string path, std::string body, Reply reply);
    // POST `path` ("/v3/watch"); `on_message` for each message, then `on_end` once.
    CallId stream(std::string path, std::string body, OnMessage on_message, OnEnd on_end);
    // Abandons a call: none of its callbacks runs afterwards. Unknown ids are ignored.
    void cancel(CallId id);
    std::size_t in_flight() const { return calls_.size(); }
    const std::vector<std::string>& endpoints() const { return endpoints_; }

private:
    struct Call;
    Client(loop::Loop& loop, std::vector<std::string> endpoints, ClientOptions options,
           std::unique_ptr<webhook::CurlLoop> curl);
    CallId start(std::unique_ptr<Call> call);
    Status send(Call& call);
    void on_done(CallId id, int code);
    // Removes a call and frees its handles; nullptr for an unknown id.
    std::unique_ptr<Call> take(CallId id);
    // Ends a call with its result: the reply, or on_end (ok for any value).
    void finish(CallId id, Result<std::string> result);
    void deliver(CallId id);
    static size_t on_data(char* data, size_t size, size_t nmemb, void* userp);

    loop::Loop& loop_;
    std::vector<std::string> endpoints_;
    ClientOptions options_;
    std::unique_ptr<webhook::CurlLoop> curl_;
    std::size_t current_ = 0;  // the endpoint that answered last
    CallId next_id_ = 1;
    std::map<CallId, std::unique_ptr<Call>> calls_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace gaffer::etcd
