#include "protection_plan.h"

#include "phys_range.h"

namespace kho {

ProtectionPlanner::ProtectionPlanner(const FirmwareMemoryMap& map, const RangeSet& scratch,
                                     const ProtectionStorage& storage)
    : map_(map),
      scratch_(scratch),
      st_(storage),
      regions_(storage.regions, storage.region_capacity),
      outside_(storage.outside, storage.outside_capacity) {}

Status ProtectionPlanner::begin() {
    if (st_.region_capacity < map_.count)
        return Status::error(Err::Capacity, "memory map of %zu descriptors exceeds %zu planner slots",
                             map_.count, st_.region_capacity);
    // The RAM set is needed once, for the scratch check: the hull slots
    // hold it until they are cleared for their own use.
    RangeSet ram(st_.hulls, st_.region_capacity);
    KHO_TRY(firmware_ram(map_, ram, regions_));
    KHO_TRY(first_gap(ram, scratch_, &bad_scratch_));
    for (size_t i = 0; i < regions_.size(); ++i) st_.hulls[i] = Range{0, 0};
    return Status::ok();
}

Status ProtectionPlanner::add(const Range& r) {
    if (r.empty()) return Status::ok();
    ++ranges_;
    bytes_ += r.size();
    if (scratch_.intersects(r.start, r.end)) {
        if (overlap_count_++ == 0) {
            const Range& s = scratch_[scratch_.lower_bound(r.start)];
            first_overlap_ = Range{r.start > s.start ? r.start : s.start, r.end < s.end ? r.end : s.end};
        }
        return Status::ok();
    }
    size_t i = regions_.lower_bound(r.start);
    if (i < regions_.size() && regions_[i].contains(r)) {
        Range& h = st_.hulls[i];
        if (h.empty()) h = r;
        if (r.start < h.start) h.start = r.start;
        if (r.end > h.end) h.end = r.end;
        return Status::ok();
    }
    // Not (wholly) free memory: a conflict, named with its owner later.
    return outside_.add(r);
}

Status ProtectionPlanner::blocks(uint64_t phys, unsigned order, uint64_t count) {
    Range r{0, 0};
    KHO_TRY(block_run_range(phys, order, count, page_size_, &r));
    return add(r);
}

Status ProtectionPlanner::metadata(uint64_t phys, uint64_t size) {
    Range r{0, 0};
    KHO_TRY(map_page_range(phys, size, page_size_, &r));
    return add(r);
}

Status ProtectionPlanner::finish(Range* work, size_t work_capacity, MemoryPlan& plan) {
    outside_.normalize();
    KHO_TRY(record_conflicts(map_, regions_, outside_, plan));
    plan.overlaps->clear();
    if (overlap_count_) KHO_TRY(plan.overlaps->add(first_overlap_));

    // Hulls are in region order, so already sorted and disjoint.
    RangeSet hulls(work, work_capacity);
    for (size_t i = 0; i < regions_.size(); ++i) KHO_TRY(hulls.add(st_.hulls[i]));
    KHO_TRY(hulls.subtract(scratch_, *plan.allocate));
    plan.bad_scratch = bad_scratch_;
    return scratch_.intersect(regions_, *plan.scratch_free);
}

Status ProtectionPlanner::extent(RangeSet& out) const {
    out.clear();
    for (size_t i = 0; i < regions_.size(); ++i) KHO_TRY(out.add(st_.hulls[i]));
    KHO_TRY(out.add_all(outside_));
    if (!first_overlap_.empty()) KHO_TRY(out.add(first_overlap_));
    out.normalize();
    return Status::ok();
}

}  // namespace kho
