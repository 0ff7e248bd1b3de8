// SPDX-License-Identifier: MIT
// Endpoints: the listening sockets of the HTTP API (security-defaults.md "Listening").
// Parsing of `bind` values, the default endpoints, and the sockets themselves, bound
// exactly to what was asked: `host:port`, `[v6]:port`, `host` (port 5000, reference
// §16), `unix:/path`; or sockets inherited from systemd socket activation.
//
// Invariants: every socket is created O_CLOEXEC and non-blocking and is owned by a
// UniqueFd; a unix socket is created with mode 0660 (umask around bind(), so there is no
// window with wider rights); a stale socket file left by a dead daemon is replaced, a
// live one is not; the socket file is unlinked on destruction only if it is still the
// one this process created.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"
#include "lib/http/request.h"

namespace gaffer::http {

constexpr uint16_t kDefaultPort = 5000;

struct BindAddress {
    bool unix_socket = false;
    std::string path;  // unix
    std::string host;  // tcp: as given, without brackets ("" = 0.0.0.0)
    uint16_t port = kDefaultPort;
};

// EINVAL with a reason for malformed values.
Result<BindAddress> parse_bind(std::string_view spec);

// The defaults of security-defaults.md: the unix socket (/run/gaffer/gafferd.sock as
// root, else $XDG_RUNTIME_DIR/gaffer/gafferd.sock, skipped when that variable is unset)
// and 127.0.0.1:5000.
std::vector<std::string> default_binds(uid_t euid, const char* xdg_runtime_dir);

// 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104.
bool is_loopback(const struct sockaddr* sa, socklen_t len);
// "127.0.0.1:5000", "[::1]:5000", "unix:/path".
std::string sockaddr_name(const struct sockaddr* sa, socklen_t len);
// An IPv4 or IPv6 address as a Host header names it ("127.0.0.1", "[::1]"), and its
// port; nullopt for other families.
struct HostPort {
    std::string host;
    uint16_t port = 0;
};
std::optional<HostPort> sockaddr_host_port(const struct sockaddr* sa, socklen_t len);
// A client's IP address as text, the key of per-client limits: "192.0.2.7", "2001:db8::1";
// an IPv4-mapped IPv6 address as the IPv4 one. "" for other families.
std::string client_address(const struct sockaddr* sa, socklen_t len);

class Listener {
public:
    Listener() = default;
    Listener(Listener&& o) noexcept;
    Listener& operator=(Listener&& o) noexcept;
    ~Listener();

    // Binds and listens. `make_dir`: create a missing parent directory with mode 0750
    // (the default unix socket's directory). A unix socket gets `unix_mode` (0660: the
    // daemon's group may connect; the gaffer CLI's control socket is 0600).
    static Result<Listener> open(const BindAddress& addr, int backlog, bool make_dir = false, mode_t unix_mode = 0660);
    // An already listening socket (socket activation); the fd is adopted.
    static Result<Listener> adopt(int fd);

    int fd() const { return fd_.get(); }
    // Hands the fd over (to adopt() it elsewhere).
    int release_fd() { return fd_.release(); }
    EndpointKind kind() const { return kind_; }
    const std::string& name() const { return name_; }

private:
    void cleanup();

    UniqueFd fd_;
    EndpointKind kind_ = EndpointKind::kTcpLoopback;
    std::string name_;
    // The socket file this process created (unlinked on destruction), with its identity.
    std::string unix_path_;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
};

}  // namespace gaffer::http
