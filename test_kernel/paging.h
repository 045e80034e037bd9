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

// The top-level table paging_init() loaded (512 entries; entry 0 is the
// identity map), for an image that maps more (handoff/page_map.h).
uint64_t* identity_pml4();

}  // namespace tk
