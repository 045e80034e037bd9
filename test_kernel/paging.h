// The test kernel's own identity map. The loader's page tables live in
// memory that is ordinary RAM after ExitBootServices (and that a producer
// may reuse), and the boot protocol only promises a mapping of the image,
// boot_params and the command line; the checks read preserved memory
// anywhere, so the kernel maps [0, kIdentityLimit) 1:1 itself.
#pragma once
#include <stdint.h>

namespace tk {

// 64 GiB with 2 MiB pages (no 1 GiB pages: QEMU's default TCG CPU model
// lacks pdpe1gb). Everything the guests of the scenarios have fits.
inline constexpr uint64_t kIdentityLimit = 64ull << 30;

void paging_init();

// Maps one 4 KiB page at virtual `va` (outside the identity map: the
// handoff image maps UEFI runtime regions at the virtual addresses the
// previous kernel gave them with SetVirtualAddressMap). `uncached` for
// MMIO. Tables come from a fixed pool; false when it is exhausted or `va`
// falls inside the identity map.
bool map_page(uint64_t va, uint64_t pa, bool uncached);

}  // namespace tk
