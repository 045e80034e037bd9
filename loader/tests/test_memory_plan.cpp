// Memory plan (loader/memory_plan.h): from a firmware memory map (48-byte
// descriptors as OVMF reports them, in any order), the protected set and
// the scratch regions, decide what to allocate, what conflicts with memory
// the firmware owns (named by owner), what overlaps scratch, which scratch
// is not RAM and which scratch is free. Hand-written OVMF-like scenarios,
// then random maps against a page-by-page model.
#include <gtest/gtest.h>

#include <tuple>

#include <string.h>

#include <algorithm>
#include <random>
#include <vector>

#include "abi/efi_memory.h"
#include "loader/tests/range_printing.h"
#include "loader/memory_plan.h"
#include "loader/protection_plan.h"
#include "loader/range_set.h"

using kho::Conflict;
using kho::Err;
using kho::Range;
using kho::RangeSet;
namespace efi = kho::abi::efi;

namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kStride = 48;  // OVMF's DescriptorSize

struct Desc {
    uint32_t type;
    uint64_t start;
    uint64_t pages;
};

// A firmware map with OVMF's stride; the 8 bytes past the descriptor are
// filled with junk, as the spec allows, to catch readers that step by 40.
struct FwMap {
    std::vector<uint8_t> bytes;
    size_t count = 0;
    explicit FwMap(const std::vector<Desc>& ds) {
        bytes.assign(ds.size() * kStride, 0xa5);
        for (const Desc& d : ds) {
            efi::MemoryDescriptor m{};
            m.type = d.type;
            m.physical_start = d.start;
            m.virtual_start = 0;
            m.number_of_pages = d.pages;
            m.attribute = efi::kMemoryWB;
            memcpy(bytes.data() + count * kStride, &m, sizeof m);
            ++count;
        }
    }
    kho::FirmwareMemoryMap view() const { return {bytes.data(), count, kStride}; }
};

struct Set {
    explicit Set(size_t cap, std::vector<Range> rs = {}) : storage(cap), set(storage.data(), cap) {
        for (const Range& r : rs) EXPECT_TRUE(set.add(r).is_ok());
        set.normalize();
    }
    std::vector<Range> storage;
    RangeSet set;
    std::vector<Range> ranges() const { return {set.begin(), set.end()}; }
};

// Owns every buffer a MemoryPlan needs.
struct Plan {
    explicit Plan(size_t cap = 256, size_t conflicts = 64)
        : allocate(cap), scratch_free(cap), overlaps(cap), conflict_store(conflicts) {
        plan.allocate = &allocate.set;
        plan.scratch_free = &scratch_free.set;
        plan.overlaps = &overlaps.set;
        plan.conflicts = conflict_store.data();
        plan.conflict_capacity = conflict_store.size();
    }
    Set allocate, scratch_free, overlaps;
    std::vector<Conflict> conflict_store;
    kho::MemoryPlan plan{};
    std::vector<Conflict> conflicts() const {
        return {conflict_store.begin(),
                conflict_store.begin() + std::min(plan.conflict_count, plan.conflict_capacity)};
    }
};

kho::Status make_plan(const FwMap& map, const Set& protect, const Set& scratch, Plan& p,
                      size_t work_cap = 1024) {
    std::vector<Range> work(work_cap);
    return kho::make_memory_plan(map.view(), protect.set, scratch.set, work.data(), work.size(), p.plan);
}

// An OVMF-like q35 map, 2 GiB below 4 GiB plus 1 GiB above (docs/firmware-facts.md 3).
std::vector<Desc> ovmf_like() {
    return {
        {efi::kBootServicesCode, 0x0, 0xa0},            // 0 - 640K
        {efi::kConventionalMemory, 0x100000, 0x700},    // 1M - 8M
        {efi::kACPIMemoryNVS, 0x800000, 0x8},
        {efi::kConventionalMemory, 0x808000, 0x7f8},    // - 16M
        {efi::kBootServicesData, 0x1000000, 0x704},     // PEI scratch 16M - 0x1704000
        {efi::kConventionalMemory, 0x1704000, 0x7c8fc}, // - 0x7e000000
        {efi::kBootServicesData, 0x7e000000, 0x800},
        {efi::kRuntimeServicesData, 0x7e800000, 0x400},
        {efi::kReservedMemoryType, 0x7ec00000, 0x400},  // - 0x7f000000
        {efi::kMemoryMappedIO, 0xb0000000, 0x10000},    // PCIe ECAM
        {efi::kConventionalMemory, 0x100000000ull, 0x40000},  // 4G - 5G
    };
}

