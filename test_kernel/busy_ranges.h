// BusyRanges: the producer's view of what physical memory it must not
// hand out: a sorted, coalesced array of half-open ranges in static
// storage, and first-fit allocation of naturally aligned blocks from
// allowed windows (arenas) around them.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "boot_info.h"

namespace tk {

class BusyRanges {
public:
    static constexpr size_t kCapacity = 1 << 17;

    void clear() { n_ = 0; }
    // Marks [start, end) busy; false when storage is full.
    bool add(uint64_t start, uint64_t end);
    bool overlaps(uint64_t start, uint64_t end) const;
    size_t size() const { return n_; }
    // Lowest `align`-aligned [a, a + size) inside `window` that is not
    // busy, marked busy on success; 0 if none.
    uint64_t allocate(const PhysRange& window, uint64_t size, uint64_t align);
    // [at, at + size) if entirely free, marked busy; false otherwise.
    bool claim(uint64_t at, uint64_t size);

private:
    size_t first_ending_after(uint64_t addr) const;  // index of first range with end > addr
    PhysRange r_[kCapacity] = {};
    size_t n_ = 0;
};

}  // namespace tk
