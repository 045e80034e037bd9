// loader/tools/json_writer: the escaping of byte strings (every byte value,
// well-formed and ill-formed UTF-8) and the streaming writer's structure,
// layout, misuse detection and write errors.
#include <gtest/gtest.h>

#include <stdio.h>
#include <stdlib.h>

#include <cctype>
#include <random>
#include <string>

// The unit-test binary links loader/tests/*.cpp and the core only (see the
// Makefile), not loader/tools/: the writer is compiled into this
// translation unit. test_inspect.cpp, which compiles inspect.cpp, links
// against these definitions.
#include "loader/tools/json_writer.cpp"

namespace {

using kho::tools::json_quote;
using kho::tools::JsonWriter;
using kho::tools::printable;

std::string q(const char* bytes, size_t n) { return json_quote(std::string_view(bytes, n)); }
std::string q(const std::string& s) { return json_quote(s); }

TEST(JsonQuote, PlainAsciiIsUnchanged) {
    EXPECT_EQ(q("kho_test"), "\"kho_test\"");
    EXPECT_EQ(q("kexec-metadata@1,2"), "\"kexec-metadata@1,2\"");
    EXPECT_EQ(q(""), "\"\"");
}

TEST(JsonQuote, QuoteAndBackslash) {
    EXPECT_EQ(q("a\"b"), "\"a\\\"b\"");
    EXPECT_EQ(q("a\\b"), "\"a\\\\b\"");
    EXPECT_EQ(q("\\\""), "\"\\\\\\\"\"");
    EXPECT_EQ(q("/"), "\"/\"");  // solidus needs no escape
}

TEST(JsonQuote, NamedControlEscapes) {
    EXPECT_EQ(q("a\tb"), "\"a\\tb\"");
    EXPECT_EQ(q("\n"), "\"\\n\"");
    EXPECT_EQ(q("\r"), "\"\\r\"");
    EXPECT_EQ(q("\b"), "\"\\b\"");
    EXPECT_EQ(q("\f"), "\"\\f\"");
}

TEST(JsonQuote, OtherControlsAndDelAsUnicodeEscapes) {
    EXPECT_EQ(q("\x01", 1), "\"\\u0001\"");
    EXPECT_EQ(q("\x1f", 1), "\"\\u001f\"");
    EXPECT_EQ(q("\x7f", 1), "\"\\u007f\"");
    EXPECT_EQ(q("a\0b", 3), "\"a\\u0000b\"");  // an embedded NUL is data, not the end
    EXPECT_EQ(q("\x1b[31m", 5), "\"\\u001b[31m\"");  // terminal escape sequences defused
}

TEST(JsonQuote, WellFormedUtf8BecomesCodePoints) {
    EXPECT_EQ(q("\xc3\xa9"), "\"\\u00e9\"");                 // é, 2 bytes
    EXPECT_EQ(q("\xc2\x80"), "\"\\u0080\"");                 // smallest 2-byte
    EXPECT_EQ(q("\xe2\x82\xac"), "\"\\u20ac\"");             // €, 3 bytes
    EXPECT_EQ(q("\xe0\xa0\x80"), "\"\\u0800\"");             // smallest 3-byte
    EXPECT_EQ(q("\xef\xbf\xbf"), "\"\\uffff\"");             // largest 3-byte
    EXPECT_EQ(q("\xf0\x9f\x98\x80"), "\"\\ud83d\\ude00\"");  // U+1F600: surrogate pair
    EXPECT_EQ(q("\xf0\x90\x80\x80"), "\"\\ud800\\udc00\"");  // U+10000
    EXPECT_EQ(q("\xf4\x8f\xbf\xbf"), "\"\\udbff\\udfff\"");  // U+10FFFF
    EXPECT_EQ(q("a\xc3\xa9z"), "\"a\\u00e9z\"");
}

TEST(JsonQuote, IllFormedBytesBecomeReplacementCharacters) {
    const std::string r = "\\ufffd";
    EXPECT_EQ(q("\x80"), "\"" + r + "\"");                     // lone continuation
    EXPECT_EQ(q("\xff"), "\"" + r + "\"");                     // never in UTF-8
    EXPECT_EQ(q("\xfe\xff"), "\"" + r + r + "\"");
    EXPECT_EQ(q("\xc0\xaf"), "\"" + r + r + "\"");             // overlong '/'
    EXPECT_EQ(q("\xc1\xbf"), "\"" + r + r + "\"");             // overlong
    EXPECT_EQ(q("\xe0\x80\x80"), "\"" + r + r + r + "\"");     // overlong 3-byte
    EXPECT_EQ(q("\xed\xa0\x80"), "\"" + r + r + r + "\"");     // encoded surrogate
    EXPECT_EQ(q("\xf4\x90\x80\x80"), "\"" + r + r + r + r + "\"");  // above U+10FFFF
    EXPECT_EQ(q("\xf5\x80\x80\x80"), "\"" + r + r + r + r + "\"");
    EXPECT_EQ(q("\xc3"), "\"" + r + "\"");                     // truncated at the end
    EXPECT_EQ(q("\xe2\x82"), "\"" + r + r + "\"");
    EXPECT_EQ(q("\xc3" "A"), "\"" + r + "A\"");                // next byte is not swallowed
    EXPECT_EQ(q("\xe2\x82\"x"), "\"" + r + r + "\\\"x\"");     // nor is a quote after it
}

// Every output, whatever the input bytes, is printable ASCII, quoted, with
// only valid escapes: a JSON string literal.
TEST(JsonQuote, AnyBytesGiveAValidAsciiLiteral) {
    std::mt19937_64 rng(7);
    for (int iter = 0; iter < 20000; ++iter) {
        std::string in(rng() % 24, '\0');
        for (char& c : in) c = char(rng());
        std::string out = json_quote(in);
        ASSERT_GE(out.size(), 2u);
        ASSERT_EQ(out.front(), '"');
        ASSERT_EQ(out.back(), '"');
        for (size_t i = 1; i + 1 < out.size(); ++i) {
            const uint8_t c = uint8_t(out[i]);
            ASSERT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << int(c) << " in " << out;
            ASSERT_NE(c, '"') << out;
            if (c != '\\') continue;
            ++i;
            ASSERT_LT(i + 1, out.size()) << out;
            const char e = out[i];
            if (e == 'u') {
                ASSERT_LE(i + 4, out.size() - 1) << out;
                for (int k = 1; k <= 4; ++k) ASSERT_TRUE(isxdigit(uint8_t(out[i + k]))) << out;
                i += 4;
            } else {
                ASSERT_NE(std::string("\"\\/bfnrt").find(e), std::string::npos) << out;
            }
        }
    }
}

// A string of printable ASCII other than '"' and '\' comes out verbatim.
TEST(JsonQuote, PrintableAsciiRoundTrips) {
    std::string all;
    for (int c = 0x20; c < 0x7f; ++c)
        if (c != '"' && c != '\\') all += char(c);
    EXPECT_EQ(json_quote(all), "\"" + all + "\"");
}

TEST(Printable, EscapesEverythingButPrintableAscii) {
    EXPECT_EQ(printable("kho_test"), "kho_test");
    EXPECT_EQ(printable("a\nb"), "a\\x0ab");
    EXPECT_EQ(printable(std::string_view("\t\x7f\xff\0", 4)), "\\x09\\x7f\\xff\\x00");
    EXPECT_EQ(printable("a\\x0a"), "a\\\\x0a");  // a literal backslash cannot fake an escape
    EXPECT_EQ(printable("\"quoted\""), "\"quoted\"");
}

// --- the writer ---------------------------------------------------------

// A writer over an in-memory stream.
struct Mem {
    char* buf = nullptr;
    size_t len = 0;
    FILE* f = open_memstream(&buf, &len);
    ~Mem() {
        if (f) fclose(f);
        free(buf);
    }
    std::string text() {
        fflush(f);
        return std::string(buf, len);
    }
};

TEST(JsonWriter, DocumentLayout) {
    Mem m;
    JsonWriter w(m.f);
    w.begin_object();
    w.key("compatible");
    w.string("kho-v4");
    w.key("fdt");
    w.number(2756608);
    w.key("subnodes");
    w.begin_object();
    w.key("a\"b");
    w.begin_object();
    w.key("preserved-data");
    w.number(1);
    w.end_object();
    w.end_object();
    w.key("blocks");
    w.begin_array();
    for (uint64_t i = 0; i < 2; ++i) {
        w.begin_array();
        w.number(i);
        w.number(4096);
        w.end_array();
    }
    w.end_array();
    w.key("empty");
    w.begin_array();
    w.end_array();
    w.key("flags");
    w.begin_array();
    w.boolean(true);
    w.boolean(false);
    w.null();
    w.end_array();
    w.end_object();
    EXPECT_TRUE(w.finish());
    EXPECT_EQ(m.text(),
              "{\n"
              " \"compatible\": \"kho-v4\",\n"
              " \"fdt\": 2756608,\n"
              " \"subnodes\": {\"a\\\"b\": {\"preserved-data\": 1}},\n"
              " \"blocks\": [[0, 4096], [1, 4096]],\n"
              " \"empty\": [],\n"
              " \"flags\": [true, false, null]\n"
              "}\n");
}

TEST(JsonWriter, EmptyObjectAndScalarRoots) {
    {
        Mem m;
        JsonWriter w(m.f);
        w.begin_object();
        w.end_object();
        EXPECT_TRUE(w.finish());
        EXPECT_EQ(m.text(), "{}\n");
    }
    {
        Mem m;
        JsonWriter w(m.f);
        w.string("x\ty");
        EXPECT_TRUE(w.finish());
        EXPECT_EQ(m.text(), "\"x\\ty\"\n");
    }
}

TEST(JsonWriter, NumbersFullRange) {
    Mem m;
    JsonWriter w(m.f);
    w.begin_array();
    w.number(0);
    w.number(9);
    w.number(10);
    w.number(UINT64_MAX);
    w.end_array();
    EXPECT_TRUE(w.finish());
    EXPECT_EQ(m.text(), "[0, 9, 10, 18446744073709551615]\n");
}

TEST(JsonWriter, MisuseIsReportedNotWritten) {
    auto misused = [](auto&& calls) {
        Mem m;
        JsonWriter w(m.f);
        calls(w);
        bool ok_before = w.ok();
        bool finished = w.finish();
        return !ok_before && !finished;
    };
    // A value where a member name is due.
    EXPECT_TRUE(misused([](JsonWriter& w) { w.begin_object(); w.number(1); }));
    // A name inside an array.
    EXPECT_TRUE(misused([](JsonWriter& w) { w.begin_array(); w.key("k"); }));
    // Two names in a row.
    EXPECT_TRUE(misused([](JsonWriter& w) { w.begin_object(); w.key("a"); w.key("b"); }));
    // Mismatched closers.
    EXPECT_TRUE(misused([](JsonWriter& w) { w.begin_object(); w.end_array(); }));
    EXPECT_TRUE(misused([](JsonWriter& w) { w.begin_array(); w.end_object(); }));
    EXPECT_TRUE(misused([](JsonWriter& w) { w.end_array(); }));
    // An object closed after a name without its value.
    EXPECT_TRUE(misused([](JsonWriter& w) { w.begin_object(); w.key("a"); w.end_object(); }));
    // A second root value.
    EXPECT_TRUE(misused([](JsonWriter& w) { w.number(1); w.number(2); }));

    // Unfinished documents are caught by finish() alone.
    Mem m;
    JsonWriter w(m.f);
    w.begin_object();
    w.key("a");
    w.begin_array();
    EXPECT_TRUE(w.ok());
    EXPECT_EQ(w.depth(), 2u);
    EXPECT_FALSE(w.finish());
    Mem none;
    JsonWriter nothing(none.f);
    EXPECT_FALSE(nothing.finish());
}

TEST(JsonWriter, WriteErrorsAreReported) {
    FILE* full = fopen("/dev/full", "w");
    if (!full) GTEST_SKIP() << "no /dev/full";
    JsonWriter w(full);
    w.begin_array();
    for (int i = 0; i < 100000; ++i) w.number(uint64_t(i));  // more than one stdio buffer
    w.end_array();
    EXPECT_FALSE(w.finish());
    fclose(full);
}

}  // namespace
