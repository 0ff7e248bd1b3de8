// SPDX-License-Identifier: MIT
// libFuzzer target: what SockJS clients send -> ws::sockjs::parse_xhr_send,
// parse_jsonp_send (form-encoded or raw) and parse_websocket_message. Byte 0 picks the
// decoder (0: xhr_send, 1: jsonp_send raw, 2: jsonp_send form, 3: websocket), the rest is
// the body. It aborts when an invariant breaks:
//   * errors are those the header lists: ENODATA "Payload expected." (empty body or an
//     empty/missing form field `d`), EINVAL "Broken JSON encoding." for the send
//     transports and EINVAL "Broken framing." for the websocket;
//   * an empty websocket message is no message, an empty send body an error;
//   * the messages decoded re-frame and decode to themselves: message_frame() (what the
//     server would send) minus its 'a' parses back through parse_xhr_send() and
//     parse_websocket_message() to the same strings, NUL bytes included.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/ws/sockjs.h"

namespace {

using namespace gaffer::ws::sockjs;

void check(bool ok) {
    if (!ok)
        abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > (size_t{1} << 18))
        return 0;
    unsigned which = data[0] & 3;
    std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    gaffer::Result<std::vector<std::string>> r = std::vector<std::string>{};
    switch (which) {
        case 0:
            r = parse_xhr_send(body);
            break;
        case 1:
            r = parse_jsonp_send(body, std::nullopt);
            break;
        case 2:
            r = parse_jsonp_send(body, "application/x-www-form-urlencoded; charset=UTF-8");
            break;
        default:
            r = parse_websocket_message(body);
            break;
    }
    if (!r) {
        int e = r.error().code;
        const std::string& why = r.error().context;
        if (which == 3)
            check(e == EINVAL && why == "Broken framing.");
        else
            check((e == ENODATA && why == "Payload expected.") || (e == EINVAL && why == "Broken JSON encoding."));
        if (which < 2 && body.empty())
            check(e == ENODATA);
        return 0;
    }
    if (which < 3)
        check(!body.empty());
    if (which == 3 && body.empty())
        check(r->empty());

    std::string frame = message_frame(*r);
    check(frame.size() >= 3 && frame[0] == 'a');
    std::string_view array = std::string_view(frame).substr(1);
    auto back = parse_xhr_send(array);
    check(back && *back == *r);
    auto ws_back = parse_websocket_message(array);
    check(ws_back && *ws_back == *r);
    return 0;
}
