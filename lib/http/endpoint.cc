// SPDX-License-Identifier: MIT
// Listening sockets; see endpoint.h.
#include "lib/http/endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "lib/base/log.h"
#include "lib/base/strutil.h"

namespace gaffer::http {

Result<BindAddress> parse_bind(std::string_view spec) {
    BindAddress a;
    std::string_view s = trim(spec);
    if (starts_with(s, "unix:")) {
        a.unix_socket = true;
        a.path = std::string(s.substr(5));
        if (a.path.empty() || a.path[0] != '/') {
            return fail(Error::make(EINVAL, "bind '%.*s': a unix socket needs an absolute path",
                                    static_cast<int>(spec.size()), spec.data()));
        }
        if (a.path.size() >= sizeof(sockaddr_un::sun_path)) {
            return fail(Error::make(EINVAL, "bind '%.*s': unix socket path too long", static_cast<int>(spec.size()),
                                    spec.data()));
        }
        return a;
    }
    std::string_view port;
    if (!s.empty() && s[0] == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos) {
            return fail(Error::make(EINVAL, "bind '%.*s': missing ']'", static_cast<int>(spec.size()), spec.data()));
        }
        a.host = std::string(s.substr(1, close - 1));
        std::string_view rest = s.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':') {
                return fail(Error::make(EINVAL, "bind '%.*s': expected ':port' after ']'",
                                        static_cast<int>(spec.size()), spec.data()));
            }
            port = rest.substr(1);
            if (port.empty()) {
                return fail(Error::make(EINVAL, "bind '%.*s': empty port", static_cast<int>(spec.size()), spec.data()));
            }
        }
        if (a.host.empty()) {
            return fail(
                Error::make(EINVAL, "bind '%.*s': empty IPv6 address", static_cast<int>(spec.size()), spec.data()));
        }
    } else {
        auto colon = s.rfind(':');
        if (colon != std::string_view::npos && s.find(':') != colon) {
            return fail(Error::make(EINVAL, "bind '%.*s': write IPv6 addresses as [addr]:port",
                                    static_cast<int>(spec.size()), spec.data()));
        }
        if (colon == std::string_view::npos) {
            a.host = std::string(s);
        } else {
            a.host = std::string(s.substr(0, colon));
            port = s.substr(colon + 1);
            if (port.empty()) {
                return fail(Error::make(EINVAL, "bind '%.*s': empty port", static_cast<int>(spec.size()), spec.data()));
            }
        }
    }
    if (!port.empty()) {
        auto p = parse_int(port);
        if (!p || *p < 0 || *p > 65535) {
            return fail(Error::make(EINVAL, "bind '%.*s': bad port", static_cast<int>(spec.size()), spec.data()));
        }
        a.port = static_cast<uint16_t>(*p);
    }
    for (char ch : a.host) {
        if (static_cast<unsigned char>(ch) <= ' ' || ch == '/') {
            return fail(Error::make(EINVAL, "bind '%.*s': bad host", static_cast<int>(spec.size()), spec.data()));
        }
    }
    return a;
}

std::vector<std::string> default_binds(uid_t euid, const char* xdg_runtime_dir) {
    std::vector<std::string> binds;
    if (euid == 0) {
        binds.push_back("unix:/run/gaffer/gafferd.sock");
    } else if (xdg_runtime_dir && xdg_runtime_dir[0] == '/') {
        binds.push_back(std::string("unix:") + xdg_runtime_dir + "/gaffer/gafferd.sock");
    }
    binds.push_back("127.0.0.1:5000");
    return binds;
}

bool is_loopback(const struct sockaddr* sa, socklen_t len) {
    if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

std::optional<HostPort> sockaddr_host_port(const struct sockaddr* sa, socklen_t len) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return HostPort{host, ntohs(in->sin_port)};
    }
    if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return HostPort{"[" + std::string(host) + "]", ntohs(in6->sin6_port)};
    }
    return std::nullopt;
}

std::string client_address(const struct sockaddr* sa, socklen_t len) {
    char host[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, host, sizeof host);
    } else if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
        // An IPv4 client of a dual-stack socket counts as that IPv4 address.
        if (IN6_IS_ADDR_V4MAPPED(&a))
            inet_ntop(AF_INET, &a.s6_addr[12], host, sizeof host);
        else
            inet_ntop(AF_INET6, &a, host, sizeof host);
    }
    return host;
}

std::string sockaddr_name(const struct sockaddr* sa, socklen_t len) {
    if (sa->sa_family == AF_UNIX) {
        auto* un = reinterpret_cast<const sockaddr_un*>(sa);
        size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
        std::string path(un->sun_path, strnlen(un->sun_path, n));
        return "unix:" + path;
    }
    if (auto hp = sockaddr_host_port(sa, len))
        return hp->host + ":" + std::to_string(hp->port);
    return "?";
}

Listener::Listener(Listener&& o) noexcept
    : fd_(std::move(o.fd_)),
      kind_(o.kind_),
      name_(std::move(o.name_)),
      unix_path_(std::move(o.unix_path_)),
      dev_(o.dev_),
      ino_(o.ino_) {
    o.unix_path_.clear();
}

Listener& Listener::operator=(Listener&& o) noexcept {
    if (this != &o) {
        cleanup();
        fd_ = std::move(o.fd_);
        kind_ = o.kind_;
        name_ = std::move(o.name_);
        unix_path_ = std::move(o.unix_path_);
        o.unix_path_.clear();
        dev_ = o.dev_;
        ino_ = o.ino_;
    }
    return *this;
}

Listener::~Listener() {
    cleanup();
}

