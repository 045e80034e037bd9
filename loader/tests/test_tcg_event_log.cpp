// Event sizes in a TPM 2.0 crypto-agile log (loader/tcg_event_log.h),
// against logs laid out here byte by byte from the TCG PC Client Platform
// Firmware Profile (section 10): a Spec ID event listing SHA1 (0x0004,
// 20 bytes) and SHA256 (0x000b, 32 bytes), then TCG_PCR_EVENT2 records.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loader/tcg_event_log.h"

namespace {

void put32(std::vector<uint8_t>& b, uint32_t v) {
    for (int i = 0; i < 4; i++) b.push_back(uint8_t(v >> (8 * i)));
}
void put16(std::vector<uint8_t>& b, uint16_t v) {
    b.push_back(uint8_t(v));
    b.push_back(uint8_t(v >> 8));
}

std::vector<uint8_t> spec_id_event() {
    std::vector<uint8_t> e;
    std::string sig = "Spec ID Event03";
    e.insert(e.end(), sig.begin(), sig.end());
    e.push_back(0);
    put32(e, 0);                       // platformClass
    e.insert(e.end(), {0, 2, 0, 2});   // version 2.0, errata 0, uintnSize 2 (64-bit)
    put32(e, 2);                       // numberOfAlgorithms
    put16(e, 0x0004); put16(e, 20);
    put16(e, 0x000b); put16(e, 32);
    e.push_back(0);                    // vendorInfoSize
    std::vector<uint8_t> b;
    put32(b, 0);                       // pcrIndex
    put32(b, 3);                       // EV_NO_ACTION
    b.insert(b.end(), 20, 0);          // SHA1 digest
    put32(b, uint32_t(e.size()));
    b.insert(b.end(), e.begin(), e.end());
    return b;
}

std::vector<uint8_t> event2(uint32_t pcr, const std::string& data, bool sha256_too = true) {
    std::vector<uint8_t> b;
    put32(b, pcr);
    put32(b, 6);  // EV_EVENT_TAG
    put32(b, sha256_too ? 2 : 1);
    put16(b, 0x0004);
    b.insert(b.end(), 20, 0xaa);
    if (sha256_too) {
        put16(b, 0x000b);
        b.insert(b.end(), 32, 0xbb);
    }
    put32(b, uint32_t(data.size()));
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

TEST(TcgEventLog, SpecIdGivesDigestSizesAndItsOwnSize) {
    std::vector<uint8_t> log = spec_id_event();
    kho::TcgDigestSizes d;
    size_t spec = 0;
    ASSERT_TRUE(kho::tcg_spec_id(log.data(), log.size(), &d, &spec));
    EXPECT_EQ(spec, log.size());
    ASSERT_EQ(d.count, 2u);
    EXPECT_EQ(d.alg[0], 0x0004);
    EXPECT_EQ(d.size[0], 20);
    EXPECT_EQ(d.alg[1], 0x000b);
    EXPECT_EQ(d.size[1], 32);
}

TEST(TcgEventLog, Event2SizeIsHeaderDigestsAndData) {
    std::vector<uint8_t> log = spec_id_event();
    kho::TcgDigestSizes d;
    size_t spec = 0;
    ASSERT_TRUE(kho::tcg_spec_id(log.data(), log.size(), &d, &spec));
    std::vector<uint8_t> e = event2(12, "KHO root FDT");
    EXPECT_EQ(e.size(), 12u + 22 + 34 + 4 + 12);
    EXPECT_EQ(kho::tcg_event2_size(e.data(), e.size(), d), e.size());
    std::vector<uint8_t> one = event2(4, "x", false);
    EXPECT_EQ(kho::tcg_event2_size(one.data(), one.size(), d), one.size());
}

TEST(TcgEventLog, MalformedEventsAreRefused) {
    std::vector<uint8_t> log = spec_id_event();
    kho::TcgDigestSizes d;
    size_t spec = 0;
    ASSERT_TRUE(kho::tcg_spec_id(log.data(), log.size(), &d, &spec));
    std::vector<uint8_t> e = event2(12, "data");
    EXPECT_EQ(kho::tcg_event2_size(e.data(), e.size() - 1, d), 0u);  // truncated
    std::vector<uint8_t> unknown = e;
    unknown[12] = 0x0c;  // SHA384: not in the Spec ID list
    EXPECT_EQ(kho::tcg_event2_size(unknown.data(), unknown.size(), d), 0u);
    std::vector<uint8_t> many = e;
    many[8] = 3;  // three digests, two algorithms
    EXPECT_EQ(kho::tcg_event2_size(many.data(), many.size(), d), 0u);
    std::vector<uint8_t> not_spec = log;
    not_spec[32] = 'X';
    EXPECT_FALSE(kho::tcg_spec_id(not_spec.data(), not_spec.size(), &d, &spec));
    EXPECT_FALSE(kho::tcg_spec_id(log.data(), 40, &d, &spec));
}

}  // namespace
