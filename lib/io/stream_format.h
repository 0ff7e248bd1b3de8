// SPDX-License-Identifier: MIT
// Wire formats of output and event streams: server-sent events (reference §4.1, with its
// required fixes) and the §16 "Dropped output" markers. Pure string functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gaffer::io {

// One SSE event: "event: <event>\n", one "data: <line>\n" per line of `data`, then a blank
// line. Lines end at "\n", "\r\n" or "\r" (SSE treats all three as line ends, so a bare
// CR must not reach the client inside a data: line, where it would start a new field);
// a line end at the very end of `data` adds no empty data: line. Empty data gives one
// "data: \n" so that the event is still dispatched. CR/LF in `event` become spaces.
std::string sse_event(std::string_view event, std::string_view data);

// §16 markers for N bytes a subscriber missed:
// continuous/longpoll: "gaffer: N bytes dropped\n"
std::string dropped_line(uint64_t n);
// eventsource: "event: dropped\ndata: {\"bytes\": N}\n\n"
std::string sse_dropped(uint64_t n);
// V1 channel error body: {"error":"EOVERFLOW","dropped":N}
std::string dropped_error_json(uint64_t n);

}  // namespace gaffer::io
