// khoboot.efi's fixed capacities: the ones that bind before a state is
// protected, when only the image's own arena may be used (efi/main.cpp).
// After protection, storage comes from the firmware, sized from the state
// (protection_plan.h). khotool inspect --loader-limits applies the same
// bounds, so a state it accepts fits the loader.
#pragma once
#include <stddef.h>

namespace kho::limits {

// The firmware memory map snapshot buffer, and so the descriptors and free
// regions the planner can hold.
inline constexpr size_t kMapBytes = 96 * 1024;
// Map pages the decoders may visit (PageSet slots, a power of two).
inline constexpr size_t kVisitedPages = size_t(1) << 15;
// Preserved ranges that lie outside free memory (each one a conflict):
// more refuses the state with Err::Capacity.
inline constexpr size_t kOutsideRanges = size_t(1) << 12;

}  // namespace kho::limits
