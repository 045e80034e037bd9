// Integrity manifests: a producer's CRCs must catch any changed byte in the
// ranges the chosen level covers, and nothing else.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "fake_phys_mem.h"
#include "loader/integrity_manifest.h"

namespace {

using kho::abi::manifest::Entry;
using kho::abi::manifest::kKindData;
using kho::abi::manifest::kKindMetadata;

constexpr uint64_t kMeta = 0x20000000;   // one page of "map metadata"
constexpr uint64_t kData = 0x40000000;   // a 2 MiB "preserved block"

class ManifestTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(ram.add_backed(kMeta, 4096));
        ASSERT_TRUE(ram.add_backed(kData, 2 << 20));
        for (uint64_t i = 0; i < 4096; i += 8) ram.write_u64(kMeta + i, i * 0x9e3779b97f4a7c15ull);
        for (uint64_t i = 0; i < (2 << 20); i += 8) ram.write_u64(kData + i, ~i);
        ASSERT_TRUE(kho::make_manifest_entry(ram, kMeta, 4096, kKindMetadata, &entries[0]));
        ASSERT_TRUE(kho::make_manifest_entry(ram, kData, 2 << 20, kKindData, &entries[1]));
        bytes.resize(32 + 2 * sizeof(Entry));
        size_t n = 0;
        ASSERT_TRUE(kho::build_manifest(entries, 2, bytes.data(), bytes.size(), &n));
        ASSERT_EQ(n, bytes.size());
        ASSERT_TRUE(kho::parse_manifest(bytes.data(), bytes.size(), &view));
    }

    khotest::FakePhysMem ram;
    Entry entries[2];
    std::vector<uint8_t> bytes;
    kho::ManifestView view;
};

TEST_F(ManifestTest, EntryCrcIsZlibCrc32OfTheBytes) {
    // zlib's crc32 is an independent implementation of the same IEEE CRC.
    const uint8_t* p = ram.view(kData, 2 << 20);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(entries[1].crc32, uint32_t(::crc32(0, p, 2 << 20)));
}

TEST_F(ManifestTest, UntouchedStateVerifiesAtEveryLevel) {
    kho::VerifyStats stats;
    EXPECT_TRUE(kho::verify_manifest(ram, view, kho::VerifyLevel::Full, &stats));
    EXPECT_EQ(stats.entries, 2u);
    EXPECT_EQ(stats.bytes, 4096u + (2u << 20));
    stats = {};
    EXPECT_TRUE(kho::verify_manifest(ram, view, kho::VerifyLevel::Metadata, &stats));
    EXPECT_EQ(stats.entries, 1u);
}

TEST_F(ManifestTest, OneFlippedBitInDataFailsFullButNotMetadata) {
    uint8_t* p = ram.mutable_view(kData + 0x12345, 1);
    *p ^= 0x10;
    kho::Status s = kho::verify_manifest(ram, view, kho::VerifyLevel::Full, nullptr);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), kho::Err::Integrity);
    EXPECT_NE(std::string(s.message()).find("0x40000000-0x40200000"), std::string::npos) << s.message();
    EXPECT_TRUE(kho::verify_manifest(ram, view, kho::VerifyLevel::Metadata, nullptr));
    EXPECT_TRUE(kho::verify_manifest(ram, view, kho::VerifyLevel::Off, nullptr));
}

TEST_F(ManifestTest, ChangedMetadataFailsMetadataLevel) {
    ram.write_u64(kMeta + 4088, 0);
    kho::Status s = kho::verify_manifest(ram, view, kho::VerifyLevel::Metadata, nullptr);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("0x20000000-0x20001000"), std::string::npos) << s.message();
}

TEST_F(ManifestTest, RangeNoLongerInRamIsAnError) {
    Entry gone = entries[0];
    gone.start = 0x90000000;
    std::vector<uint8_t> b(32 + sizeof(Entry));
    size_t n = 0;
    ASSERT_TRUE(kho::build_manifest(&gone, 1, b.data(), b.size(), &n));
    kho::ManifestView v;
    ASSERT_TRUE(kho::parse_manifest(b.data(), b.size(), &v));
    kho::Status s = kho::verify_manifest(ram, v, kho::VerifyLevel::Metadata, nullptr);
    EXPECT_EQ(s.code(), kho::Err::Integrity);
}

TEST_F(ManifestTest, ParsesAndVerifiesFromAnUnalignedBuffer) {
    // Variable buffers and RAM blobs carry no alignment promise; the ASan
    // build (UBSan alignment checks) fails this test on any in-place read.
    std::vector<uint8_t> shifted(bytes.size() + 1);
    std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
    kho::ManifestView v;
    ASSERT_TRUE(kho::parse_manifest(shifted.data() + 1, bytes.size(), &v));
    ASSERT_EQ(v.count, 2u);
    EXPECT_EQ(v.entry(1).start, kData);
    EXPECT_EQ(v.entry(1).crc32, entries[1].crc32);
    EXPECT_TRUE(kho::verify_manifest(ram, v, kho::VerifyLevel::Full, nullptr));
}

TEST_F(ManifestTest, CorruptManifestsAreRefused) {
    auto refused = [&](std::vector<uint8_t> b) {
        kho::ManifestView v;
        return !kho::parse_manifest(b.data(), b.size(), &v);
    };
    std::vector<uint8_t> b = bytes;
    b[0] ^= 1;  // magic
    EXPECT_TRUE(refused(b));
    b = bytes;
    b[40] ^= 1;  // an entry byte: checksum no longer matches
    EXPECT_TRUE(refused(b));
    b = bytes;
    b.pop_back();  // truncated
    EXPECT_TRUE(refused(b));
    b = bytes;
    b[16] = 3;  // entry_count says 3, bytes hold 2
    EXPECT_TRUE(refused(b));
    EXPECT_TRUE(refused({}));
}

}  // namespace
