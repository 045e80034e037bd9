// The RAM-retention probe's core (loader/ram_probe.h): the pattern, what
// an arm fills, the records, the comparison and the known-clobbered
// verdict. Expected values come from the ABI's documented formula and
// from the layouts the tests build, never from the code under test.
#include <gtest/gtest.h>
#include <string.h>

#include <memory>
#include <vector>

#include "fake_phys_mem.h"
#include "loader/ram_probe.h"

namespace {

namespace probe = kho::abi::probe;
namespace efi = kho::abi::efi;
using kho::Range;

// abi/ram_probe.h, written out here: ((a ^ salt) * mul) ^ xor.
uint64_t documented_word(uint64_t a, uint64_t salt) {
    return ((a ^ salt) * 0x9E3779B97F4A7C15ull) ^ 0x4B484F4250524F42ull;
}

void fill_independently(khotest::FakePhysMem& mem, uint64_t start, uint64_t end, uint64_t salt) {
    for (uint64_t a = start; a < end; a += 8) ASSERT_TRUE(mem.write_u64(a, documented_word(a, salt)));
}

// A firmware memory map built from (start, end, type) triples.
struct Map {
    std::vector<efi::MemoryDescriptor> d;
    void add(uint64_t start, uint64_t end, uint32_t type) {
        efi::MemoryDescriptor x{};
        x.type = type;
        x.physical_start = start;
        x.number_of_pages = (end - start) / 4096;
        d.push_back(x);
    }
    kho::FirmwareMemoryMap view() const {
        return {reinterpret_cast<const uint8_t*>(d.data()), d.size(), sizeof(efi::MemoryDescriptor)};
    }
};

TEST(RamProbePattern, WordsFollowTheDocumentedFormula) {
    const uint64_t salt = 0x123456789abc000ull;
    for (uint64_t a : {0x1000ull, 0x7fff8ull, 0x100000000ull, 0xfffffffff000ull})
        EXPECT_EQ(kho::probe_word(a, salt), documented_word(a, salt)) << std::hex << a;
    alignas(8) uint8_t page[4096];
    kho::probe_fill(page, 0x5000, sizeof(page), salt);
    for (size_t i = 0; i < 512; i++) {
        uint64_t w;
        memcpy(&w, page + 8 * i, 8);
        ASSERT_EQ(w, documented_word(0x5000 + 8 * i, salt)) << i;
    }
}

TEST(RamProbePattern, AnyChangedByteOrMovedPageIsNotIntact) {
    for (uint64_t salt : {0xabcd000ull, 0xabcdff8ull /* bits inside the page: the slow path */}) {
        alignas(8) uint8_t page[4096];
        for (size_t i = 0; i < 512; i++) {
            uint64_t w = documented_word(0x200000 + 8 * i, salt);
            memcpy(page + 8 * i, &w, 8);
        }
        EXPECT_TRUE(kho::probe_page_intact(page, 0x200000, salt));
        EXPECT_FALSE(kho::probe_page_intact(page, 0x201000, salt)) << "the same bytes one page on";
        EXPECT_FALSE(kho::probe_page_intact(page, 0x200000, salt ^ 0x1000000)) << "another probe's salt";
        for (size_t at : {0ul, 7ul, 2048ul, 4095ul}) {
            page[at] ^= 0x10;
            EXPECT_FALSE(kho::probe_page_intact(page, 0x200000, salt)) << at;
            page[at] ^= 0x10;
        }
    }
}

TEST(RamProbeArm, ReserveIsTheTopOfTheHighestFreeRangeBelow4G) {
    Map m;
    m.add(0x1000, 0x9f000, efi::kConventionalMemory);
    m.add(0x100000, 0x3000000, efi::kConventionalMemory);
    m.add(0x3000000, 0x3100000, efi::kBootServicesData);
    m.add(0x3100000, 0x3500000, efi::kConventionalMemory);  // 4 MiB: too small for 8
    m.add(0x100000000, 0x140000000, efi::kConventionalMemory);  // above 4 GiB
    Range r = kho::probe_reserve(m.view(), 8 << 20);
    EXPECT_EQ(r.start, 0x3000000u - (8 << 20));
    EXPECT_EQ(r.end, 0x3000000u);
    Map high;  // nothing below 4 GiB large enough: the largest range's top
    high.add(0x100000, 0x200000, efi::kConventionalMemory);
    high.add(0x100000000, 0x140000000, efi::kConventionalMemory);
    r = kho::probe_reserve(high.view(), 8 << 20);
    EXPECT_EQ(r.end, 0x140000000u);
    EXPECT_EQ(r.size(), 8u << 20);
}

TEST(RamProbeArm, FillsConventionalMemoryOnlyLeavingPageZeroAndTheReserve) {
    Map m;
    m.add(0x0, 0xa0000, efi::kConventionalMemory);
    m.add(0x100000, 0x800000, efi::kBootServicesCode);
    m.add(0x800000, 0x2000000, efi::kConventionalMemory);
    m.add(0x2000000, 0x2001000, efi::kACPIMemoryNVS);
    m.add(0x2001000, 0x4000000, efi::kConventionalMemory);
    Range store[16];
    kho::RangeSet fill(store, 16);
    ASSERT_TRUE(kho::probe_fill_plan(m.view(), Range{0x3000000, 0x3800000}, fill));
    ASSERT_EQ(fill.size(), 4u);
    EXPECT_EQ(fill[0].start, 0x1000u);
    EXPECT_EQ(fill[0].end, 0xa0000u);
    EXPECT_EQ(fill[1].start, 0x800000u);
    EXPECT_EQ(fill[1].end, 0x2000000u);
    EXPECT_EQ(fill[2].start, 0x2001000u);
    EXPECT_EQ(fill[2].end, 0x3000000u);
    EXPECT_EQ(fill[3].start, 0x3800000u);
    EXPECT_EQ(fill[3].end, 0x4000000u);
}

TEST(RamProbeArm, TheRecordsBoundCapsTheFill) {
    Map m;
    for (uint64_t i = 0; i < 10; i++) m.add(0x100000 + i * 0x2000, 0x101000 + i * 0x2000, efi::kConventionalMemory);
    Range store[4];
    kho::RangeSet fill(store, 4);
    ASSERT_TRUE(kho::probe_fill_plan(m.view(), Range{0, 0}, fill));
    EXPECT_EQ(fill.size(), 4u);
}

std::vector<uint8_t> armed_bytes(const std::vector<Range>& ranges, uint64_t salt) {
    Range store[probe::kMaxFilledRanges];
    kho::RangeSet set(store, probe::kMaxFilledRanges);
    for (const Range& r : ranges) EXPECT_TRUE(set.add(r));
    set.normalize();
    std::vector<uint8_t> out(probe::kMaxArmedBytes);
    size_t len = 0;
    EXPECT_TRUE(kho::encode_probe_armed(set, salt, out.data(), out.size(), &len));
    out.resize(len);
    return out;
}

TEST(RamProbeRecord, ArmedRoundTripsAndLaysOutAsTheAbiSays) {
    auto bytes = armed_bytes({{0x100000, 0x200000}, {0x300000, 0x304000}}, 0x5000);
    ASSERT_EQ(bytes.size(), 48u + 2 * 16u);
    uint64_t magic;
    memcpy(&magic, bytes.data(), 8);
    EXPECT_EQ(memcmp(bytes.data(), "KKPPBARM", 8), 0);
    uint64_t first_start;
    memcpy(&first_start, bytes.data() + 48, 8);
    EXPECT_EQ(first_start, 0x100000u);
    std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
    memcpy(aligned.data(), bytes.data(), bytes.size());
    kho::ProbeArmed a;
    ASSERT_TRUE(kho::parse_probe_armed(aligned.data(), bytes.size(), &a));
    EXPECT_EQ(a.salt, 0x5000u);
    EXPECT_EQ(a.count, 2u);
    EXPECT_EQ(a.filled_bytes, 0x100000u + 0x4000u);
    EXPECT_EQ(a.ranges[1].end, 0x304000u);
}

TEST(RamProbeRecord, DamagedArmedRecordsAreRefusedWithAReason) {
    auto good = armed_bytes({{0x100000, 0x200000}, {0x300000, 0x304000}}, 0x5000);
    auto parse = [](std::vector<uint8_t> b) {
        std::vector<uint64_t> aligned((b.size() + 7) / 8 + 1);
        memcpy(aligned.data(), b.data(), b.size());
        kho::ProbeArmed a;
        return kho::parse_probe_armed(aligned.data(), b.size(), &a);
    };
    auto flipped = good;
    flipped[60] ^= 1;  // inside the second range: the CRC no longer matches
    kho::Status s = parse(flipped);
    EXPECT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("crc32"), std::string::npos) << s.message();
    auto cut = good;
    cut.resize(cut.size() - 16);
    EXPECT_FALSE(parse(cut));
    EXPECT_FALSE(parse(std::vector<uint8_t>(good.begin(), good.begin() + 20)));
    auto versioned = good;
    versioned[8] = 2;
    EXPECT_FALSE(parse(versioned));
}

