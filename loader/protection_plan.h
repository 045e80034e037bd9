// Protection that does not grow with fragmentation (issue 11).
//
// A VM's memory preserved folio by folio is 10^5 to 10^6 separate ranges.
// Allocating each at its address splits the firmware's memory map once
// per range, and every later allocation, GetMemoryMap(), the e820 build and
// ExitBootServices() pay for the longer map. Instead, the planner takes
// the preserved ranges one by one as the decoders emit them and keeps, per
// free region of the firmware map, the hull [first preserved byte, last
// preserved byte) of what lies inside it. What is allocated is those hulls
// minus scratch: at most one piece per free region and scratch range, so
// the firmware's work and the final map grow with the firmware's own map,
// not with the state. The gaps inside a hull are ours until the jump (the
// next kernel gets them back as RAM: it reserves only what the map says);
// the firmware keeps every free region without preserved data, the parts
// of regions outside the hulls, and scratch.
//
// Conflicts are still decided range by range: a range not wholly inside
// one free region is kept (in caller storage) and its parts outside free
// memory are named with their owners at finish(), as make_memory_plan()
// does; a range touching scratch is an overlap, named exactly.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "memory_plan.h"
#include "preserved_memory.h"
#include "range_set.h"
#include "status.h"

namespace kho {

// Caller storage. `regions` and `hulls` need one slot per map descriptor;
// `outside` holds the ranges that are not inside a free region (a valid
// state has none; a full set is Err::Capacity, which refuses the state).
struct ProtectionStorage {
    Range* regions;
    Range* hulls;
    size_t region_capacity;
    Range* outside;
    size_t outside_capacity;
};

class ProtectionPlanner : public PreservedMemorySink {
public:
    ProtectionPlanner(const FirmwareMemoryMap& map, const RangeSet& scratch,
                      const ProtectionStorage& storage);

    // The free regions of the map (EfiConventionalMemory, coalesced).
    Status begin();
    // One preserved range (page aligned), in any order.
    Status add(const Range& r);
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override;
    Status metadata(uint64_t phys, uint64_t size) override;

    // The plan: allocate = hulls − scratch; conflicts and bad scratch as
    // make_memory_plan() reports them; overlaps = the first preserved range
    // found inside scratch (overlap_count says how many); scratch_free =
    // scratch ∩ free memory. `work` holds map descriptors + scratch ranges
    // ranges.
    Status finish(Range* work, size_t work_capacity, MemoryPlan& plan);

    // Everything the state claims, coarsely (hulls and outside ranges): what
    // a cold boot keeps off when the state is refused. `out` is cleared.
    Status extent(RangeSet& out) const;

    uint64_t ranges_seen() const { return ranges_; }
    uint64_t bytes_seen() const { return bytes_; }
    uint64_t overlap_count() const { return overlap_count_; }

private:
    FirmwareMemoryMap map_;  // a view: copied, so a temporary view is safe
    const RangeSet& scratch_;
    ProtectionStorage st_;
    RangeSet regions_;
    RangeSet outside_;
    uint64_t ranges_ = 0;
    uint64_t bytes_ = 0;
    uint64_t page_size_ = 4096;
    Range first_overlap_{0, 0};
    uint64_t overlap_count_ = 0;
    Range bad_scratch_{0, 0};  // the first scratch that is not RAM (begin())
};

}  // namespace kho
