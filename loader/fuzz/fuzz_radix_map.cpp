// The radix decoder over a fuzzed sparse memory image whose first page is
// the root table.
#include "fuzz_mem.h"
#include "loader/kho_radix_map.h"

namespace {
constexpr size_t kRanges = 1 << 16;
constexpr size_t kSlots = 1 << 12;
kho::Range g_blocks[kRanges], g_meta[kRanges];
uint64_t g_slots[kSlots];
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kho::fuzz::FuzzMem mem(data, size);
    kho::RangeSet blocks(g_blocks, kRanges), meta(g_meta, kRanges);
    kho::PageSet visited(g_slots, kSlots);
    kho::RangeSetSink sink(blocks, meta);
    kho::Status s = kho::decode_radix_map(mem, kho::fuzz::FuzzMem::kBase,
                                          kho::abi::radix::kGeometry4K, visited, sink);
    if (s) {
        blocks.normalize();
        // Every decoded block must lie inside the 52-bit physical space.
        for (const kho::Range& r : blocks)
            if (r.end > (1ull << 52) || r.end <= r.start) __builtin_trap();
    }
    return 0;
}