struct Filled {
    khotest::FakePhysMem mem;
    std::vector<uint8_t> record;
    std::vector<uint64_t> aligned;
    kho::ProbeArmed armed;
    static constexpr uint64_t kSalt = 0x77777000;
    explicit Filled(const std::vector<Range>& ranges) {
        for (const Range& r : ranges) {
            mem.add_backed(r.start, r.size());
            fill_independently(mem, r.start, r.end, kSalt);
        }
        record = armed_bytes(ranges, kSalt);
        aligned.resize(record.size() / 8 + 1);
        memcpy(aligned.data(), record.data(), record.size());
        EXPECT_TRUE(kho::parse_probe_armed(aligned.data(), record.size(), &armed));
    }
    void scribble(uint64_t addr) { ASSERT_TRUE(mem.write_u64(addr, 0)); }
};

TEST(RamProbeCheck, IntactFillReportsNothing) {
    Filled f({{0x100000, 0x180000}});
    Map m;
    m.add(0x100000, 0x180000, efi::kConventionalMemory);
    auto r = std::make_unique<kho::ProbeResult>();
    kho::probe_compare(f.armed, f.mem, m.view(), r.get());
    EXPECT_EQ(r->total, 0u);
    EXPECT_EQ(r->changed_bytes, 0u);
    EXPECT_EQ(r->filled_bytes, 0x80000u);
}

