// SPDX-License-Identifier: MIT
// HttpClient over libcurl's easy API (see http_client.h for the contract).
#include "ctl/client/http_client.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "lib/base/c_handle.h"
#include "lib/base/strutil.h"

namespace gaffer::client {

namespace {

CURL* as_easy(void* p) {
    return static_cast<CURL*>(p);
}

bool has_control_chars(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return true;
    return false;
}

// Collects the body (bounded) and the headers of one transfer.
struct Transfer {
    Response response;
    size_t max_body = 0;
    bool too_large = false;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * nmemb;
    if (t->response.body.size() + n > t->max_body) {
        t->too_large = true;
        return 0;  // makes curl abort with CURLE_WRITE_ERROR
    }
    t->response.body.append(data, n);
    return n;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * nmemb;
    std::string_view line(data, n);
    // A new status line (after a 100 Continue, say) starts a fresh header list.
    if (starts_with(line, "HTTP/")) {
        t->response.headers.clear();
        return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || t->response.headers.size() >= 200)
        return n;
    t->response.headers.emplace_back(to_lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    return n;
}

// curl_slist owner.
using Slist = CPtr<curl_slist, curl_slist_free_all>;

bool slist_append(Slist& list, const std::string& line) {
    curl_slist* n = curl_slist_append(list.get(), line.c_str());
    if (!n)
        return false;
    (void)list.release();
    list.reset(n);
    return true;
}

std::string seconds_text(std::chrono::milliseconds ms) {
    char buf[32];
    snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms.count()) / 1000.0);
    return buf;
}

// The Error for a failed transfer; its message names the endpoint.
Error transfer_error(CURLcode rc, CURL* c, const char* errbuf, const ClientOptions& options, bool too_large) {
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    long os_errno = 0;
    (void)curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    switch (rc) {
        case CURLE_COULDNT_CONNECT:
            if (os_errno > 0)
                return Error{static_cast<int>(os_errno), "cannot connect to " + options.endpoint.text};
            return Error{0, "cannot connect to " + options.endpoint.text + ": " + detail};
        case CURLE_COULDNT_RESOLVE_HOST:
            return Error{0, "cannot connect to " + options.endpoint.text + ": " + detail};
        case CURLE_OPERATION_TIMEDOUT:
            return Error{0, "no answer from " + options.endpoint.text + " within " +
                                seconds_text(options.timeout.count() > 0 ? options.timeout : options.connect_timeout)};
        case CURLE_WRITE_ERROR:
            if (too_large)
                return Error{0, "the answer from " + options.endpoint.text + " is larger than " +
                                    std::to_string(options.max_body) + " bytes"};
            break;
        case CURLE_GOT_NOTHING:
            return Error{0, options.endpoint.text + " closed the connection without answering"};
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_USE_SSL_FAILED:
            return Error{0, "TLS failure with " + options.endpoint.text + ": " + detail};
        default:
            break;
    }
    if (os_errno > 0 && (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR))
        return Error{static_cast<int>(os_errno), "connection to " + options.endpoint.text + " failed"};
    return Error{0, "request to " + options.endpoint.text + " failed: " + detail};
}

// Options shared by every request: URL, endpoint (unix socket or TLS), no signals, no
// proxy, no redirects, the connect timeout.
void configure(CURL* c, const ClientOptions& options, const std::string& url, char* errbuf) {
    const Endpoint& ep = options.endpoint;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    if (ep.kind == Endpoint::Kind::kUnix)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, ep.socket_path.c_str());
    if (ep.kind == Endpoint::Kind::kHttps) {
        const TlsOptions& tls = options.tls;
        if (!tls.certfile.empty())
            curl_easy_setopt(c, CURLOPT_SSLCERT, tls.certfile.c_str());
        if (!tls.keyfile.empty())
            curl_easy_setopt(c, CURLOPT_SSLKEY, tls.keyfile.c_str());
        if (!tls.cacert.empty())
            curl_easy_setopt(c, CURLOPT_CAINFO, tls.cacert.c_str());
        if (tls.insecure) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
}

std::string request_url(const Endpoint& ep, std::string_view path) {
    std::string url = ep.base_url;
    if (path.empty() || path[0] != '/')
        url += '/';
    url += path;
    return url;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Endpoint

Result<Endpoint> Endpoint::parse(std::string_view text) {
    Endpoint ep;
    std::string_view t = trim(text);
    ep.text = std::string(t);
    if (t.empty())
        return fail(Error::make(EINVAL, "empty endpoint"));
    if (has_control_chars(t))
        return fail(Error::make(EINVAL, "invalid endpoint '%s'", ep.text.c_str()));

    if (starts_with(t, "unix:")) {
        std::string_view path = t.substr(5);
        // unix:///run/x.sock is the URL-like spelling of unix:/run/x.sock.
        if (starts_with(path, "//"))
            path = path.substr(2);
        if (path.empty())
            return fail(Error::make(EINVAL, "endpoint '%s' has no socket path", ep.text.c_str()));
        ep.kind = Kind::kUnix;
        ep.socket_path = std::string(path);
        ep.base_url = "http://localhost";
        return ep;
    }

    std::string_view rest;
    if (starts_with(t, "http://")) {
        ep.kind = Kind::kHttp;
        rest = t.substr(7);
    } else if (starts_with(t, "https://")) {
        ep.kind = Kind::kHttps;
        rest = t.substr(8);
    } else if (t.find("://") != std::string_view::npos) {
        return fail(
            Error::make(EINVAL, "endpoint '%s': unsupported scheme (use http://, https:// or unix:)", ep.text.c_str()));
    } else {
        // 0.4 habits: "127.0.0.1:5000".
        ep.kind = Kind::kHttp;
        rest = t;
    }
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view prefix = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    if (authority.empty() || authority.find_first_of("?#@ ") != std::string_view::npos ||
        prefix.find_first_of("?#") != std::string_view::npos)
        return fail(Error::make(EINVAL,
                                "invalid endpoint '%s' (expected http://HOST:PORT, https://HOST:PORT or unix:/PATH)",
                                ep.text.c_str()));
    // The port, when present, must be a number in range ("[v6]:port" or "host:port").
    size_t colon = authority.rfind(':');
    size_t bracket = authority.rfind(']');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
        std::string_view port = authority.substr(colon + 1);
        bool digits =
            !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string_view::npos;
        auto n = digits ? parse_int(port) : std::nullopt;
        if (!n || *n < 1 || *n > 65535)
            return fail(Error::make(EINVAL, "endpoint '%s': invalid port", ep.text.c_str()));
    }
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    ep.base_url =
        std::string(ep.kind == Kind::kHttps ? "https://" : "http://") + std::string(authority) + std::string(prefix);
    return ep;
}

// ---------------------------------------------------------------------------------------
// Response

const std::string* Response::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k == name)
            return &v;
    return nullptr;
}

