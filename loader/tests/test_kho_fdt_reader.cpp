// Root KHO FDT reader (loader/kho_fdt_reader.h): every version's property
// rules (docs/kho-abi.md section 3), built with libfdt's sequential-write API by
// the test encoder; and the ways a root FDT can be broken: header, size,
// structure, compatible, property sizes, missing properties, zero map.
#include <gtest/gtest.h>

#include <string.h>

#include <string>
#include <vector>

#include "abi/kho_fdt.h"
#include "loader/kho_fdt_reader.h"
#include "loader/tests/fake_phys_mem.h"
#include "loader/tests/kho_encoder.h"

using namespace khotest;
using kho::Err;
using kho::abi::KhoVersion;

namespace {

constexpr uint64_t kArena = 0x7f000000;
constexpr uint64_t kMap = 0x12345000;  // any page-aligned value: the reader does not walk it

void put_be32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}
uint32_t get_be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

class FdtReaderTest : public ::testing::Test {
protected:
    FakePhysMem mem;
    PageArena arena{mem, kArena, 4 << 20};
    kho::KhoState state{};
    // RAM for the sub-blobs the tests name (16 MiB up to the arena).
    FdtReaderTest() { mem.declare_ram(0x1000000, kArena - 0x1000000); }

    uint64_t place(const FdtNode& root) { return place_bytes(mem, arena, build_fdt(root)); }
    kho::Status read(uint64_t addr) { return kho::read_kho_fdt(mem, addr, &state); }

    // Reads an FDT whose root was changed by `edit` and expects `code`
    // with every word of `mentions` in the message.
    void expect_refused(FdtNode root, Err code, std::vector<std::string> mentions) {
        uint64_t addr = place(root);
        kho::Status s = read(addr);
        EXPECT_EQ(s.code(), code) << s.message();
        for (const auto& m : mentions)
            EXPECT_NE(std::string(s.message()).find(m), std::string::npos)
                << "message lacks '" << m << "': " << s.message();
    }
};

// ---------------------------------------------------------------------------
// Version names.

TEST(KhoVersionNames, KnownCompatiblesMapToTheirVersions) {
    struct {
        const char* s;
        KhoVersion v;
    } known[] = {{"kho-v1", KhoVersion::V1},
                 {"kho-v2", KhoVersion::V2},
                 {"kho-v3", KhoVersion::V3},
                 {"kho-v4", KhoVersion::V4},
                 {"multikernel-v1", KhoVersion::Multikernel1}};
    for (const auto& k : known) {
        KhoVersion v{};
        EXPECT_TRUE(kho::kho_version_from_compatible(k.s, &v)) << k.s;
        EXPECT_EQ(v, k.v) << k.s;
        EXPECT_STREQ(kho::kho_compatible_name(k.v), k.s);
    }
}

TEST(KhoVersionNames, UnknownCompatiblesAreRefused) {
    for (const char* s : {"", "kho-v0", "kho-v5", "kho-v9", "kho-v", "kho-v1 ", "KHO-V1", "kho-v10",
                          "kho-v4x", "multikernel-v2", "kho"}) {
        KhoVersion v{};
        EXPECT_FALSE(kho::kho_version_from_compatible(s, &v)) << "'" << s << "'";
    }
}

// ---------------------------------------------------------------------------
// Valid FDTs of every version.

TEST_F(FdtReaderTest, ReadsKhoV4WithBlobSizes) {
    uint64_t addr = place(kho_root_node("kho-v4", kMap,
                                        {{"kho_test", 0x3000000, 0x5000}, {"kexec-metadata", 0x3010000, 73}}));
    kho::Status s = read(addr);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(state.version, KhoVersion::V4);
    EXPECT_STREQ(state.compatible, "kho-v4");
    EXPECT_EQ(state.fdt_addr, addr);
    EXPECT_EQ(state.memory_map, kMap);
    ASSERT_EQ(state.subnode_count, 2u);
    EXPECT_STREQ(state.subnodes[0].name, "kho_test");
    EXPECT_EQ(state.subnodes[0].blob_phys, 0x3000000u);
    EXPECT_EQ(state.subnodes[0].blob_size, 0x5000u);
    EXPECT_TRUE(state.subnodes[0].has_blob_size);
    EXPECT_STREQ(state.subnodes[1].name, "kexec-metadata");
    EXPECT_EQ(state.subnodes[1].blob_phys, 0x3010000u);
    EXPECT_EQ(state.subnodes[1].blob_size, 73u);
}

