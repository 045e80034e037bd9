// Integrity manifests: a producer's CRCs must catch any changed byte in the
// ranges the chosen level covers, and nothing else. The fixture's manifest
// is what build_manifest() writes (version 2, CRC-32C); version 1 (zlib's
// CRC-32, what the Python producers write) is encoded here independently.
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
namespace m = kho::abi::manifest;

// Bit-serial CRC-32C (reflected 0x82F63B78), the oracle for version 2.
uint32_t reference_crc32c(const uint8_t* p, size_t n) {
    uint32_t reg = ~0u;
    for (size_t i = 0; i < n; ++i) {
        reg ^= p[i];
        for (int b = 0; b < 8; ++b) reg = (reg >> 1) ^ (0x82F63B78u & (0u - (reg & 1)));
    }
    return ~reg;
}

// Header checksum over the bytes with the checksum field zeroed, by `crc`.
template <typename Crc>
void seal(std::vector<uint8_t>& b, Crc crc) {
    std::memset(b.data() + offsetof(m::Header, checksum), 0, 4);
    const uint32_t sum = crc(b.data(), b.size());
    std::memcpy(b.data() + offsetof(m::Header, checksum), &sum, 4);
}
uint32_t zlib_crc32(const uint8_t* p, size_t n) { return uint32_t(::crc32(0, p, uInt(n))); }

uint32_t version_of(const std::vector<uint8_t>& b) {
    uint32_t v;
    std::memcpy(&v, b.data() + offsetof(m::Header, version), 4);
    return v;
}
void set_version(std::vector<uint8_t>& b, uint32_t v) {
    std::memcpy(b.data() + offsetof(m::Header, version), &v, 4);
}

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

TEST_F(ManifestTest, BuildWritesVersion2WithCrc32cChecksums) {
    const uint8_t* p = ram.view(kData, 2 << 20);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(entries[1].checksum, reference_crc32c(p, 2 << 20));
    EXPECT_EQ(version_of(bytes), 2u);
    EXPECT_EQ(view.version, 2u);
    std::vector<uint8_t> resealed = bytes;
    seal(resealed, reference_crc32c);
    EXPECT_EQ(resealed, bytes);
}

TEST_F(ManifestTest, Version1EntriesAreZlibCrc32OfTheBytes) {
    // zlib's crc32 is an independent implementation of the same IEEE CRC.
    Entry e;
    ASSERT_TRUE(kho::make_manifest_entry_as(m::kVersionCrc32, ram, kData, 2 << 20, kKindData, &e));
    EXPECT_EQ(e.checksum, zlib_crc32(ram.view(kData, 2 << 20), 2 << 20));
}

// A version 1 manifest as scripts/scenarios/faults.py packs it.
std::vector<uint8_t> encode_v1(const khotest::FakePhysMem& ram, const Entry* list, uint32_t n) {
    std::vector<uint8_t> b(sizeof(m::Header) + n * sizeof(Entry));
    m::Header h{m::kMagic, 1, sizeof(m::Header), n, 0, 0};
    std::memcpy(b.data(), &h, sizeof(h));
    for (uint32_t i = 0; i < n; ++i) {
        Entry e = list[i];
        e.checksum = zlib_crc32(ram.view(e.start, e.size), e.size);
        std::memcpy(b.data() + sizeof(h) + i * sizeof(e), &e, sizeof(e));
    }
    seal(b, zlib_crc32);
    return b;
}

TEST_F(ManifestTest, Version1ManifestsStillVerify) {
    const std::vector<uint8_t> v1 = encode_v1(ram, entries, 2);
    kho::ManifestView v;
    ASSERT_TRUE(kho::parse_manifest(v1.data(), v1.size(), &v));
    EXPECT_EQ(v.version, 1u);
    kho::VerifyStats stats;
    EXPECT_TRUE(kho::verify_manifest(ram, v, kho::VerifyLevel::Full, &stats));
    EXPECT_EQ(stats.bytes, 4096u + (2u << 20));
    ram.mutable_view(kData + 77, 1)[0] ^= 0x80;
    EXPECT_EQ(kho::verify_manifest(ram, v, kho::VerifyLevel::Full, nullptr).code(), kho::Err::Integrity);
}

TEST_F(ManifestTest, EveryFlippedBitOfAVersion2ManifestIsRefused) {
    for (size_t i = 0; i < bytes.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            std::vector<uint8_t> b = bytes;
            b[i] ^= uint8_t(1 << bit);
            kho::ManifestView v;
            kho::Status s = kho::parse_manifest(b.data(), b.size(), &v);
            ASSERT_FALSE(s) << "byte " << i << " bit " << bit;
            EXPECT_EQ(s.code(), kho::Err::BadDescriptor);
        }
}

TEST_F(ManifestTest, ChecksumOfTheOtherVersionIsRefused) {
    // A v2 header sealed with CRC-32, and a v1 manifest relabelled v2: the
    // version decides the checksum, a producer cannot mix them.
    std::vector<uint8_t> b = bytes;
    seal(b, zlib_crc32);
    kho::ManifestView v;
    EXPECT_EQ(kho::parse_manifest(b.data(), b.size(), &v).code(), kho::Err::BadDescriptor);
    b = encode_v1(ram, entries, 2);
    set_version(b, 2);
    EXPECT_EQ(kho::parse_manifest(b.data(), b.size(), &v).code(), kho::Err::BadDescriptor);
    seal(b, reference_crc32c);  // a sound v2 header over v1 entry checksums
    ASSERT_TRUE(kho::parse_manifest(b.data(), b.size(), &v));
    EXPECT_EQ(kho::verify_manifest(ram, v, kho::VerifyLevel::Metadata, nullptr).code(),
              kho::Err::Integrity);
}

TEST_F(ManifestTest, UnknownVersionsAreRefused) {
    for (uint32_t version : {0u, 3u, 0x100u, 0xffffffffu}) {
        for (auto crc : {zlib_crc32, reference_crc32c}) {
            std::vector<uint8_t> b = bytes;
            set_version(b, version);
            seal(b, crc);
            kho::ManifestView v;
            kho::Status s = kho::parse_manifest(b.data(), b.size(), &v);
            EXPECT_EQ(s.code(), kho::Err::BadDescriptor) << version;
            EXPECT_NE(std::string(s.message()).find("version"), std::string::npos) << s.message();
        }
        std::vector<uint8_t> out(bytes.size());
        size_t n = 0;
        EXPECT_FALSE(kho::build_manifest_as(version, entries, 2, out.data(), out.size(), &n));
    }
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
    EXPECT_EQ(v.entry(1).checksum, entries[1].checksum);
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