bool Response::is_json() const {
    std::string ct = to_lower(trim(content_type));
    return ct == "application/json" || starts_with(ct, "application/json;");
}

// ---------------------------------------------------------------------------------------
// CurlGlobal

Result<CurlGlobal> CurlGlobal::init() {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return fail(Error::make(0, "cannot initialise libcurl: %s", curl_easy_strerror(rc)));
    CurlGlobal g;
    g.active_ = true;
    return g;
}

CurlGlobal::~CurlGlobal() {
    if (active_)
        curl_global_cleanup();
}

// ---------------------------------------------------------------------------------------
// HttpClient

void HttpClient::EasyDeleter::operator()(void* easy) const {
    curl_easy_cleanup(as_easy(easy));
}

HttpClient::~HttpClient() = default;

Result<HttpClient> HttpClient::create(ClientOptions options) {
    if (has_control_chars(options.api_key))
        return fail(Error::make(EINVAL, "the API key contains control characters"));
    if (options.endpoint.base_url.empty())
        return fail(Error::make(EINVAL, "no endpoint given"));
    CURL* easy = curl_easy_init();
    if (!easy)
        return fail(Error::make(ENOMEM, "cannot create a curl handle"));
    return HttpClient(std::move(options), easy);
}

Result<Response> HttpClient::request(std::string_view method, std::string_view path,
                                     std::optional<std::string_view> body, const Headers& headers) {
    CURL* c = as_easy(easy_.get());
    const Endpoint& ep = options_.endpoint;
    // Options are set afresh for every request; the connection cache survives the reset.
    curl_easy_reset(c);

    std::string url = request_url(ep, path);

    Transfer t;
    t.max_body = options_.max_body;
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::string method_s(method);

    configure(c, options_, url, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    if (options_.timeout.count() > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));

    // POST and PUT always carry a body, empty if none is given, so that a Content-Length
    // is sent (some servers answer 411 otherwise).
    std::optional<std::string_view> payload = body;
    if (!payload && (method_s == "POST" || method_s == "PUT" || method_s == "PATCH"))
        payload = std::string_view();
    if (method_s == "GET") {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (method_s == "HEAD") {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method_s == "POST") {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_s.c_str());
    }
    if (payload) {
        // POSTFIELDS with an explicit size sends the bytes as they are, NULs included,
        // whatever the method (PUT included).
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload->size()));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload->empty() ? "" : payload->data());
    }

    Slist list;
    bool has_type = false, has_accept = false, has_key = false;
    for (const auto& [k, v] : headers) {
        if (k.empty() || has_control_chars(k) || has_control_chars(v) || k.find_first_of(": ") != std::string::npos)
            return fail(Error::make(EINVAL, "invalid request header '%s'", k.c_str()));
        std::string lk = to_lower(k);
        has_type = has_type || lk == "content-type";
        has_accept = has_accept || lk == "accept";
        has_key = has_key || lk == "x-api-key";
    }
    bool okay = true;
    if (!has_accept)
        okay = okay && slist_append(list, "Accept: application/json");
    // An empty POST/PUT gets no Content-Type (curl's form-urlencoded default is removed).
    if (payload && !has_type)
        okay = okay && slist_append(list, body ? "Content-Type: application/json" : "Content-Type:");
    // No "Expect: 100-continue" round trip for large bodies.
    okay = okay && slist_append(list, "Expect:");
    if (!options_.api_key.empty() && !has_key)
        okay = okay && slist_append(list, "X-Api-Key: " + options_.api_key);
    // "Name:" with nothing after the colon makes curl drop its own header of that name and
    // send nothing.
    for (const auto& [k, v] : headers) okay = okay && slist_append(list, v.empty() ? k + ":" : k + ": " + v);
    if (!okay)
        return fail(Error::make(ENOMEM, "cannot build the request headers"));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());

    CURLcode rc = curl_easy_perform(c);
    // The header list and error buffer must not dangle in the (reused) handle.
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);

    if (rc != CURLE_OK)
        return fail(transfer_error(rc, c, errbuf, options_, t.too_large));

    long status = 0;
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    char* ct = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        t.response.content_type = ct;
    t.response.status = status;
    return std::move(t.response);
}