TEST(RamProbeCheck, ChangedPagesCoalescePerOwnerAndPerFilledRange) {
    Filled f({{0x100000, 0x180000}, {0x200000, 0x240000}});
    f.scribble(0x101ff8);  // last word of page 0x101000
    f.scribble(0x102000);
    f.scribble(0x103800);  // pages 0x101000-0x104000 changed
    f.scribble(0x17f000);  // last page of the first range ...
    f.scribble(0x200000);  // ... and first of the second: two entries, not one
    Map m;  // after the reset: the firmware owns part of the first run
    m.add(0x100000, 0x102000, efi::kBootServicesData);
    m.add(0x102000, 0x180000, efi::kConventionalMemory);
    m.add(0x200000, 0x240000, efi::kConventionalMemory);
    auto r = std::make_unique<kho::ProbeResult>();
    kho::probe_compare(f.armed, f.mem, m.view(), r.get());
    ASSERT_EQ(r->count, 4u);
    EXPECT_EQ(r->total, 4u);
    const std::vector<probe::ChangedRange> want = {
        {0x101000, 0x102000, efi::kBootServicesData, 0},
        {0x102000, 0x104000, efi::kConventionalMemory, 0},
        {0x17f000, 0x180000, efi::kConventionalMemory, 0},
        {0x200000, 0x201000, efi::kConventionalMemory, 0},
    };
    for (size_t i = 0; i < want.size(); i++) {
        EXPECT_EQ(r->changes[i].start, want[i].start) << i;
        EXPECT_EQ(r->changes[i].end, want[i].end) << i;
        EXPECT_EQ(r->changes[i].type, want[i].type) << i;
    }
    EXPECT_EQ(r->changed_bytes, 0x3000u + 0x1000u + 0x1000u);
}

TEST(RamProbeCheck, PagesNoLongerReadableOrMappedAreChanged) {
    Filled f({{0x100000, 0x110000}});
    khotest::FakePhysMem partial;  // only the first half still backed
    partial.add_backed(0x100000, 0x8000);
    fill_independently(partial, 0x100000, 0x108000, Filled::kSalt);
    Map m;
    m.add(0x100000, 0x10c000, efi::kConventionalMemory);  // 0x10c000.. not in the map
    auto r = std::make_unique<kho::ProbeResult>();
    kho::probe_compare(f.armed, partial, m.view(), r.get());
    ASSERT_EQ(r->count, 2u);
    EXPECT_EQ(r->changes[0].start, 0x108000u);
    EXPECT_EQ(r->changes[0].end, 0x10c000u);
    EXPECT_EQ(r->changes[1].start, 0x10c000u);
    EXPECT_EQ(r->changes[1].end, 0x110000u);
    EXPECT_EQ(r->changes[1].type, probe::kTypeNotInMap);
    EXPECT_STREQ(kho::probe_owner_name(r->changes[1].type), "not-in-map");
}

