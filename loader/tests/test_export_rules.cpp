// The rules `khotool export` takes from the core or from libfdt since it
// was split by job (loader/tools/export.h): iomem coalescing by RangeSet,
// the truncated root-FDT copy read with libfdt, and the scratch verdict of
// the memory plan. Expected values are written out by hand from the
// inputs, not taken from the code under test.
#include <gtest/gtest.h>
#include <libfdt.h>

#include <cstring>
#include <string>
#include <vector>

#include "loader/tests/fake_phys_mem.h"
#include "loader/tools/export.h"

namespace {

using kho::Err;
using kho::Range;
using kho::abi::KhoScratch;
namespace ex = kho::tools::exporting;

// --- /proc/iomem: RangeSet coalescing -------------------------------------

TEST(ExportRules, IomemCoalescesUnsortedAndOverlappingRam) {
    // Out of order, one entry inside another, two that overlap and two
    // that touch once rounded inward to pages.
    const char* text =
        "100000000-17fffffff : System RAM\n"
        "00100000-001fffff : System RAM\n"
        "00180000-0027ffff : System RAM\n"
        "00120000-0012ffff : System RAM\n"
        "00280000-002807ff : System RAM\n"   // less than a page: dropped
        "00300800-00400fff : System RAM\n"   // rounds to 0x301000-0x401000
        "00401000-00500fff : System RAM\n";  // touches the one before
    std::vector<Range> ram;
    ASSERT_TRUE(ex::parse_iomem_ram(text, &ram));
    ASSERT_EQ(ram.size(), 3u);
    EXPECT_EQ(ram[0].start, 0x100000u);
    EXPECT_EQ(ram[0].end, 0x280000u);
    EXPECT_EQ(ram[1].start, 0x301000u);
    EXPECT_EQ(ram[1].end, 0x501000u);
    EXPECT_EQ(ram[2].start, 0x100000000u);
    EXPECT_EQ(ram[2].end, 0x180000000u);
}

TEST(ExportRules, IomemTopOfAddressSpaceDoesNotWrap) {
    std::vector<Range> ram;
    ASSERT_TRUE(ex::parse_iomem_ram("00100000-001fffff : System RAM\n"
                                    "fffffffffffff800-ffffffffffffffff : System RAM\n"
                                    "ffffffffffffe000-ffffffffffffffff : System RAM\n",
                                    &ram));
    ASSERT_EQ(ram.size(), 2u);
    EXPECT_EQ(ram[1].start, 0xffffffffffffe000u);  // the last page cannot be named half-open
    EXPECT_EQ(ram[1].end, 0xfffffffffffff000u);
}

// --- the root FDT copy, read with libfdt -------------------------------------

// A root node with `props` (name, bytes) and one sub-node, v17.
std::vector<uint8_t> make_fdt(const std::vector<std::pair<std::string, std::string>>& props,
                              const char* root_name = "") {
    std::vector<uint8_t> buf(4096);
    EXPECT_EQ(fdt_create(buf.data(), int(buf.size())), 0);
    EXPECT_EQ(fdt_finish_reservemap(buf.data()), 0);
    EXPECT_EQ(fdt_begin_node(buf.data(), root_name), 0);
    for (const auto& [name, value] : props)
        EXPECT_EQ(fdt_property(buf.data(), name.c_str(), value.data(), int(value.size())), 0);
    EXPECT_EQ(fdt_begin_node(buf.data(), "kho_test"), 0);
    EXPECT_EQ(fdt_end_node(buf.data()), 0);
    EXPECT_EQ(fdt_end_node(buf.data()), 0);
    EXPECT_EQ(fdt_finish(buf.data()), 0);
    buf.resize(fdt_totalsize(buf.data()));
    return buf;
}

std::string u64_bytes(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

TEST(ExportRules, RootPrefixTakesOnlyValuesWhollyInsideTheCopy) {
    std::vector<uint8_t> fdt = make_fdt({{"compatible", std::string("kho-v4\0", 7)},
                                         {"preserved-memory-map", u64_bytes(0x1234000)},
                                         {"later", u64_bytes(0x5678000)}});
    // Cut the copy 4 bytes into "later"'s value: its offset is found by
    // name in the whole FDT, independently of the prefix reader.
    int len = 0;
    const void* later = fdt_getprop(fdt.data(), 0, "later", &len);
    ASSERT_NE(later, nullptr);
    size_t cut = size_t(static_cast<const uint8_t*>(later) - fdt.data()) + 4;
    ex::RootPrefix rp;
    ASSERT_TRUE(ex::parse_root_prefix(fdt.data(), cut, &rp));
    EXPECT_EQ(rp.totalsize, fdt.size());
    EXPECT_EQ(rp.u64_values, std::vector<uint64_t>{0x1234000});
    EXPECT_EQ(rp.strings, std::vector<std::string>{"kho-v4"});
    // The whole FDT: all three.
    ASSERT_TRUE(ex::parse_root_prefix(fdt.data(), fdt.size(), &rp));
    EXPECT_EQ(rp.u64_values, (std::vector<uint64_t>{0x1234000, 0x5678000}));
}

TEST(ExportRules, RootPrefixSkipsNopsAndNonPrintableStrings) {
    std::vector<uint8_t> fdt = make_fdt({{"gone", u64_bytes(0x1111000)},
                                         {"binary", std::string("a\x01\0", 3)},
                                         {"compatible", std::string("kho-v3\0", 7)},
                                         {"preserved-memory-map", u64_bytes(0x2222000)}});
    ASSERT_EQ(fdt_nop_property(fdt.data(), 0, "gone"), 0);  // its tags become NOPs
    ex::RootPrefix rp;
    ASSERT_TRUE(ex::parse_root_prefix(fdt.data(), fdt.size(), &rp));
    EXPECT_EQ(rp.u64_values, std::vector<uint64_t>{0x2222000});
    EXPECT_EQ(rp.strings, std::vector<std::string>{"kho-v3"});
}

TEST(ExportRules, RootPrefixRefusesANamedRootAndABadHeader) {
    ex::RootPrefix rp;
    std::vector<uint8_t> named = make_fdt({{"compatible", std::string("kho-v4\0", 7)}}, "root");
    EXPECT_EQ(ex::parse_root_prefix(named.data(), named.size(), &rp).code(), Err::BadFdt);
    std::vector<uint8_t> fdt = make_fdt({{"compatible", std::string("kho-v4\0", 7)}});
    std::vector<uint8_t> v15 = fdt;
    fdt_set_version(v15.data(), 15);
    EXPECT_EQ(ex::parse_root_prefix(v15.data(), v15.size(), &rp).code(), Err::BadFdt);
    std::vector<uint8_t> huge = fdt;
    fdt_set_totalsize(huge.data(), 8192);
    EXPECT_EQ(ex::parse_root_prefix(huge.data(), huge.size(), &rp).code(), Err::BadFdt);
    // The structure block must start inside the copy.
    EXPECT_EQ(ex::parse_root_prefix(fdt.data(), fdt_off_dt_struct(fdt.data()), &rp).code(), Err::BadFdt);
}

// --- the scratch verdict (loader/memory_plan.h plan_verdict) -----------------

class ScratchVerdict : public ::testing::Test {
protected:
    void SetUp() override {
        mem.declare_ram(0x100000, 0x10000000);  // RAM: 1 MiB .. 257 MiB
        ASSERT_TRUE(protect.add(0x2000000, 0x2001000));
        ASSERT_TRUE(protect.add(0x3000000, 0x3200000));
        protect.normalize();
    }
    khotest::FakePhysMem mem;
    Range storage[8];
    kho::RangeSet protect{storage, 8};
};

TEST_F(ScratchVerdict, ClearScratchAndZeroSizedRegionsPass) {
    EXPECT_TRUE(ex::check_scratch(mem, {{0x4000000, 0x4000000}, {0x2001000, 0xfff000}, {0x3000000, 0}}, protect));
}

TEST_F(ScratchVerdict, PreservedInsideScratchIsOverlapNamingTheBytes) {
    // Scratch 0x3100000+0x200000 covers the second half of 0x3000000-0x3200000.
    kho::Status s = ex::check_scratch(mem, {{0x4000000, 0x100000}, {0x3100000, 0x200000}}, protect);
    EXPECT_EQ(s.code(), Err::Overlap);
    EXPECT_NE(std::string(s.message()).find("0x3100000-0x3200000"), std::string::npos) << s.message();
}

TEST_F(ScratchVerdict, ScratchOutsideRamIsBadProperty) {
    kho::Status s = ex::check_scratch(mem, {{0x4000000, 0x100000}, {0xc0000000, 0x4000000}}, protect);
    EXPECT_EQ(s.code(), Err::BadProperty);
    EXPECT_NE(std::string(s.message()).find("0xc0000000-0xc4000000"), std::string::npos) << s.message();
    // A region whose end wraps is not RAM either (and no range wraps).
    s = ex::check_scratch(mem, {{0xfffffffffffff000, 0x2000}}, protect);
    EXPECT_EQ(s.code(), Err::BadProperty);
}

}  // namespace
