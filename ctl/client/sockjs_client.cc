// SPDX-License-Identifier: MIT
// SockJS xhr_streaming client helpers (see sockjs_client.h).
#include "ctl/client/sockjs_client.h"

#include <jansson.h>
#include <sys/random.h>

#include <cstdint>
#include <random>

#include "lib/json/json.h"

namespace gaffer::client {

std::string sockjs_xhr_streaming_path(std::string_view prefix) {
    static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t bytes[19];
    if (getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof bytes)) {
        // A session id only has to be unlikely to collide with another client's.
        std::random_device rd;
        for (uint8_t& b : bytes) b = static_cast<uint8_t>(rd());
    }
    std::string path = "/" + std::string(prefix) + "/";
    for (size_t i = 0; i < 3; ++i) path += static_cast<char>('0' + bytes[i] % 10);
    path += '/';
    for (size_t i = 3; i < sizeof bytes; ++i) path += kAlphabet[bytes[i] % 36];
    path += "/xhr_streaming";
    return path;
}

void SockJsParser::feed(std::string_view bytes) {
    lines_.feed(
        bytes, [this](std::string_view l) { line(l); },
        [this] {
            if (handlers_.on_error)
                handlers_.on_error("a frame longer than " + std::to_string(kMaxLine) + " bytes");
        });
}

void SockJsParser::line(std::string_view l) {
    if (!l.empty() && l.back() == '\r')
        l.remove_suffix(1);
    if (l.empty())
        return;
    ++frames_;
    auto error = [&](const std::string& what) {
        if (handlers_.on_error)
            handlers_.on_error(what);
    };
    if (l.find_first_not_of('h') == std::string_view::npos)
        return;  // a heartbeat, or the prelude
    if (l == "o") {
        if (handlers_.on_open)
            handlers_.on_open();
        return;
    }
    char kind = l[0];
    if (kind != 'a' && kind != 'c')
        return error("an unknown SockJS frame '" + std::string(l.substr(0, 16)) + "'");
    auto j = json::parse(l.substr(1));
    if (!j || !json_is_array(j->get()))
        return error(std::string("a malformed '") + kind + "' frame");
    json_t* arr = j->get();
    if (kind == 'c') {
        json_t* code = json_array_get(arr, 0);
        json_t* reason = json_array_get(arr, 1);
        if (handlers_.on_close)
            handlers_.on_close(json_is_integer(code) ? static_cast<long>(json_integer_value(code)) : 0,
                               json_is_string(reason) ? json_string_value(reason) : "");
        return;
    }
    size_t i;
    json_t* m;
    json_array_foreach(arr, i, m) {
        if (!json_is_string(m)) {
            error("a message that is not a string");
            continue;
        }
        if (handlers_.on_message)
            handlers_.on_message(std::string_view(json_string_value(m), json_string_length(m)));
    }
}

}  // namespace gaffer::client
