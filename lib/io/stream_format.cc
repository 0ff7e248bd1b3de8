// SPDX-License-Identifier: MIT
#include "lib/io/stream_format.h"

namespace gaffer::io {

std::string sse_event(std::string_view event, std::string_view data) {
    std::string out;
    out.reserve(event.size() + data.size() + 16);
    out += "event: ";
    for (char c : event) out += (c == '\r' || c == '\n') ? ' ' : c;
    out += '\n';
    if (data.empty()) {
        out += "data: \n\n";
        return out;
    }
    size_t pos = 0;
    while (pos < data.size()) {
        size_t end = data.find_first_of("\r\n", pos);
        if (end == std::string_view::npos)
            end = data.size();
        out += "data: ";
        out.append(data.data() + pos, end - pos);
        out += '\n';
        if (end == data.size())
            break;
        // One line end: "\r\n" counts once.
        pos = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
    }
    out += '\n';
    return out;
}

std::string dropped_line(uint64_t n) {
    return "gaffer: " + std::to_string(n) + " bytes dropped\n";
}

std::string sse_dropped(uint64_t n) {
    return sse_event("dropped", "{\"bytes\": " + std::to_string(n) + "}");
}

std::string dropped_error_json(uint64_t n) {
    return "{\"error\":\"EOVERFLOW\",\"dropped\":" + std::to_string(n) + "}";
}

}  // namespace gaffer::io
