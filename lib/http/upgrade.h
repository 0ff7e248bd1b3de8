// SPDX-License-Identifier: MIT
// WsConn: one websocket connection on the raw socket libmicrohttpd hands over after a 101
// (linux-primitives.md §6). Internal to lib/http and the sites built on it (lib/lookupd's
// /ws and /lookup/websocket). The socket is watched by the loop;
// incoming bytes go through a lib/ws Decoder (frame and message caps: 1009), pings are
// answered, and each complete message is given to the protocol handler (V1 channel,
// /wstreams, the /channel protocol; binary messages to on_binary when set). Outgoing frames go to a bounded buffer
// written as the socket accepts them; a peer that lets it grow past kMaxOutgoing is too far behind and is closed.
//
// Invariants: the socket is closed only through MHD_upgrade_action(CLOSE), exactly once,
// in the destructor; after close() nothing more is read, the close frame (if any) is
// flushed as far as the socket takes it without blocking, and the object is released on
// a later loop turn (Live::release_ws), so callbacks may call close() on themselves.
#pragma once

#include <microhttpd.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lib/http/request.h"
#include "lib/loop/loop.h"
#include "lib/ws/websocket.h"

namespace gaffer::http {

class LiveBase;

class WsConn {
public:
    static constexpr size_t kMaxOutgoing = 4 << 20;

    WsConn(LiveBase& live, MHD_UpgradeResponseHandle* urh, int fd, Request req);
    ~WsConn();
    WsConn(const WsConn&) = delete;
    WsConn& operator=(const WsConn&) = delete;

    // Starts watching the socket; `extra` are bytes MHD had already read.
    void start(std::string_view extra);

    // The protocol handler.
    std::function<void(std::string&& text)> on_message;
    // A binary message; unset: given to on_message like a text one.
    std::function<void(std::string&& data)> on_binary;
    // Runs once when the connection goes away (either side); release subscriptions here.
    std::function<void()> on_close;

    // Sends one text message. False (and the connection is closing) when the peer is
    // too far behind.
    bool send_text(std::string_view text);
    // Sends a close frame and closes.
    void close(uint16_t code = ws::kCloseNormal, std::string_view reason = {});
    bool closed() const { return closed_; }
    // The upgrade request (headers, peer, query).
    const Request& request() const { return req_; }
    size_t outgoing() const { return out_.size() - out_off_; }
    // The MHD daemon to run once the socket is handed back (closed).
    void set_daemon(MHD_Daemon* d) { daemon_ = d; }

private:
    void on_ready(uint32_t revents);
    // Decodes received bytes: messages to on_message, pings answered, a close or a
    // protocol error answered and the connection set to close once flushed.
    void feed(std::string_view bytes);
    void flush();
    void teardown();

    LiveBase& live_;
    MHD_UpgradeResponseHandle* urh_;
    MHD_Daemon* daemon_ = nullptr;
    int fd_;
    Request req_;
    ws::Decoder decoder_;
    std::string out_;
    size_t out_off_ = 0;
    loop::Loop::WatchId watch_ = 0;
    bool want_write_ = false;
    bool closed_ = false;
    bool closing_after_flush_ = false;
};

}  // namespace gaffer::http
