// SPDX-License-Identifier: MIT
// libFuzzer target: bytes from a websocket peer -> ws::Decoder, fed whole and again in
// pseudo-random chunk sizes. Input layout: byte 0 picks the options (bit 0: client role;
// bits 1-3 and 4-6: frame and message caps from kCaps, 0 = the 1 MiB defaults), byte 1
// seeds the chunk sizes, the rest is the byte stream. It aborts when an invariant breaks:
//   * both feedings give the same events (the split of the input never matters), and
//     feed() consumes everything until the decoder finishes, then nothing;
//   * the decoder never buffers more than max_message bytes;
//   * messages are text or binary, within the caps, text is valid UTF-8; control payloads
//     are at most 125 bytes; close codes are valid (or 1005) with a UTF-8 reason;
//     protocol errors carry 1002, 1007 or 1009; a Close or an error is the last event;
//   * every message re-encoded by the server encoder (and by the masking client encoder)
//     decodes back to itself.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lib/ws/websocket.h"

namespace {

using namespace gaffer::ws;

constexpr size_t kCaps[] = {kDefaultMaxMessage, 0, 1, 125, 126, 1000, 65536, 4096};

void check(bool ok) {
    if (!ok)
        abort();
}

void check_events(const std::vector<Event>& evs, const DecoderOptions& o) {
    for (size_t i = 0; i < evs.size(); ++i) {
        const Event& ev = evs[i];
        bool last = i + 1 == evs.size();
        if (const auto* m = std::get_if<Message>(&ev)) {
            check(m->opcode == Opcode::kText || m->opcode == Opcode::kBinary);
            check(m->payload.size() <= o.max_message);
            if (m->opcode == Opcode::kText)
                check(gaffer::utf8::valid(m->payload));
        } else if (const auto* p = std::get_if<Ping>(&ev)) {
            check(p->payload.size() <= 125);
        } else if (const auto* p2 = std::get_if<Pong>(&ev)) {
            check(p2->payload.size() <= 125);
        } else if (const auto* c = std::get_if<Close>(&ev)) {
            check(last);
            check(c->code == kCloseNoStatus ? c->reason.empty() : is_valid_close_code(c->code));
            check(c->reason.size() <= 123 && gaffer::utf8::valid(c->reason));
        } else if (const auto* e = std::get_if<ProtocolError>(&ev)) {
            check(last);
            check(e->close_code == kCloseProtocolError || e->close_code == kCloseInvalidPayload ||
                  e->close_code == kCloseMessageTooBig);
        }
    }
}

void check_round_trip(const Message& m, const DecoderOptions& o) {
    // A message reassembled from fragments may exceed max_frame as one frame.
    DecoderOptions client = o;
    client.role = Role::kClient;
    client.max_frame = SIZE_MAX;
    Decoder d(client);
    auto evs = d.feed(encode_frame(m.opcode, m.payload));
    check(evs.size() == 1 && std::get_if<Message>(&evs[0]) && *std::get_if<Message>(&evs[0]) == m);
    DecoderOptions server = client;
    server.role = Role::kServer;
    Decoder s(server);
    auto evs2 = s.feed(encode_masked_frame(m.opcode, m.payload, {0x12, 0x34, 0x56, 0x78}));
    check(evs2.size() == 1 && std::get_if<Message>(&evs2[0]) && *std::get_if<Message>(&evs2[0]) == m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2 || size > (size_t{1} << 18))
        return 0;
    DecoderOptions o;
    o.role = (data[0] & 1) ? Role::kClient : Role::kServer;
    o.max_frame = kCaps[(data[0] >> 1) & 7];
    o.max_message = kCaps[(data[0] >> 4) & 7];
    uint32_t rng = 0x9e3779b9u ^ data[1];
    std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

    Decoder whole(o);
    std::vector<Event> a;
    size_t used = whole.feed(input, [&](Event&& ev) { a.push_back(std::move(ev)); });
    check(used == input.size() || whole.finished());
    check(whole.buffered() <= o.max_message);

    Decoder chunked(o);
    std::vector<Event> b;
    size_t pos = 0;
    while (pos < input.size()) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        size_t n = 1 + rng % ((rng & 0x100) ? 7 : 300);
        std::string_view chunk = input.substr(pos, n);
        bool was_finished = chunked.finished();
        size_t got = chunked.feed(chunk, [&](Event&& ev) { b.push_back(std::move(ev)); });
        check(!was_finished || got == 0);
        check(got == chunk.size() || chunked.finished());
        check(chunked.buffered() <= o.max_message);
        pos += chunk.size();
    }
    check(a == b);
    check_events(a, o);
    for (const auto& ev : a)
        if (const auto* m = std::get_if<Message>(&ev))
            check_round_trip(*m, o);
    return 0;
}