TEST_F(FdtReaderTest, ReadsKhoV3) {
    uint64_t addr = place(kho_root_node("kho-v3", kMap, {{"LUO", 0x4000000, 0x1000}}));
    ASSERT_TRUE(read(addr).is_ok());
    EXPECT_EQ(state.version, KhoVersion::V3);
    ASSERT_EQ(state.subnode_count, 1u);
    EXPECT_EQ(state.subnodes[0].blob_size, 0x1000u);
    EXPECT_TRUE(state.subnodes[0].has_blob_size);
}

TEST_F(FdtReaderTest, ReadsKhoV2WithoutBlobSize) {
    uint64_t addr = place(kho_root_node("kho-v2", kMap, {{"memblock", 0x5000000, 0}}));
    kho::Status s = read(addr);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(state.version, KhoVersion::V2);
    ASSERT_EQ(state.subnode_count, 1u);
    EXPECT_EQ(state.subnodes[0].blob_phys, 0x5000000u);
    EXPECT_FALSE(state.subnodes[0].has_blob_size);
}

TEST_F(FdtReaderTest, ReadsKhoV1AndSizesSubFdtsFromTheirHeader) {
    // kho-v1 sub-nodes point at FDTs; their size is the sub-FDT totalsize.
    std::vector<uint8_t> sub = small_sub_fdt("memblock-v1", 0x1800);
    uint64_t sub_addr = place_bytes(mem, arena, sub);
    uint64_t addr = place(kho_root_node("kho-v1", kMap, {{"memblock", sub_addr, 0}}));
    kho::Status s = read(addr);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(state.version, KhoVersion::V1);
    EXPECT_STREQ(state.compatible, "kho-v1");
    EXPECT_EQ(state.memory_map, kMap);
    ASSERT_EQ(state.subnode_count, 1u);
    EXPECT_STREQ(state.subnodes[0].name, "memblock");
    EXPECT_EQ(state.subnodes[0].blob_phys, sub_addr);
    EXPECT_EQ(state.subnodes[0].blob_size, 0x1800u);
    EXPECT_FALSE(state.subnodes[0].has_blob_size);
}

TEST_F(FdtReaderTest, ReadsMultikernelV1) {
    std::vector<uint8_t> dtb = small_sub_fdt("instance", 0);
    uint64_t addr = place(multikernel_root_node(dtb));
    kho::Status s = read(addr);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(state.version, KhoVersion::Multikernel1);
    EXPECT_STREQ(state.compatible, "multikernel-v1");
    EXPECT_EQ(state.memory_map, 0u);
}

TEST_F(FdtReaderTest, RootWithoutSubnodes) {
    ASSERT_TRUE(read(place(kho_root_node("kho-v4", kMap, {}))).is_ok());
    EXPECT_EQ(state.subnode_count, 0u);
}

TEST_F(FdtReaderTest, KeepsAPrivateCopyOfThePage) {
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {{"a", 0x1000000, 1}}));
    ASSERT_TRUE(read(addr).is_ok());
    EXPECT_EQ(memcmp(state.fdt, mem.view(addr, 4096), 4096), 0);
    // Later changes to RAM must not show through.
    mem.mutable_view(addr, 4)[0] ^= 0xff;
    EXPECT_NE(memcmp(state.fdt, mem.view(addr, 4096), 4096), 0);
}

