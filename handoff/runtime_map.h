// UEFI runtime services after the previous kernel's SetVirtualAddressMap:
// the firmware's runtime code now works only at the virtual addresses
// Linux gave each EFI_MEMORY_RUNTIME region. kexec_file_load passes those
// regions (with their virtual addresses) in boot_params.efi_info.efi_memmap
// (arch/x86/kernel/kexec-bzimage64.c setup_efi_state(), the "runtime map"),
// exactly so that the next kernel can map them the same way. The handoff
// image does the same before it calls SetVariable and ResetSystem.
#pragma once
#include <stdint.h>

#include "../abi/x86_boot.h"

namespace handoff {

struct RuntimeMapResult {
    uint32_t regions = 0;  // EFI_MEMORY_RUNTIME descriptors mapped
    uint64_t pages = 0;
    const char* error = nullptr;  // why the map could not be made, or nullptr
};

// Maps every runtime region of the map efi_info names at its virtual
// address (uncached for MMIO).
RuntimeMapResult map_runtime_regions(const kho::abi::x86::EfiInfo& efi);

}  // namespace handoff