// ---------------------------------------------------------------------------

TEST(MemoryPlan, RamTypesAreWhatLinuxUsesAsRam) {
    for (uint32_t t : std::vector<uint32_t>{efi::kLoaderCode, efi::kLoaderData, efi::kBootServicesCode,
                       efi::kBootServicesData, efi::kConventionalMemory})
        EXPECT_TRUE(kho::efi_type_is_ram(t)) << efi::memory_type_name(t);
    for (uint32_t t : std::vector<uint32_t>{efi::kReservedMemoryType, efi::kRuntimeServicesCode, efi::kRuntimeServicesData,
                       efi::kUnusableMemory, efi::kACPIMemoryNVS, efi::kMemoryMappedIO,
                       efi::kMemoryMappedIOPortSpace, efi::kPalCode, 0x70000000u, 0x80000001u})
        EXPECT_FALSE(kho::efi_type_is_ram(t)) << efi::memory_type_name(t);
}

TEST(MemoryPlan, FirmwareRamAndFreeMemory) {
    FwMap map(ovmf_like());
    Set ram(64), free_mem(64);
    ASSERT_TRUE(kho::firmware_ram(map.view(), ram.set, free_mem.set).is_ok());
    EXPECT_EQ(ram.ranges(), (std::vector<Range>{{0x0, 0xa0000},
                                                 {0x100000, 0x800000},
                                                 {0x808000, 0x7e800000},
                                                 {0x100000000ull, 0x140000000ull}}));
    EXPECT_EQ(free_mem.ranges(), (std::vector<Range>{{0x100000, 0x800000},
                                                      {0x808000, 0x1000000},
                                                      {0x1704000, 0x7e000000},
                                                      {0x100000000ull, 0x140000000ull}}));
}

TEST(MemoryPlan, CleanStateIsAllocatedInFewCalls) {
    FwMap map(ovmf_like());
    // Protected ranges that touch (24M-32M and 32M-33M) become one
    // AllocatePages call; the one above 4 GiB another.
    Set protect(8, {{0x2000000, 0x2100000}, {0x1800000, 0x2000000}, {0x110000000ull, 0x110001000ull}});
    Set scratch(8, {{0x4000000, 0x8000000}});
    Plan p;
    kho::Status s = make_plan(map, protect, scratch, p);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(p.allocate.ranges(), (std::vector<Range>{{0x1800000, 0x2100000}, {0x110000000ull, 0x110001000ull}}));
    EXPECT_EQ(p.plan.conflict_count, 0u);
    EXPECT_EQ(p.overlaps.set.size(), 0u);
    EXPECT_TRUE(p.plan.bad_scratch.empty());
    EXPECT_EQ(p.scratch_free.ranges(), (std::vector<Range>{{0x4000000, 0x8000000}}));
}

TEST(MemoryPlan, ConflictWithBootServicesDataNamesTheOwner) {
    // The PEI scratch area OVMF reuses (docs/firmware-facts.md 2.2): preserved memory
    // there would be silently overwritten.
    FwMap map(ovmf_like());
    Set protect(8, {{0x1600000, 0x1800000}});
    Set scratch(8, {{0x4000000, 0x8000000}});
    Plan p;
    ASSERT_TRUE(make_plan(map, protect, scratch, p).is_ok());
    ASSERT_EQ(p.plan.conflict_count, 1u);
    EXPECT_EQ(p.conflicts()[0].range, (Range{0x1600000, 0x1704000}));
    EXPECT_EQ(p.conflicts()[0].owner, uint32_t(efi::kBootServicesData));
    // Only the free part is allocatable.
    EXPECT_EQ(p.allocate.ranges(), (std::vector<Range>{{0x1704000, 0x1800000}}));
}

