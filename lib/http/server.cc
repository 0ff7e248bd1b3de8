// SPDX-License-Identifier: MIT
// libmicrohttpd glue: endpoints, the loop integration and the two-call request handler;
// see server.h.
#include "lib/http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>

#include "lib/auth/store.h"
#include "lib/base/c_handle.h"
#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/http/endpoint.h"
#include "lib/http/gate.h"
#include "lib/http/live.h"
#include "lib/http/router.h"
#include "lib/loop/loop.h"

namespace gaffer::http {

namespace {

// Per-connection memory of MHD (request line, headers, read buffer): the cap on what a
// client can send before the body.
constexpr size_t kConnectionMemory = 32 * 1024;
// A chunked body past the cap is read and dropped up to this multiple of the cap before
// the connection is simply closed.
constexpr size_t kDrainFactor = 4;
// Connections accepted per readiness of a listening socket, so that one busy endpoint
// cannot hold the loop; the rest are taken on the next turn.
constexpr unsigned kAcceptBatch = 32;
// Pause of a listening socket when accept() fails and no client could be refused.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

using MhdDaemonPtr = CPtr<MHD_Daemon, MHD_stop_daemon>;

using MhdResponsePtr = CPtr<MHD_Response, MHD_destroy_response>;

// What the access handler accumulates for one request between its calls: the request
// as its head described it (built once, on the first call), then its body.
struct PendingRequest {
    Request req;
    size_t received = 0;
    bool too_large = false;
};

size_t unescape(void*, MHD_Connection*, char* s) {
    return unescape_url(s);
}

void mhd_log(void*, const char* fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    log_debug("http: %s", buf);
}

}  // namespace

std::string auth_state_file(const std::string& state_dir) {
    return state_dir + "/auth.json";
}

namespace {

// One endpoint: its listening socket (accepted here, not by MHD), its MHD daemon, the
// epoll-fd watches and its one timer.
class Endpoint {
public:
    Endpoint(Server::Impl& server, Listener listener, bool tls)
        : server_(server), listener_(std::move(listener)), tls_(tls) {}
    ~Endpoint();
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    Status start(const ServerOptions& opts, const std::string& cert, const std::string& key);
    const std::string& name() const { return name_; }
    MHD_Daemon* daemon() const { return daemon_.get(); }
    // Runs MHD on the next loop turn: a resumed or upgraded-and-closed connection is
    // processed only by a later MHD_run() in external epoll mode.
    void kick();

private:
    // What the endpoint keeps per connection (MHD's socket context): the client it is
    // counted against, and whether it is still in the peer-close epoll set.
    struct Slot {
        int fd = -1;
        std::string client;
        bool watching_close = false;  // in close_ep_
        bool peer_closed = false;     // in closing_: wake MHD once it has read everything
    };

    static MHD_Result on_request(void* cls, MHD_Connection* conn, const char* url, const char* method,
                                 const char* version, const char* upload_data, size_t* upload_data_size,
                                 void** req_cls);
    static void on_completed(void* cls, MHD_Connection* conn, void** req_cls, MHD_RequestTerminationCode toe);
    static void on_connection(void* cls, MHD_Connection* conn, void** socket_context,
                              MHD_ConnectionNotificationCode code);
    MHD_Result handle(MHD_Connection* conn, const char* url, const char* method, const char* upload_data,
                      size_t* upload_data_size, void** req_cls);
    Request build_request(MHD_Connection* conn, const char* url, const char* method) const;
    MHD_Result send(MHD_Connection* conn, const Response& resp);
    void run();
    void rearm();

    // Accepting (see the Server banner): a bounded batch per readiness; EMFILE/ENFILE
    // refuse one waiting client through the reserve fd, anything else backs off.
    void accept_ready();
    void shed_one_client(int err);
    void refuse(UniqueFd conn);
    void set_accepting(bool on);
    void back_off_accepting();
    std::string client_of(int fd, const sockaddr_storage& ss, socklen_t len) const;
    void connection_started(MHD_Connection* conn, void** socket_context);
    void connection_closed(void** socket_context);
    void peers_closed();
    void wake_closed_peers();

