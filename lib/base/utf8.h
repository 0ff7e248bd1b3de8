// SPDX-License-Identifier: MIT
// Process output as websocket text: all server→client frames are text frames (reference
// §5) and RFC 6455 requires their payload to be UTF-8 (browsers and Node's ws close
// with 1007 otherwise), but a process writes whatever bytes it likes, and a read may end
// in the middle of a character. Utf8Sanitizer turns a byte stream, chunk by chunk, into
// valid UTF-8 with the result of the WHATWG Encoding Standard's UTF-8 decoder (what a
// browser's TextDecoder shows for the same bytes), re-encoded as UTF-8:
//
//   - a character split across two chunks is held back (at most 3 bytes) and completed
//     by the next chunk, so splitting the stream anywhere gives the same text;
//   - each maximal subpart of an ill-formed sequence (a stray continuation byte, an
//     overlong form, a UTF-16 surrogate, anything above U+10FFFF, a lead byte cut short
//     by a byte that cannot continue it) becomes one U+FFFD (Unicode §3.9 "U+FFFD
//     substitution of maximal subparts");
//   - finish() ends the stream: a held-back incomplete sequence becomes one U+FFFD.
//
// One sanitiser per subscriber and stream. Pure: no allocation besides the output, no
// state beyond the held-back bytes; never fails.
//
// The strict side (RFC 6455 text frames, close reasons) is utf8::valid() and
// utf8::Validator: the same well-formed sequences, but any ill-formed byte is an error
// (close 1007) instead of a U+FFFD. The sanitiser, the validators and the SockJS JSON
// escaper all decode with utf8::lead() and utf8::decode(), the one decoding step.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace gaffer {

// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

namespace utf8 {

// What a byte announces when it starts a sequence (RFC 3629 well-formed sequences, the
// WHATWG decoder's table): `needed` continuation bytes, the first within [lower, upper]
// (E0 and F0: no overlong forms; ED: no surrogates; F4: nothing above U+10FFFF), the
// others within [80, BF]. valid=false for 80-BF (no lead), C0-C1 (overlong) and F5-FF.
struct Lead {
    uint8_t needed;
    uint8_t lower;
    uint8_t upper;
    bool valid;
};
Lead lead(uint8_t b);

// One decoding step: the character that starts at s[pos] (pos < s.size()).
//   ok:        `code_point`, `length` bytes (1 to 4).
//   !ok:       `length` bytes (1 to 3) are a maximal subpart of an ill-formed sequence
//              (code_point U+FFFD); truncated: they are a well-formed beginning cut short
//              by the end of `s` (more input could complete them).
struct Step {
    uint32_t code_point;
    uint8_t length;
    bool ok;
    bool truncated;
};
Step decode(std::string_view s, size_t pos);

// Whether all of `s` is well-formed UTF-8 (ending on a character boundary).
bool valid(std::string_view s);

// valid() over input that arrives in pieces (fragmented websocket messages). feed()
// returns false at the first byte that cannot start or continue a well-formed sequence;
// complete() says whether the input so far ends on a character boundary.
class Validator {
public:
    bool feed(std::string_view bytes);
    bool complete() const { return need_ == 0; }
    void reset() { *this = Validator(); }

private:
    uint8_t need_ = 0;               // continuation bytes still expected
    uint8_t lo_ = 0x80, hi_ = 0xBF;  // bounds of the next continuation byte
};

}  // namespace utf8

class Utf8Sanitizer {
public:
    // Appends the UTF-8 text of `bytes` to `*out`; an incomplete sequence at the end is
    // held back for the next call.
    void feed(std::string_view bytes, std::string* out);
    std::string feed(std::string_view bytes) {
        std::string out;
        feed(bytes, &out);
        return out;
    }
    // End of the stream: U+FFFD if bytes were held back, else nothing. The sanitiser is
    // then ready for a new stream.
    std::string finish();
    // Forgets held-back bytes (their continuation was lost, e.g. dropped by a full queue).
    void reset() { held_len_ = 0; }
    // Bytes held back (0 to 3).
    size_t held() const { return held_len_; }

private:
    std::array<char, 4> held_{};  // the held sequence, completed here before it goes out
    uint8_t held_len_ = 0;        // lead byte and continuation bytes seen so far
    uint8_t needed_ = 0;          // continuation bytes the held sequence needs in all
    uint8_t lower_ = 0x80;        // bounds of the next continuation byte
    uint8_t upper_ = 0xBF;
};

// One-shot: the whole of `bytes` as one stream (feed, then finish).
std::string sanitize_utf8(std::string_view bytes);

}  // namespace gaffer
