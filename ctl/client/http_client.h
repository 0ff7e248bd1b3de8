// SPDX-License-Identifier: MIT
// HttpClient: a small synchronous HTTP/1.1 client for the command-line tools (gafferctl
// today, the `gaffer` CLI later), over libcurl's easy API; StreamSet: long-lived streamed
// requests (watch, tail, a SockJS xhr_streaming feed) over libcurl's multi API, and
// get_all(): several GETs at once, to as many endpoints, each with its own time limit.
//
// An endpoint is `http://host:port[/prefix]`, `https://host:port[/prefix]` or `unix:/path`;
// on a unix endpoint requests go to `http://localhost/<path>` through
// CURLOPT_UNIX_SOCKET_PATH. One HttpClient owns one curl easy handle and reuses it, so
// successive requests share a kept-alive connection.
//
// Invariants: a CurlGlobal must outlive every HttpClient; a client is used by one thread
// at a time; nothing throws. A transport failure (cannot connect, timeout, TLS, reply too
// large) is an Error whose message names the endpoint; every HTTP answer, 4xx and 5xx
// included, is a Response and the caller decides what its status means. Redirects are
// never followed and proxy variables are ignored: an admin client talks to its daemon
// directly.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.h"

namespace gaffer::client {

struct Endpoint {
    enum class Kind { kHttp, kHttps, kUnix };
    Kind kind = Kind::kHttp;
    // Base URL without a trailing '/': "http://127.0.0.1:5000", or "http://localhost" for
    // a unix endpoint.
    std::string base_url;
    std::string socket_path;  // unix endpoints only
    std::string text;         // as written by the user, for messages

    // Accepts http://HOST[:PORT][/PREFIX], https://..., unix:/PATH (also unix:///PATH and
    // a relative unix:PATH) and, as a convenience, a bare HOST:PORT (taken as http://).
    // EINVAL with a readable context on anything else.
    static Result<Endpoint> parse(std::string_view text);
};

struct TlsOptions {
    std::string certfile;   // client certificate (PEM), optional
    std::string keyfile;    // its private key (PEM), optional
    std::string cacert;     // CA bundle used to verify the server, optional
    bool insecure = false;  // do not verify the server certificate nor its name
};

struct ClientOptions {
    Endpoint endpoint;
    TlsOptions tls;
    std::string api_key;                   // sent as X-Api-Key when not empty
    std::chrono::milliseconds timeout{0};  // whole request; 0 = no limit
    std::chrono::milliseconds connect_timeout{10000};
    std::string user_agent = "gaffer-client";
    size_t max_body = 64u << 20;  // a larger answer is an error
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
    long status = 0;
    std::string body;
    std::string content_type;  // empty if the server sent none
    Headers headers;           // names lower-cased, in the order received

    // The value of the first header called `name` (lower-case), or nullptr.
    const std::string* header(std::string_view name) const;
    // application/json, with or without parameters (§2.2: both forms occur).
    bool is_json() const;
    bool ok() const { return status >= 200 && status < 300; }
};

// Process-wide libcurl initialisation (curl_global_init / curl_global_cleanup). Create
// one in main() before any HttpClient and keep it alive until the last one is gone.
class CurlGlobal {
public:
    static Result<CurlGlobal> init();
    CurlGlobal(CurlGlobal&& o) noexcept : active_(std::exchange(o.active_, false)) {}
    CurlGlobal& operator=(CurlGlobal&&) = delete;
    CurlGlobal(const CurlGlobal&) = delete;
    ~CurlGlobal();

private:
    CurlGlobal() = default;
    bool active_ = false;
};

class HttpClient {
public:
    // Validates the options (no CR/LF in the key, readable TLS files are left to curl)
    // and creates the easy handle.
    static Result<HttpClient> create(ClientOptions options);

    HttpClient(HttpClient&&) noexcept = default;
    HttpClient& operator=(HttpClient&&) noexcept = default;
    ~HttpClient();

    // Sends `method` `path` (which starts with '/' and may carry a query string; path
    // segments built from user input must go through path_segment()). With a body, it is
    // sent as given with `Content-Type: application/json` unless `headers` names another
    // type. Headers given here are added to (or override) the defaults (Accept,
    // Content-Type, X-Api-Key); one given with an empty value suppresses the default of
    // that name and is not sent.
    Result<Response> request(std::string_view method, std::string_view path,
                             std::optional<std::string_view> body = std::nullopt, const Headers& headers = {});

    const ClientOptions& options() const { return options_; }

private:
    struct EasyDeleter {
        void operator()(void* easy) const;
    };
    HttpClient(ClientOptions options, void* easy) : options_(std::move(options)), easy_(easy) {}

