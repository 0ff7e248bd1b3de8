// SPDX-License-Identifier: MIT
// libFuzzer target: the bytes a lookupd (or anything listening at a lookupd address) sends
// back to gafferd's registration client: the answer head (ws::ResponseReader +
// ws::check_response) and then the JSON replies (announce::parse_reply). Input layout:
// byte 0 seeds the chunk sizes, the rest is the byte stream. It aborts when an invariant
// breaks:
//   * the reader's outcome, head and left-over bytes do not depend on how the input is
//     split;
//   * a reader that failed says EPROTO; one that finished holds a status from 0 to 999
//     and header names without ':' or spaces;
//   * the reader never holds more than kMaxResponseHead bytes of head: an input whose
//     first 16 KiB hold no empty line fails;
//   * check_response() accepts only a 101 whose Sec-WebSocket-Accept matches the key, and
//     fails with EACCES or EPROTO otherwise;
//   * parse_reply() on each left-over line either fails with EPROTO or gives ok with no
//     error, or an error code.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/announce/registration.h"
#include "lib/ws/client.h"

namespace {

using namespace gaffer;

constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

void check(bool ok) {
    if (!ok)
        abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1)
        return 0;
    uint32_t seed = data[0];
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    ws::ResponseReader whole;
    whole.feed(input);
    ws::ResponseReader pieces;
    size_t off = 0;
    while (off < input.size()) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 97;
        pieces.feed(input.substr(off, n));
        off += n;
    }
    check(whole.state() == pieces.state());
    if (whole.state() == ws::ResponseReader::State::kFailed) {
        check(whole.error().code == EPROTO && pieces.error().code == EPROTO);
        return 0;
    }
    if (whole.state() == ws::ResponseReader::State::kNeedMore) {
        check(input.size() < ws::kMaxResponseHead + 4);
        return 0;
    }
    const ws::ResponseHead& head = whole.head();
    check(head.status == pieces.head().status && head.headers == pieces.head().headers);
    check(head.status >= 0 && head.status <= 999);
    for (const auto& [name, value] : head.headers)
        check(!name.empty() && name.find_first_of(": \t\r\n") == std::string::npos);
    std::string rest = whole.take_rest();
    check(rest == pieces.take_rest());

    Status st = ws::check_response(head, kKey);
    if (st) {
        const std::string* accept = head.header("Sec-WebSocket-Accept");
        check(head.status == 101 && accept && *accept == kAccept);
    } else {
        check(st.error().code == EACCES || st.error().code == EPROTO);
    }

    std::string_view lines(rest);
    while (!lines.empty()) {
        size_t nl = lines.find('\n');
        auto reply = announce::parse_reply(lines.substr(0, nl));
        if (reply)
            check(reply->ok ? reply->error == 0 : true);
        else
            check(reply.error().code == EPROTO);
        if (nl == std::string_view::npos)
            break;
        lines.remove_prefix(nl + 1);
    }
    return 0;
}
