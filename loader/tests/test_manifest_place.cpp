// Where the handoff image writes its manifest (loader/manifest_place.h).
#include <gtest/gtest.h>

#include <vector>

#include "loader/manifest_place.h"

namespace {

struct Sets {
    std::vector<kho::Range> ram_s{16}, busy_s{16}, free_s{40};
    kho::RangeSet ram{ram_s.data(), ram_s.size()}, busy{busy_s.data(), busy_s.size()},
        free{free_s.data(), free_s.size()};
};

constexpr uint64_t GiB = 1ull << 30, MiB = 1ull << 20;

TEST(ManifestPlace, TopOfRamAboveFourGiB) {
    Sets s;
    ASSERT_TRUE(s.ram.add(0x100000, 2 * GiB));
    ASSERT_TRUE(s.ram.add(4 * GiB, 6 * GiB));
    s.ram.normalize();
    s.busy.normalize();
    uint64_t addr = 0;
    ASSERT_TRUE(kho::choose_manifest_place(s.ram, s.busy, 0x1800, s.free, &addr));
    EXPECT_EQ(addr, 6 * GiB - 0x2000);  // two pages, page aligned, at the top
}

TEST(ManifestPlace, AvoidsPreservedAndScratch) {
    Sets s;
    ASSERT_TRUE(s.ram.add(4 * GiB, 6 * GiB));
    s.ram.normalize();
    ASSERT_TRUE(s.busy.add(6 * GiB - 8 * MiB, 6 * GiB));         // preserved at the very top
    ASSERT_TRUE(s.busy.add(6 * GiB - 9 * MiB, 6 * GiB - 8 * MiB + 0x1000));
    s.busy.normalize();
    uint64_t addr = 0;
    ASSERT_TRUE(kho::choose_manifest_place(s.ram, s.busy, 2 * MiB, s.free, &addr));
    EXPECT_EQ(addr, 6 * GiB - 11 * MiB);
    EXPECT_FALSE(s.busy.intersects(addr, addr + 2 * MiB));
}

TEST(ManifestPlace, LowRamOnlyTakesTheLowestFromSixtyFourMiB) {
    Sets s;
    ASSERT_TRUE(s.ram.add(0x100000, 0x9f000000));  // OVMF writes near this top
    s.ram.normalize();
    ASSERT_TRUE(s.busy.add(64 * MiB, 66 * MiB));
    s.busy.normalize();
    uint64_t addr = 0;
    ASSERT_TRUE(kho::choose_manifest_place(s.ram, s.busy, 0x3000, s.free, &addr));
    EXPECT_EQ(addr, 66 * MiB);
}

TEST(ManifestPlace, TooSmallAboveFourGiBFallsBackLow) {
    Sets s;
    ASSERT_TRUE(s.ram.add(0x100000, 2 * GiB));
    ASSERT_TRUE(s.ram.add(4 * GiB, 4 * GiB + 0x1000));
    s.ram.normalize();
    s.busy.normalize();
    uint64_t addr = 0;
    ASSERT_TRUE(kho::choose_manifest_place(s.ram, s.busy, 0x2000, s.free, &addr));
    EXPECT_EQ(addr, 64 * MiB);
}

TEST(ManifestPlace, NoRoomIsOutOfRam) {
    Sets s;
    ASSERT_TRUE(s.ram.add(0x100000, 64 * MiB));  // nothing from 64 MiB up
    s.ram.normalize();
    s.busy.normalize();
    uint64_t addr = 0;
    kho::Status st = kho::choose_manifest_place(s.ram, s.busy, 0x1000, s.free, &addr);
    EXPECT_FALSE(st);
    EXPECT_EQ(st.code(), kho::Err::OutOfRam);
}

}  // namespace

// The handoff image's command line (loader/handoff_options.h).
#include "loader/handoff_options.h"

namespace {

TEST(HandoffOptions, ManifestLevelFromTheCommandLine) {
    handoff::Options o;
    ASSERT_TRUE(handoff::parse_options("", &o));
    EXPECT_EQ(o.manifest, kho::ManifestLevel::Full);
    ASSERT_TRUE(handoff::parse_options("x=1 khoboot.handoff.manifest=metadata y", &o));
    EXPECT_EQ(o.manifest, kho::ManifestLevel::Metadata);
    ASSERT_TRUE(handoff::parse_options("khoboot.handoff.manifest=none", &o));
    EXPECT_EQ(o.manifest, kho::ManifestLevel::None);
}

TEST(HandoffOptions, BadLevelIsAnErrorNotADefault) {
    handoff::Options o;
    kho::Status s = handoff::parse_options("khoboot.handoff.manifest=most", &o);
    EXPECT_FALSE(s);
    EXPECT_EQ(s.code(), kho::Err::BadEntry);
}

}  // namespace
