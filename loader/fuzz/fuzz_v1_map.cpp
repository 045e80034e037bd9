// The kho-v1 chunk-list decoder over a fuzzed memory image whose first page
// is the first chunk; the first input byte picks the bitmap mode.
#include "fuzz_mem.h"
#include "loader/kho_v1_map.h"

namespace {
constexpr size_t kRanges = 1 << 16;
constexpr size_t kSlots = 1 << 12;
kho::Range g_blocks[kRanges], g_meta[kRanges];
uint64_t g_slots[kSlots];
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    auto mode = static_cast<kho::V1BitmapMode>(data[0] % 3);
    kho::fuzz::FuzzMem mem(data + 1, size - 1);
    kho::RangeSet blocks(g_blocks, kRanges), meta(g_meta, kRanges);
    kho::PageSet visited(g_slots, kSlots);
    kho::RangeSetSink sink(blocks, meta);
    kho::Status s = kho::decode_kho_v1_map(mem, kho::fuzz::FuzzMem::kBase, mode, visited, sink);
    if (s) {
        blocks.normalize();
        for (const kho::Range& r : blocks)
            if (r.end > (1ull << 52) || r.end <= r.start) __builtin_trap();
    }
    return 0;
}
