// 4 KiB mappings outside test_kernel's identity map, for the UEFI runtime
// regions at the virtual addresses the previous kernel gave them
// (runtime_map.h). Kept out of test_kernel/paging.cpp so the test kernel
// does not carry the table pool.
#pragma once
#include <stdint.h>

namespace handoff {

// Maps one page at virtual `va` (>= the identity map's limit) to `pa`;
// `uncached` for MMIO. False when the table pool is exhausted or `va`
// falls inside the identity map.
bool map_page(uint64_t va, uint64_t pa, bool uncached);

}  // namespace handoff