TEST_F(FdtReaderTest, AllowsTheMaximumSubnodeCount) {
    std::vector<KhoSubBlob> subs;
    for (size_t i = 0; i < kho::KhoState::kMaxSubnodes; ++i)
        subs.push_back({"n" + std::to_string(i), 0x1000000 + i * 0x1000, 0x1000});
    ASSERT_TRUE(read(place(kho_root_node("kho-v4", kMap, subs))).is_ok());
    ASSERT_EQ(state.subnode_count, kho::KhoState::kMaxSubnodes);
    EXPECT_STREQ(state.subnodes[31].name, "n31");
    EXPECT_EQ(state.subnodes[31].blob_phys, 0x1000000u + 31 * 0x1000);
}

TEST_F(FdtReaderTest, TooManySubnodesIsRefusedNotTruncated) {
    // Dropping a sub-node would leave its blob unprotected.
    std::vector<KhoSubBlob> subs;
    for (size_t i = 0; i <= kho::KhoState::kMaxSubnodes; ++i)
        subs.push_back({"n" + std::to_string(i), 0x1000000 + i * 0x1000, 0x1000});
    kho::Status s = read(place(kho_root_node("kho-v4", kMap, subs)));
    EXPECT_FALSE(s.is_ok());
}

TEST_F(FdtReaderTest, LongSubnodeNameIsNeverOverflowed) {
    std::string longname(100, 'x');
    kho::Status s = read(place(kho_root_node("kho-v4", kMap, {{longname, 0x1000000, 0x1000}})));
    if (s.is_ok()) {
        ASSERT_EQ(state.subnode_count, 1u);
        EXPECT_LT(strnlen(state.subnodes[0].name, kho::KhoSubnode::kNameSize),
                  kho::KhoSubnode::kNameSize);
    }
}

// ---------------------------------------------------------------------------
// Where the FDT is, and its header.

// Regression (found by fuzz_kho_fdt, regressions/kho_fdt/prop-len-minus-12):
// libfdt 1.6.1's fdt_check_full() loops forever on a property whose length
// is -12, since fdt_next_tag() then returns the offset it was given.
TEST_F(FdtReaderTest, PropertyLengthThatWalksBackIsRefusedNotLoopedOn) {
    std::vector<uint8_t> blob = build_fdt(kho_root_node("kho-v4", kMap, {}));
    const uint32_t off_struct = __builtin_bswap32(*reinterpret_cast<const uint32_t*>(&blob[8]));
    size_t prop = off_struct;
    while (__builtin_bswap32(*reinterpret_cast<const uint32_t*>(&blob[prop])) != 3) prop += 4;  // FDT_PROP
    const uint32_t minus_12 = __builtin_bswap32(0xfffffff4u);
    memcpy(&blob[prop + 4], &minus_12, 4);
    kho::Status s = read(place_bytes(mem, arena, blob));
    ASSERT_EQ(s.code(), Err::BadFdt) << s.message();
    EXPECT_NE(std::string(s.message()).find("structure block runs off its end"), std::string::npos)
        << s.message();
}

TEST_F(FdtReaderTest, FdtOutsideRamIsRefused) {
    kho::Status s = read(0x4440000000ull);
    EXPECT_EQ(s.code(), Err::OutOfRam) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), 0x4440000000ull)) << s.message();
}

TEST_F(FdtReaderTest, FdtPageRunningOffTheEndOfRamIsRefused) {
    // RAM that ends half-way through the page the consumer will map.
    const uint64_t addr = 0x90000000;
    ASSERT_TRUE(mem.add_backed(addr, 2048));
    std::vector<uint8_t> fdt = build_fdt(kho_root_node("kho-v4", kMap, {}));
    ASSERT_TRUE(mem.write(addr, fdt.data(), fdt.size()));
    kho::Status s = read(addr);
    EXPECT_EQ(s.code(), Err::OutOfRam) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), addr)) << s.message();
}

TEST_F(FdtReaderTest, BadMagicIsRefused) {
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {}));
    mem.mutable_view(addr, 4)[0] ^= 0x01;
    kho::Status s = read(addr);
    EXPECT_EQ(s.code(), Err::BadFdt) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), addr)) << s.message();
}