TEST(MemoryPlan, ConflictsWithMmioRuntimeAndHoles) {
    FwMap map(ovmf_like());
    Set protect(8, {{0x7e7ff000, 0x7f001000},     // BSData, RTData, Reserved, hole
                    {0xb0000000, 0xb0002000},     // MMIO
                    {0x140000000ull, 0x140001000ull}});  // past the end of RAM
    Set scratch(8, {{0x4000000, 0x8000000}});
    Plan p;
    ASSERT_TRUE(make_plan(map, protect, scratch, p).is_ok());
    std::vector<Conflict> c = p.conflicts();
    std::sort(c.begin(), c.end(), [](const Conflict& a, const Conflict& b) { return a.range.start < b.range.start; });
    ASSERT_EQ(c.size(), 6u);
    EXPECT_EQ(c[0].range, (Range{0x7e7ff000, 0x7e800000}));
    EXPECT_EQ(c[0].owner, uint32_t(efi::kBootServicesData));
    EXPECT_EQ(c[1].range, (Range{0x7e800000, 0x7ec00000}));
    EXPECT_EQ(c[1].owner, uint32_t(efi::kRuntimeServicesData));
    EXPECT_EQ(c[2].range, (Range{0x7ec00000, 0x7f000000}));
    EXPECT_EQ(c[2].owner, uint32_t(efi::kReservedMemoryType));
    EXPECT_EQ(c[3].range, (Range{0x7f000000, 0x7f001000}));
    EXPECT_EQ(c[3].owner, Conflict::kNotInMap);
    EXPECT_EQ(c[4].range, (Range{0xb0000000, 0xb0002000}));
    EXPECT_EQ(c[4].owner, uint32_t(efi::kMemoryMappedIO));
    EXPECT_EQ(c[5].range, (Range{0x140000000ull, 0x140001000ull}));
    EXPECT_EQ(c[5].owner, Conflict::kNotInMap);
    EXPECT_EQ(p.allocate.set.size(), 0u);
}

TEST(MemoryPlan, ConflictCountGoesOnPastCapacity) {
    FwMap map(ovmf_like());
    std::vector<Range> rs;
    for (uint64_t i = 0; i < 10; ++i) rs.push_back({0xb0000000 + i * 0x2000, 0xb0001000 + i * 0x2000});
    Set protect(16, rs);
    Set scratch(4, {{0x4000000, 0x8000000}});
    Plan p(256, 3);
    ASSERT_TRUE(make_plan(map, protect, scratch, p).is_ok());
    EXPECT_EQ(p.plan.conflict_count, 10u);
    ASSERT_EQ(p.conflicts().size(), 3u);
    for (const Conflict& c : p.conflicts()) EXPECT_EQ(c.owner, uint32_t(efi::kMemoryMappedIO));
}

TEST(MemoryPlan, PreservedMemoryInScratchIsReported) {
    FwMap map(ovmf_like());
    Set protect(8, {{0x4100000, 0x4102000}, {0x7fff000, 0x8001000}});
    Set scratch(8, {{0x4000000, 0x8000000}});
    Plan p;
    ASSERT_TRUE(make_plan(map, protect, scratch, p).is_ok());
    EXPECT_EQ(p.overlaps.ranges(), (std::vector<Range>{{0x4100000, 0x4102000}, {0x7fff000, 0x8000000}}));
    // Free scratch never includes protected memory.
    EXPECT_EQ(p.scratch_free.ranges(),
              (std::vector<Range>{{0x4000000, 0x4100000}, {0x4102000, 0x7fff000}}));
}

TEST(MemoryPlan, ScratchThatIsNotRamIsReported) {
    FwMap map(ovmf_like());
    Set protect(8, {{0x2000000, 0x2001000}});
    // Second region runs from RAM into RuntimeServicesData.
    Set scratch(8, {{0x4000000, 0x6000000}, {0x7e000000, 0x7ea00000}});
    Plan p;
    ASSERT_TRUE(make_plan(map, protect, scratch, p).is_ok());
    EXPECT_FALSE(p.plan.bad_scratch.empty());
    EXPECT_EQ(p.plan.bad_scratch.start, 0x7e800000u);
    EXPECT_LE(p.plan.bad_scratch.end, 0x7ea00000u);
    // BootServicesData is RAM for Linux but not free now: not free scratch.
    EXPECT_EQ(p.scratch_free.ranges(), (std::vector<Range>{{0x4000000, 0x6000000}}));
}

