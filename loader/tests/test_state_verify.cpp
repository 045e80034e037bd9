// kho-verify: the level an entry asks for, the manifest's binding to the
// state, in-RAM manifest ranges, and the whole check as khoboot runs it.
// Manifests are encoded here as version 1 with zlib's CRC-32 (independent of the core's
// build_manifest()/crc32()).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "fake_phys_mem.h"
#include "loader/state_verify.h"

namespace {

using kho::Err;
using kho::KhoVerify;
using kho::VerifyLevel;
namespace m = kho::abi::manifest;

constexpr uint64_t kFdt = 0x10000000;
constexpr uint64_t kMap = 0x10002000;
constexpr uint64_t kBlock = 0x10400000;  // an order-9 "preserved block"

struct RawEntry {
    uint64_t start, size;
    uint32_t kind;
};

// Header + entries exactly as abi/integrity_manifest.h lays them out.
std::vector<uint64_t> encode(const khotest::FakePhysMem& ram, const std::vector<RawEntry>& list) {
    std::vector<uint8_t> b(sizeof(m::Header) + list.size() * sizeof(m::Entry));
    m::Header h{};
    h.magic = m::kMagic;
    h.version = m::kVersionCrc32;  // v1: what the Python producers write
    h.header_size = sizeof(m::Header);
    h.entry_count = uint32_t(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
        m::Entry e{};
        e.start = list[i].start;
        e.size = list[i].size;
        e.kind = list[i].kind;
        const uint8_t* p = ram.view(e.start, e.size);
        e.checksum = p ? uint32_t(::crc32(0, p, uInt(e.size))) : 0;
        std::memcpy(b.data() + sizeof(h) + i * sizeof(e), &e, sizeof(e));
    }
    std::memcpy(b.data(), &h, sizeof(h));
    h.checksum = uint32_t(::crc32(0, b.data(), uInt(b.size())));  // checksum field is 0 here
    std::memcpy(b.data(), &h, sizeof(h));
    std::vector<uint64_t> aligned((b.size() + 7) / 8);
    std::memcpy(aligned.data(), b.data(), b.size());
    return aligned;
}

size_t bytes_of(const std::vector<RawEntry>& list) {
    return sizeof(m::Header) + list.size() * sizeof(m::Entry);
}

class StateVerify : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(ram.add_backed(kFdt, 0x3000));  // FDT page, a spare page, the map page
        ASSERT_TRUE(ram.add_backed(kBlock, 2 << 20));
        for (uint64_t i = 0; i < 0x3000; i += 8) ram.write_u64(kFdt + i, i ^ 0xd00dfeed);
        for (uint64_t i = 0; i < (2 << 20); i += 8) ram.write_u64(kBlock + i, i * 0x9e3779b97f4a7c15ull);
        list = {{kFdt, 4096, m::kKindMetadata}, {kMap, 4096, m::kKindMetadata},
                {kBlock, 2 << 20, m::kKindData}};
        words = encode(ram, list);
    }
    kho::Status run(KhoVerify v, kho::StateVerifyResult* r, bool with_manifest = true) {
        return kho::verify_state(ram, v, with_manifest ? words.data() : nullptr,
                                 with_manifest ? bytes_of(list) : 0, kFdt, bounds(), r);
    }
    // The state as collect_protected() reports it: FDT, map and spare
    // pages, the block; its metadata is the FDT and the map page.
    kho::ManifestBounds bounds() {
        protect.clear();
        EXPECT_TRUE(protect.add(kFdt, kFdt + 0x3000));
        EXPECT_TRUE(protect.add(kBlock, kBlock + (2 << 20)));
        protect.normalize();
        return kho::ManifestBounds{&protect, 0x2000};
    }

    std::vector<kho::Range> protect_storage = std::vector<kho::Range>(8);
    kho::RangeSet protect{protect_storage.data(), protect_storage.size()};
    khotest::FakePhysMem ram;
    std::vector<RawEntry> list;
    std::vector<uint64_t> words;
};

TEST(KhoVerifyLevel, AutoFollowsTheManifest) {
    VerifyLevel l = VerifyLevel::Full;
    ASSERT_TRUE(kho::resolve_verify_level(KhoVerify::Auto, true, &l));
    EXPECT_EQ(l, VerifyLevel::Metadata);
    ASSERT_TRUE(kho::resolve_verify_level(KhoVerify::Auto, false, &l));
    EXPECT_EQ(l, VerifyLevel::Off);
    ASSERT_TRUE(kho::resolve_verify_level(KhoVerify::Off, true, &l));
    EXPECT_EQ(l, VerifyLevel::Off);
    ASSERT_TRUE(kho::resolve_verify_level(KhoVerify::Full, true, &l));
    EXPECT_EQ(l, VerifyLevel::Full);
    EXPECT_STREQ(kho::verify_level_name(VerifyLevel::Metadata), "metadata");
}

TEST(KhoVerifyLevel, ExplicitLevelWithoutManifestIsRefused) {
    VerifyLevel l;
    kho::Status s = kho::resolve_verify_level(KhoVerify::Full, false, &l);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Integrity);
    EXPECT_STREQ(s.message(), "kho-verify=full but the state has no manifest");
    EXPECT_FALSE(kho::resolve_verify_level(KhoVerify::Metadata, false, &l));
}

TEST(RamManifestRange, SizeBounds) {
    EXPECT_TRUE(kho::check_ram_manifest_range(0x6f000000, 32 + 24));
    kho::Status s = kho::check_ram_manifest_range(0x6f000000, 31);
    ASSERT_FALSE(s);
    EXPECT_STREQ(s.message(), "manifest at 0x6f000000: size 31 outside 32..67108864");
    EXPECT_FALSE(kho::check_ram_manifest_range(0x6f000000, kho::kMaxRamManifest + 8));
    EXPECT_FALSE(kho::check_ram_manifest_range(0xfffffffffffffff8ull, 64));
}

