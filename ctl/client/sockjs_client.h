// SPDX-License-Identifier: MIT
// The client side of a SockJS xhr_streaming feed (sockjs-protocol 0.3; the server side
// is lib/ws/sockjs.h): the session URL a client makes up, and an incremental parser of
// the streamed body, so that the command-line tools can follow a SockJS feed (the
// lookupd's /lookup) with a plain HTTP POST and no websocket client.
//
// The body of `POST /<prefix>/<server>/<session>/xhr_streaming` is a prelude of 2048 'h'
// and a newline, then one frame per line: "o" (open), "h" (heartbeat), "a[...]" (a JSON
// array of messages, each a string) and "c[code,\"reason\"]" (the session is closed).
// The server ends a response after a byte limit; the client then POSTs again with the
// same session id and loses nothing.
//
// Invariants: the parser holds at most one partial line of kMaxLine bytes (a longer
// line is dropped and counted as a protocol error); nothing throws.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "ctl/client/http_client.h"

namespace gaffer::client {

// "/<prefix>/<3 digits>/<16 random lowercase letters and digits>/xhr_streaming"; the
// prefix is given without slashes ("lookup").
std::string sockjs_xhr_streaming_path(std::string_view prefix);

class SockJsParser {
public:
    static constexpr size_t kMaxLine = 4u << 20;

    struct Handlers {
        std::function<void()> on_open;                                     // "o"
        std::function<void(std::string_view text)> on_message;             // each string of "a[...]"
        std::function<void(long code, std::string_view reason)> on_close;  // "c[...]"
        // A line that is no frame, an "a" frame that is not an array of strings, an
        // overlong line; the text says which.
        std::function<void(std::string_view what)> on_error;
    };

    explicit SockJsParser(Handlers handlers) : handlers_(std::move(handlers)) {}
    void feed(std::string_view bytes);
    // Frames seen since construction (heartbeats and the prelude included).
    size_t frames() const { return frames_; }

private:
    void line(std::string_view l);
    Handlers handlers_;
    LineSplitter lines_{kMaxLine};
    size_t frames_ = 0;
};

}  // namespace gaffer::client