// ---------------------------------------------------------------------------------------
// StreamSet

Response StreamEnd::response() const {
    Response r;
    r.status = status;
    r.body = body;
    r.content_type = content_type;
    return r;
}

namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

}  // namespace

struct StreamSet::Impl {
    // One transfer; heap-allocated so that curl's callback pointers stay valid.
    struct Stream {
        Id id = 0;
        StreamRequest request;
        StreamHandlers handlers;
        std::chrono::seconds idle_limit{0};
        CURL* easy = nullptr;
        Slist headers;
        char errbuf[CURL_ERROR_SIZE] = {0};
        std::string url;
        long status = 0;
        bool opened = false;
        bool cancelled = false;
        StreamEnd end;

        ~Stream() {
            if (easy)
                curl_easy_cleanup(easy);
        }
    };

    ClientOptions options;
    CPtr<CURLM, curl_multi_cleanup> multi;
    std::map<Id, std::unique_ptr<Stream>> streams;  // added to the multi handle
    std::vector<std::unique_ptr<Stream>> pending;   // queued by add()
    Id next_id = 1;
    int sigfd = -1;
    sigset_t blocked;
    sigset_t saved_mask;
    bool mask_saved = false;

    ~Impl() {
        for (auto& [id, st] : streams)
            if (st->easy)
                curl_multi_remove_handle(multi.get(), st->easy);
        streams.clear();
        multi.reset();
        if (sigfd >= 0) {
            // Discard the stop signals that arrived meanwhile, then unblock.
            struct signalfd_siginfo si;
            while (::read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
            }
            ::close(sigfd);
        }
        if (mask_saved)
            sigprocmask(SIG_SETMASK, &saved_mask, nullptr);
    }

