// SPDX-License-Identifier: MIT
// Tests of lib/io/stream_format: SSE events (§4.1 required fixes: blank-line terminator,
// one data: line per line) and the §16 dropped-output markers.
#include "lib/io/stream_format.h"

#include <gtest/gtest.h>

#include <string>

namespace gaffer::io {
namespace {

struct SseCase {
    const char* name;
    std::string data;
    std::string expected;  // after "event: out\n"
};

class SseEvent : public ::testing::TestWithParam<SseCase> {};

TEST_P(SseEvent, Formats) {
    const SseCase& c = GetParam();
    EXPECT_EQ(sse_event("out", c.data), "event: out\n" + c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SseEvent,
    ::testing::Values(SseCase{"one_line", "hello", "data: hello\n\n"},
                      SseCase{"trailing_newline", "hello\n", "data: hello\n\n"},
                      SseCase{"two_lines", "a\nb", "data: a\ndata: b\n\n"},
                      SseCase{"two_lines_trailing", "a\nb\n", "data: a\ndata: b\n\n"},
                      SseCase{"empty_line_inside", "a\n\nb\n", "data: a\ndata: \ndata: b\n\n"},
                      SseCase{"only_newline", "\n", "data: \n\n"},
                      SseCase{"two_newlines", "\n\n", "data: \ndata: \n\n"}, SseCase{"empty", "", "data: \n\n"},
                      SseCase{"crlf", "a\r\nb\r\n", "data: a\ndata: b\n\n"},
                      SseCase{"bare_cr", "50%\r100%\r", "data: 50%\ndata: 100%\n\n"},
                      SseCase{"cr_then_lf_lines", "a\r\rb", "data: a\ndata: \ndata: b\n\n"},
                      SseCase{"injection", "x\nevent: evil\ndata: y", "data: x\ndata: event: evil\ndata: data: y\n\n"},
                      SseCase{"binary_kept", std::string("a\0b", 3), std::string("data: a\0b\n\n", 11)}),
    [](const ::testing::TestParamInfo<SseCase>& tpi) { return std::string(tpi.param.name); });

TEST(SseEventName, LineBreaksInTheEventNameAreNeutralised) {
    EXPECT_EQ(sse_event("a\nb\rc", "x"), "event: a b c\ndata: x\n\n");
}

TEST(DroppedMarkers, MatchSection16) {
    EXPECT_EQ(dropped_line(42), "gaffer: 42 bytes dropped\n");
    EXPECT_EQ(dropped_line(0), "gaffer: 0 bytes dropped\n");
    EXPECT_EQ(sse_dropped(7), "event: dropped\ndata: {\"bytes\": 7}\n\n");
    EXPECT_EQ(dropped_error_json(18446744073709551615u), "{\"error\":\"EOVERFLOW\",\"dropped\":18446744073709551615}");
}

}  // namespace
}  // namespace gaffer::io
