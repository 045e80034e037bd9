#include "memory_plan.h"

#include "phys_range.h"

namespace kho {
namespace {

using namespace abi::efi;

// Calls fn(gap) for every part of r not covered by the normalized set s.
template <typename Fn>
Status for_each_gap(const RangeSet& s, const Range& r, Fn fn) {
    uint64_t cur = r.start;
    for (size_t i = s.lower_bound(r.start); i < s.size() && s[i].start < r.end; ++i) {
        if (s[i].start > cur) KHO_TRY(fn(Range{cur, s[i].start}));
        if (s[i].end > cur) cur = s[i].end;
    }
    if (cur < r.end) KHO_TRY(fn(Range{cur, r.end}));
    return Status::ok();
}

// Names who owns each part of `gap` (memory the firmware did not list as
// free), in address order: each descriptor it touches, and the holes no
// descriptor covers. Firmware maps need not be sorted, hence the scans;
// conflicts are rare and capped, so this stays cheap.
void record_owners(const FirmwareMemoryMap& map, const Range& gap, MemoryPlan& plan) {
    // Past the list's capacity only the count goes on, one per gap: the
    // owner scan is linear in the map and a hostile state has many gaps.
    if (plan.conflict_count >= plan.conflict_capacity) {
        ++plan.conflict_count;
        return;
    }
    auto push = [&](Range r, uint32_t owner) {
        if (plan.conflict_count < plan.conflict_capacity)
            plan.conflicts[plan.conflict_count] = Conflict{r, owner};
        ++plan.conflict_count;
    };
    uint64_t cur = gap.start;
    while (cur < gap.end) {
        uint64_t next_start = gap.end;
        bool found = false;
        for (size_t i = 0; i < map.count; ++i) {
            const MemoryDescriptor& d = map.at(i);
            uint64_t s = d.physical_start, e = s + d.number_of_pages * kPageSize;
            if (s <= cur && cur < e) {
                uint64_t hi = e < gap.end ? e : gap.end;
                push(Range{cur, hi}, d.type);
                cur = hi;
                found = true;
                break;
            }
            if (s > cur && s < next_start) next_start = s;
        }
        if (!found) {
            push(Range{cur, next_start}, Conflict::kNotInMap);
            cur = next_start;
        }
    }
}

}  // namespace

bool efi_type_is_ram(uint32_t type) {
    switch (type) {
    case kLoaderCode:
    case kLoaderData:
    case kBootServicesCode:
    case kBootServicesData:
    case kConventionalMemory:
        return true;
    default:
        return false;
    }
}

namespace {

// A descriptor the firmware handed us, as a checked range: its start page
// aligned and its end within 2^64 (a hostile or broken map must not wrap
// our half-open ranges).
Status descriptor_range(const FirmwareMemoryMap& map, size_t i, Range* out) {
    const MemoryDescriptor& d = map.at(i);
    Range r;
    if ((d.physical_start & (kPageSize - 1)) || d.number_of_pages > (~0ull >> 12) ||
        !byte_span(d.physical_start, d.number_of_pages * kPageSize, &r))
        return Status::error(Err::Io, "memory map descriptor %zu (0x%llx, %llu pages) is malformed",
                             i, (unsigned long long)d.physical_start,
                             (unsigned long long)d.number_of_pages);
    *out = r;
    return Status::ok();
}

Status collect_ram(const FirmwareMemoryMap& map, RangeSet& ram, RangeSet* free_memory) {
    ram.clear();
    if (free_memory) free_memory->clear();
    for (size_t i = 0; i < map.count; ++i) {
        Range r{0, 0};
        KHO_TRY(descriptor_range(map, i, &r));
        uint32_t type = map.at(i).type;
        if (efi_type_is_ram(type)) KHO_TRY(ram.add(r));
        if (free_memory && type == kConventionalMemory) KHO_TRY(free_memory->add(r));
    }
    ram.normalize();
    if (free_memory) free_memory->normalize();
    return Status::ok();
}

}  // namespace

Status firmware_ram(const FirmwareMemoryMap& map, RangeSet& ram, RangeSet& free_memory) {
    return collect_ram(map, ram, &free_memory);
}

Status firmware_ram(const FirmwareMemoryMap& map, RangeSet& ram) {
    return collect_ram(map, ram, nullptr);
}

Status record_conflicts(const FirmwareMemoryMap& map, const RangeSet& free_memory,
                        const RangeSet& ranges, MemoryPlan& plan) {
    plan.conflict_count = 0;
    for (const Range& r : ranges)
        KHO_TRY(for_each_gap(free_memory, r, [&](Range gap) {
            record_owners(map, gap, plan);
            return Status::ok();
        }));
    return Status::ok();
}

Status first_gap(const RangeSet& covering, const RangeSet& ranges, Range* out) {
    *out = Range{0, 0};
    for (const Range& r : ranges) {
        KHO_TRY(for_each_gap(covering, r, [&](Range gap) {
            if (out->empty()) *out = gap;
            return Status::ok();
        }));
    }
    return Status::ok();
}

Status make_memory_plan(const FirmwareMemoryMap& map, const RangeSet& protect,
                        const RangeSet& scratch, Range* work, size_t work_capacity,
                        MemoryPlan& plan) {
    RangeSet free_memory(work, work_capacity / 2);
    RangeSet ram(work + work_capacity / 2, work_capacity - work_capacity / 2);
    KHO_TRY(firmware_ram(map, ram, free_memory));

    // What we can take: protected ranges the firmware lists as free.
    KHO_TRY(protect.intersect(free_memory, *plan.allocate));

    // What we cannot: every protected byte outside free memory.
    KHO_TRY(record_conflicts(map, free_memory, protect, plan));

    // Preserved memory inside scratch would be handed to the next kernel's
    // early allocator (producers guarantee disjointness from 6.17.9/6.18).
    KHO_TRY(protect.intersect(scratch, *plan.overlaps));
    // Scratch must be RAM the next kernel can allocate from.
    KHO_TRY(first_gap(ram, scratch, &plan.bad_scratch));

    // Free scratch: scratch ∩ free − protect. `ram` is done; reuse its storage.
    RangeSet tmp(work + work_capacity / 2, work_capacity - work_capacity / 2);
    KHO_TRY(scratch.intersect(free_memory, tmp));
    KHO_TRY(tmp.subtract(protect, *plan.scratch_free));
    return Status::ok();
}

const char* conflict_owner_name(const Conflict& c) {
    return c.owner == Conflict::kNotInMap ? "not-in-map" : memory_type_name(c.owner);
}

Status plan_verdict(const MemoryPlan& plan) {
    if (plan.conflict_count) {
        // One error for the state: the first conflict and how many there
        // are; the caller lists the others as detail lines after it.
        const Conflict& c = plan.conflicts[0];
        if (plan.conflict_count == 1)
            return Status::error(Err::Conflict, "0x%llx-0x%llx owner=%s", (unsigned long long)c.range.start,
                                 (unsigned long long)c.range.end, conflict_owner_name(c));
        return Status::error(Err::Conflict, "0x%llx-0x%llx owner=%s conflicts=%zu",
                             (unsigned long long)c.range.start, (unsigned long long)c.range.end,
                             conflict_owner_name(c), plan.conflict_count);
    }
    if (plan.overlaps->size())
        return Status::error(Err::Overlap, "preserved 0x%llx-0x%llx lies inside scratch",
                             (unsigned long long)(*plan.overlaps)[0].start,
                             (unsigned long long)(*plan.overlaps)[0].end);
    if (!plan.bad_scratch.empty())
        return Status::error(Err::BadProperty, "scratch 0x%llx-0x%llx is not RAM",
                             (unsigned long long)plan.bad_scratch.start,
                             (unsigned long long)plan.bad_scratch.end);
    return Status::ok();
}

}  // namespace kho
