#include "firmware_memory.h"

#include "../abi/efi_memory.h"
#include "uefi.h"

namespace khoefi {

using kho::Err;
using kho::Status;

Status get_memory_map(void* buffer, size_t capacity, MemoryMapSnapshot* out) {
    UINTN size = capacity, key = 0, dsize = 0;
    UINT32 version = 0;
    EFI_STATUS s = g_bs->GetMemoryMap(&size, static_cast<EFI_MEMORY_DESCRIPTOR*>(buffer), &key,
                                      &dsize, &version);
    if (EFI_ERROR(s))
        return Status::error(Err::Io, "GetMemoryMap: status 0x%llx (need %llu bytes, have %zu)",
                             (unsigned long long)s, (unsigned long long)size, capacity);
    if (dsize < sizeof(kho::abi::efi::MemoryDescriptor))
        return Status::error(Err::Io, "GetMemoryMap: descriptor size %llu too small",
                             (unsigned long long)dsize);
    out->view = kho::FirmwareMemoryMap{static_cast<const uint8_t*>(buffer), size / dsize, dsize};
    out->key = key;
    out->descriptor_version = version;
    return Status::ok();
}

Status memory_map_size(size_t* count, size_t* descriptor_size) {
    UINTN size = 0, key = 0, dsize = 0;
    UINT32 version = 0;
    EFI_STATUS s = g_bs->GetMemoryMap(&size, nullptr, &key, &dsize, &version);
    if (s != EFI_BUFFER_TOO_SMALL || dsize == 0)
        return Status::error(Err::Io, "GetMemoryMap(size query): status 0x%llx",
                             (unsigned long long)s);
    *count = size / dsize;
    *descriptor_size = dsize;
    return Status::ok();
}

Status allocate_pool(size_t bytes, void** out) {
    EFI_STATUS s = g_bs->AllocatePool(EfiLoaderData, bytes, out);
    if (EFI_ERROR(s))
        return Status::error(Err::NoSpace, "AllocatePool(%zu bytes): status 0x%llx", bytes,
                             (unsigned long long)s);
    return Status::ok();
}

Status EfiPhysMem::load(const kho::FirmwareMemoryMap& map) { return kho::firmware_ram(map, ram_); }

const uint8_t* EfiPhysMem::view(uint64_t addr, uint64_t len) const {
    // Page 0 is never handed out: a zero pointer means "not RAM" here.
    if (addr < 4096 || !is_ram(addr, len)) return nullptr;
    return reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(addr));
}

bool EfiPhysMem::is_ram(uint64_t addr, uint64_t len) const {
    if (len == 0 || addr + len < addr) return false;
    return ram_.contains(addr, addr + len);
}

Status allocate_at(uint64_t start, uint64_t end, uint32_t efi_type) {
    EFI_PHYSICAL_ADDRESS a = start;
    EFI_STATUS s = g_bs->AllocatePages(AllocateAddress, static_cast<EFI_MEMORY_TYPE>(efi_type),
                                       (end - start + 4095) / 4096, &a);
    if (EFI_ERROR(s))
        return Status::error(Err::Conflict, "AllocatePages 0x%llx-0x%llx: status 0x%llx",
                             (unsigned long long)start, (unsigned long long)end,
                             (unsigned long long)s);
    return Status::ok();
}

void free_at(uint64_t start, uint64_t end) { g_bs->FreePages(start, (end - start + 4095) / 4096); }

}  // namespace khoefi
