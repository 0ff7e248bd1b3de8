// SPDX-License-Identifier: MIT
// libFuzzer target: one /channel application message (SockJS message or raw-websocket
// text frame) -> ws::channel::parse_channel_message. It aborts when an invariant breaks:
//   * the parse is deterministic (a second parse gives the same message);
//   * kAuth exactly when the text starts with "AUTH:", its key the rest, byte for byte;
//   * kInvalid carries one of the seven invalid_msg reasons of reference §5.2, every
//     other kind none;
//   * a kCmd has a name, a non-null identity, args an array or null, kwargs an object or
//     null, and data an object holding them;
//   * a SUB/UNSUB topic or a command name re-encoded into a fresh message parses back to
//     itself (the topic is valid UTF-8 and keeps its NUL bytes).
#include <jansson.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/json/json.h"
#include "lib/ws/channel_message.h"

namespace {

using namespace gaffer;
using namespace gaffer::ws::channel;

void check(bool ok) {
    if (!ok)
        abort();
}

bool is_reason(std::string_view r) {
    for (std::string_view k :
         {kInvalidJson, kEventMissing, kDataMissing, kTopicMissing, kCmdNameMissing, kCmdIdentityMissing, kUnknownCmd})
        if (r == k)
            return true;
    return false;
}

bool same_json(const json::JsonPtr& a, const json::JsonPtr& b) {
    if (!a || !b)
        return !a && !b;
    return json_equal(a.get(), b.get()) == 1;
}

// {"event":<event>,"data":{<key>:<value>,...}} with `value` as a JSON string.
std::string rebuild(const char* event, const char* key, const std::string& value) {
    json::JsonPtr data = json::take(json_object());
    json::set(data.get(), key, json::take(json_stringn(value.data(), value.size())));
    if (std::string_view(event) == "CMD")
        json::set(data.get(), "identity", json::take(json_integer(1)));
    json::JsonPtr m = json::take(json_object());
    json::set(m.get(), "event", json::str(event));
    json::set(m.get(), "data", std::move(data));
    return json::dump(m.get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > (size_t{1} << 18))
        return 0;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    ChannelMessage m = parse_channel_message(text);
    ChannelMessage again = parse_channel_message(text);
    check(m.kind == again.kind && m.reason == again.reason && m.key == again.key && m.topic == again.topic &&
          m.name == again.name && same_json(m.identity, again.identity) && same_json(m.args, again.args) &&
          same_json(m.kwargs, again.kwargs) && same_json(m.data, again.data));

    bool auth = text.substr(0, 5) == "AUTH:";
    check((m.kind == MessageKind::kAuth) == auth);
    check(m.kind == MessageKind::kInvalid ? is_reason(m.reason) : m.reason.empty());
    switch (m.kind) {
        case MessageKind::kAuth:
            check(m.key == text.substr(5));
            break;
        case MessageKind::kSub:
        case MessageKind::kUnsub: {
            const char* ev = m.kind == MessageKind::kSub ? "SUB" : "UNSUB";
            ChannelMessage back = parse_channel_message(rebuild(ev, "topic", m.topic));
            check(back.kind == m.kind && back.topic == m.topic);
            break;
        }
        case MessageKind::kCmd: {
            check(m.identity && !json_is_null(m.identity.get()));
            check(!m.args || json_is_array(m.args.get()));
            check(!m.kwargs || json_is_object(m.kwargs.get()));
            check(m.data && json_is_object(m.data.get()));
            check(json_object_get(m.data.get(), "identity") == m.identity.get());
            check(!m.args || json_object_get(m.data.get(), "args") == m.args.get());
            check(!m.kwargs || json_object_get(m.data.get(), "kwargs") == m.kwargs.get());
            ChannelMessage back = parse_channel_message(rebuild("CMD", "name", m.name));
            check(back.kind == MessageKind::kCmd && back.name == m.name);
            break;
        }
        case MessageKind::kNop:
        case MessageKind::kInvalid:
            break;
    }
    if (m.kind != MessageKind::kCmd)
        check(!m.identity && !m.args && !m.kwargs && !m.data && m.name.empty());
    return 0;
}
