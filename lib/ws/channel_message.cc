// SPDX-License-Identifier: MIT
#include "lib/ws/channel_message.h"

#include "lib/base/strutil.h"
#include "lib/ws/v1.h"

namespace gaffer::ws::channel {

namespace {

std::string string_of(const json_t* v) {
    return std::string(json_string_value(v), json_string_length(v));
}

ChannelMessage invalid(std::string_view reason) {
    ChannelMessage m;
    m.reason = reason;
    return m;
}

}  // namespace

std::string_view to_string(MessageKind kind) {
    switch (kind) {
        case MessageKind::kInvalid:
            return "invalid";
        case MessageKind::kAuth:
            return "auth";
        case MessageKind::kNop:
            return "nop";
        case MessageKind::kSub:
            return "sub";
        case MessageKind::kUnsub:
            return "unsub";
        case MessageKind::kCmd:
            return "cmd";
    }
    return "invalid";
}

ChannelMessage parse_channel_message(std::string_view text) {
    ChannelMessage m;
    if (auto key = v1::auth_key(text)) {
        m.kind = MessageKind::kAuth;
        m.key = std::string(*key);
        return m;
    }
    auto parsed = json::parse(text);
    if (!parsed || !json_is_object(parsed->get()))
        return invalid(kInvalidJson);
    const json_t* msg = parsed->get();
    const json_t* ev = json_object_get(msg, "event");
    if (!json_is_string(ev))
        return invalid(kEventMissing);
    std::string event = to_upper(string_of(ev));
    if (event == "NOP") {
        m.kind = MessageKind::kNop;
        return m;
    }
    json_t* data = json_object_get(msg, "data");
    if (event == "SUB" || event == "UNSUB") {
        if (!json_is_object(data))
            return invalid(kDataMissing);
        const json_t* topic = json_object_get(data, "topic");
        if (!json_is_string(topic))
            return invalid(kTopicMissing);
        m.kind = event == "SUB" ? MessageKind::kSub : MessageKind::kUnsub;
        m.topic = string_of(topic);
        return m;
    }
    if (event != "CMD")
        return invalid(kUnknownCmd);
    if (!json_is_object(data))
        return invalid(kDataMissing);
    const json_t* name = json_object_get(data, "name");
    if (!json_is_string(name))
        return invalid(kCmdNameMissing);
    json_t* identity = json_object_get(data, "identity");
    if (!identity || json_is_null(identity))
        return invalid(kCmdIdentityMissing);
    json_t* args = json_object_get(data, "args");
    json_t* kwargs = json_object_get(data, "kwargs");
    m.kind = MessageKind::kCmd;
    m.name = string_of(name);
    m.identity = json::ref(identity);
    m.args = json_is_array(args) ? json::ref(args) : json::JsonPtr();
    m.kwargs = json_is_object(kwargs) ? json::ref(kwargs) : json::JsonPtr();
    m.data = json::ref(data);
    return m;
}

}  // namespace gaffer::ws::channel