void Listener::cleanup() {
    if (unix_path_.empty())
        return;
    struct stat st {};
    // Only our own socket file: a successor daemon may already have replaced it.
    if (lstat(unix_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_) {
        (void)unlink(unix_path_.c_str());
    }
    unix_path_.clear();
}

Result<Listener> Listener::open(const BindAddress& addr, int backlog, bool make_dir, mode_t unix_mode) {
    Listener l;
    if (addr.unix_socket) {
        std::string dir = addr.path.substr(0, addr.path.rfind('/'));
        if (make_dir && !dir.empty() && mkdir(dir.c_str(), 0750) < 0 && errno != EEXIST) {
            return fail(Error::from_errno("mkdir '%s'", dir.c_str()));
        }
        struct sockaddr_un sun {};
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, addr.path.c_str(), addr.path.size() + 1);
        struct stat st {};
        if (lstat(addr.path.c_str(), &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                return fail(Error::make(EEXIST, "'%s' exists and is not a socket", addr.path.c_str()));
            }
            // A live daemon answers a connect(); a stale file refuses it and is replaced.
            UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
            if (!probe)
                return fail(Error::from_errno("socket(AF_UNIX)"));
            if (connect(probe.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0) {
                return fail(Error::make(EADDRINUSE, "another process is listening on '%s'", addr.path.c_str()));
            }
            if (errno != ECONNREFUSED)
                return fail(Error::from_errno("probe '%s'", addr.path.c_str()));
            if (unlink(addr.path.c_str()) < 0)
                return fail(Error::from_errno("unlink stale '%s'", addr.path.c_str()));
        }
        UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd)
            return fail(Error::from_errno("socket(AF_UNIX)"));
        // The process is single-threaded, so the umask switch cannot leak to another thread.
        mode_t old = umask(static_cast<mode_t>(~unix_mode & 0777));
        int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun);
        int saved = errno;
        umask(old);
        if (rc < 0) {
            errno = saved;
            return fail(Error::from_errno("bind '%s'", addr.path.c_str()));
        }
        if (lstat(addr.path.c_str(), &st) < 0)
            return fail(Error::from_errno("stat '%s'", addr.path.c_str()));
        l.unix_path_ = addr.path;
        l.dev_ = st.st_dev;
        l.ino_ = st.st_ino;
        if (chmod(addr.path.c_str(), unix_mode) < 0)
            return fail(Error::from_errno("chmod '%s'", addr.path.c_str()));
        if (listen(fd.get(), backlog) < 0)
            return fail(Error::from_errno("listen '%s'", addr.path.c_str()));
        l.fd_ = std::move(fd);
        l.kind_ = EndpointKind::kUnix;
        l.name_ = "unix:" + addr.path;
        return l;
    }

    struct addrinfo hints {};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo* res = nullptr;
    std::string port = std::to_string(addr.port);
    const char* host = addr.host.empty() ? "0.0.0.0" : addr.host.c_str();
    int gai = getaddrinfo(host, port.c_str(), &hints, &res);
    if (gai != 0) {
        return fail(Error::make(EADDRNOTAVAIL, "bind '%s:%u': %s", addr.host.c_str(), addr.port, gai_strerror(gai)));
    }
    Error last = Error::make(EADDRNOTAVAIL, "bind '%s:%u': no usable address", addr.host.c_str(), addr.port);
    for (struct addrinfo* ai = res; ai; ai = ai->ai_next) {
        UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
        if (!fd) {
            last = Error::from_errno("socket");
            continue;
        }
        int one = 1;
        (void)setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        // [::]:port means IPv6 only: bind exactly what was asked.
        if (ai->ai_family == AF_INET6)
            (void)setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) < 0) {
            last = Error::from_errno("bind %s", sockaddr_name(ai->ai_addr, ai->ai_addrlen).c_str());
            continue;
        }
        if (listen(fd.get(), backlog) < 0) {
            last = Error::from_errno("listen %s", sockaddr_name(ai->ai_addr, ai->ai_addrlen).c_str());
            continue;
        }
        struct sockaddr_storage ss {};
        socklen_t len = sizeof ss;
        if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
            last = Error::from_errno("getsockname");
            continue;
        }
        l.kind_ =
            is_loopback(reinterpret_cast<sockaddr*>(&ss), len) ? EndpointKind::kTcpLoopback : EndpointKind::kTcpRemote;
        l.name_ = sockaddr_name(reinterpret_cast<sockaddr*>(&ss), len);
        l.fd_ = std::move(fd);
        freeaddrinfo(res);
        return l;
    }
    freeaddrinfo(res);
    return fail(last);
}

Result<Listener> Listener::adopt(int fd) {
    Listener l;
    l.fd_.reset(fd);
    struct sockaddr_storage ss {};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
        return fail(Error::from_errno("getsockname(inherited fd %d)", fd));
    }
    int type = 0, accepting = 0;
    socklen_t tl = sizeof type, al = sizeof accepting;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &al) < 0 || !accepting) {
        return fail(Error::make(EINVAL, "inherited fd %d is not a listening stream socket", fd));
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    GAFFER_RETURN_IF_ERROR(set_nonblocking(fd));
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    if (sa->sa_family == AF_UNIX) {
        l.kind_ = EndpointKind::kUnix;
    } else if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        l.kind_ = is_loopback(sa, len) ? EndpointKind::kTcpLoopback : EndpointKind::kTcpRemote;
    } else {
        return fail(Error::make(EAFNOSUPPORT, "inherited fd %d: unsupported address family", fd));
    }
    l.name_ = sockaddr_name(sa, len);
    return l;
}

}  // namespace gaffer::http
