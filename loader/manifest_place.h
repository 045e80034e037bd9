// Where the handoff image (handoff/) puts the integrity manifest it writes
// after the kernel has serialised its state: RAM that is neither preserved
// nor scratch nor busy, where the next boot's firmware is least likely to
// write before khoboot protects it.
//
// Why there (docs/firmware-facts.md, "What OVMF rewrites"): EDK2 firmware
// allocates below 4 GiB (its PEI memory sits at the top of low RAM, and
// AllocatePages without an address stays below 4 GiB), and rewrites a
// fixed low layout up to about 24 MiB. So: the top of RAM above 4 GiB when
// there is any; otherwise the lowest free RAM from 64 MiB up. A manifest
// the firmware did overwrite anyway fails its own checksum at khoboot and
// the state is refused (kho-integrity): never handed on unchecked.
#pragma once
#include <stdint.h>

#include "range_set.h"
#include "status.h"

namespace kho {

inline constexpr uint64_t kManifestHighFloor = 4ull << 30;
inline constexpr uint64_t kManifestLowFloor = 64ull << 20;

// `ram` and `busy` are normalized; `free_work` receives ram - busy (it
// needs ram.size() + busy.size() + 1 slots). *addr is page aligned and
// [*addr, *addr + size) lies in RAM outside `busy`; Err::OutOfRam when no
// such place exists.
Status choose_manifest_place(const RangeSet& ram, const RangeSet& busy, uint64_t size,
                             RangeSet& free_work, uint64_t* addr);

}  // namespace kho