TEST(MemoryPlan, ScratchInAHoleIsReported) {
    FwMap map(ovmf_like());
    Set protect(8, {});
    Set scratch(8, {{0x80000000, 0x82000000}});
    Plan p;
    ASSERT_TRUE(make_plan(map, protect, scratch, p).is_ok());
    EXPECT_EQ(p.plan.bad_scratch, (Range{0x80000000, 0x82000000}));
    EXPECT_EQ(p.scratch_free.set.size(), 0u);
}

TEST(MemoryPlan, DescriptorOrderDoesNotMatter) {
    std::vector<Desc> ds = ovmf_like();
    Set protect(8, {{0x1600000, 0x1800000}, {0x7e7ff000, 0x7f001000}, {0x3000000, 0x3001000}});
    Set scratch(8, {{0x4000000, 0x8000000}, {0x7e000000, 0x7ea00000}});
    FwMap sorted_map(ds);
    Plan ref;
    ASSERT_TRUE(make_plan(sorted_map, protect, scratch, ref).is_ok());
    std::mt19937_64 rng(5);
    for (int i = 0; i < 10; ++i) {
        std::shuffle(ds.begin(), ds.end(), rng);
        FwMap map(ds);
        Plan p;
        ASSERT_TRUE(make_plan(map, protect, scratch, p).is_ok());
        EXPECT_EQ(p.allocate.ranges(), ref.allocate.ranges());
        EXPECT_EQ(p.scratch_free.ranges(), ref.scratch_free.ranges());
        EXPECT_EQ(p.overlaps.ranges(), ref.overlaps.ranges());
        EXPECT_EQ(p.plan.conflict_count, ref.plan.conflict_count);
        EXPECT_EQ(p.plan.bad_scratch, ref.plan.bad_scratch);
    }
}

TEST(MemoryPlan, MalformedDescriptorIsRefused) {
    // A descriptor that wraps the address space must not be read as RAM.
    FwMap map({{efi::kConventionalMemory, 0x100000, 0x100},
               {efi::kConventionalMemory, 0xfffffffffff00000ull, 0x1000}});
    Set ram(8), free_mem(8);
    EXPECT_FALSE(kho::firmware_ram(map.view(), ram.set, free_mem.set).is_ok());
}

// Regression (issue 9, defect 8): the loader's PhysMem took the firmware
// map as trusted (no wrap check, a fixed 1,024 ranges). It now uses this
// same checked path; one range per descriptor at most, whatever the order.
TEST(MemoryPlan, RamOnlyViewOfAHostileMap) {
    std::vector<Desc> ds;
    for (uint64_t i = 0; i < 64; ++i)  // reversed, overlapping pairs, split by MMIO
        ds.push_back({i % 3 == 2 ? efi::kMemoryMappedIO : efi::kConventionalMemory,
                      0x10000000 - i * 0x100000, 0x180});
    FwMap map(ds);
    Set ram(ds.size());
    kho::Status s = kho::firmware_ram(map.view(), ram.set);
    ASSERT_TRUE(s) << s.message();
    for (size_t i = 1; i < ram.set.size(); ++i) EXPECT_LT(ram.set[i - 1].end, ram.set[i].start);
    FwMap wrapped({{efi::kConventionalMemory, 0x100000, 0x100},
                   {efi::kLoaderData, 0xfffffffffff00000ull, 0x1000}});
    s = kho::firmware_ram(wrapped.view(), ram.set);
    ASSERT_FALSE(s);
    EXPECT_STREQ(s.message(), "memory map descriptor 1 (0xfffffffffff00000, 4096 pages) is malformed");
    FwMap unaligned({{efi::kConventionalMemory, 0x100800, 0x100}});
    EXPECT_EQ(kho::firmware_ram(unaligned.view(), ram.set).code(), kho::Err::Io);
}

TEST(MemoryPlan, SmallWorkBufferIsACapacityError) {
    // 40 alternating descriptors: 20 separate free ranges.
    std::vector<Desc> ds;
    for (uint64_t i = 0; i < 40; ++i)
        ds.push_back({i % 2 ? efi::kBootServicesData : efi::kConventionalMemory, 0x100000 + i * 0x10000, 0x10});
    FwMap map(ds);
    Set protect(4, {{0x100000, 0x101000}});
    Set scratch(4, {{0x200000, 0x300000}});
    Plan p;
    EXPECT_EQ(make_plan(map, protect, scratch, p, 8).code(), Err::Capacity);
    Plan q(2);  // allocate/overlaps/scratch_free outputs of capacity 2
    Set many(32);
    for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(many.set.add(0x100000 + i * 0x20000, 0x101000 + i * 0x20000).is_ok());
    many.set.normalize();
    EXPECT_EQ(make_plan(map, many, scratch, q).code(), Err::Capacity);
}