TEST_F(FdtReaderTest, UnalignedFdtAddressIsRefused) {
    // The root FDT is a page of its own (producer alloc_page()); an
    // unaligned address is not one the producer could have handed over.
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {}));
    std::vector<uint8_t> fdt = build_fdt(kho_root_node("kho-v4", kMap, {}));
    ASSERT_TRUE(mem.write(addr + 0x100, fdt.data(), fdt.size()));
    kho::Status s = read(addr + 0x100);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), addr + 0x100)) << s.message();
}

TEST_F(FdtReaderTest, EmptyPageIsRefused) {
    uint64_t addr = arena.alloc_page();
    kho::Status s = read(addr);
    EXPECT_EQ(s.code(), Err::BadFdt) << s.message();
}

TEST_F(FdtReaderTest, TotalsizeLargerThanAPageIsRefused) {
    // The consumer maps exactly PAGE_SIZE bytes.
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {}));
    put_be32(mem.mutable_view(addr + 4, 4), 4097);
    kho::Status s = read(addr);
    EXPECT_EQ(s.code(), Err::BadFdt) << s.message();
}

TEST_F(FdtReaderTest, TruncatedTotalsizeIsRefused) {
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {{"kho_test", 0x1000000, 0x1000}}));
    uint8_t* p = mem.mutable_view(addr, 4096);
    put_be32(p + 4, get_be32(p + 4) - 24);
    kho::Status s = read(addr);
    EXPECT_EQ(s.code(), Err::BadFdt) << s.message();
}

TEST_F(FdtReaderTest, TinyTotalsizeIsRefused) {
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {}));
    put_be32(mem.mutable_view(addr + 4, 4), 8);
    EXPECT_EQ(read(addr).code(), Err::BadFdt);
}

TEST_F(FdtReaderTest, StructureOffsetBeyondTotalsizeIsRefused) {
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {}));
    put_be32(mem.mutable_view(addr + 8, 4), 0x2000);
    EXPECT_EQ(read(addr).code(), Err::BadFdt);
}

TEST_F(FdtReaderTest, CorruptStructureTagIsRefused) {
    // fdt_check_full walks the structure block: a bad tag after the root's
    // FDT_BEGIN_NODE must be caught even though the header is fine.
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {{"kho_test", 0x1000000, 0x1000}}));
    uint8_t* p = mem.mutable_view(addr, 4096);
    uint32_t off_struct = get_be32(p + 8);
    // Root node: tag (4) + empty name padded to 4; next word is a tag.
    put_be32(p + off_struct + 8, 0x0badbad0);
    EXPECT_EQ(read(addr).code(), Err::BadFdt);
}

TEST_F(FdtReaderTest, UnsupportedFdtVersionIsRefused) {
    uint64_t addr = place(kho_root_node("kho-v4", kMap, {}));
    uint8_t* p = mem.mutable_view(addr, 4096);
    put_be32(p + 20, 1);   // version
    put_be32(p + 24, 1);   // last_comp_version
    EXPECT_EQ(read(addr).code(), Err::BadFdt);
}

// ---------------------------------------------------------------------------
// compatible.

TEST_F(FdtReaderTest, UnknownCompatibleIsRefusedByName) {
    expect_refused(kho_root_node("kho-v9", kMap, {}), Err::BadVersion, {"kho-v9"});
}

TEST_F(FdtReaderTest, MissingCompatibleIsRefused) {
    FdtNode root = kho_root_node("kho-v4", kMap, {});
    root.props.erase(root.props.begin());
    uint64_t addr = place(root);
    kho::Status s = read(addr);
    EXPECT_TRUE(s.code() == Err::BadVersion || s.code() == Err::BadProperty) << s.message();
    EXPECT_NE(std::string(s.message()).find("compatible"), std::string::npos) << s.message();
}

