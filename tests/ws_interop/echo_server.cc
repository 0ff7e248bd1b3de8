// SPDX-License-Identifier: MIT
// ws_node_interop (suite 'system'): lib/ws's handshake, Decoder and encoders serving a
// real Node `ws` client. A minimal single-threaded echo server on 127.0.0.1 (port 0,
// plain nonblocking sockets and poll(2)) spawns `node echo_client.js <port>` and serves it
// until the client exits. The client (echo_client.js) checks what it receives; this side
// checks that it saw the events the client was meant to cause (pings, pong, the closes
// with 1000, 1007 and 1009). Passes only if both sides agree.
//
//   ws_node_interop ECHO_CLIENT_JS TESTS_DIR
//
// Missing node or TESTS_DIR/node_modules/ws is a failure with a clear message, never a
// skip: `make deps` installs both (contrib/install-deps.sh runs `npm install` in tests/).
//
// Server behaviour: text/binary messages are echoed with the same opcode, except "please-
// ping" (answered by a ping "srv-ping"; its pong is answered by the text "pong-received")
// and "please-close" (answered by Close 1000 "server bye"). Pings get pongs. A Close is
// answered with the same code; a ProtocolError with Close(code). After its close frame
// the server half-closes the socket and drains the client until EOF (no RST, so the
// client sees the close frame).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lib/ws/websocket.h"

extern char** environ;

namespace {

using namespace gaffer::ws;
using Clock = std::chrono::steady_clock;

constexpr auto kTimeout = std::chrono::seconds(45);
constexpr size_t kMaxRequestHead = 8192;

std::set<std::string> g_seen;  // events the server observed, checked at the end

void note(const std::string& what) {
    g_seen.insert(what);
    fprintf(stderr, "server: %s\n", what.c_str());
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return s;
}

struct Conn {
    int fd = -1;
    int id = 0;
    bool upgraded = false;
    std::string in;   // request head until the upgrade
    std::string out;  // bytes waiting to be written
    Decoder decoder;
    bool close_sent = false;
    bool shut_after_flush = false;  // half-close once `out` is written, then drain
    bool shut = false;
    bool done = false;

    void send(std::string bytes) { out += bytes; }

    void send_close(uint16_t code, std::string_view reason, bool then_shut) {
        if (!close_sent)
            send(encode_close(code, reason));
        close_sent = true;
        if (then_shut)
            shut_after_flush = true;
    }

    void on_event(Event&& ev) {
        if (auto* m = std::get_if<Message>(&ev)) {
            bool text = m->opcode == Opcode::kText;
            if (text && m->payload == "please-ping") {
                note("conn" + std::to_string(id) + " asked for a ping");
                send(encode_ping("srv-ping"));
            } else if (text && m->payload == "please-close") {
                note("server close requested");
                send_close(kCloseNormal, "server bye", false);
            } else {
                note(std::string(text ? "text " : "binary ") + std::to_string(m->payload.size()));
                send(text ? encode_text(m->payload) : encode_binary(m->payload));
            }
        } else if (auto* p = std::get_if<Ping>(&ev)) {
            note("ping '" + p->payload + "'");
            send(encode_pong(p->payload));
        } else if (auto* pong = std::get_if<Pong>(&ev)) {
            note("pong '" + pong->payload + "'");
            if (pong->payload == "srv-ping")
                send(encode_text("pong-received"));
        } else if (auto* c = std::get_if<Close>(&ev)) {
            note("close " + std::to_string(c->code) + " '" + c->reason + "'" + (close_sent ? " (reply)" : ""));
            if (!close_sent)
                send(close_reply(*c));
            close_sent = true;
            shut_after_flush = true;
        } else if (auto* e = std::get_if<ProtocolError>(&ev)) {
            note("protocol error " + std::to_string(e->close_code) + " (" + e->why + ")");
            send_close(e->close_code, e->why, true);
        }
    }

