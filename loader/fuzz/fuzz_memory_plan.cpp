// The memory planner on fuzzed firmware maps, protected sets and scratch.
// Input: u8 descriptor count, u8 protect count, u8 scratch count, then
// 24-byte descriptors {u32 type, u32 pad, u64 start, u64 pages}, then
// 16-byte ranges {u64 start, u64 end}. Checks the plan's invariants.
#include <string.h>

#include "loader/memory_plan.h"

namespace {
constexpr size_t kCap = 1024;
kho::Range g_protect[kCap], g_scratch[kCap], g_work[4 * kCap], g_alloc[kCap], g_free[kCap],
    g_overlap[kCap];
kho::Conflict g_conflicts[64];
uint8_t g_map[256 * 48];

template <typename T>
T take(const uint8_t*& p, const uint8_t* end) {
    T v{};
    if (size_t(end - p) >= sizeof(T)) memcpy(&v, p, sizeof(T));
    p += size_t(end - p) >= sizeof(T) ? sizeof(T) : size_t(end - p);
    return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint8_t *p = data, *end = data + size;
    unsigned nd = take<uint8_t>(p, end), np = take<uint8_t>(p, end), ns = take<uint8_t>(p, end);
    memset(g_map, 0, sizeof(g_map));
    for (unsigned i = 0; i < nd; ++i) {
        auto* d = reinterpret_cast<kho::abi::efi::MemoryDescriptor*>(g_map + i * 48);
        d->type = take<uint32_t>(p, end) % 16;
        d->physical_start = take<uint64_t>(p, end) & ~0xfffull & ((1ull << 52) - 1);
        d->number_of_pages = take<uint64_t>(p, end) & 0xffffff;
    }
    kho::RangeSet protect(g_protect, kCap), scratch(g_scratch, kCap);
    for (unsigned i = 0; i < np; ++i) {
        uint64_t s = take<uint64_t>(p, end) & ~0xfffull, e = take<uint64_t>(p, end) & ~0xfffull;
        if (!protect.add(s, e)) return 0;
    }
    for (unsigned i = 0; i < ns; ++i) {
        uint64_t s = take<uint64_t>(p, end) & ~0xfffull, e = take<uint64_t>(p, end) & ~0xfffull;
        if (!scratch.add(s, e)) return 0;
    }
    protect.normalize();
    scratch.normalize();
    kho::RangeSet alloc(g_alloc, kCap), free_scratch(g_free, kCap), overlaps(g_overlap, kCap);
    kho::MemoryPlan plan{&alloc, &free_scratch, &overlaps, g_conflicts, 64};
    kho::FirmwareMemoryMap map{g_map, nd, 48};
    if (!kho::make_memory_plan(map, protect, scratch, g_work, 4 * kCap, plan)) return 0;
    // Invariants: what we allocate is protected; free scratch is scratch and
    // never protected; protected bytes are either allocated or in conflict.
    for (const kho::Range& r : alloc)
        if (!protect.contains(r.start, r.end)) __builtin_trap();
    for (const kho::Range& r : free_scratch)
        if (!scratch.contains(r.start, r.end) || protect.intersects(r.start, r.end)) __builtin_trap();
    if (plan.conflict_count == 0 && alloc.total_bytes() != protect.total_bytes()) __builtin_trap();
    return 0;
}