    ClientOptions options_;
    std::unique_ptr<void, EasyDeleter> easy_;
};

// ---------------------------------------------------------------------------------------
// Streaming: long-lived requests (the daemon's feed=continuous and eventsource answers, a
// lookupd's SockJS xhr_streaming POST), several at once, to one endpoint or several, over
// curl's multi interface, read as the bytes arrive.

// How a streamed request ended.
struct StreamEnd {
    long status = 0;             // 0 when no HTTP answer came
    std::string body;            // the body of a non-2xx answer (at most 64 KiB)
    std::string content_type;    // of a non-2xx answer
    std::optional<Error> error;  // transport failure, the connection lost mid-body included
    bool ok() const { return !error && status >= 200 && status < 300; }
    // A Response of status, body and content type, for messages about a non-2xx answer.
    Response response() const;
};

// One streamed request. By default a GET on the set's endpoint; `options` sends it to
// another endpoint (with that endpoint's key and TLS settings), `method` POST sends
// `body` (`Content-Type: application/json` when it is not empty), and `timeout` > 0 ends
// the whole transfer after that long (a time-out error).
struct StreamRequest {
    std::string path;
    std::string method = "GET";  // GET or POST
    std::string body;
    std::optional<ClientOptions> options;
    std::chrono::milliseconds timeout{0};
};

struct StreamHandlers {
    // The status line and the headers are in; the body follows. Optional.
    std::function<void(long status)> on_open;
    // A piece of a 2xx body as it arrived (the bytes of a non-2xx body are kept for
    // StreamEnd instead).
    std::function<void(std::string_view data)> on_data;
    // Once, when the transfer is over; never after cancel(). Optional.
    std::function<void(const StreamEnd& end)> on_end;
};

// A set of streamed requests driven by step(). Callbacks run inside step(); they may call
// add() and cancel() (both take effect within step()), nothing else of the set.
//
// Stop signals (SIGINT, SIGTERM, ...) are blocked while the set exists and read through a
// signalfd that step() polls with the transfers, so an interrupt ends the wait cleanly
// instead of killing the process; pending ones are discarded and the signal mask is
// restored on destruction. Waiting is curl_multi_poll: no busy loop.
class StreamSet {
public:
    using Id = uint64_t;

    static Result<StreamSet> create(const ClientOptions& options, std::initializer_list<int> stop_signals = {});
    StreamSet(StreamSet&&) noexcept;
    StreamSet& operator=(StreamSet&&) noexcept;
    StreamSet(const StreamSet&) = delete;
    StreamSet& operator=(const StreamSet&) = delete;
    ~StreamSet();

    // Queues `GET path` (a path and query as for HttpClient::request); it starts at the next
    // step(). With `idle_limit` > 0 the transfer fails when no byte at all arrives for that
    // long (set it above the heartbeat period the request asks for). The options' whole-request
    // timeout does not apply to streams (StreamRequest::timeout does); the connect timeout does.
    Id add(std::string path, StreamHandlers handlers, std::chrono::seconds idle_limit = std::chrono::seconds(0));
    // The same for any StreamRequest (another endpoint, a POST, a whole-transfer timeout).
    Id add(StreamRequest request, StreamHandlers handlers, std::chrono::seconds idle_limit = std::chrono::seconds(0));
    // Stops a stream without calling its on_end.
    void cancel(Id id);
    // Streams added and neither ended nor cancelled.
    size_t size() const;
    // Moves every transfer forward, waiting at most `max_wait` for network activity or a
    // stop signal. Returns the number of the stop signal that arrived, else 0.
    Result<int> step(std::chrono::milliseconds max_wait = std::chrono::milliseconds(30000));

private:
    struct Impl;
    explicit StreamSet(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// One request of get_all(): `GET path` on `options.endpoint` with its key and TLS settings;
// the body is bounded by options.max_body.
constexpr size_t kGetAllParallel = 64;
struct GetRequest {
    ClientOptions options;
    std::string path;
};
// Sends the requests at once over one curl multi handle (at most kGetAllParallel in
// flight: as each one ends the next starts) and waits for all of them, each for at most
// `timeout` (connecting included) from its start. The answers come in the order of
// `requests`: a Response for every HTTP answer (4xx and 5xx included), else the transport
// Error, whose message names the endpoint. Signals are left alone (an interrupt ends the
// process, as it does during HttpClient::request()).
std::vector<Result<Response>> get_all(const std::vector<GetRequest>& requests, std::chrono::milliseconds timeout);

// Splits a byte stream into lines ('\n'-ended, given without it), holding at most
// `max_line` bytes of an unfinished line: a longer line is dropped whole and reported
// through `on_overlong` (optional) instead.
class LineSplitter {
public:
    explicit LineSplitter(size_t max_line) : max_line_(max_line) {}
    void feed(std::string_view bytes, const std::function<void(std::string_view line)>& on_line,
              const std::function<void()>& on_overlong = {});

private:
    size_t max_line_;
    std::string partial_;
    bool overlong_ = false;
};

// An incremental text/event-stream parser: `event:` and `data:` fields (several data lines
// joined with '\n'), an event per blank line; comments, other fields and heartbeat blank
// lines produce nothing. A line longer than 16 MiB is dropped.
class SseParser {
public:
    struct Event {
        std::string type = "message";
        std::string data;
    };
    void feed(std::string_view bytes, const std::function<void(const Event&)>& on_event);

private:
    void line(std::string_view l, const std::function<void(const Event&)>& on_event);
    LineSplitter lines_{16u << 20};
    Event cur_;
    bool has_data_ = false;
};

// Percent-encodes one path segment: RFC 3986 unreserved characters and the sub-delims,
// ':' and '@' stay; '/', '?', '#', '%', spaces, controls and non-ASCII bytes are encoded.
std::string path_segment(std::string_view s);
// Percent-encodes a query-string value.
std::string query_value(std::string_view s);
// "Basic <base64(user:password)>", the value of an Authorization header.
std::string basic_authorization(std::string_view user, std::string_view password);
// "Not Found" for 404; "" for an unknown status.
const char* reason_phrase(long status);

}  // namespace gaffer::client
