// The memory planner on fuzzed (well-formed) firmware maps, protected sets
// and scratch, with the EFI app's storage: protected and allocate sets of
// 32768 ranges, 8192 work ranges, 512 free-scratch and overlap ranges, 8
// conflict slots, up to 2048 descriptors (its 96 KiB map buffer). Items
// repeat, so a small input reaches those capacities (fuzz_firmware_map
// covers malformed maps).
//
// Input: u8 descriptor items, u8 protected items, u8 scratch items, then
// descriptor items {u32 type, u64 start, u32 pages, u32 gap_pages,
// u16 repeat} and range items {u64 start, u32 pages, u32 gap_pages,
// u16 repeat}: repeat + 1 copies, (pages + gap_pages) pages apart.
#include <string.h>

#include <utility>

#include "fuzz_mem.h"
#include "loader/memory_plan.h"

namespace {

using namespace kho;
namespace fz = kho::fuzz;

#define CHECK(cond) \
    do {            \
        if (!(cond)) __builtin_trap(); \
    } while (0)

constexpr size_t kMaxDescriptors = fz::kEfiMapBytes / 48;
constexpr size_t kMaxScratch = 64;  // the descriptor's kMaxScratch
Range g_protect[fz::kEfiProtectRanges], g_scratch[kMaxScratch], g_work[fz::kEfiWorkRanges];
Range g_alloc[fz::kEfiProtectRanges], g_free[fz::kEfiScratchFree], g_overlap[fz::kEfiOverlaps];
Range g_ram[fz::kEfiMapRanges], g_conventional[fz::kEfiMapRanges];
Conflict g_conflicts[fz::kEfiConflicts];
alignas(8) uint8_t g_map[kMaxDescriptors * 48];

constexpr uint64_t kPages = (1ull << 40) - 1;  // keeps every address below 2^52

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fz::Reader in(data, size);
    unsigned nd = in.take<uint8_t>(), np = in.take<uint8_t>(), ns = in.take<uint8_t>();
    size_t count = 0;
    for (unsigned i = 0; i < nd; ++i) {
        uint32_t type = in.take<uint32_t>() % 16;
        uint64_t start = (in.take<uint64_t>() >> 12) & kPages;
        uint64_t pages = in.take<uint32_t>() & 0xffffff, gap = in.take<uint32_t>() & 0xffffff;
        unsigned repeat = in.take<uint16_t>();
        for (unsigned k = 0; k <= repeat && count < kMaxDescriptors; ++k, ++count) {
            auto* d = reinterpret_cast<abi::efi::MemoryDescriptor*>(g_map + count * 48);
            memset(g_map + count * 48, 0, 48);
            d->type = type;
            d->physical_start = ((start + k * (pages + gap)) & kPages) << 12;
            d->number_of_pages = pages;
        }
    }
    RangeSet protect(g_protect, fz::kEfiProtectRanges), scratch(g_scratch, kMaxScratch);
    for (auto [set, n] : {std::pair{&protect, np}, std::pair{&scratch, ns}}) {
        size_t added = 0;
        for (unsigned i = 0; i < n; ++i) {
            uint64_t start = (in.take<uint64_t>() >> 12) & kPages;
            uint64_t pages = in.take<uint32_t>(), gap = in.take<uint32_t>();
            unsigned repeat = in.take<uint16_t>();
            for (unsigned k = 0; k <= repeat; ++k) {
                // Enough to fill the set and go past it, not millions of adds.
                if (++added > set->capacity() + 256) break;
                uint64_t s = ((start + k * (pages + gap)) & kPages) << 12;
                if (!set->add(s, s + (pages << 12))) return 0;
            }
        }
        set->normalize();
    }
    kho::RangeSet alloc(g_alloc, fz::kEfiProtectRanges), free_scratch(g_free, fz::kEfiScratchFree),
        overlaps(g_overlap, fz::kEfiOverlaps);
    kho::MemoryPlan plan{&alloc, &free_scratch, &overlaps, g_conflicts, fz::kEfiConflicts};
    kho::FirmwareMemoryMap map{g_map, count, 48};
    if (!kho::make_memory_plan(map, protect, scratch, g_work, fz::kEfiWorkRanges, plan)) return 0;
    RangeSet ram(g_ram, fz::kEfiMapRanges), conventional(g_conventional, fz::kEfiMapRanges);
    const bool listed = firmware_ram(map, ram, conventional).is_ok();
    // What we allocate is protected and free; free scratch is scratch, free
    // and never protected; protected bytes are allocated or in conflict;
    // overlaps are protected scratch.
    for (const Range& r : alloc) {
        CHECK(protect.contains(r.start, r.end));
        if (listed) CHECK(conventional.contains(r.start, r.end));
    }
    for (const Range& r : free_scratch) {
        CHECK(scratch.contains(r.start, r.end) && !protect.intersects(r.start, r.end));
        if (listed) CHECK(conventional.contains(r.start, r.end));
    }
    for (const Range& r : overlaps) CHECK(protect.contains(r.start, r.end) && scratch.contains(r.start, r.end));
    if (plan.conflict_count == 0) CHECK(alloc.total_bytes() == protect.total_bytes());
    for (size_t i = 0; i < plan.conflict_count && i < plan.conflict_capacity; ++i)
        CHECK(protect.contains(g_conflicts[i].range.start, g_conflicts[i].range.end) &&
              !alloc.intersects(g_conflicts[i].range.start, g_conflicts[i].range.end));
    if (!plan.bad_scratch.empty()) CHECK(scratch.contains(plan.bad_scratch.start, plan.bad_scratch.end));
    return 0;
}