TEST_F(FdtReaderTest, UnterminatedCompatibleIsRefused) {
    FdtNode root = kho_root_node("kho-v4", kMap, {});
    root.find("compatible")->value = {'k', 'h', 'o', '-', 'v', '4'};
    kho::Status s = read(place(root));
    EXPECT_FALSE(s.is_ok());
}

TEST_F(FdtReaderTest, CompatiblePrefixIsNotAMatch) {
    expect_refused(kho_root_node("kho-v", kMap, {}), Err::BadVersion, {"kho-v"});
}

// ---------------------------------------------------------------------------
// preserved-memory-map.

TEST_F(FdtReaderTest, MissingMemoryMapIsRefused) {
    FdtNode root = kho_root_node("kho-v4", kMap, {});
    root.props.erase(root.props.begin() + 1);
    expect_refused(root, Err::BadProperty, {"preserved-memory-map"});
}

TEST_F(FdtReaderTest, MemoryMapOfWrongSizeIsRefused) {
    for (size_t n : {0u, 4u, 7u, 9u, 16u}) {
        SCOPED_TRACE(n);
        FdtNode root = kho_root_node("kho-v4", kMap, {});
        root.find("preserved-memory-map")->value.assign(n, 0x11);
        expect_refused(root, Err::BadProperty, {"preserved-memory-map"});
    }
}

TEST_F(FdtReaderTest, ZeroMemoryMapIsRefusedForRadixVersions) {
    // kho-v2+ consumers reject a zero map (-EINVAL).
    for (const char* c : {"kho-v2", "kho-v3", "kho-v4"}) {
        SCOPED_TRACE(c);
        expect_refused(kho_root_node(c, 0, {}), Err::BadProperty, {"preserved-memory-map"});
    }
}

TEST_F(FdtReaderTest, MemoryMapIsReadAsNativeEndian) {
    // dtc shows the value as byte-swapped cells; the reader must not swap.
    const uint64_t map = 0x0000000123456000ull;
    ASSERT_TRUE(read(place(kho_root_node("kho-v4", map, {}))).is_ok());
    EXPECT_EQ(state.memory_map, map);
}

// ---------------------------------------------------------------------------
// Sub-node properties.

TEST_F(FdtReaderTest, V3SubnodeWithoutBlobSizeIsRefused) {
    FdtNode root = kho_root_node("kho-v3", kMap, {{"LUO", 0x4000000, 0x1000}});
    root.children[0].props.pop_back();
    expect_refused(root, Err::BadProperty, {"blob-size"});
}

TEST_F(FdtReaderTest, V4BlobSizeOfWrongSizeIsRefused) {
    FdtNode root = kho_root_node("kho-v4", kMap, {{"LUO", 0x4000000, 0x1000}});
    root.children[0].find("blob-size")->value.resize(4);
    expect_refused(root, Err::BadProperty, {"blob-size"});
}

// Regression (issue 9, defect 3): the wrap check ran on the unrounded end,
// so a blob in the last page below 2^64 rounded to an end of 0 and was
// accepted, then dropped by the range set: never protected, never reported.
TEST_F(FdtReaderTest, BlobWhosePageRoundedEndWrapsIsRefused) {
    expect_refused(kho_root_node("kho-v4", kMap, {{"LUO", 0xfffffffffffff010ull, 0x20}}),
                   Err::BadPointer, {"LUO", "0xfffffffffffff010", "2^52"});
}

TEST_F(FdtReaderTest, BlobBeyondThe52BitPhysicalSpaceIsRefused) {
    expect_refused(kho_root_node("kho-v4", kMap, {{"LUO", 1ull << 52, 0x1000}}), Err::BadPointer,
                   {"LUO", "2^52"});
    expect_refused(kho_root_node("kho-v4", kMap, {{"LUO", (1ull << 52) - 0x1000, 0x1001}}),
                   Err::BadPointer, {"LUO"});
}