    Server::Impl& server_;
    Listener listener_;
    bool tls_;
    std::string name_;
    EndpointKind kind_ = EndpointKind::kTcpLoopback;
    MhdDaemonPtr daemon_;
    loop::Loop::WatchId watch_ = 0;
    loop::Loop::TimerId timer_ = 0;
    unsigned limit_ = 0;             // max_connections
    unsigned per_client_limit_ = 0;  // max_connections_per_client
    unsigned open_ = 0;              // connections MHD holds (started, not yet closed)
    std::unordered_map<std::string, unsigned> per_client_;
    // The client of the connection being handed to MHD_add_connection (its STARTED
    // notification comes from inside that call).
    const std::string* adding_client_ = nullptr;
    loop::Loop::WatchId listen_watch_ = 0;
    loop::Loop::TimerId accept_retry_ = 0;
    bool starved_ = false;  // out of fds: warned once until an accept works again
    // EPOLLRDHUP of every connection, edge-triggered: MHD's own epoll set misses a FIN
    // that arrives with the last bytes of a request (see wake_closed_peers()).
    UniqueFd close_ep_;
    loop::Loop::WatchId close_watch_ = 0;
    std::vector<Slot*> closing_;
    bool stopping_ = false;
    bool kick_pending_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

struct Server::Impl {
    loop::Loop& loop;
    ServerOptions opts;
    std::unique_ptr<auth::Store> store;
    // What is served (site.h); shut down before the endpoints.
    std::unique_ptr<Site> site;
    // PEM text handed to MHD; kept for the daemons' lifetime.
    std::string cert, key;
    std::vector<std::unique_ptr<Endpoint>> endpoints;
    // The reserve fd (/dev/null), shared by every endpoint: closed for a moment when
    // accept() fails with EMFILE/ENFILE, so that the waiting client can be taken off the
    // backlog and refused instead of waking the loop forever.
    UniqueFd reserve;
};

namespace {

Endpoint::~Endpoint() {
    *alive_ = false;
    stopping_ = true;
    if (watch_)
        server_.loop.unwatch(watch_);
    if (close_watch_)
        server_.loop.unwatch(close_watch_);
    if (listen_watch_)
        server_.loop.unwatch(listen_watch_);
    if (timer_)
        server_.loop.cancel_timer(timer_);
    if (accept_retry_)
        server_.loop.cancel_timer(accept_retry_);
    // Closes every connection (their CLOSED notifications still find this endpoint).
    daemon_.reset();
}

Status Endpoint::start(const ServerOptions& opts, const std::string& cert, const std::string& key) {
    name_ = listener_.name();
    kind_ = listener_.kind();
    limit_ = opts.max_connections;
    per_client_limit_ = opts.max_connections_per_client ? opts.max_connections_per_client : limit_;
    // Streams suspend their connection while they have nothing to send; websockets take
    // the socket over after a 101 (lib/http/live.h). The listening socket stays ours:
    // MHD's accept path stops listening for good after EMFILE (it waits for one of its
    // connections to close, then for an MHD_run() that nothing triggers) and spins
    // when it has none.
    unsigned flags =
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_NO_LISTEN_SOCKET;
    if (tls_)
        flags |= MHD_USE_TLS;
    std::vector<MHD_OptionItem> options = {
        {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(opts.max_connections), nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(opts.idle_timeout_s), nullptr},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(kConnectionMemory), nullptr},
        {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Endpoint::on_completed), this},
        {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Endpoint::on_connection), this},
        {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&mhd_log), nullptr},
        {MHD_OPTION_UNESCAPE_CALLBACK, reinterpret_cast<intptr_t>(&unescape), nullptr},
        // Refuse what RFC 9112 lets a server refuse (whitespace before a header's colon,
        // HTTP/1.1 without Host, ...); lib/http/gate.h refuses the rest of what could
        // smuggle a request past a proxy.
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, nullptr},
    };
    if (tls_) {
        options.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(cert.c_str())});
        options.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(key.c_str())});
    }
    options.push_back({MHD_OPTION_END, 0, nullptr});
    MHD_Daemon* d = MHD_start_daemon(flags, 0, nullptr, nullptr, &Endpoint::on_request, this, MHD_OPTION_ARRAY,
                                     options.data(), MHD_OPTION_END);
    if (!d)
        return fail(Error::make(EIO, "cannot start the HTTP server on %s", name_.c_str()));
    daemon_.reset(d);
    const MHD_DaemonInfo* info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info)
        return fail(Error::make(EIO, "%s: MHD has no epoll fd", name_.c_str()));
    auto w = server_.loop.watch(info->epoll_fd, POLLIN, [this](uint32_t) { run(); });
    if (!w)
        return fail(w.error());
    watch_ = *w;
    close_ep_.reset(epoll_create1(EPOLL_CLOEXEC));
    if (!close_ep_)
        return fail(Error::from_errno("epoll_create1"));
    auto cw = server_.loop.watch(close_ep_.get(), POLLIN, [this](uint32_t) { peers_closed(); });
    if (!cw)
        return fail(cw.error());
    close_watch_ = *cw;
    set_accepting(true);
    if (!listen_watch_)
        return fail(Error::make(EIO, "%s: cannot watch the listening socket", name_.c_str()));
    rearm();
    return ok();
}

