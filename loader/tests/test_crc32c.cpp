// CRC-32C (loader/crc32c.h): the digest of integrity manifest v2. Known
// vectors from RFC 3720 B.4, and a bit-at-a-time reference written here as
// the oracle for both the portable tables and the hardware path (three
// interleaved streams of 8 KiB, then of 256 bytes, joined by a zero-shift:
// the lengths below cross every one of those joins at every alignment).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "loader/crc32c.h"

namespace {

// Bit-serial reflected CRC on the raw register, polynomial 0x82F63B78.
uint32_t reference_step(uint32_t reg, uint8_t byte) {
    reg ^= byte;
    for (int b = 0; b < 8; ++b) reg = (reg >> 1) ^ (0x82F63B78u & (0u - (reg & 1)));
    return reg;
}

uint32_t reference_crc32c(const uint8_t* p, size_t n) {
    uint32_t reg = ~0u;
    for (size_t i = 0; i < n; ++i) reg = reference_step(reg, p[i]);
    return ~reg;
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = uint8_t(rng());
    return v;
}

// Both paths against the oracle for every prefix length of [p, p + max]
// in `lengths` (sorted), the oracle advanced one byte at a time.
void check_prefixes(const uint8_t* p, const std::vector<size_t>& lengths, const char* what) {
    uint32_t reg = ~0u;
    size_t done = 0;
    for (size_t len : lengths) {
        for (; done < len; ++done) reg = reference_step(reg, p[done]);
        ASSERT_EQ(kho::crc32c(p, len), ~reg) << what << " fast, len " << len;
        ASSERT_EQ(kho::crc32c_portable(p, len), ~reg) << what << " portable, len " << len;
    }
}

TEST(Crc32c, Rfc3720Vectors) {
    std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), up(32), down(32);
    for (int i = 0; i < 32; ++i) up[i] = uint8_t(i), down[i] = uint8_t(31 - i);
    const std::string digits = "123456789";
    for (auto f : {kho::crc32c, kho::crc32c_portable}) {
        EXPECT_EQ(f(zeros.data(), 32, 0), 0x8A9136AAu);
        EXPECT_EQ(f(ones.data(), 32, 0), 0x62A8AB43u);
        EXPECT_EQ(f(up.data(), 32, 0), 0x46DD794Eu);
        EXPECT_EQ(f(down.data(), 32, 0), 0x113FDB5Cu);
        EXPECT_EQ(f(digits.data(), digits.size(), 0), 0xE3069283u);
        EXPECT_EQ(f(nullptr, 0, 0), 0u);
    }
}

TEST(Crc32c, ReferenceImplementationAgreesWithKnownVector) {
    // Guards the oracle used below.
    EXPECT_EQ(reference_crc32c(reinterpret_cast<const uint8_t*>("123456789"), 9), 0xE3069283u);
}

TEST(Crc32c, UsesTheHardwareWhenTheCpuHasIt) {
    // The compiler's own CPU detection as the independent witness of the
    // loader's CPUID probe.
#if defined(__x86_64__)
    __builtin_cpu_init();
    const bool sse42 = __builtin_cpu_supports("sse4.2");
    EXPECT_EQ(kho::crc32c_engine(), sse42 ? kho::Crc32cEngine::X86Sse42 : kho::Crc32cEngine::Portable);
    if (!sse42) GTEST_SKIP() << "no SSE4.2: only the portable path is tested";
#else
    GTEST_SKIP() << "engine " << kho::crc32c_engine_name(kho::crc32c_engine());
#endif
}

TEST(Crc32c, EveryAlignmentAndLengthUpTo4096MatchesTheReference) {
    const std::vector<uint8_t> buf = random_bytes(4096 + 16, 1);
    std::vector<size_t> lengths(4097);
    for (size_t i = 0; i <= 4096; ++i) lengths[i] = i;
    for (size_t align = 0; align < 16; ++align) {
        SCOPED_TRACE(align);
        check_prefixes(buf.data() + align, lengths, "short");
    }
}

TEST(Crc32c, LengthsAroundEveryStreamJoinMatchTheReference) {
    // 3 * 256 and 3 * 8192 bytes are the interleaved block sizes: lengths
    // one below, at and above multiples of them, and of those plus an
    // unaligned head, up to three long blocks and change.
    const size_t kMax = 3 * 3 * 8192 + 2 * 3 * 256 + 64;
    const std::vector<uint8_t> buf = random_bytes(kMax + 16, 2);
    std::vector<size_t> lengths;
    for (size_t base : {size_t(768), size_t(24576)})
        for (size_t k = 1; k * base + 24 <= kMax; ++k)
            for (size_t d = 0; d <= 24; ++d) lengths.push_back(k * base - 1 + d);
    for (size_t k = 1; k <= 3; ++k)
        for (size_t s = 1; s <= 2; ++s) lengths.push_back(k * 24576 + s * 768 + 13);
    lengths.push_back(kMax);
    std::sort(lengths.begin(), lengths.end());
    for (size_t align = 0; align < 16; ++align) {
        SCOPED_TRACE(align);
        check_prefixes(buf.data() + align, lengths, "join");
    }
}

TEST(Crc32c, RandomRangesOfAFewMiBMatchTheReference) {
    const size_t kBuf = 5 << 20;
    const std::vector<uint8_t> buf = random_bytes(kBuf, 3);
    std::mt19937_64 rng(4);
    for (int i = 0; i < 4; ++i) {
        size_t len = (2 << 20) + rng() % (3 << 20);
        size_t off = rng() % (kBuf - len + 1);
        uint32_t want = reference_crc32c(buf.data() + off, len);
        EXPECT_EQ(kho::crc32c(buf.data() + off, len), want) << off << "+" << len;
        EXPECT_EQ(kho::crc32c_portable(buf.data() + off, len), want) << off << "+" << len;
    }
}

TEST(Crc32c, ChainingContinuesARunningValue) {
    // crc32c(b, crc32c(a)) == crc32c(a + b): the manifest header is
    // digested in three pieces, a range straddling RAM regions in several.
    const std::vector<uint8_t> buf = random_bytes(100000, 5);
    const uint32_t whole = reference_crc32c(buf.data(), buf.size());
    for (size_t cut : {size_t(0), size_t(1), size_t(777), size_t(24577), size_t(99999)}) {
        EXPECT_EQ(kho::crc32c(buf.data() + cut, buf.size() - cut, kho::crc32c(buf.data(), cut)), whole) << cut;
        EXPECT_EQ(kho::crc32c_portable(buf.data() + cut, buf.size() - cut,
                                       kho::crc32c_portable(buf.data(), cut)),
                  whole)
            << cut;
    }
}

TEST(Crc32c, SelfCheckedRecordTakesItsChecksumFieldAsZero) {
    const std::vector<uint8_t> rnd = random_bytes(56, 6);
    uint8_t rec[56], zeroed[56];
    std::memcpy(rec, rnd.data(), sizeof(rec));
    const uint32_t stored = 0xdeadbeef;
    std::memcpy(rec + 20, &stored, 4);
    std::memcpy(zeroed, rec, sizeof(rec));
    std::memset(zeroed + 20, 0, 4);
    EXPECT_EQ(kho::crc32c_self_checked(rec, sizeof(rec), 20), reference_crc32c(zeroed, sizeof(zeroed)));
}

}  // namespace
