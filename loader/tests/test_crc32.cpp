// CRC-32 (loader/crc32.h): the descriptor checksum and the FDT integrity
// check. Known vectors from the IEEE/zlib CRC, and a bit-at-a-time
// reference for every length and alignment the slicing-by-8 code handles
// specially (head bytes before 8-byte alignment, tail bytes after).
#include <gtest/gtest.h>

#include <string.h>

#include <random>
#include <string>
#include <vector>

#include "loader/crc32.h"

namespace {

// Bit-serial reflected CRC-32, polynomial 0xEDB88320, init/xorout ~0.
uint32_t reference_crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

uint32_t crc_of(const std::string& s) { return kho::crc32(s.data(), s.size()); }

TEST(Crc32, KnownVectors) {
    EXPECT_EQ(crc_of("123456789"), 0xCBF43926u);
    EXPECT_EQ(crc_of("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
    EXPECT_EQ(crc_of("a"), 0xE8B7BE43u);
    EXPECT_EQ(crc_of(""), 0u);
    std::vector<uint8_t> zeros(32, 0), ones(32, 0xff);
    EXPECT_EQ(kho::crc32(zeros.data(), zeros.size()), 0x190A55ADu);
    EXPECT_EQ(kho::crc32(ones.data(), ones.size()), 0xFF6CAB0Bu);
}

TEST(Crc32, ReferenceImplementationAgreesWithKnownVector) {
    // Guards the oracle used below.
    EXPECT_EQ(reference_crc32(reinterpret_cast<const uint8_t*>("123456789"), 9), 0xCBF43926u);
}

TEST(Crc32, EveryLengthAndAlignmentMatchesTheReference) {
    std::mt19937_64 rng(1);
    std::vector<uint8_t> buf(4096 + 16);
    for (auto& b : buf) b = uint8_t(rng());
    for (size_t align = 0; align < 8; ++align)
        for (size_t len = 0; len <= 80; ++len)
            ASSERT_EQ(kho::crc32(buf.data() + align, len), reference_crc32(buf.data() + align, len))
                << "align " << align << " len " << len;
    for (size_t align = 0; align < 8; ++align)
        ASSERT_EQ(kho::crc32(buf.data() + align, 4096), reference_crc32(buf.data() + align, 4096));
}

TEST(Crc32, ChainingContinuesARunningValue) {
    // crc32(b, crc32(a)) == crc32(a + b), as with zlib: the descriptor's
    // checksum is computed over header and scratch array in two calls.
    const std::string a = "1234", b = "56789";
    EXPECT_EQ(kho::crc32(b.data(), b.size(), crc_of(a)), 0xCBF43926u);
    std::mt19937_64 rng(2);
    std::vector<uint8_t> buf(1000);
    for (auto& x : buf) x = uint8_t(rng());
    for (size_t cut : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
        uint32_t part = kho::crc32(buf.data(), cut);
        EXPECT_EQ(kho::crc32(buf.data() + cut, buf.size() - cut, part),
                  reference_crc32(buf.data(), buf.size()))
            << cut;
    }
}

TEST(Crc32, DetectsEverySingleBitFlipInAPage) {
    std::vector<uint8_t> page(4096, 0x5a);
    const uint32_t good = kho::crc32(page.data(), page.size());
    for (size_t bit = 0; bit < page.size() * 8; bit += 97) {
        page[bit / 8] ^= uint8_t(1u << (bit % 8));
        EXPECT_NE(kho::crc32(page.data(), page.size()), good) << bit;
        page[bit / 8] ^= uint8_t(1u << (bit % 8));
    }
}

}  // namespace
