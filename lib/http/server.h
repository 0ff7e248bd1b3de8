// SPDX-License-Identifier: MIT
// Server: an HTTP site (site.h; gafferd's API by default) on libmicrohttpd, driven by the
// daemon's loop (no threads).
// One MHD daemon per endpoint, each started with MHD_USE_EPOLL: its epoll fd is watched
// by the loop, MHD_run() is called when it is readable, and after every run the daemon's
// MHD_get_timeout() re-arms the ONE loop timer kept per daemon (none when MHD has no
// deadline, so an idle daemon never wakes up).
//
// Invariants:
// - Requests use the two-call pattern (the first call only records the request), which
//   keeps HTTP/1.1 keep-alive working in MHD 0.9.75.
// - Bodies are capped (max_body, 413 JSON); connections are capped (max_connections per
//   endpoint, max_connections_per_client per client address or unix uid) and time out
//   when idle (idle_timeout_s); the request line and headers are capped by MHD's
//   per-connection memory limit.
// - gafferd accepts, not MHD (MHD_USE_NO_LISTEN_SOCKET + MHD_add_connection): a bounded
//   batch per readiness; at max_connections the listening socket is left alone (clients
//   wait in the backlog) until a connection closes; a client over its own cap is answered
//   503 and closed at once. accept() failing with EMFILE/ENFILE never stops a listener:
//   one reserve fd is given back for a moment to take the waiting client off the backlog
//   and refuse it the same way, and when even that fails the listener pauses (100 ms)
//   instead of spinning.
// - A peer that closes its side is noticed at once (EPOLLRDHUP): an unfinished request is
//   dropped and its slot freed; a complete request is still answered.
// - A TCP endpoint on a non-loopback address refuses to start without require_key
//   (EPERM) and warns without TLS.
// - Destroying the Server stops every MHD daemon and unlinks the unix sockets it created.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/result.h"
#include "lib/http/site.h"

namespace gaffer::events {
class EventBus;
}
namespace gaffer::loop {
class Loop;
}
namespace gaffer::manager {
class Manager;
}

namespace gaffer::http {

// Descriptors the API wants free under RLIMIT_NOFILE (connections of an administrator who
// comes to fix things, the key store's writes): gafferd's manager stops spawning before
// it would eat into them (manager::Options::fd_reserve).
constexpr unsigned kApiFdReserve = 32;

struct ServerOptions {
    // "host:port", "[v6]:port", "host" (port 5000), "unix:/path"; empty = the defaults of
    // security-defaults.md (the unix socket, then 127.0.0.1:5000).
    std::vector<std::string> binds;
    int backlog = 128;
    mode_t unix_socket_mode = 0660;  // of every unix socket it binds
    std::string certfile, keyfile;   // TLS for TCP endpoints when both are set
    std::vector<std::string> cors_origins;
    // Further names the Host header may give for the TCP endpoints (lib/http/gate.h).
    std::vector<std::string> allowed_hosts;
    bool require_key = false;
    std::string state_dir;  // where lib/auth keeps its state file (auth_state_file())
    size_t max_body = 1 << 20;
    unsigned max_connections = 1024;
    // Connections one client may hold on an endpoint (a TCP client by its address, a
    // unix-socket client by its uid); 0 = max_connections.
    unsigned max_connections_per_client = 128;
    unsigned idle_timeout_s = 60;
    // Lifetime of the keys GET /auth mints (`auth_key_ttl`, security-defaults.md).
    std::chrono::seconds auth_key_ttl = std::chrono::hours(12);
    // [gaffer] log_root (RouterOptions::log_root).
    std::string log_root;
    // Already listening sockets (systemd socket activation), used instead of binds when
    // non-empty. The server adopts them.
    std::vector<int> inherited_fds;
};

// The key/user state file inside a state directory.
std::string auth_state_file(const std::string& state_dir);

class Server {
public:
    // gafferd's API (the Router and Live over the manager).
    static Result<std::unique_ptr<Server>> create(loop::Loop& loop, manager::Manager& manager, events::EventBus& bus,
                                                  ServerOptions options);
    // Another site (lib/http/site.h) on the same endpoint machinery.
    static Result<std::unique_ptr<Server>> create(loop::Loop& loop, ServerOptions options, SiteFactory make_site);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // What is listening: "unix:/x", "127.0.0.1:5000", "[::1]:5000".
    std::vector<std::string> endpoints() const;

    struct Impl;

private:
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace gaffer::http