    static size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
        auto* st = static_cast<Stream*>(user);
        size_t n = size * nmemb;
        std::string_view line(data, n);
        if (starts_with(line, "HTTP/")) {
            // "HTTP/1.1 200 OK": a new status line (a 1xx one is followed by another).
            size_t sp = line.find(' ');
            auto code = sp == std::string_view::npos ? std::nullopt : parse_int(trim(line.substr(sp + 1, 3)));
            st->status = code ? static_cast<long>(*code) : 0;
            return n;
        }
        if (trim(line).empty() && st->status >= 200 && !st->opened) {
            st->opened = true;
            if (st->handlers.on_open && !st->cancelled)
                st->handlers.on_open(st->status);
            return n;
        }
        size_t colon = line.find(':');
        if (colon != std::string_view::npos && to_lower(trim(line.substr(0, colon))) == "content-type")
            st->end.content_type = std::string(trim(line.substr(colon + 1)));
        return n;
    }

    static size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
        auto* st = static_cast<Stream*>(user);
        size_t n = size * nmemb;
        if (st->cancelled)
            return CURL_WRITEFUNC_ERROR;
        if (st->status >= 200 && st->status < 300) {
            if (st->handlers.on_data)
                st->handlers.on_data(std::string_view(data, n));
        } else if (st->end.body.size() < kMaxErrorBody) {
            st->end.body.append(data, std::min(n, kMaxErrorBody - st->end.body.size()));
        }
        return n;
    }

    // The options of one stream: its own, else the set's.
    const ClientOptions& options_of(const Stream& st) const {
        return st.request.options ? *st.request.options : options;
    }

    Status start(std::unique_ptr<Stream> st) {
        CURL* c = curl_easy_init();
        if (!c)
            return fail(Error::make(ENOMEM, "cannot create a curl handle"));
        st->easy = c;
        const ClientOptions& o = options_of(*st);
        const StreamRequest& rq = st->request;
        st->url = request_url(o.endpoint, rq.path);
        configure(c, o, st->url, st->errbuf);
        bool post = rq.method == "POST";
        if (post) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(rq.body.size()));
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq.body.c_str());
        } else {
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        }
        if (rq.timeout.count() > 0)
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(rq.timeout.count()));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Impl::on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, st.get());
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Impl::on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, st.get());
        curl_easy_setopt(c, CURLOPT_PRIVATE, st.get());
        // Hand the bytes over as they come, not once a buffer is full.
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 16384L);
        curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
        if (st->idle_limit.count() > 0) {
            curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
            curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(st->idle_limit.count()));
        }
        bool okay = slist_append(st->headers, "Expect:");
        // An empty POST gets no Content-Type (curl's form-urlencoded default is removed).
        if (post)
            okay =
                okay && slist_append(st->headers, rq.body.empty() ? "Content-Type:" : "Content-Type: application/json");
        if (!o.api_key.empty())
            okay = okay && slist_append(st->headers, "X-Api-Key: " + o.api_key);
        if (!okay)
            return fail(Error::make(ENOMEM, "cannot build the request headers"));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, st->headers.get());
        if (CURLMcode mc = curl_multi_add_handle(multi.get(), c); mc != CURLM_OK)
            return fail(Error{0, std::string("cannot start a request: ") + curl_multi_strerror(mc)});
        Id id = st->id;
        streams.emplace(id, std::move(st));
        return {};
    }

    // Ends the transfers curl reports done, then drops the cancelled ones.
    void reap() {
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi.get(), &left)) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL* easy = m->easy_handle;
            CURLcode rc = m->data.result;
            Stream* raw = nullptr;
            (void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
            curl_multi_remove_handle(multi.get(), easy);
            if (!raw)
                continue;
            auto it = streams.find(raw->id);
            if (it == streams.end())
                continue;
            std::unique_ptr<Stream> st = std::move(it->second);
            streams.erase(it);
            if (st->cancelled)
                continue;
            st->end.status = st->status;
            if (rc != CURLE_OK) {
                ClientOptions o = options_of(*st);
                if (st->request.timeout.count() > 0)
                    o.timeout = st->request.timeout;
                if (rc == CURLE_OPERATION_TIMEDOUT && st->opened && st->request.timeout.count() == 0)
                    st->end.error = Error{
                        0, "no data from " + o.endpoint.text + " for " + std::to_string(st->idle_limit.count()) + " s"};
                else if (st->opened && (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR))
                    st->end.error = Error{0, o.endpoint.text + " closed the stream"};
                else
                    st->end.error = transfer_error(rc, easy, st->errbuf, o, false);
            }
            if (st->handlers.on_end)
                st->handlers.on_end(st->end);
        }
        for (auto it = streams.begin(); it != streams.end();) {
            if (it->second->cancelled) {
                curl_multi_remove_handle(multi.get(), it->second->easy);
                it = streams.erase(it);
            } else {
                ++it;
            }
        }
    }
};