// ---------------------------------------------------------------------------
// Random maps against a page-by-page model.

constexpr uint64_t kBase = 0x10000000;
constexpr uint64_t kPages = 600;
constexpr int kHole = -1;

TEST(MemoryPlan, RandomMapsMatchThePageModel) {
    const uint32_t types[] = {efi::kConventionalMemory, efi::kConventionalMemory, efi::kConventionalMemory,
                              efi::kBootServicesData,   efi::kBootServicesCode,   efi::kLoaderData,
                              efi::kRuntimeServicesData, efi::kReservedMemoryType, efi::kMemoryMappedIO,
                              efi::kACPIMemoryNVS,       efi::kUnusableMemory};
    std::mt19937_64 rng(2024);
    for (int round = 0; round < 150; ++round) {
        SCOPED_TRACE(round);
        // Partition the pages into runs of random type or holes.
        std::vector<int> type(kPages, kHole);
        std::vector<Desc> ds;
        for (uint64_t p = 0; p < kPages;) {
            uint64_t len = std::min<uint64_t>(kPages - p, 1 + rng() % 60);
            if (rng() % 6 != 0) {
                uint32_t t = types[rng() % (sizeof types / sizeof types[0])];
                ds.push_back({t, kBase + p * kPage, len});
                for (uint64_t i = p; i < p + len; ++i) type[i] = int(t);
            }
            p += len;
        }
        std::shuffle(ds.begin(), ds.end(), rng);
        auto random_ranges = [&](int n, uint64_t maxlen) {
            std::vector<Range> rs;
            for (int i = 0; i < n; ++i) {
                uint64_t s = rng() % kPages, len = 1 + rng() % maxlen;
                rs.push_back({kBase + s * kPage, kBase + std::min(kPages, s + len) * kPage});
            }
            return rs;
        };
        Set protect(64, random_ranges(int(rng() % 12), 20));
        Set scratch(16, random_ranges(1 + int(rng() % 3), 120));
        FwMap map(ds);
        Plan plan(256, 256);
        kho::Status s = make_plan(map, protect, scratch, plan);
        ASSERT_TRUE(s.is_ok()) << s.message();

        std::vector<bool> prot(kPages), scr(kPages);
        for (const Range& r : protect.ranges())
            for (uint64_t a = r.start; a < r.end; a += kPage) prot[(a - kBase) / kPage] = true;
        for (const Range& r : scratch.ranges())
            for (uint64_t a = r.start; a < r.end; a += kPage) scr[(a - kBase) / kPage] = true;
        auto is_free = [&](uint64_t i) { return type[i] == int(efi::kConventionalMemory); };
        auto is_ram = [&](uint64_t i) {
            return type[i] != kHole && kho::efi_type_is_ram(uint32_t(type[i]));
        };
        auto to_ranges = [&](auto pred) {
            std::vector<Range> out;
            for (uint64_t i = 0; i < kPages;) {
                if (!pred(i)) {
                    ++i;
                    continue;
                }
                uint64_t j = i;
                while (j < kPages && pred(j)) ++j;
                out.push_back({kBase + i * kPage, kBase + j * kPage});
                i = j;
            }
            return out;
        };
        EXPECT_EQ(plan.allocate.ranges(), to_ranges([&](uint64_t i) { return prot[i] && is_free(i); }));
        EXPECT_EQ(plan.overlaps.ranges(), to_ranges([&](uint64_t i) { return prot[i] && scr[i]; }));
        EXPECT_EQ(plan.scratch_free.ranges(),
                  to_ranges([&](uint64_t i) { return scr[i] && is_free(i) && !prot[i]; }));

        // Conflicts: together exactly the protected pages that are not free,
        // each piece owned by the type the map gives its pages.
        ASSERT_LE(plan.plan.conflict_count, plan.plan.conflict_capacity);
        std::vector<int> covered(kPages, 0);
        for (const Conflict& c : plan.conflicts()) {
            ASSERT_LT(c.range.start, c.range.end);
            for (uint64_t a = c.range.start; a < c.range.end; a += kPage) {
                uint64_t i = (a - kBase) / kPage;
                ASSERT_LT(i, kPages);
                ++covered[i];
                int expect = type[i] == kHole ? int(Conflict::kNotInMap) : type[i];
                EXPECT_EQ(int(c.owner), expect) << std::hex << a;
            }
        }
        for (uint64_t i = 0; i < kPages; ++i)
            EXPECT_EQ(covered[i], prot[i] && !is_free(i) ? 1 : 0) << "page " << i;

        // bad_scratch: the first scratch page (by address) that is not RAM
        // starts it, and it covers only non-RAM scratch pages.
        uint64_t first_bad = kPages;
        for (uint64_t i = 0; i < kPages; ++i)
            if (scr[i] && !is_ram(i)) {
                first_bad = i;
                break;
            }
        if (first_bad == kPages) {
            EXPECT_TRUE(plan.plan.bad_scratch.empty());
        } else {
            ASSERT_FALSE(plan.plan.bad_scratch.empty());
            EXPECT_EQ(plan.plan.bad_scratch.start, kBase + first_bad * kPage);
            for (uint64_t a = plan.plan.bad_scratch.start; a < plan.plan.bad_scratch.end; a += kPage) {
                uint64_t i = (a - kBase) / kPage;
                EXPECT_TRUE(scr[i] && !is_ram(i)) << std::hex << a;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The streaming planner (loader/protection_plan.h): protection per free
// region, conflicts still range by range.

struct Planner {
    explicit Planner(const FwMap& map, const Set& scratch, size_t outside = 256)
        : regions(map.count + 1), hulls(map.count + 1), out(outside),
          planner(view = map.view(), scratch.set,
                  kho::ProtectionStorage{regions.data(), hulls.data(), regions.size(), out.data(), out.size()}) {}
    kho::FirmwareMemoryMap view;
    std::vector<Range> regions, hulls, out;
    kho::ProtectionPlanner planner;
};

kho::Status plan_streaming(const FwMap& map, const std::vector<Range>& preserved, const Set& scratch,
                           Plan& p, uint64_t* calls_seen = nullptr) {
    Planner pl(map, scratch);
    KHO_TRY(pl.planner.begin());
    for (const Range& r : preserved) KHO_TRY(pl.planner.add(r));
    if (calls_seen) *calls_seen = pl.planner.ranges_seen();
    std::vector<Range> work(2 * (map.count + scratch.set.size()) + 8);
    return pl.planner.finish(work.data(), work.size(), p.plan);
}

TEST(ProtectionPlan, AHundredThousandScatteredPagesAreOneAllocation) {
    FwMap map(ovmf_like());
    Set scratch(8, {{0x4000000, 0x8000000}});
    std::vector<Range> pages;
    for (uint64_t i = 0; i < 100000; ++i)  // every other page from 4 GiB up, backwards
        pages.push_back({0x100000000ull + (199999 - 2 * i) * kPage, 0x100000000ull + (200000 - 2 * i) * kPage});
    Plan p;
    kho::Status s = plan_streaming(map, pages, scratch, p);
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(p.allocate.ranges(), (std::vector<Range>{{0x100001000ull, 0x100001000ull + 199999 * kPage}}));
    EXPECT_EQ(p.plan.conflict_count, 0u);
    EXPECT_EQ(p.overlaps.set.size(), 0u);
}

TEST(ProtectionPlan, HullsStopAtScratch) {
    FwMap map(ovmf_like());
    Set scratch(8, {{0x4000000, 0x8000000}});
    Plan p;
    ASSERT_TRUE(plan_streaming(map, {{0x2000000, 0x2001000}, {0x9000000, 0x9001000}}, scratch, p));
    EXPECT_EQ(p.allocate.ranges(), (std::vector<Range>{{0x2000000, 0x4000000}, {0x8000000, 0x9001000}}));
    EXPECT_EQ(p.scratch_free.ranges(), (std::vector<Range>{{0x4000000, 0x8000000}}));
}

TEST(ProtectionPlan, PreservedInScratchIsNamedExactly) {
    FwMap map(ovmf_like());
    Set scratch(8, {{0x4000000, 0x8000000}});
    Plan p;
    ASSERT_TRUE(plan_streaming(map, {{0x3fff000, 0x4002000}, {0x5000000, 0x5001000}}, scratch, p));
    EXPECT_EQ(p.overlaps.ranges(), (std::vector<Range>{{0x4000000, 0x4002000}}));
}

// Against the exact planner and a page model on random maps: conflicts are
// the same, range by range; what is allocated covers every preserved free
// page, is free and outside scratch, and needs at most one call per free
// region and scratch range.
TEST(ProtectionPlan, RandomMapsAgreeWithTheExactPlan) {
    std::mt19937_64 rng(77);
    for (int round = 0; round < 150; ++round) {
        SCOPED_TRACE(round);
        std::vector<Desc> ds;
        std::vector<uint32_t> type(kPages, 0xffffffff);
        for (uint64_t pg = 0; pg < kPages;) {
            uint64_t len = std::min<uint64_t>(kPages - pg, 1 + rng() % 200);
            uint32_t t = rng() % 4 ? efi::kConventionalMemory
                                   : (rng() % 2 ? efi::kBootServicesData : efi::kACPIMemoryNVS);
            if (rng() % 8) {
                ds.push_back({t, kBase + pg * kPage, len});
                for (uint64_t i = pg; i < pg + len; ++i) type[i] = t;
            }
            pg += len;
        }
        std::shuffle(ds.begin(), ds.end(), rng);
        FwMap map(ds);
        std::vector<Range> preserved;
        for (int i = 0, n = int(rng() % 300); i < n; ++i) {
            uint64_t st = rng() % kPages, len = 1 + rng() % 4;
            preserved.push_back({kBase + st * kPage, kBase + std::min(kPages, st + len) * kPage});
        }
        uint64_t sp = rng() % kPages;
        Set scratch(4, {{kBase + sp * kPage, kBase + std::min(kPages, sp + 1 + rng() % 100) * kPage}});
        Plan streamed(4096, 4096), exact(4096, 4096);
        kho::Status s = plan_streaming(map, preserved, scratch, streamed);
        ASSERT_TRUE(s) << s.message();
        Set protect(4096, preserved);
        ASSERT_TRUE(make_plan(map, protect, scratch, exact, 8192));

        // Ranges touching scratch are overlaps, not conflicts, when streamed.
        std::vector<Range> clear_of_scratch;
        for (const Range& r : preserved)
            if (!scratch.set.intersects(r.start, r.end)) clear_of_scratch.push_back(r);
        Set clear(4096, clear_of_scratch);
        Plan exact_clear(4096, 4096);
        ASSERT_TRUE(make_plan(map, clear, scratch, exact_clear, 8192));
        auto flat = [](const std::vector<Conflict>& cs) {
            std::vector<std::tuple<uint64_t, uint64_t, uint32_t>> out;
            for (const Conflict& c : cs) out.emplace_back(c.range.start, c.range.end, c.owner);
            return out;
        };
        EXPECT_EQ(flat(streamed.conflicts()), flat(exact_clear.conflicts()));
        EXPECT_EQ(streamed.plan.conflict_count, exact_clear.plan.conflict_count);
        EXPECT_EQ(streamed.overlaps.set.size() != 0, exact.overlaps.set.size() != 0);
        if (!exact.overlaps.ranges().empty()) {
            EXPECT_TRUE(exact.overlaps.set.contains(streamed.overlaps.set[0].start, streamed.overlaps.set[0].end));
        }
        EXPECT_EQ(streamed.scratch_free.ranges(), exact_clear.scratch_free.ranges());
        size_t regions = 0;
        Set ram(64), free_mem(64);
        ASSERT_TRUE(kho::firmware_ram(map.view(), ram.set, free_mem.set));
        regions = free_mem.set.size();
        EXPECT_LE(streamed.allocate.set.size(), regions + scratch.set.size());
        // A state with conflicts is refused whatever is allocated; one
        // without has every preserved page inside what is allocated.
        if (exact_clear.plan.conflict_count == 0) {
            for (const Range& r : exact_clear.allocate.ranges())
                EXPECT_TRUE(streamed.allocate.set.contains(r.start, r.end)) << r;
        }
        for (const Range& r : streamed.allocate.ranges()) {
            EXPECT_TRUE(free_mem.set.contains(r.start, r.end)) << r;
            EXPECT_FALSE(scratch.set.intersects(r.start, r.end)) << r;
        }
    }
}

}  // namespace
