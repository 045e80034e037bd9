// A PhysMem over the fuzzer's bytes: the input becomes RAM at a fixed
// physical base, so pointers the fuzzer writes into map pages can land
// inside it (small, page-aligned values the comparison tracing finds), or
// anywhere else, where reads must fail cleanly.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "loader/page_set.h"
#include "loader/phys_mem.h"
#include "loader/preserved_memory.h"
#include "loader/range_set.h"

namespace kho::fuzz {

class FuzzMem : public PhysMem {
public:
    static constexpr uint64_t kBase = 0x1000;

    // Copies into page-aligned storage so views are aligned as in RAM.
    FuzzMem(const uint8_t* data, size_t size) : bytes_((size + 4095) & ~size_t(4095)) {
        if (size) memcpy(bytes_.data(), data, size);
    }
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        if (addr < kBase || addr - kBase > bytes_.size() || len > bytes_.size() - (addr - kBase))
            return nullptr;
        return bytes_.data() + (addr - kBase);
    }
    bool is_ram(uint64_t addr, uint64_t len) const override { return view(addr, len) != nullptr; }

private:
    std::vector<uint8_t> bytes_;
};

// What both map-decoder targets decode into: range sets and a visited set
// in static storage (fresh per input), and the invariant any accepted map
// must meet: every decoded block lies inside the 52-bit physical space.
class DecodeTarget {
public:
    static constexpr size_t kRanges = 1 << 16;
    static constexpr size_t kSlots = 1 << 12;

    DecodeTarget() : blocks_(g_blocks, kRanges), meta_(g_meta, kRanges), visited_(g_slots, kSlots),
                     sink_(blocks_, meta_) {}
    PageSet& visited() { return visited_; }
    PreservedMemorySink& sink() { return sink_; }

    // Traps (a crash the fuzzer keeps) if an accepted map broke the bound.
    void check_accepted() {
        blocks_.normalize();
        for (const Range& r : blocks_)
            if (r.end > (1ull << 52) || r.end <= r.start) __builtin_trap();
    }

private:
    static inline Range g_blocks[kRanges], g_meta[kRanges];
    static inline uint64_t g_slots[kSlots];
    RangeSet blocks_, meta_;
    PageSet visited_;
    RangeSetSink sink_;
};

}  // namespace kho::fuzz