StreamSet::StreamSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StreamSet::StreamSet(StreamSet&&) noexcept = default;
StreamSet& StreamSet::operator=(StreamSet&&) noexcept = default;
StreamSet::~StreamSet() = default;

Result<StreamSet> StreamSet::create(const ClientOptions& options, std::initializer_list<int> stop_signals) {
    if (has_control_chars(options.api_key))
        return fail(Error::make(EINVAL, "the API key contains control characters"));
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->multi.reset(curl_multi_init());
    if (!impl->multi)
        return fail(Error::make(ENOMEM, "cannot create a curl multi handle"));
    if (stop_signals.size() > 0) {
        sigemptyset(&impl->blocked);
        for (int sig : stop_signals) sigaddset(&impl->blocked, sig);
        if (sigprocmask(SIG_BLOCK, &impl->blocked, &impl->saved_mask) != 0)
            return fail(Error::from_errno("cannot block signals"));
        impl->mask_saved = true;
        impl->sigfd = signalfd(-1, &impl->blocked, SFD_CLOEXEC | SFD_NONBLOCK);
        if (impl->sigfd < 0)
            return fail(Error::from_errno("cannot create a signalfd"));
    }
    return StreamSet(std::move(impl));
}

StreamSet::Id StreamSet::add(std::string path, StreamHandlers handlers, std::chrono::seconds idle_limit) {
    StreamRequest rq;
    rq.path = std::move(path);
    return add(std::move(rq), std::move(handlers), idle_limit);
}

StreamSet::Id StreamSet::add(StreamRequest request, StreamHandlers handlers, std::chrono::seconds idle_limit) {
    auto st = std::make_unique<Impl::Stream>();
    st->id = impl_->next_id++;
    st->request = std::move(request);
    st->handlers = std::move(handlers);
    st->idle_limit = idle_limit;
    Id id = st->id;
    impl_->pending.push_back(std::move(st));
    return id;
}

