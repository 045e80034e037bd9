// format() (loader/format.h), the freestanding printf subset behind every
// status message and serial line: each supported conversion against the
// host's snprintf, truncation, and the status messages built on it.
#include <gtest/gtest.h>

#include <utility>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <string>

#include "loader/format.h"
#include "loader/status.h"

namespace {

// Formats with both implementations into large buffers and compares.
#define EXPECT_LIKE_SNPRINTF(fmt, ...)                                        \
    do {                                                                      \
        char ours[256], theirs[256];                                          \
        size_t n = kho::format(ours, sizeof ours, fmt, __VA_ARGS__);          \
        int m = snprintf(theirs, sizeof theirs, fmt, __VA_ARGS__);            \
        EXPECT_STREQ(ours, theirs) << "format: " << fmt;                      \
        EXPECT_EQ(n, size_t(m)) << "format: " << fmt;                         \
    } while (0)

TEST(Format, Integers) {
    EXPECT_LIKE_SNPRINTF("%d %i %u", 0, -1, 42u);
    EXPECT_LIKE_SNPRINTF("%d|%d", INT_MIN, INT_MAX);
    EXPECT_LIKE_SNPRINTF("%u", UINT_MAX);
    EXPECT_LIKE_SNPRINTF("%ld %lu", LONG_MIN, ULONG_MAX);
    EXPECT_LIKE_SNPRINTF("%lld %llu", LLONG_MIN, ULLONG_MAX);
    EXPECT_LIKE_SNPRINTF("%zu", SIZE_MAX);
    EXPECT_LIKE_SNPRINTF("%zu items", size_t(7));
}

TEST(Format, Hex) {
    EXPECT_LIKE_SNPRINTF("%x %X", 0xdeadbeefu, 0xdeadbeefu);
    EXPECT_LIKE_SNPRINTF("0x%llx", 0xfffffffffffff000ull);
    EXPECT_LIKE_SNPRINTF("0x%lx", 0x123456789abcul);
    EXPECT_LIKE_SNPRINTF("%x", 0u);
    EXPECT_LIKE_SNPRINTF("%llX", ULLONG_MAX);
}

TEST(Format, WidthAndZeroPad) {
    EXPECT_LIKE_SNPRINTF("%08x", 0xbeefu);
    EXPECT_LIKE_SNPRINTF("%016llx", 0x1000ull);
    EXPECT_LIKE_SNPRINTF("[%5d]", 42);
    EXPECT_LIKE_SNPRINTF("[%5s]", "ab");
    EXPECT_LIKE_SNPRINTF("[%2d]", 12345);  // width smaller than the number
    EXPECT_LIKE_SNPRINTF("[%05d]", -42);
    EXPECT_LIKE_SNPRINTF("[%3c]", 'x');
}

TEST(Format, StringsCharsPercent) {
    EXPECT_LIKE_SNPRINTF("%s=%c%%", "kho", 'k');
    EXPECT_LIKE_SNPRINTF("%s", "");
    EXPECT_LIKE_SNPRINTF("a%%b%s", "c");
}

TEST(Format, PointerIsHex) {
    char out[64];
    void* p = reinterpret_cast<void*>(uintptr_t(0x7f00dead1000ull));
    kho::format(out, sizeof out, "%p", p);
    std::string s = out;
    EXPECT_NE(s.find("7f00dead1000"), std::string::npos) << s;
}

TEST(Format, TruncatesAndAlwaysTerminates) {
    char out[8];
    memset(out, 'Z', sizeof out);
    size_t n = kho::format(out, sizeof out, "%s", "0123456789");
    EXPECT_EQ(out[7], '\0');
    EXPECT_STREQ(out, "0123456");
    EXPECT_EQ(n, strlen(out));
    // Truncation in the middle of a number.
    n = kho::format(out, 5, "%llx", 0x123456789ull);
    EXPECT_STREQ(out, "1234");
    EXPECT_EQ(n, 4u);
    // Room for the terminator only.
    out[0] = 'Z';
    n = kho::format(out, 1, "abc");
    EXPECT_EQ(out[0], '\0');
    EXPECT_EQ(n, 0u);
}

TEST(Format, DoesNotWritePastSize) {
    char buf[32];
    memset(buf, 'Q', sizeof buf);
    kho::format(buf, 10, "%s %d %llx", "abcdefghij", 123456, 0xabcdefull);
    EXPECT_EQ(buf[9], '\0');
    for (size_t i = 10; i < sizeof buf; ++i) EXPECT_EQ(buf[i], 'Q') << i;
}

// Status::error is built on format(): the messages that tell an operator
// which address or property is at fault.
TEST(StatusMessage, CarriesCodeAndFormattedText) {
    kho::Status s = kho::Status::error(kho::Err::BadPointer, "radix node 0x%llx (level %u)",
                                       0x12345000ull, 3u);
    EXPECT_FALSE(s.is_ok());
    EXPECT_FALSE(bool(s));
    EXPECT_EQ(s.code(), kho::Err::BadPointer);
    EXPECT_STREQ(s.message(), "radix node 0x12345000 (level 3)");
    EXPECT_TRUE(kho::Status::ok().is_ok());
    EXPECT_STREQ(kho::Status::ok().message(), "");
}

TEST(StatusMessage, LongMessagesAreTruncatedSafely) {
    std::string big(500, 'm');
    kho::Status s = kho::Status::error(kho::Err::BadFdt, "%s", big.c_str());
    EXPECT_EQ(strlen(s.message()), kho::Status::kMessageSize - 1);
}

TEST(StatusMessage, EveryErrorHasAName) {
    for (int e = 0; e <= int(kho::Err::Clobbered); ++e) {
        const char* n = kho::err_name(kho::Err(e));
        ASSERT_NE(n, nullptr) << e;
        EXPECT_GT(strlen(n), 0u) << e;
        for (int f = 0; f < e; ++f) EXPECT_STRNE(n, kho::err_name(kho::Err(f))) << e << " vs " << f;
    }
}

// The protocol names scenarios, khotool users and KhoBootStatus readers
// rely on (efi/README.md): pinned here so that a rename is deliberate.
TEST(StatusMessage, ProtocolNamesArePinned) {
    const std::pair<kho::Err, const char*> pinned[] = {
        {kho::Err::BadFdt, "kho-bad-fdt"},       {kho::Err::BadVersion, "kho-bad-version"},
        {kho::Err::BadProperty, "kho-bad-property"}, {kho::Err::BadPointer, "kho-bad-pointer"},
        {kho::Err::BadMap, "kho-bad-map"},       {kho::Err::OutOfRam, "kho-out-of-ram"},
        {kho::Err::Capacity, "capacity"},        {kho::Err::Conflict, "kho-conflict"},
        {kho::Err::Overlap, "kho-overlap"},      {kho::Err::NoSpace, "no-space"},
        {kho::Err::BadImage, "image"},           {kho::Err::BadDescriptor, "descriptor"},
        {kho::Err::BadEntry, "entry"},           {kho::Err::Stale, "kho-stale"},
        {kho::Err::Io, "io"},                    {kho::Err::Integrity, "kho-integrity"},
        {kho::Err::AttemptFailed, "kho-attempt-failed"}, {kho::Err::Clobbered, "kho-clobbered"},
    };
    for (const auto& [code, name] : pinned) {
        EXPECT_STREQ(kho::err_name(code), name);
        EXPECT_GT(strlen(kho::err_meaning(code)), 10u) << name;
    }
}

TEST(StatusMessage, ResultCarriesValueOrStatus) {
    kho::Result<int> ok(5);
    EXPECT_TRUE(ok.is_ok());
    EXPECT_EQ(ok.value(), 5);
    kho::Result<int> bad(kho::Status::error(kho::Err::NoSpace, "no room"));
    EXPECT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.status().code(), kho::Err::NoSpace);
}

}  // namespace
