// SPDX-License-Identifier: MIT
// The /channel application messages a client sends (reference §5.2), parsed as a pure
// function: one SockJS message or raw-websocket text frame in, one ChannelMessage out. No
// rights, no manager, no transport: lib/http's ChannelApp decides what each kind does.
//
//   AUTH:<key>                                          -> kAuth (key: the rest, verbatim)
//   {"event":"NOP"}                                     -> kNop
//   {"event":"SUB"|"UNSUB","data":{"topic":T}}          -> kSub / kUnsub
//   {"event":"CMD","data":{"identity":ID,"name":CMD,
//                          "args":[...],"kwargs":{...}}} -> kCmd
//   anything else                                       -> kInvalid with the reason of the
//       §5.2 invalid_msg table: invalid_json, event_missing, data_missing, topic_missing,
//       cmd_name_mssing (sic: the wire name), cmd_identity_missing, unknown_cmd.
//
// Invariants: the event name is case-insensitive (ASCII); the checks run in the order of
// the table above, so one message has exactly one reason; strings keep embedded NUL bytes
// (jansson's JSON_ALLOW_NUL) and their exact bytes otherwise; a kCmd always has a string
// name and a non-null identity, and args/kwargs are an array/object or null (absent or of
// another type: ignored, as the original did). Memory is bounded by the caller's message
// cap (the transports cap frames and sessions) and jansson's nesting limit.
#pragma once

#include <string>
#include <string_view>

#include "lib/json/json.h"

namespace gaffer::ws::channel {

enum class MessageKind {
    kInvalid,  // `reason` says why (an invalid_msg reply)
    kAuth,     // AUTH:<key>
    kNop,      // keep-alive, no reply
    kSub,      // subscribe to `topic`
    kUnsub,    // unsubscribe from `topic`
    kCmd,      // run command `name`
};
std::string_view to_string(MessageKind kind);

struct ChannelMessage {
    MessageKind kind = MessageKind::kInvalid;
    std::string_view reason;  // kInvalid: one of the invalid_msg reasons (static storage)
    std::string key;          // kAuth
    std::string topic;        // kSub, kUnsub
    // kCmd: the command's name, its identity (any JSON value but null, echoed in the
    // reply), args (an array or null) and kwargs (an object or null), and `data`, the
    // whole data object as sent.
    std::string name;
    json::JsonPtr identity;
    json::JsonPtr args;
    json::JsonPtr kwargs;
    json::JsonPtr data;
};

// The invalid_msg reasons, as sent on the wire.
inline constexpr std::string_view kInvalidJson = "invalid_json";
inline constexpr std::string_view kEventMissing = "event_missing";
inline constexpr std::string_view kDataMissing = "data_missing";
inline constexpr std::string_view kTopicMissing = "topic_missing";
inline constexpr std::string_view kCmdNameMissing = "cmd_name_mssing";  // sic, reference §5.2
inline constexpr std::string_view kCmdIdentityMissing = "cmd_identity_missing";
inline constexpr std::string_view kUnknownCmd = "unknown_cmd";

ChannelMessage parse_channel_message(std::string_view text);

}  // namespace gaffer::ws::channel