TEST(RamProbeCheck, ResultListIsBoundedButTotalsCountEverything) {
    const uint64_t n = probe::kMaxChangedRanges + 44;
    Filled f({{0x100000, 0x100000 + 2 * n * 4096}});
    for (uint64_t i = 0; i < n; i++) f.scribble(0x100000 + 2 * i * 4096);
    Map m;
    m.add(0x100000, 0x100000 + 2 * n * 4096, efi::kConventionalMemory);
    auto r = std::make_unique<kho::ProbeResult>();
    kho::probe_compare(f.armed, f.mem, m.view(), r.get());
    EXPECT_EQ(r->count, probe::kMaxChangedRanges);
    EXPECT_EQ(r->total, n);
    EXPECT_EQ(r->changed_bytes, n * 4096);

    std::vector<uint64_t> buf(probe::kMaxResultBytes / 8);
    size_t len = 0;
    ASSERT_TRUE(kho::encode_probe_result(*r, reinterpret_cast<uint8_t*>(buf.data()), probe::kMaxResultBytes, &len));
    EXPECT_EQ(len, 64u + 24u * probe::kMaxChangedRanges);
    auto back = std::make_unique<kho::ProbeResult>();
    ASSERT_TRUE(kho::parse_probe_result(buf.data(), len, back.get()));
    EXPECT_EQ(back->total, n);
    EXPECT_EQ(back->count, r->count);
    EXPECT_EQ(back->changes[5].start, 0x100000u + 10 * 4096);
    EXPECT_EQ(back->salt, Filled::kSalt);
    reinterpret_cast<uint8_t*>(buf.data())[70] ^= 1;
    EXPECT_FALSE(kho::parse_probe_result(buf.data(), len, back.get()));
}

TEST(RamProbePolicy, ArmWhenAskedAndNoStateIsAtStake) {
    using kho::ProbeArm;
    using kho::ProbeMode;
    EXPECT_EQ(kho::decide_probe_arm(false, ProbeMode::Off, false, false), ProbeArm::No);
    EXPECT_EQ(kho::decide_probe_arm(false, ProbeMode::Once, true, false), ProbeArm::No);
    EXPECT_EQ(kho::decide_probe_arm(false, ProbeMode::Once, false, false), ProbeArm::Arm);
    EXPECT_EQ(kho::decide_probe_arm(true, ProbeMode::Off, true, false), ProbeArm::Arm);
    EXPECT_EQ(kho::decide_probe_arm(true, ProbeMode::Off, false, true), ProbeArm::StateAtStake);
    EXPECT_EQ(kho::decide_probe_arm(false, ProbeMode::Once, false, true), ProbeArm::StateAtStake);
    kho::ProbeMode mode;
    EXPECT_TRUE(kho::parse_probe_mode("once", 4, &mode));
    EXPECT_EQ(mode, ProbeMode::Once);
    EXPECT_FALSE(kho::parse_probe_mode("always", 6, &mode));
}

TEST(RamProbeClobbered, StatePartsInChangedRangesAreNamed) {
    auto r = std::make_unique<kho::ProbeResult>();
    r->count = r->total = 2;
    r->changes[0] = {0x900000, 0x16e1000, efi::kBootServicesData, 0};
    r->changes[1] = {0x7e000000, 0x7e400000, efi::kConventionalMemory, 0};
    Range store[8];
    kho::RangeSet state(store, 8);
    ASSERT_TRUE(state.add(0x20000000, 0x20100000));
    ASSERT_TRUE(state.add(0x16e1000, 0x1700000));  // touching a changed range is not in it
    state.normalize();
    EXPECT_TRUE(kho::probe_clobber_verdict(*r, state));
    ASSERT_TRUE(state.add(0x16e0000, 0x16e1000));
    ASSERT_TRUE(state.add(0x7e3ff000, 0x7e401000));
    state.normalize();
    Range parts[4];
    uint32_t types[4];
    ASSERT_EQ(kho::probe_clobbered(*r, state, parts, types, 4), 2u);
    EXPECT_EQ(parts[0].start, 0x16e0000u);
    EXPECT_EQ(parts[0].end, 0x16e1000u);
    EXPECT_EQ(types[0], uint32_t(efi::kBootServicesData));
    EXPECT_EQ(parts[1].start, 0x7e3ff000u);
    EXPECT_EQ(parts[1].end, 0x7e400000u);
    kho::Status s = kho::probe_clobber_verdict(*r, state);
    EXPECT_EQ(s.code(), kho::Err::Clobbered);
    EXPECT_STREQ(kho::err_name(s.code()), "kho-clobbered");
    EXPECT_NE(std::string(s.message()).find("0x16e0000-0x16e1000 lies in 0x900000-0x16e1000 (BootServicesData)"),
              std::string::npos)
        << s.message();
    EXPECT_NE(std::string(s.message()).find("2 part(s)"), std::string::npos) << s.message();
}

}  // namespace