TEST_F(FdtReaderTest, BlobOutsideRamIsRefused) {
    // The local APIC page: protecting it would protect nothing, and the
    // next kernel would read device registers as the blob.
    expect_refused(kho_root_node("kho-v4", kMap, {{"kho_test", 0xfee00000, 0x1000}}), Err::OutOfRam,
                   {"kho_test", "0xfee00000", "not RAM"});
}

TEST_F(FdtReaderTest, V2SubnodeWithoutPreservedDataIsRefused) {
    FdtNode root = kho_root_node("kho-v2", kMap, {{"memblock", 0x4000000, 0}});
    root.children[0].props.clear();
    expect_refused(root, Err::BadProperty, {"preserved-data"});
}

TEST_F(FdtReaderTest, PreservedDataOfWrongSizeIsRefused) {
    FdtNode root = kho_root_node("kho-v4", kMap, {{"kho_test", 0x4000000, 0x1000}});
    root.children[0].find("preserved-data")->value.resize(12);
    expect_refused(root, Err::BadProperty, {"preserved-data"});
}

TEST_F(FdtReaderTest, V4SubnodeWithV1PropertyNameIsRefused) {
    FdtNode root = kho_root_node("kho-v4", kMap, {{"kho_test", 0x4000000, 0x1000}});
    root.children[0].find("preserved-data")->name = "fdt";
    expect_refused(root, Err::BadProperty, {"preserved-data"});
}

TEST_F(FdtReaderTest, ZeroPreservedDataIsRefused) {
    // A null blob pointer: the producer never writes one, and protecting
    // "page 0" would hide the fact that the blob is gone.
    kho::Status s = read(place(kho_root_node("kho-v4", kMap, {{"kho_test", 0, 0x1000}})));
    EXPECT_EQ(s.code(), Err::BadProperty) << s.message();
    std::string m = s.message();
    EXPECT_TRUE(m.find("kho_test") != std::string::npos || m.find("preserved-data") != std::string::npos)
        << m;
}

TEST_F(FdtReaderTest, V1FdtPropertyOfWrongSizeIsRefused) {
    FdtNode root = kho_root_node("kho-v1", kMap, {{"memblock", 0x4000000, 0}});
    root.children[0].find("fdt")->value.resize(4);
    expect_refused(root, Err::BadProperty, {"fdt"});
}

TEST_F(FdtReaderTest, V1SubFdtOutsideRamIsRefused) {
    const uint64_t bad = 0x6660000000ull;
    uint64_t addr = place(kho_root_node("kho-v1", kMap, {{"memblock", bad, 0}}));
    kho::Status s = read(addr);
    EXPECT_FALSE(s.is_ok());
    EXPECT_TRUE(mentions_hex(s.message(), bad)) << s.message();
}

TEST_F(FdtReaderTest, V1SubFdtThatIsNotAnFdtIsRefused) {
    uint64_t garbage = arena.alloc_page();
    memset(mem.mutable_view(garbage, 4096), 0x5a, 4096);
    kho::Status s = read(place(kho_root_node("kho-v1", kMap, {{"memblock", garbage, 0}})));
    EXPECT_FALSE(s.is_ok());
    EXPECT_TRUE(mentions_hex(s.message(), garbage)) << s.message();
}

TEST_F(FdtReaderTest, RandomByteFlipsNeverCrash) {
    // Single-byte corruptions anywhere in a real-looking FDT: each read
    // either succeeds or explains itself; never a crash (ASan build).
    std::vector<uint8_t> good = build_fdt(
        kho_root_node("kho-v4", kMap, {{"kho_test", 0x3000000, 0x5000}, {"kexec-metadata", 0x3010000, 73}}));
    uint64_t addr = place_bytes(mem, arena, good);
    for (size_t i = 0; i < good.size(); ++i) {
        std::vector<uint8_t> bad = good;
        bad[i] ^= uint8_t(0x80 >> (i % 8));
        ASSERT_TRUE(mem.write(addr, bad.data(), bad.size()));
        kho::Status s = read(addr);
        if (!s.is_ok()) {
            ASSERT_NE(s.message()[0], '\0') << "byte " << i;
        }
    }
}

}  // namespace
