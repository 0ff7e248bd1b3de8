// SPDX-License-Identifier: MIT
// Utf8Sanitizer (lib/base/utf8.h): the WHATWG UTF-8 decoder's output, chunk by chunk.
#include "lib/base/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace gaffer {
namespace {

const std::string R(kReplacementChar);

// The Encoding Standard's UTF-8 decoder written out step by step on code points (an
// independent reference), re-encoded as UTF-8.
void append_cp(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
        out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string whatwg_decode(const std::string& in) {
    std::string out;
    uint32_t cp = 0;
    int needed = 0, seen = 0;
    unsigned lower = 0x80, upper = 0xBF;
    for (size_t i = 0; i < in.size(); ++i) {
        unsigned b = static_cast<uint8_t>(in[i]);
        if (needed == 0) {
            if (b <= 0x7F) {
                append_cp(&out, b);
            } else if (b >= 0xC2 && b <= 0xDF) {
                needed = 1;
                cp = b & 0x1F;
            } else if (b >= 0xE0 && b <= 0xEF) {
                if (b == 0xE0)
                    lower = 0xA0;
                if (b == 0xED)
                    upper = 0x9F;
                needed = 2;
                cp = b & 0xF;
            } else if (b >= 0xF0 && b <= 0xF4) {
                if (b == 0xF0)
                    lower = 0x90;
                if (b == 0xF4)
                    upper = 0x8F;
                needed = 3;
                cp = b & 0x7;
            } else {
                append_cp(&out, 0xFFFD);
            }
            continue;
        }
        if (b < lower || b > upper) {
            cp = 0;
            needed = seen = 0;
            lower = 0x80;
            upper = 0xBF;
            append_cp(&out, 0xFFFD);
            --i;  // prepend the byte to the stream
            continue;
        }
        lower = 0x80;
        upper = 0xBF;
        cp = (cp << 6) | (b & 0x3F);
        if (++seen == needed) {
            append_cp(&out, cp);
            cp = 0;
            needed = seen = 0;
        }
    }
    if (needed)
        append_cp(&out, 0xFFFD);
    return out;
}

// Feeds `in` cut at `cuts` (sorted offsets) and finishes.
std::string chunked(const std::string& in, const std::vector<size_t>& cuts) {
    Utf8Sanitizer s;
    std::string out;
    size_t at = 0;
    for (size_t c : cuts) {
        s.feed(std::string_view(in).substr(at, c - at), &out);
        EXPECT_LE(s.held(), 3u);
        at = c;
    }
    s.feed(std::string_view(in).substr(at), &out);
    out += s.finish();
    return out;
}

TEST(Utf8Sanitizer, ValidTextPassesThrough) {
    std::string text = "plain ascii\n\tcaf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF";
    text.push_back('\0');
    EXPECT_EQ(sanitize_utf8(text), text);
    EXPECT_EQ(sanitize_utf8(""), "");
}

TEST(Utf8Sanitizer, MaximalSubparts) {
    // Unicode §3.9, table 3-8.
    EXPECT_EQ(sanitize_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
              "a" + R + R + R + "b" + R + "c" + R + R + "d");
    EXPECT_EQ(sanitize_utf8("\x80"), R);                          // stray continuation
    EXPECT_EQ(sanitize_utf8("\xC0\xAF"), R + R);                  // overlong '/'
    EXPECT_EQ(sanitize_utf8("\xC1\xBF"), R + R);                  // overlong
    EXPECT_EQ(sanitize_utf8("\xE0\x80\xAF"), R + R + R);          // overlong
    EXPECT_EQ(sanitize_utf8("\xF0\x80\x80\xAF"), R + R + R + R);  // overlong
    EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), R + R + R);          // surrogate U+D800
    EXPECT_EQ(sanitize_utf8("\xED\xBF\xBF"), R + R + R);          // surrogate U+DFFF
    EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), R + R + R + R);  // U+110000
    EXPECT_EQ(sanitize_utf8("\xF5\x80\x80\x80"), R + R + R + R);  // not a lead byte
    EXPECT_EQ(sanitize_utf8("\xFF\xFE"), R + R);
    EXPECT_EQ(sanitize_utf8("\xE2\x82"
                            "A"),
              R + "A");  // cut short: one U+FFFD
    EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"
                            "\xE2\x82\xAC"),
              R + "\xE2\x82\xAC");
    EXPECT_EQ(sanitize_utf8("a\xE2\x82"), "a" + R);  // end of stream
    EXPECT_EQ(sanitize_utf8("\xF0\x9F"), R);
}