void Endpoint::kick() {
    if (kick_pending_)
        return;
    kick_pending_ = true;
    std::weak_ptr<bool> alive = alive_;
    server_.loop.post([this, alive] {
        if (alive.expired())
            return;
        kick_pending_ = false;
        run();
    });
}

void Endpoint::run() {
    (void)MHD_run(daemon_.get());
    if (!closing_.empty())
        wake_closed_peers();
    rearm();
}

void Endpoint::rearm() {
    if (timer_) {
        server_.loop.cancel_timer(timer_);
        timer_ = 0;
    }
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(daemon_.get(), &ms) != MHD_YES)
        return;
    timer_ = server_.loop.add_timer(std::chrono::milliseconds(ms), [this] {
        timer_ = 0;
        run();
    });
}

void Endpoint::set_accepting(bool on) {
    if (on && !listen_watch_ && !accept_retry_) {
        auto w = server_.loop.watch(listener_.fd(), POLLIN, [this](uint32_t) { accept_ready(); });
        if (w)
            listen_watch_ = *w;
        else
            log_debug("%s: %s", name_.c_str(), w.error().message().c_str());
    } else if (!on && listen_watch_) {
        server_.loop.unwatch(listen_watch_);
        listen_watch_ = 0;
    }
}

void Endpoint::back_off_accepting() {
    set_accepting(false);
    if (accept_retry_)
        return;
    accept_retry_ = server_.loop.add_timer(kAcceptBackoff, [this] {
        accept_retry_ = 0;
        set_accepting(open_ < limit_);
    });
}

void Endpoint::accept_ready() {
    for (unsigned i = 0; i < kAcceptBatch; ++i) {
        if (open_ >= limit_) {
            // Further clients wait in the listen backlog until a connection closes.
            set_accepting(false);
            break;
        }
        struct sockaddr_storage ss {};
        socklen_t len = sizeof ss;
        UniqueFd conn(accept4(listener_.fd(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!conn) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                break;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == EPERM)
                continue;  // that client is gone or was filtered; the next one may be fine
            if (e == EMFILE || e == ENFILE) {
                shed_one_client(e);
                break;
            }
            // ENOBUFS, ENOMEM and the like: try again a little later rather than spin.
            log_warning("%s: accept: %s; retrying shortly", name_.c_str(), strerror(e));
            back_off_accepting();
            break;
        }
        starved_ = false;
        std::string client = client_of(conn.get(), ss, len);
        auto it = per_client_.find(client);
        if (it != per_client_.end() && it->second >= per_client_limit_) {
            log_debug("%s: %s holds %u connections: refusing another", name_.c_str(), client.c_str(), it->second);
            refuse(std::move(conn));
            continue;
        }
        adding_client_ = &client;
        // MHD owns (and on failure closes) the socket from here on.
        if (MHD_add_connection(daemon_.get(), conn.release(), reinterpret_cast<sockaddr*>(&ss), len) != MHD_YES)
            log_debug("%s: MHD_add_connection: %s", name_.c_str(), strerror(errno));
        adding_client_ = nullptr;
    }
    // A new connection has an idle deadline (and maybe bytes to read already).
    rearm();
}