    // Parses the request head once complete; answers 101 or the refusal.
    void on_head() {
        size_t end = in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (in.size() > kMaxRequestHead)
                done = true;
            return;
        }
        std::string head = in.substr(0, end);
        std::string rest = in.substr(end + 4);
        in.clear();
        std::map<std::string, std::string> headers;
        size_t line_end = head.find("\r\n");
        std::string request_line = head.substr(0, line_end);
        std::string method = request_line.substr(0, request_line.find(' '));
        size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
            size_t e = head.find("\r\n", pos);
            if (e == std::string::npos)
                e = head.size();
            std::string line = head.substr(pos, e - pos);
            size_t colon = line.find(':');
            if (colon != std::string::npos) {
                std::string value = line.substr(colon + 1);
                while (!value.empty() && value.front() == ' ') value.erase(0, 1);
                headers[lower(line.substr(0, colon))] = value;
            }
            pos = e + 2;
        }
        auto get = [&](const char* name) -> std::optional<std::string_view> {
            auto it = headers.find(name);
            if (it == headers.end())
                return std::nullopt;
            return std::string_view(it->second);
        };
        UpgradeHeaders uh{get("upgrade"), get("connection"), get("sec-websocket-key"), get("sec-websocket-version")};
        auto st = check_upgrade_request(method, uh);
        gaffer::Result<std::string> accept =
            st ? accept_key(*uh.sec_websocket_key) : gaffer::Result<std::string>(gaffer::fail(st.error()));
        if (!accept) {
            HandshakeRefusal r = handshake_refusal(accept.error());
            note("refused handshake " + std::to_string(r.status));
            std::string resp = "HTTP/1.1 " + std::to_string(r.status) + " Refused\r\n";
            for (const auto& [k, v] : r.headers) resp += k + ": " + v + "\r\n";
            resp += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(r.body.size()) +
                    "\r\nConnection: close\r\n\r\n" + r.body;
            send(resp);
            shut_after_flush = true;
            close_sent = true;
            return;
        }
        std::string resp = "HTTP/1.1 101 Switching Protocols\r\n";
        for (const auto& [k, v] : handshake_response_headers(*accept)) resp += k + ": " + v + "\r\n";
        resp += "\r\n";
        send(resp);
        upgraded = true;
        note("conn" + std::to_string(id) + " upgraded");
        if (!rest.empty())
            decoder.feed(rest, [this](Event&& ev) { on_event(std::move(ev)); });
    }

    void on_readable() {
        char buf[65536];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n == 0) {
                done = true;  // EOF: the client is gone (or finished after our half-close)
                return;
            }
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno != EAGAIN)
                    done = true;
                return;
            }
            std::string_view bytes(buf, static_cast<size_t>(n));
            if (shut)
                continue;  // draining after our close
            if (!upgraded) {
                in.append(bytes);
                on_head();
            } else if (!decoder.finished()) {
                decoder.feed(bytes, [this](Event&& ev) { on_event(std::move(ev)); });
            }
        }
    }

    void on_writable() {
        while (!out.empty()) {
            ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno != EAGAIN)
                    done = true;
                return;
            }
            out.erase(0, static_cast<size_t>(n));
        }
        if (shut_after_flush && !shut) {
            (void)::shutdown(fd, SHUT_WR);
            shut = true;
        }
    }
};

bool executable_in_path(const std::string& name, std::string* ret_path) {
    const char* env_node = getenv("NODE");
    if (env_node && *env_node && access(env_node, X_OK) == 0) {
        *ret_path = env_node;
        return true;
    }
    const char* path = getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        size_t colon = p.find(':', start);
        std::string dir = p.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        std::string cand = (dir.empty() ? "." : dir) + "/" + name;
        if (access(cand.c_str(), X_OK) == 0) {
            *ret_path = cand;
            return true;
        }
        if (colon == std::string::npos)
            break;
        start = colon + 1;
    }
    return false;
}

