// SPDX-License-Identifier: MIT
// See utf8.h. The byte classes are those of the WHATWG UTF-8 decoder (Encoding Standard
// §9.1.1) and of RFC 3629's well-formed sequences.
#include "lib/base/utf8.h"

namespace gaffer {

namespace utf8 {

Lead lead(uint8_t b) {
    if (b < 0x80)
        return {0, 0x80, 0xBF, true};
    if (b >= 0xC2 && b <= 0xDF)
        return {1, 0x80, 0xBF, true};
    if (b >= 0xE0 && b <= 0xEF)  // E0: no overlongs; ED: no surrogates
        return {2, static_cast<uint8_t>(b == 0xE0 ? 0xA0 : 0x80), static_cast<uint8_t>(b == 0xED ? 0x9F : 0xBF), true};
    if (b >= 0xF0 && b <= 0xF4)  // F0: no overlongs; F4: nothing above U+10FFFF
        return {3, static_cast<uint8_t>(b == 0xF0 ? 0x90 : 0x80), static_cast<uint8_t>(b == 0xF4 ? 0x8F : 0xBF), true};
    // 80-BF (a continuation byte with no lead), C0-C1 (overlong), F5-FF.
    return {0, 0x80, 0xBF, false};
}

Step decode(std::string_view s, size_t pos) {
    auto b = static_cast<uint8_t>(s[pos]);
    if (b < 0x80)
        return {b, 1, true, false};
    Lead l = lead(b);
    if (!l.valid)
        return {0xFFFD, 1, false, false};
    static constexpr uint8_t kPayload[] = {0x7F, 0x1F, 0x0F, 0x07};  // lead-byte bits by `needed`
    uint32_t cp = b & kPayload[l.needed];
    uint8_t lo = l.lower;
    uint8_t hi = l.upper;
    uint8_t k = 1;  // bytes of the sequence accepted so far
    for (; k <= l.needed; ++k) {
        if (pos + k >= s.size())
            return {0xFFFD, k, false, true};
        auto c = static_cast<uint8_t>(s[pos + k]);
        if (c < lo || c > hi)
            return {0xFFFD, k, false, false};
        cp = (cp << 6) | (c & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    return {cp, k, true, false};
}

bool valid(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        if (static_cast<uint8_t>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        Step step = decode(s, i);
        if (!step.ok)
            return false;
        i += step.length;
    }
    return true;
}

bool Validator::feed(std::string_view bytes) {
    for (char ch : bytes) {
        auto c = static_cast<uint8_t>(ch);
        if (need_ > 0) {
            if (c < lo_ || c > hi_)
                return false;
            --need_;
            lo_ = 0x80;
            hi_ = 0xBF;
            continue;
        }
        Lead l = lead(c);
        if (!l.valid)
            return false;
        need_ = l.needed;
        lo_ = l.lower;
        hi_ = l.upper;
    }
    return true;
}

}  // namespace utf8

void Utf8Sanitizer::feed(std::string_view in, std::string* out) {
    out->reserve(out->size() + held_len_ + in.size());
    size_t i = 0;
    // First complete (or give up) the sequence held back from the last chunk.
    while (held_len_ > 0 && i < in.size()) {
        auto b = static_cast<uint8_t>(in[i]);
        if (b < lower_ || b > upper_) {
            // The held bytes are a maximal subpart; `b` starts afresh below.
            out->append(kReplacementChar);
            held_len_ = 0;
            break;
        }
        held_[held_len_++] = in[i++];
        lower_ = 0x80;
        upper_ = 0xBF;
        if (held_len_ == needed_ + 1) {
            out->append(held_.data(), held_len_);
            held_len_ = 0;
        }
    }
    if (held_len_ > 0)
        return;      // still incomplete: `in` was all continuation bytes
    size_t run = i;  // in[run, i) is valid and not yet copied out
    while (i < in.size()) {
        if (static_cast<uint8_t>(in[i]) < 0x80) {
            ++i;
            continue;
        }
        utf8::Step step = utf8::decode(in, i);
        if (step.ok) {
            i += step.length;
            continue;
        }
        out->append(in.substr(run, i - run));
        if (step.truncated) {
            // Cut short by the end of the chunk: hold it back.
            utf8::Lead l = utf8::lead(static_cast<uint8_t>(in[i]));
            for (size_t j = 0; j < step.length; ++j) held_[j] = in[i + j];
            held_len_ = step.length;
            needed_ = l.needed;
            lower_ = step.length == 1 ? l.lower : 0x80;
            upper_ = step.length == 1 ? l.upper : 0xBF;
            return;
        }
        // in[i, i+length) is a maximal subpart; the byte after it is looked at again.
        out->append(kReplacementChar);
        i += step.length;
        run = i;
    }
    out->append(in.substr(run));
}

std::string Utf8Sanitizer::finish() {
    if (held_len_ == 0)
        return {};
    held_len_ = 0;
    return std::string(kReplacementChar);
}

std::string sanitize_utf8(std::string_view bytes) {
    Utf8Sanitizer s;
    std::string out = s.feed(bytes);
    out += s.finish();
    return out;
}

}  // namespace gaffer