void Endpoint::shed_one_client(int err) {
    if (!starved_) {
        starved_ = true;
        log_warning("%s: out of file descriptors (%s): refusing new clients until some are free", name_.c_str(),
                    strerror(err));
    }
    // The classic way out (libev, nginx): give back the reserve fd, take the client off
    // the backlog, refuse it, take the reserve again. Without a free fd even then (ENFILE:
    // the system is full, or another process took it), pause instead of spinning on a
    // listening socket that stays readable.
    UniqueFd& reserve = server_.reserve;
    bool refused = false;
    if (reserve) {
        reserve.reset();
        UniqueFd conn(accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (conn) {
            refuse(std::move(conn));
            refused = true;
        }
        reserve.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    } else {
        reserve.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    if (!refused || !reserve)
        back_off_accepting();
}

void Endpoint::refuse(UniqueFd conn) {
    // A TLS client cannot read clear text; it only sees the connection close.
    if (!tls_) {
        static constexpr char kBody[] =
            "{\"error\":\"too_many_connections\",\"errno\":503,\"reason\":\"connection limit reached\"}";
        static constexpr char kHead[] =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
            "Content-Length: ";
        std::string msg = kHead + std::to_string(sizeof kBody - 1) + "\r\n\r\n" + kBody;
        (void)::send(conn.get(), msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)::shutdown(conn.get(), SHUT_WR);
    }
}

std::string Endpoint::client_of(int fd, const sockaddr_storage& ss, socklen_t len) const {
    if (ss.ss_family == AF_UNIX) {
        // Unix-socket clients have no address: they count by user.
        struct ucred cred {};
        socklen_t cl = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
            return "uid " + std::to_string(cred.uid);
        return "?";
    }
    std::string host = client_address(reinterpret_cast<const sockaddr*>(&ss), len);
    return host.empty() ? "?" : host;
}

void Endpoint::on_connection(void* cls, MHD_Connection* conn, void** socket_context,
                             MHD_ConnectionNotificationCode code) {
    auto* self = static_cast<Endpoint*>(cls);
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        self->connection_started(conn, socket_context);
    else
        self->connection_closed(socket_context);
}

void Endpoint::connection_started(MHD_Connection* conn, void** socket_context) {
    auto slot = std::make_unique<Slot>();
    if (adding_client_)
        slot->client = *adding_client_;
    if (const MHD_ConnectionInfo* ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD))
        slot->fd = ci->connect_fd;
    if (slot->fd >= 0 && close_ep_) {
        struct epoll_event ev {};
        ev.events = EPOLLRDHUP | EPOLLET;
        ev.data.ptr = slot.get();
        slot->watching_close = epoll_ctl(close_ep_.get(), EPOLL_CTL_ADD, slot->fd, &ev) == 0;
    }
    ++per_client_[slot->client];
    ++open_;
    *socket_context = slot.release();
}

void Endpoint::connection_closed(void** socket_context) {
    std::unique_ptr<Slot> slot(static_cast<Slot*>(*socket_context));
    *socket_context = nullptr;
    if (!slot)
        return;
    // The socket is still open here (MHD closes it after this notification).
    if (slot->watching_close)
        (void)epoll_ctl(close_ep_.get(), EPOLL_CTL_DEL, slot->fd, nullptr);
    if (slot->peer_closed)
        std::erase(closing_, slot.get());
    auto it = per_client_.find(slot->client);
    if (it != per_client_.end() && --it->second == 0)
        per_client_.erase(it);
    --open_;
    if (!stopping_ && open_ < limit_)
        set_accepting(true);
}

void Endpoint::peers_closed() {
    struct epoll_event evs[64];
    int n = epoll_wait(close_ep_.get(), evs, 64, 0);
    for (int i = 0; i < n; ++i) {
        auto* slot = static_cast<Slot*>(evs[i].data.ptr);
        (void)epoll_ctl(close_ep_.get(), EPOLL_CTL_DEL, slot->fd, nullptr);
        slot->watching_close = false;
        if (!slot->peer_closed) {
            slot->peer_closed = true;
            closing_.push_back(slot);
        }
    }
    if (n > 0)
        kick();
}

void Endpoint::wake_closed_peers() {
    // MHD registers connections edge-triggered and, after a short read, takes the socket
    // for drained. When the FIN comes with the last bytes of an unfinished request, or
    // between MHD's wake-up and its read, no further edge comes, and the connection sat
    // in CLOSE-WAIT until the idle timeout. Once MHD has read every queued byte (checked
    // after its run), shutdown(SHUT_RD) wakes the socket's waiters once more: MHD reads
    // end-of-file and closes the connection if it was reading a request; if it is still
    // answering a complete one, it answers first and reads the end-of-file afterwards.
    // Sending is not affected.
    for (size_t i = 0; i < closing_.size();) {
        Slot* slot = closing_[i];
        char c;
        ssize_t n = ::recv(slot->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) {
            ++i;  // MHD has bytes to read first; look again after its next run
            continue;
        }
        (void)::shutdown(slot->fd, SHUT_RD);
        closing_[i] = closing_.back();
        closing_.pop_back();
    }
}

MHD_Result Endpoint::on_request(void* cls, MHD_Connection* conn, const char* url, const char* method, const char*,
                                const char* upload_data, size_t* upload_data_size, void** req_cls) {
    return static_cast<Endpoint*>(cls)->handle(conn, url, method, upload_data, upload_data_size, req_cls);
}

void Endpoint::on_completed(void*, MHD_Connection*, void** req_cls, MHD_RequestTerminationCode) {
    // Adopt and free what the handler left behind.
    std::unique_ptr<PendingRequest> pending(static_cast<PendingRequest*>(*req_cls));
    *req_cls = nullptr;
}

MHD_Result Endpoint::handle(MHD_Connection* conn, const char* url, const char* method, const char* upload_data,
                            size_t* upload_data_size, void** req_cls) {
    const size_t max_body = server_.opts.max_body;
    auto* pending = static_cast<PendingRequest*>(*req_cls);
    if (!pending) {
        // First call: the head only. Answering now makes MHD 0.9.75 close the connection
        // after the response, which is what a refused request gets (its body unread).
        pending = std::make_unique<PendingRequest>(PendingRequest{build_request(conn, url, method)}).release();
        *req_cls = pending;
        if (auto refused = server_.site->screen(pending->req))
            return send(conn, *refused);
        if (auto cl = pending->req.header("content-length")) {
            auto n = parse_int(*cl);
            if (n && static_cast<uint64_t>(*n) > max_body) {
                return send(conn,
                            server_.site->error(pending->req, 413, "request_too_large",
                                                "the body is larger than " + std::to_string(max_body) + " bytes"));
            }
        }
        return MHD_YES;
    }
    std::string& body = pending->req.body;
    if (*upload_data_size > 0) {
        pending->received += *upload_data_size;
        if (pending->received > max_body) {
            pending->too_large = true;
            body.clear();
            body.shrink_to_fit();
            // A client that keeps sending is cut off rather than read forever.
            if (pending->received > kDrainFactor * max_body + kConnectionMemory)
                return MHD_NO;
        } else {
            body.append(upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    const Request& req = pending->req;
    if (pending->too_large) {
        return send(conn, server_.site->error(req, 413, "request_too_large",
                                              "the body is larger than " + std::to_string(max_body) + " bytes"));
    }
    if (auto r = server_.site->live(conn, req))
        return *r;
    return send(conn, server_.site->handle(req));
}

Request Endpoint::build_request(MHD_Connection* conn, const char* url, const char* method) const {
    Request req;
    req.method = method ? method : "";
    req.path = url ? url : "/";
    req.peer.kind = kind_;
    req.peer.tls = tls_;
    // With their sizes: a NUL inside a value must reach the gate, not cut the value short.
    MHD_get_connection_values_n(
        conn, MHD_HEADER_KIND,
        [](void* cls, MHD_ValueKind, const char* key, size_t key_size, const char* value,
           size_t value_size) -> MHD_Result {
            auto* r = static_cast<Request*>(cls);
            std::string k = to_lower(std::string_view(key ? key : "", key ? key_size : 0));
            std::string v(value ? value : "", value ? value_size : 0);
            auto [it, inserted] = r->headers.emplace(k, v);
            if (!inserted)
                it->second += ", " + v;
            return MHD_YES;
        },
        &req);
    MHD_get_connection_values(
        conn, MHD_GET_ARGUMENT_KIND,
        [](void* cls, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
            static_cast<Request*>(cls)->query.emplace_back(key ? key : "", value ? value : "");
            return MHD_YES;
        },
        &req);
    const MHD_ConnectionInfo* ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (kind_ == EndpointKind::kUnix) {
        struct ucred cred {};
        socklen_t len = sizeof cred;
        if (ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            req.peer.uid = cred.uid;
            req.peer.gid = cred.gid;
        }
    } else {
        // The endpoint's identity for the Host and Origin checks (a wildcard listener's
        // connections each know the address they came in on).
        sockaddr_storage local{};
        socklen_t len = sizeof local;
        if (ci && getsockname(ci->connect_fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
            if (auto hp = sockaddr_host_port(reinterpret_cast<sockaddr*>(&local), len)) {
                req.peer.local_host = std::move(hp->host);
                req.peer.local_port = hp->port;
            }
        }
        // The client's address, for the per-address rate limit of GET /auth (routes_auth.cc).
        const MHD_ConnectionInfo* client = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (client && client->client_addr) {
            const sockaddr* sa = client->client_addr;
            req.peer.address =
                client_address(sa, sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        }
    }
    return req;
}

MHD_Result Endpoint::send(MHD_Connection* conn, const Response& resp) {
    MhdResponsePtr r(
        MHD_create_response_from_buffer(resp.body.size(), const_cast<char*>(resp.body.data()), MHD_RESPMEM_MUST_COPY));
    if (!r)
        return MHD_NO;
    for (const auto& [k, v] : resp.headers) {
        if (MHD_add_response_header(r.get(), k.c_str(), v.c_str()) != MHD_YES) {
            log_debug("http: dropped response header '%s'", k.c_str());
        }
    }
    if (!resp.content_type.empty()) {
        (void)MHD_add_response_header(r.get(), MHD_HTTP_HEADER_CONTENT_TYPE, resp.content_type.c_str());
    }
    return MHD_queue_response(conn, static_cast<unsigned>(resp.status), r.get());
}

}  // namespace

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
    // Endpoints first (they reference the site), then the site and the store.
    if (impl_ && impl_->site)
        impl_->site->shutdown();
    if (impl_)
        impl_->endpoints.clear();
}

RouterOptions router_options(const ServerOptions& opts) {
    RouterOptions ropts;
    ropts.cors_origins = opts.cors_origins;
    ropts.allowed_hosts = opts.allowed_hosts;
    ropts.require_key = opts.require_key;
    ropts.auth_key_ttl = opts.auth_key_ttl;
    ropts.log_root = opts.log_root;
    ropts.daemon_uid = geteuid();
    ropts.daemon_gid = getegid();
    return ropts;
}

RouterSite::RouterSite() = default;

RouterSite::RouterSite(std::unique_ptr<Router> router, std::unique_ptr<LiveBase> live)
    : router_(std::move(router)), live_(std::move(live)) {}

RouterSite::~RouterSite() {
    live_.reset();
}

std::optional<Response> RouterSite::screen(const Request& req) const {
    return router_->screen(req);
}

Response RouterSite::error(const Request& req, int status, const char* name, const std::string& reason) const {
    return router_->error(req, status, name, reason);
}

std::optional<MHD_Result> RouterSite::live(MHD_Connection* conn, const Request& req) {
    return live_ ? live_->handle(conn, req) : std::nullopt;
}

Response RouterSite::handle(const Request& req) {
    return router_->handle(req);
}

void RouterSite::shutdown() {
    if (live_)
        live_->shutdown();
}

std::vector<std::string> Server::endpoints() const {
    std::vector<std::string> names;
    for (const auto& e : impl_->endpoints) names.push_back(e->name());
    return names;
}

Result<std::unique_ptr<Server>> Server::create(loop::Loop& loop, manager::Manager& manager, events::EventBus& bus,
                                               ServerOptions options) {
    manager::Manager* mgr = &manager;
    events::EventBus* eb = &bus;
    return create(loop, std::move(options), [mgr, eb](const SiteEnv& env) -> Result<std::unique_ptr<Site>> {
        auto router = std::make_unique<Router>(env.loop, *mgr, env.store, router_options(env.opts));
        auto live = std::make_unique<Live>(env.loop, *mgr, *eb, *router, env.store, env.opts.require_key);
        live->set_kick(env.kick);
        return std::unique_ptr<Site>(std::make_unique<RouterSite>(std::move(router), std::move(live)));
    });
}

Result<std::unique_ptr<Server>> Server::create(loop::Loop& loop, ServerOptions options, SiteFactory make_site) {
    auto impl = std::make_unique<Impl>(Impl{loop, std::move(options), nullptr, nullptr, {}, {}, {}, {}});
    const ServerOptions& opts = impl->opts;

    if (opts.certfile.empty() != opts.keyfile.empty()) {
        return fail(Error::make(EINVAL, "TLS needs both certfile and keyfile"));
    }
    bool tls = !opts.certfile.empty();
    if (tls) {
        auto c = read_file(opts.certfile, 1 << 20);
        if (!c)
            return fail(c.error());
        auto k = read_file(opts.keyfile, 1 << 20);
        if (!k)
            return fail(k.error());
        impl->cert = std::move(*c);
        impl->key = std::move(*k);
    }

    if (!opts.state_dir.empty()) {
        // On the event loop: a change never waits for another process's lock (EBUSY, 503).
        auth::Store::Options sopts;
        sopts.wait_for_lock = false;
        auto store = auth::Store::open(auth_state_file(opts.state_dir), std::move(sopts));
        if (!store)
            return fail(store.error());
        impl->store = std::move(*store);
    } else if (opts.require_key) {
        return fail(Error::make(EINVAL, "require_key needs a state directory for the key store"));
    }

    Impl* ip = impl.get();
    auto kick = [ip](MHD_Daemon* d) {
        for (auto& e : ip->endpoints) {
            if (e->daemon() == d)
                e->kick();
        }
    };
    auto site = make_site(SiteEnv{loop, impl->store.get(), impl->opts, kick});
    if (!site)
        return fail(site.error());
    impl->site = std::move(*site);

    impl->reserve.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!impl->reserve)
        return fail(Error::from_errno("open /dev/null (the reserve fd)"));

    // Listeners first, all of them, so that a refused endpoint starts nothing.
    std::vector<Listener> listeners;
    if (!opts.inherited_fds.empty()) {
        for (int fd : opts.inherited_fds) {
            auto l = Listener::adopt(fd);
            if (!l)
                return fail(l.error());
            listeners.push_back(std::move(*l));
        }
    } else {
        bool defaults = opts.binds.empty();
        std::vector<std::string> binds = defaults ? default_binds(geteuid(), getenv("XDG_RUNTIME_DIR")) : opts.binds;
        if (defaults && geteuid() != 0 && !getenv("XDG_RUNTIME_DIR")) {
            log_warning("XDG_RUNTIME_DIR is not set: no default unix socket");
        }
        for (const auto& b : binds) {
            auto addr = parse_bind(b);
            if (!addr)
                return fail(addr.error());
            auto l = Listener::open(*addr, opts.backlog, defaults && addr->unix_socket, opts.unix_socket_mode);
            if (!l)
                return fail(l.error());
            listeners.push_back(std::move(*l));
        }
    }
    for (const auto& l : listeners) {
        if (l.kind() != EndpointKind::kTcpRemote)
            continue;
        if (!opts.require_key) {
            return fail(Error::make(EPERM,
                                    "refusing to listen on %s: a non-loopback address needs require_key = true "
                                    "(--require-key)",
                                    l.name().c_str()));
        }
        if (!tls) {
            log_warning("HTTP API on %s without TLS: API keys and passwords cross the network in clear text",
                        l.name().c_str());
        }
    }
    for (auto& l : listeners) {
        bool ep_tls = tls && l.kind() != EndpointKind::kUnix;
        auto ep = std::make_unique<Endpoint>(*impl, std::move(l), ep_tls);
        GAFFER_RETURN_IF_ERROR(ep->start(impl->opts, impl->cert, impl->key));
        log_info("HTTP API listening on %s%s", ep->name().c_str(), ep_tls ? " (TLS)" : "");
        impl->endpoints.push_back(std::move(ep));
    }
    return std::unique_ptr<Server>(new Server(std::move(impl)));
}

}  // namespace gaffer::http
