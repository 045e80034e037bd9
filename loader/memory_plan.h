// The memory plan: from the firmware memory map, the protected set and the
// scratch regions, compute what to allocate at which address (as few
// AllocatePages(AllocateAddress) calls as possible), what conflicts with
// memory the firmware owns, where preserved memory overlaps scratch, and
// which parts of scratch are free for the kernel, initrd and boot data.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/efi_memory.h"
#include "range_set.h"
#include "status.h"

namespace kho {

// A view of a firmware memory map: `count` descriptors `stride` bytes apart.
struct FirmwareMemoryMap {
    const uint8_t* base;
    size_t count;
    size_t stride;  // DescriptorSize, >= sizeof(abi::efi::MemoryDescriptor)
    const abi::efi::MemoryDescriptor& at(size_t i) const {
        return *reinterpret_cast<const abi::efi::MemoryDescriptor*>(base + i * stride);
    }
};

// True for the types Linux turns into usable RAM (x86 stub setup_e820(),
// arm64 efi-init.c is_usable_memory()).
bool efi_type_is_ram(uint32_t type);

// Builds sorted, coalesced sets from a firmware map: `ram` (types Linux
// treats as RAM) and `free_memory` (EfiConventionalMemory only). The map
// is untrusted: unsorted and overlapping descriptors are fine, a start not
// page aligned or an end past 2^64 is Err::Io naming the descriptor. Each
// descriptor adds at most one range, so sets of `map.count` ranges never
// run out of capacity.
Status firmware_ram(const FirmwareMemoryMap& map, RangeSet& ram, RangeSet& free_memory);
Status firmware_ram(const FirmwareMemoryMap& map, RangeSet& ram);

struct Conflict {
    Range range;
    uint32_t owner;  // EFI memory type, or kNotInMap
    static constexpr uint32_t kNotInMap = 0xffffffff;
};

struct MemoryPlan {
    // Storage is the caller's: each RangeSet is constructed over its buffers.
    RangeSet* allocate;      // protected ranges to AllocatePages at address
    RangeSet* scratch_free;  // free scratch, for kernel/initrd/boot data
    RangeSet* overlaps;      // protected ∩ scratch (must be empty)
    Conflict* conflicts;     // protected ranges firmware owns or not RAM
    size_t conflict_capacity;
    // May exceed capacity: only the first are kept, and past capacity each
    // gap in free memory counts once (its owners are not looked up).
    size_t conflict_count = 0;
    Range bad_scratch{0, 0};         // first scratch range that is not RAM
};

// The parts of `ranges` (normalized) outside `free_memory`, each with the
// owner the map gives it, into plan.conflicts / conflict_count.
Status record_conflicts(const FirmwareMemoryMap& map, const RangeSet& free_memory,
                        const RangeSet& ranges, MemoryPlan& plan);
// The first part of `ranges` (by address) that `covering` does not cover,
// or an empty range: e.g. scratch that is not RAM (MemoryPlan::bad_scratch).
Status first_gap(const RangeSet& covering, const RangeSet& ranges, Range* out);

// `protect` and `scratch` must be normalized. Fails only on Err::Capacity;
// conflicts, overlaps and bad scratch are reported in `plan` for the caller
// to turn into its policy (cold boot or halt).
Status make_memory_plan(const FirmwareMemoryMap& map, const RangeSet& protect,
                        const RangeSet& scratch, Range* work, size_t work_capacity,
                        MemoryPlan& plan);

// "not-in-map" or the EFI memory type's name.
const char* conflict_owner_name(const Conflict& c);

// What a plan means for the state: the first conflict (Err::Conflict,
// with the count when there are more), preserved memory inside scratch
// (Err::Overlap), or scratch that is not RAM (Err::BadProperty); ok when
// it can be protected as planned.
Status plan_verdict(const MemoryPlan& plan);

}  // namespace kho
