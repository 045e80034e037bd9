// Placement of kernel, initrd and boot data, and the boot-data layout.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "abi/x86_boot.h"
#include "loader/kernel_placement.h"

namespace {

using kho::Err;
using kho::Range;
using kho::RangeSet;

struct Space {
    std::vector<Range> storage = std::vector<Range>(64);
    RangeSet set{storage.data(), storage.size()};
    Space(std::initializer_list<Range> ranges) {
        for (const Range& r : ranges) EXPECT_TRUE(set.add(r));
        set.normalize();
    }
};

constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t GiB = 1ull << 30;

kho::PlacementRequest request(uint64_t initrd = 8 * MiB) {
    kho::PlacementRequest q{};
    q.kernel_size = 0x3f98000;  // Debian 6.1 init_size
    q.kernel_align = 2 * MiB;
    q.kernel_min = 16 * MiB;
    q.kernel_max_end = UINT64_MAX;
    q.initrd_size = initrd;
    q.initrd_max_end = UINT64_MAX;
    q.boot_data_size = 16 * 1024;
    q.boot_data_max_end = 4 * GiB;
    return q;
}

bool inside(const RangeSet& s, uint64_t a, uint64_t size) { return s.contains(a, a + size); }

TEST(FindTopDown, HighestAlignedFit) {
    Space s{{0x100000, 0x900000}, {0x1000000, 0x1f00000}};
    uint64_t a;
    ASSERT_TRUE(kho::find_top_down(s.set, MiB, 2 * MiB, 0, UINT64_MAX, nullptr, 0, &a));
    EXPECT_EQ(a, 0x1e00000u);
    ASSERT_TRUE(kho::find_top_down(s.set, MiB, 4096, 0, 0x1000000, nullptr, 0, &a));
    EXPECT_EQ(a, 0x800000u);
    EXPECT_FALSE(kho::find_top_down(s.set, 16 * MiB, 4096, 0, UINT64_MAX, nullptr, 0, &a));
    EXPECT_FALSE(kho::find_top_down(s.set, MiB, 3, 0, UINT64_MAX, nullptr, 0, &a));  // bad align
}

TEST(FindTopDown, StepsBelowAvoidedRanges) {
    Space s{{0, 64 * MiB}};
    Range avoid[2] = {{60 * MiB, 64 * MiB}, {50 * MiB, 58 * MiB}};
    uint64_t a;
    ASSERT_TRUE(kho::find_top_down(s.set, 4 * MiB, 4096, 0, UINT64_MAX, avoid, 2, &a));
    EXPECT_EQ(a, 46 * MiB);
    ASSERT_TRUE(kho::find_top_down(s.set, 2 * MiB, 4096, 0, UINT64_MAX, avoid, 2, &a));
    EXPECT_EQ(a, 58 * MiB);
}

TEST(Placement, KernelAndInitrdInsideScratchDataOutside) {
    Space scratch{{0x40000000, 0x50000000}};
    Space data{{0x100000, 0x40000000}, {0x50000000, 0x7e000000}};
    kho::Placement p;
    kho::Status s = kho::place_boot_images(scratch.set, data.set, request(), "scratch", &p);
    ASSERT_TRUE(s) << s.message();
    EXPECT_TRUE(inside(scratch.set, p.kernel, 0x3f98000));
    EXPECT_EQ(p.kernel % (2 * MiB), 0u);
    EXPECT_TRUE(inside(scratch.set, p.initrd, 8 * MiB));
    EXPECT_FALSE(Range({p.kernel, p.kernel + 0x3f98000}).overlaps({p.initrd, p.initrd + 8 * MiB}));
    EXPECT_TRUE(inside(data.set, p.boot_data, 16 * 1024));
    EXPECT_LT(p.boot_data, 4 * GiB);
}

TEST(Placement, NeverBelowPrefAddress) {
    // Room only below 16 MiB: a relocatable kernel there would decompress
    // at LOAD_PHYSICAL_ADDR instead, outside the chosen window.
    Space low{{MiB, 15 * MiB}};
    kho::PlacementRequest q = request(0);
    q.kernel_size = 4 * MiB;
    kho::Placement p;
    kho::Status s = kho::place_boot_images(low.set, low.set, q, "RAM", &p);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::NoSpace);
}

