// SPDX-License-Identifier: MIT
// The /channel application protocol (reference §5.2 with every "Required fix") and the
// SockJS server that carries it. Internal to lib/http and the sites built on it: the
// server takes its URL prefix and its application (SockjsApp) as parameters, so
// gaffer_lookupd serves its /lookup event feed with the same machinery.
//
// ChannelApp is transport-independent: it receives application messages (one JSON object
// or `AUTH:<key>` each) and sends JSON messages through a ChannelTransport. The same class
// serves /channel/websocket (raw), the SockJS websocket transport and the SockJS HTTP
// transports.
//
// Invariants: rights are those of the request that opened the channel or of the key of
// a successful AUTH:<key>, re-checked for every SUB and CMD; a refused command is never
// run; a topic subscribed N times is delivered once and released after N UNSUBs; the
// destructor releases every subscription (event bus, output, timers). A STREAM topic
// whose transport backlog is above kStreamBacklog drops chunks and then sends a
// gaffer:dropped event with the byte count before the next chunk (§16).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lib/http/handlers.h"
#include "lib/http/live.h"
#include "lib/ws/sockjs.h"

namespace gaffer::http::sockjs_app {

struct ChannelTransport {
    std::function<void(std::string message)> send;
    std::function<void()> close;
    std::function<size_t()> backlog;  // bytes waiting to be written
};

// One application session behind a SockJS session or a raw websocket: receives the
// client's messages, sends through the ChannelTransport it was made with.
class SockjsApp {
public:
    virtual ~SockjsApp() = default;
    virtual void on_message(std::string_view text) = 0;
};

// Makes the application of a new session; `req`: the opening request.
using SockjsAppFactory = std::function<std::unique_ptr<SockjsApp>(const Request& req, ChannelTransport transport)>;

class ChannelApp : public SockjsApp {
public:
    static constexpr size_t kStreamBacklog = 512 * 1024;  // below the SockJS session cap (1 MiB)

    // `req`: the opening request (peer, X-Api-Key).
    ChannelApp(Live& live, const Request& req, ChannelTransport transport);
    ~ChannelApp() override;
    ChannelApp(const ChannelApp&) = delete;
    ChannelApp& operator=(const ChannelApp&) = delete;

    void on_message(std::string_view text) override;

private:
    struct Sub {
        int refs = 0;
        std::function<void()> release;
        // Whether rights still cover the topic (re-evaluated when the rights change).
        std::function<bool(const auth::Permissions&)> allowed;
    };
    // Re-resolves the session's key against the store (live.h): false (and the session
    // closed) when the key is gone; otherwise ends the subscriptions no longer covered.
    bool recheck();
    void drop_uncovered();
    void error(std::string_view reason);
    void send_error(std::string_view code, std::string_view reason);
    void refuse_auth(std::string_view reason);
    void sub_error(const std::string& topic, std::string_view reason);
    void subscribe(const std::string& topic);
    void unsubscribe(const std::string& topic);
    void command(const json_t* data);
    void emit(const std::string& topic, std::string_view event, const json_t* payload);

    Live& live_;
    Request req_;
    ChannelTransport transport_;
    Rights rights_;
    bool need_auth_ = false;
    bool dead_ = false;
    std::map<std::string, Sub> subs_;
    uint64_t store_watch_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// A SockJS server at `prefix` ("/channel", "/lookup"): HTTP transports, session registry,
// websockets, the raw <prefix>/websocket; each session runs an application from `factory`.
class SockjsServer {
public:
    SockjsServer(LiveBase& live, std::string prefix, SockjsAppFactory factory);
    ~SockjsServer();
    SockjsServer(const SockjsServer&) = delete;
    SockjsServer& operator=(const SockjsServer&) = delete;

    MHD_Result handle(MHD_Connection* conn, const Request& req);

private:
    struct HttpSession;
    void pump(const std::string& id);
    void rearm();
    HttpSession* find(const std::string& id);

    LiveBase& live_;
    std::string prefix_;
    SockjsAppFactory factory_;
    ws::sockjs::ServerOptions opts_;
    ws::sockjs::SessionRegistry registry_;
    std::map<std::string, std::unique_ptr<HttpSession>, std::less<>> apps_;
    loop::Loop::TimerId timer_ = 0;
};

}  // namespace gaffer::http::sockjs_app