int fail(const char* fmt, const std::string& arg = {}) {
    fprintf(stderr, "FAIL: ");
    fprintf(stderr, fmt, arg.c_str());
    fprintf(stderr, "\n");
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3)
        return fail("usage: ws_node_interop ECHO_CLIENT_JS TESTS_DIR%s");
    std::string client_js = argv[1];
    std::string tests_dir = argv[2];
    std::string node;
    if (!executable_in_path("node", &node))
        return fail("node not found in PATH (nor $NODE): install Node.js with `make deps`%s");
    struct stat st;
    std::string ws_pkg = tests_dir + "/node_modules/ws/package.json";
    if (stat(ws_pkg.c_str(), &st) != 0)
        return fail("%s is missing: run `make deps` (or `npm install` in tests/)", ws_pkg);
    if (stat(client_js.c_str(), &st) != 0)
        return fail("client script %s not found", client_js);

    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t alen = sizeof addr;
    if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 16) != 0 ||
        ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0)
        return fail("cannot listen on 127.0.0.1: %s", strerror(errno));
    std::string port = std::to_string(ntohs(addr.sin_port));
    fprintf(stderr, "server: listening on 127.0.0.1:%s, running %s %s\n", port.c_str(), node.c_str(),
            client_js.c_str());

    std::string node_path = "NODE_PATH=" + tests_dir + "/node_modules";
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        if (strncmp(*e, "NODE_PATH=", 10) != 0)
            env_strings.emplace_back(*e);
    env_strings.push_back(node_path);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> arg_strings = {node, client_js, port};
    std::vector<char*> args;
    for (auto& s : arg_strings) args.push_back(s.data());
    args.push_back(nullptr);
    pid_t child;
    int rc = posix_spawn(&child, node.c_str(), nullptr, nullptr, args.data(), envp.data());
    if (rc != 0)
        return fail("cannot run node: %s", strerror(rc));

    std::vector<std::unique_ptr<Conn>> conns;
    int next_id = 0;
    auto deadline = Clock::now() + kTimeout;
    int child_status = -1;
    bool child_done = false;
    while (Clock::now() < deadline) {
        if (!child_done) {
            pid_t w = waitpid(child, &child_status, WNOHANG);
            if (w == child)
                child_done = true;
        }
        if (child_done && conns.empty())
            break;
        std::vector<pollfd> pfds;
        pfds.push_back({lfd, POLLIN, 0});
        for (auto& c : conns) pfds.push_back({c->fd, static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
        int n = ::poll(pfds.data(), pfds.size(), 100);
        if (n < 0 && errno != EINTR)
            return fail("poll: %s", strerror(errno));
        if (pfds[0].revents & POLLIN) {
            for (;;) {
                int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0)
                    break;
                auto c = std::make_unique<Conn>();
                c->fd = cfd;
                c->id = ++next_id;
                conns.push_back(std::move(c));
            }
        }
        for (size_t i = 1; i < pfds.size(); ++i) {
            Conn& c = *conns[i - 1];
            if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
                c.on_readable();
            if (!c.done)
                c.on_writable();  // also flushes what the read produced
        }
        for (auto it = conns.begin(); it != conns.end();) {
            if ((*it)->done || (child_done && (*it)->shut)) {
                ::close((*it)->fd);
                it = conns.erase(it);
            } else {
                ++it;
            }
        }
    }
    if (!child_done) {
        (void)kill(child, SIGKILL);
        (void)waitpid(child, &child_status, 0);
        return fail("timed out after %s seconds; node killed", std::to_string(kTimeout.count()));
    }
    ::close(lfd);
    if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0)
        return fail("the node client failed (exit status %s); see its output above",
                    std::to_string(WIFEXITED(child_status) ? WEXITSTATUS(child_status) : -1));

    // What the server must have seen for the client's checks to mean anything. An entry
    // ending in '*' is a prefix (the reason of the client's close reply is its own).
    const char* expected[] = {
        "text 0",
        "text 125",
        "text 126",
        "text 65535",
        "text 65536",
        "binary 0",
        "binary 125",
        "binary 126",
        "binary 65535",
        "binary 65536",
        "text 9",  // the fragmented "frag-ment"
        "text 3",  // the euro sign split across fragments
        "ping 'mid'",
        "ping 'hello'",
        "pong 'srv-ping'",
        "close 1000 'bye'",
        "protocol error 1007 (text message is not UTF-8)",
        "protocol error 1009 (frame too big)",
        "protocol error 1009 (message too big)",
        "server close requested",
        "close 1000 '*",
        "refused handshake 400",
    };
    int missing = 0;
    for (std::string e : expected) {
        bool found = g_seen.count(e) > 0;
        if (!found && e.back() == '*') {
            e.pop_back();
            for (const auto& s : g_seen)
                if (s.rfind(e, 0) == 0 && s.find("(reply)") != std::string::npos)
                    found = true;
        }
        if (!found) {
            fprintf(stderr, "FAIL: the server never saw: %s\n", e.c_str());
            ++missing;
        }
    }
    if (missing)
        return 1;
    printf("ws_node_interop: ok (%zu distinct server events, node client passed)\n", g_seen.size());
    return 0;
}