TEST(Placement, PrefersBelow4G) {
    Space ram{{0x1000000, 0x40000000}, {0x100000000, 0x200000000}};
    kho::Placement p;
    ASSERT_TRUE(kho::place_boot_images(ram.set, ram.set, request(), "RAM", &p));
    EXPECT_LT(p.kernel, 4 * GiB);
    EXPECT_LT(p.initrd, 4 * GiB);
}

TEST(Placement, GoesAbove4GWhenLowIsFull) {
    Space ram{{0x1000000, 0x2000000}, {0x100000000, 0x200000000}};
    kho::Placement p;
    ASSERT_TRUE(kho::place_boot_images(ram.set, ram.set, request(), "RAM", &p));
    EXPECT_GE(p.kernel, 4 * GiB);
    // Boot data must stay below 4 GiB: it fits in the low range.
    EXPECT_LT(p.boot_data, 4 * GiB);
}

TEST(Placement, RespectsInitrdLimit) {
    Space ram{{0x1000000, 0x200000000}};
    kho::PlacementRequest q = request();
    q.initrd_max_end = 0x80000000;
    kho::Placement p;
    ASSERT_TRUE(kho::place_boot_images(ram.set, ram.set, q, "RAM", &p));
    EXPECT_LE(p.initrd + q.initrd_size, 0x80000000u);
}

TEST(Placement, BootDataIsNeverPlacedInsideScratch) {
    // Regression: with no room outside scratch the boot data (and with it
    // the scratch table) used to go inside scratch, where the consumer's
    // KASLR may overwrite it. Now that is a NoSpace the policy acts on.
    Space scratch{{0x40000000, 0x50000000}};
    Space none{};
    kho::Placement p;
    kho::Status s = kho::place_boot_images(scratch.set, none.set, request(), "scratch", &p);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::NoSpace);
    EXPECT_STREQ(s.message(),
                 "boot data needs 0x4000 bytes below 0x100000000 outside scratch; free: largest 0x0, "
                 "total 0x0");
}

TEST(Placement, TooSmallScratchSaysNeededAndFree) {
    Space scratch{{0x40000000, 0x42000000}};  // 32 MiB
    Space data{{0x100000, 0x40000000}};
    kho::Placement p;
    kho::Status s = kho::place_boot_images(scratch.set, data.set, request(), "scratch", &p);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::NoSpace);
    std::string m = s.message();
    EXPECT_NE(m.find("kernel needs 0x3f98000 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("free scratch: largest 0x2000000, total 0x2000000"), std::string::npos) << m;
}

TEST(Placement, InitrdThatDoesNotFitBesideTheKernel) {
    Space scratch{{0x40000000, 0x44000000}};  // 64 MiB: the kernel fits alone
    Space data{{0x100000, 0x40000000}};
    kho::Placement p;
    kho::Status s = kho::place_boot_images(scratch.set, data.set, request(8 * MiB), "scratch", &p);
    ASSERT_FALSE(s);
    std::string m = s.message();
    EXPECT_NE(m.find("initrd needs 0x800000 bytes"), std::string::npos) << m;
}

TEST(BootDataLayout, PartsAreAlignedAndDisjoint) {
    kho::BootDataLayout l = kho::layout_boot_data(2047, 3, 200, 48);
    EXPECT_EQ(l.boot_params, 0u);
    EXPECT_EQ(l.cmdline, 4096u);
    EXPECT_GE(l.kho_node, l.cmdline + 2048);
    EXPECT_EQ(l.kho_node % 16, 0u);
    EXPECT_GE(l.scratch_table, l.kho_node + 16 + 32);
    EXPECT_GE(l.e820_ext, l.scratch_table + 3 * 16);
    EXPECT_EQ(l.e820_ext_capacity, 200u - 128u);
    EXPECT_GE(l.efi_memmap, l.e820_ext + 16 + 72 * 20);
    EXPECT_EQ(l.efi_memmap % 8, 0u);
    EXPECT_EQ(l.memmap_capacity, 200u * 48);
    EXPECT_GE(l.size, l.efi_memmap + l.memmap_capacity);
    EXPECT_EQ(l.size % 4096, 0u);
    kho::BootDataLayout small = kho::layout_boot_data(10, 0, 50, 48);
    EXPECT_EQ(small.e820_ext_capacity, 0u);
}

}  // namespace