TEST_F(StateVerify, IntactStatePassesAtEveryLevel) {
    kho::StateVerifyResult r;
    ASSERT_TRUE(run(KhoVerify::Full, &r)) << run(KhoVerify::Full, &r).message();
    EXPECT_EQ(r.level, VerifyLevel::Full);
    EXPECT_EQ(r.stats.entries, 3u);
    EXPECT_EQ(r.stats.bytes, 8192u + (2u << 20));
    EXPECT_EQ(r.manifest_entries, 3u);
    ASSERT_TRUE(run(KhoVerify::Auto, &r));
    EXPECT_EQ(r.level, VerifyLevel::Metadata);
    EXPECT_EQ(r.stats.entries, 2u);
    ASSERT_TRUE(run(KhoVerify::Auto, &r, false));
    EXPECT_EQ(r.level, VerifyLevel::Off);
    EXPECT_EQ(r.stats.entries, 0u);
}

TEST_F(StateVerify, ChangedDataBlockIsCaughtOnlyByFull) {
    // What OVMF does to a block left in its decompression area.
    ram.write_u64(kBlock + 0x1f8, 0xafafafafafafafafull);
    kho::StateVerifyResult r;
    EXPECT_TRUE(run(KhoVerify::Metadata, &r));
    EXPECT_TRUE(run(KhoVerify::Off, &r));
    kho::Status s = run(KhoVerify::Full, &r);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Integrity);
    EXPECT_EQ(std::string(s.message()).rfind("0x10400000-0x10600000 changed: crc 0x", 0), 0u)
        << s.message();
}

TEST_F(StateVerify, ChangedMapPageIsCaughtByMetadata) {
    ram.write_u64(kMap + 8, 0x10007000);
    kho::StateVerifyResult r;
    kho::Status s = run(KhoVerify::Auto, &r);
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("0x10002000-0x10003000 changed"), std::string::npos)
        << s.message();
}

TEST_F(StateVerify, ManifestOfAnotherStateIsRefused) {
    kho::StateVerifyResult r;
    kho::Status s = kho::verify_state(ram, KhoVerify::Auto, words.data(), bytes_of(list), kFdt + 0x1000,
                                      bounds(), &r);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Integrity);
    EXPECT_STREQ(s.message(), "manifest of 3 entries names no root FDT page at 0x10001000 (another state's)");
}

TEST_F(StateVerify, CorruptManifestIsAnIntegrityError) {
    reinterpret_cast<uint8_t*>(words.data())[40] ^= 1;  // inside entry 0
    kho::StateVerifyResult r;
    kho::Status s = run(KhoVerify::Metadata, &r);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Integrity);
    EXPECT_EQ(std::string(s.message()).rfind("manifest: manifest checksum 0x", 0), 0u) << s.message();
    // Off never reads it.
    EXPECT_TRUE(run(KhoVerify::Off, &r));
}

TEST_F(StateVerify, UnalignedBufferIsRead) {
    // A variable's data need not be aligned; the manifest is read by copy.
    std::vector<uint8_t> shifted(bytes_of(list) + 1);
    std::memcpy(shifted.data() + 1, words.data(), bytes_of(list));
    kho::StateVerifyResult r;
    ASSERT_TRUE(kho::verify_state(ram, KhoVerify::Full, shifted.data() + 1, bytes_of(list), kFdt,
                                  bounds(), &r));
    EXPECT_EQ(r.stats.entries, 3u);
}

TEST_F(StateVerify, EntryOutsideTheStateIsRefusedBeforeAnyRead) {
    list.push_back({0xfee00000, 4096, m::kKindMetadata});  // the local APIC, not RAM
    words = encode(ram, list);
    kho::StateVerifyResult r;
    kho::Status s = run(KhoVerify::Metadata, &r);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Integrity);
    EXPECT_STREQ(s.message(), "manifest entry 3 0xfee00000-0xfee01000 lies outside the state");
    EXPECT_EQ(r.stats.entries, 0u);
}

// Regression (issue 9, defect 4): entries naming the same RAM again and
// again made the default level read without bound. Each kind may cover at
// most what the state holds of it.
TEST_F(StateVerify, RepeatedEntriesCannotMultiplyTheWork) {
    for (int i = 0; i < 1000; ++i) list.push_back({kMap, 4096, m::kKindMetadata});
    words = encode(ram, list);
    kho::StateVerifyResult r;
    kho::Status s = run(KhoVerify::Auto, &r);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Integrity);
    EXPECT_STREQ(s.message(), "manifest names 12288+ bytes of metadata, the state holds 8192");
    EXPECT_EQ(r.stats.entries, 0u);

    list.resize(3);
    for (int i = 0; i < 3; ++i) list.push_back({kBlock, 2 << 20, m::kKindData});
    words = encode(ram, list);
    s = run(KhoVerify::Full, &r);
    ASSERT_FALSE(s);
    EXPECT_STREQ(s.message(), "manifest names 4194304+ bytes of data, the state holds 2109440");
}

TEST_F(StateVerify, MetadataEntriesMayNotDressUpData) {
    // The default level reads metadata: a manifest that calls the whole
    // block "metadata" would make it read the state in full.
    list[1] = {kBlock, 2 << 20, m::kKindMetadata};
    words = encode(ram, list);
    kho::StateVerifyResult r;
    kho::Status s = run(KhoVerify::Auto, &r);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Integrity);
}

}  // namespace
