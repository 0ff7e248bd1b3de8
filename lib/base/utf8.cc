// SPDX-License-Identifier: MIT
// See utf8.h. The byte classes are those of the WHATWG UTF-8 decoder (Encoding Standard
// §9.1.1) and of RFC 3629's well-formed sequences.
#include "lib/base/utf8.h"

namespace gaffer {

namespace {

struct Lead {
    uint8_t needed;  // continuation bytes; 0 with valid=false: not a lead byte
    uint8_t lower;   // bounds of the first continuation byte
    uint8_t upper;
    bool valid;
};

// What a byte that starts a sequence announces.
Lead classify(uint8_t b) {
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

}  // namespace

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
        auto b = static_cast<uint8_t>(in[i]);
        if (b < 0x80) {
            ++i;
            continue;
        }
        Lead lead = classify(b);
        if (!lead.valid) {
            out->append(in.substr(run, i - run));
            out->append(kReplacementChar);
            run = ++i;
            continue;
        }
        uint8_t lo = lead.lower;
        uint8_t hi = lead.upper;
        size_t k = 1;  // bytes of the sequence accepted so far
        while (k <= lead.needed && i + k < in.size()) {
            auto c = static_cast<uint8_t>(in[i + k]);
            if (c < lo || c > hi)
                break;
            lo = 0x80;
            hi = 0xBF;
            ++k;
        }
        if (k == lead.needed + 1u) {
            i += k;
            continue;
        }
        out->append(in.substr(run, i - run));
        if (i + k == in.size()) {
            // Cut short by the end of the chunk: hold it back.
            for (size_t j = 0; j < k; ++j) held_[j] = in[i + j];
            held_len_ = static_cast<uint8_t>(k);
            needed_ = lead.needed;
            lower_ = lo;
            upper_ = hi;
            return;
        }
        // in[i, i+k) is a maximal subpart; in[i+k] is looked at again.
        out->append(kReplacementChar);
        i += k;
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
