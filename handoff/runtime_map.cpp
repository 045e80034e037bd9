#include "runtime_map.h"

#include "../abi/efi_memory.h"
#include "../test_kernel/paging.h"
#include "page_map.h"

namespace handoff {
namespace {

namespace em = kho::abi::efi;

bool is_mmio(uint32_t type) { return type == em::kMemoryMappedIO || type == em::kMemoryMappedIOPortSpace; }

}  // namespace

RuntimeMapResult map_runtime_regions(const kho::abi::x86::EfiInfo& efi) {
    RuntimeMapResult r;
    uint64_t map = efi.efi_memmap | uint64_t(efi.efi_memmap_hi) << 32;
    if (efi.efi_loader_signature != kho::abi::x86::kEfi64LoaderSignature) {
        r.error = "boot_params.efi_info carries no EL64 signature (kernel booted without UEFI?)";
        return r;
    }
    if (!map || !efi.efi_memmap_size) {
        r.error = "boot_params.efi_info has no runtime map (CONFIG_EFI_RUNTIME_MAP off, or efi=noruntime)";
        return r;
    }
    if (efi.efi_memdesc_size < sizeof(em::MemoryDescriptor) || map >= tk::kIdentityLimit) {
        r.error = "boot_params.efi_info runtime map is malformed";
        return r;
    }
    for (uint64_t off = 0; off + efi.efi_memdesc_size <= efi.efi_memmap_size; off += efi.efi_memdesc_size) {
        em::MemoryDescriptor d;
        __builtin_memcpy(&d, reinterpret_cast<const void*>(map + off), sizeof(d));
        if (!(d.attribute & em::kMemoryRuntime) || d.virtual_start == d.physical_start) continue;
        for (uint64_t p = 0; p < d.number_of_pages; ++p) {
            if (!map_page(d.virtual_start + p * 4096, d.physical_start + p * 4096, is_mmio(d.type))) {
                r.error = "a runtime region's virtual address cannot be mapped (page-table pool, or inside the identity map)";
                return r;
            }
        }
        ++r.regions;
        r.pages += d.number_of_pages;
    }
    return r;
}

}  // namespace handoff