TEST(Utf8Sanitizer, HoldsBackASplitCharacter) {
    Utf8Sanitizer s;
    EXPECT_EQ(s.feed("x\xF0\x9F"), "x");
    EXPECT_EQ(s.held(), 2u);
    EXPECT_EQ(s.feed("\x98"), "");
    EXPECT_EQ(s.held(), 3u);
    EXPECT_EQ(s.feed("\x80y"), "\xF0\x9F\x98\x80y");
    EXPECT_EQ(s.held(), 0u);
    EXPECT_EQ(s.finish(), "");
}

TEST(Utf8Sanitizer, HeldSequenceBrokenByTheNextChunk) {
    Utf8Sanitizer s;
    EXPECT_EQ(s.feed("\xE2\x82"), "");
    EXPECT_EQ(s.feed("A\xC3"), R + "A");
    EXPECT_EQ(s.feed("\xC3\xA9"), R + "\xC3\xA9");
    // The held lead's own bounds apply to the byte after it.
    EXPECT_EQ(s.feed("\xED"), "");
    EXPECT_EQ(s.feed("\xA0\x80"), R + R + R);
    EXPECT_EQ(s.feed("\xF4"), "");
    EXPECT_EQ(s.feed("\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");
}

TEST(Utf8Sanitizer, FinishFlushesHeldBytesOnce) {
    Utf8Sanitizer s;
    EXPECT_EQ(s.feed("ok\xE2\x82"), "ok");
    EXPECT_EQ(s.finish(), R);
    EXPECT_EQ(s.finish(), "");
    // Ready for a new stream.
    EXPECT_EQ(s.feed("\xAC"), R);
}

TEST(Utf8Sanitizer, ResetDropsHeldBytes) {
    Utf8Sanitizer s;
    EXPECT_EQ(s.feed("\xF0\x9F\x98"), "");
    s.reset();
    EXPECT_EQ(s.held(), 0u);
    EXPECT_EQ(s.feed("\x80!"), R + "!");
    EXPECT_EQ(s.finish(), "");
}

TEST(Utf8Sanitizer, EveryCutGivesTheReferenceText) {
    const std::vector<std::string> inputs = {
        "a\xF1\x80\x80\xE1\x80\xC2"
        "b\x80"
        "c\x80\xBF"
        "d",
        "\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9",
        "\xED\xA0\x80\xED\x9F\xBF\xF4\x90\x80\x80\xF4\x8F\xBF\xBF",
        "\xE0\x9F\xBF\xE0\xA0\x80\xF0\x8F\xBF\xBF\xF0\x90\x80\x80\xC0\x80\xC2\x80",
        "\xF0\x9F\x98",
    };
    for (const auto& in : inputs) {
        std::string want = whatwg_decode(in);
        ASSERT_EQ(sanitize_utf8(in), want);
        for (size_t a = 0; a <= in.size(); ++a) {
            for (size_t b = a; b <= in.size(); ++b) EXPECT_EQ(chunked(in, {a, b}), want) << a << "," << b;
        }
    }
}

TEST(Utf8Sanitizer, RandomBytesMatchTheReferenceDecoder) {
    std::mt19937 rng(12345);
    // Bytes biased towards the interesting ranges.
    const uint8_t palette[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                               0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    for (int round = 0; round < 3000; ++round) {
        std::string in;
        size_t n = rng() % 24;
        for (size_t i = 0; i < n; ++i)
            in.push_back(static_cast<char>(rng() % 3 ? palette[rng() % sizeof palette] : rng() % 256));
        std::string want = whatwg_decode(in);
        ASSERT_EQ(sanitize_utf8(in), want);
        std::vector<size_t> cuts;
        for (size_t i = 1; i < in.size(); ++i) {
            if (rng() % 3 == 0)
                cuts.push_back(i);
        }
        ASSERT_EQ(chunked(in, cuts), want);
    }
}

// ---------------------------------------------------------------------------------------
// The shared pieces: utf8::decode (one step), utf8::valid and utf8::Validator (strict).

TEST(Utf8Decode, CodePointsAndLengths) {
    auto step = [](std::string_view s) { return utf8::decode(s, 0); };
    EXPECT_EQ(step("A").code_point, 0x41u);
    EXPECT_EQ(step("\xc3\xa9").code_point, 0xE9u);
    EXPECT_EQ(step("\xe2\x82\xac").code_point, 0x20ACu);
    EXPECT_EQ(step("\xf0\x9f\x98\x80").code_point, 0x1F600u);
    EXPECT_EQ(step("\xf4\x8f\xbf\xbf").code_point, 0x10FFFFu);
    EXPECT_EQ(step("\xf0\x9f\x98\x80").length, 4);
    EXPECT_TRUE(step("\xed\x9f\xbf").ok);  // U+D7FF, just below the surrogates
    EXPECT_EQ(utf8::decode("a\xc3\xa9", 1).code_point, 0xE9u);
}

TEST(Utf8Decode, IllFormedGivesTheMaximalSubpart) {
    struct Case {
        const char* in;
        uint8_t length;
        bool truncated;
    };
    for (const Case& c :
         {Case{"\x80", 1, false}, Case{"\xc1\xbf", 1, false}, Case{"\xf5\x80", 1, false},
          Case{"\xe0\x80\x80", 1, false}, Case{"\xed\xa0\x80", 1, false}, Case{"\xf4\x90\x80\x80", 1, false},
          Case{"\xe2\x82"
               "A",
               2, false},
          Case{"\xf0\x9f\x98"
               "A",
               3, false},
          Case{"\xe2", 1, true}, Case{"\xe2\x82", 2, true}, Case{"\xf0\x9f\x98", 3, true}}) {
        utf8::Step step = utf8::decode(c.in, 0);
        EXPECT_FALSE(step.ok) << c.in;
        EXPECT_EQ(step.code_point, 0xFFFDu) << c.in;
        EXPECT_EQ(step.length, c.length) << c.in;
        EXPECT_EQ(step.truncated, c.truncated) << c.in;
    }
}

TEST(Utf8Valid, Table) {
    EXPECT_TRUE(utf8::valid(""));
    EXPECT_TRUE(utf8::valid("plain ascii"));
    EXPECT_TRUE(utf8::valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xef\xbf\xbf"));
    EXPECT_TRUE(utf8::valid("\xed\x9f\xbf"));       // U+D7FF, just below the surrogates
    EXPECT_FALSE(utf8::valid("\xc1\xbf"));          // overlong
    EXPECT_FALSE(utf8::valid("\xf0\x8f\xbf\xbf"));  // overlong
    EXPECT_FALSE(utf8::valid("\xed\xbf\xbf"));      // surrogate
    EXPECT_FALSE(utf8::valid("\xf5\x80\x80\x80"));  // > U+10FFFF
    EXPECT_FALSE(utf8::valid("\xe2\x82"));          // truncated
}

TEST(Utf8Validator, FailsAtTheFirstBadByteAndSpansPieces) {
    utf8::Validator v;
    EXPECT_TRUE(v.feed("a\xe2"));
    EXPECT_FALSE(v.complete());
    EXPECT_TRUE(v.feed("\x82"));
    EXPECT_TRUE(v.feed("\xac"));
    EXPECT_TRUE(v.complete());
    EXPECT_TRUE(v.feed("\xed"));
    EXPECT_FALSE(v.feed("\xa0"));  // a surrogate
    v.reset();
    EXPECT_TRUE(v.complete());
    EXPECT_FALSE(v.feed("\xc0"));
}

// The strict and the replacing sides agree: bytes are valid exactly when the sanitiser
// leaves them as they are, and the validator says the same over any split.
TEST(Utf8Valid, AgreesWithTheSanitiserAndTheValidator) {
    std::mt19937 rng(777);
    const uint8_t palette[] = {0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC1, 0xC2, 0xDF,
                               0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF};
    int valid_seen = 0;
    for (int round = 0; round < 5000; ++round) {
        std::string in;
        size_t n = rng() % 12;
        for (size_t i = 0; i < n; ++i) in.push_back(static_cast<char>(palette[rng() % sizeof palette]));
        bool want = whatwg_decode(in) == in;
        valid_seen += want;
        ASSERT_EQ(utf8::valid(in), want) << round;
        size_t cut = n ? rng() % n : 0;
        utf8::Validator v;
        bool fed = v.feed(std::string_view(in).substr(0, cut)) && v.feed(std::string_view(in).substr(cut));
        ASSERT_EQ(fed && v.complete(), want) << round;
    }
    EXPECT_GT(valid_seen, 100);  // the palette does produce well-formed text
}

}  // namespace
}  // namespace gaffer