void StreamSet::cancel(Id id) {
    auto& pending = impl_->pending;
    for (auto it = pending.begin(); it != pending.end(); ++it) {
        if ((*it)->id == id) {
            pending.erase(it);
            return;
        }
    }
    if (auto it = impl_->streams.find(id); it != impl_->streams.end())
        it->second->cancelled = true;
}

size_t StreamSet::size() const {
    size_t n = impl_->pending.size();
    for (const auto& [id, st] : impl_->streams)
        if (!st->cancelled)
            ++n;
    return n;
}

Result<int> StreamSet::step(std::chrono::milliseconds max_wait) {
    Impl& im = *impl_;
    while (!im.pending.empty()) {
        std::vector<std::unique_ptr<Impl::Stream>> batch = std::move(im.pending);
        im.pending.clear();
        for (auto& st : batch) GAFFER_RETURN_IF_ERROR(im.start(std::move(st)));
    }
    int running = 0;
    if (CURLMcode mc = curl_multi_perform(im.multi.get(), &running); mc != CURLM_OK)
        return fail(Error{0, std::string("transfer failure: ") + curl_multi_strerror(mc)});
    im.reap();
    if (!im.pending.empty())
        return 0;  // new streams to start: no waiting

    struct curl_waitfd extra = {im.sigfd, CURL_WAIT_POLLIN, 0};
    int numfds = 0;
    CURLMcode mc = curl_multi_poll(im.multi.get(), im.sigfd >= 0 ? &extra : nullptr, im.sigfd >= 0 ? 1u : 0u,
                                   static_cast<int>(max_wait.count()), &numfds);
    if (mc != CURLM_OK)
        return fail(Error{0, std::string("transfer failure: ") + curl_multi_strerror(mc)});
    if (im.sigfd >= 0 && (extra.revents & CURL_WAIT_POLLIN)) {
        struct signalfd_siginfo si;
        if (::read(im.sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
            return static_cast<int>(si.ssi_signo);
    }
    if (CURLMcode mc2 = curl_multi_perform(im.multi.get(), &running); mc2 != CURLM_OK)
        return fail(Error{0, std::string("transfer failure: ") + curl_multi_strerror(mc2)});
    im.reap();
    return 0;
}

std::vector<Result<Response>> get_all(const std::vector<GetRequest>& requests, std::chrono::milliseconds timeout) {
    std::vector<Result<Response>> out;
    out.reserve(requests.size());
    if (requests.empty())
        return out;
    // Every request carries its own options; the set's are never used.
    auto set = StreamSet::create(ClientOptions{});
    if (!set) {
        for (size_t i = 0; i < requests.size(); ++i) out.emplace_back(fail(set.error()));
        return out;
    }
    struct Slot {
        Response response;
        bool too_large = false;
        std::optional<Error> error;
    };
    std::vector<Slot> slots(requests.size());
    size_t next = 0;
    // Starts the next request; each one that ends starts another, so that at most
    // kGetAllParallel are in flight (and as many sockets open).
    std::function<void()> start_next = [&] {
        for (; next < requests.size(); ++next) {
            const GetRequest& g = requests[next];
            Slot& slot = slots[next];
            if (has_control_chars(g.options.api_key)) {
                slot.error = Error::make(EINVAL, "the API key contains control characters");
                continue;
            }
            StreamRequest rq;
            rq.path = g.path;
            rq.options = g.options;
            rq.options->connect_timeout = std::min(rq.options->connect_timeout, timeout);
            rq.timeout = timeout;
            StreamHandlers h;
            size_t max_body = g.options.max_body;
            h.on_data = [&slot, max_body](std::string_view data) {
                if (slot.too_large || slot.response.body.size() + data.size() > max_body) {
                    slot.too_large = true;
                    slot.response.body.clear();
                    return;
                }
                slot.response.body.append(data);
            };
            std::string endpoint = g.options.endpoint.text;
            h.on_end = [&slot, &start_next, max_body, endpoint](const StreamEnd& e) {
                if (e.error) {
                    slot.error = *e.error;
                } else if (slot.too_large) {
                    slot.error = Error{
                        0, "the answer from " + endpoint + " is larger than " + std::to_string(max_body) + " bytes"};
                } else {
                    slot.response.status = e.status;
                    slot.response.content_type = e.content_type;
                    if (!e.ok())
                        slot.response.body = e.body;
                }
                start_next();
            };
            set->add(std::move(rq), std::move(h));
            ++next;
            return;
        }
    };
    for (size_t i = 0; i < kGetAllParallel; ++i) start_next();
    while (set->size() > 0) {
        auto r = set->step(std::chrono::milliseconds(1000));
        if (!r) {
            for (Slot& slot : slots)
                if (!slot.error && slot.response.status == 0)
                    slot.error = r.error();
            break;
        }
    }
    for (Slot& slot : slots) {
        if (slot.error)
            out.emplace_back(fail(std::move(*slot.error)));
        else
            out.emplace_back(std::move(slot.response));
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// LineSplitter, SseParser

void LineSplitter::feed(std::string_view bytes, const std::function<void(std::string_view line)>& on_line,
                        const std::function<void()>& on_overlong) {
    while (!bytes.empty()) {
        size_t nl = bytes.find('\n');
        if (nl == std::string_view::npos) {
            if (!overlong_ && partial_.size() + bytes.size() <= max_line_) {
                partial_.append(bytes);
            } else {
                overlong_ = true;
                partial_.clear();
            }
            return;
        }
        std::string_view piece = bytes.substr(0, nl);
        bytes.remove_prefix(nl + 1);
        if (overlong_ || partial_.size() + piece.size() > max_line_) {
            overlong_ = false;
            partial_.clear();
            if (on_overlong)
                on_overlong();
            continue;
        }
        if (partial_.empty()) {
            on_line(piece);
        } else {
            partial_.append(piece);
            std::string l = std::move(partial_);
            partial_.clear();
            on_line(l);
        }
    }
}

void SseParser::feed(std::string_view bytes, const std::function<void(const Event&)>& on_event) {
    lines_.feed(bytes, [&](std::string_view l) { line(l, on_event); });
}

void SseParser::line(std::string_view l, const std::function<void(const Event&)>& on_event) {
    if (!l.empty() && l.back() == '\r')
        l.remove_suffix(1);
    if (l.empty()) {
        if (has_data_)
            on_event(cur_);
        cur_ = Event();
        has_data_ = false;
        return;
    }
    if (l[0] == ':')
        return;  // a comment
    size_t colon = l.find(':');
    std::string_view field = l.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ')
        value.remove_prefix(1);
    if (field == "event") {
        cur_.type = std::string(value);
    } else if (field == "data") {
        if (has_data_)
            cur_.data += '\n';
        cur_.data.append(value);
        has_data_ = true;
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

namespace {
const char kHex[] = "0123456789ABCDEF";

std::string percent_encode(std::string_view s, std::string_view keep) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '.' || c == '_' || c == '~';
        if (unreserved || (c < 0x80 && keep.find(ch) != std::string_view::npos)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}
}  // namespace

std::string path_segment(std::string_view s) {
    return percent_encode(s, "!$&'()*+,;=:@");
}

std::string query_value(std::string_view s) {
    return percent_encode(s, "");
}

std::string basic_authorization(std::string_view user, std::string_view password) {
    static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string in = std::string(user) + ":" + std::string(password);
    std::string out = "Basic ";
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                     static_cast<unsigned char>(in[i + 2]);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += kB64[v & 63];
    }
    if (i + 1 == in.size()) {
        uint32_t v = static_cast<unsigned char>(in[i]) << 16;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

const char* reason_phrase(long status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 304:
            return "Not Modified";
        case 307:
            return "Temporary Redirect";
        case 308:
            return "Permanent Redirect";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 406:
            return "Not Acceptable";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "";
    }
}

}  // namespace gaffer::client
