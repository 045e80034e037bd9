// The initrd for the arm64 EFI stub: a LoadFile2 protocol on a handle
// whose device path is the vendor media node LINUX_EFI_INITRD_MEDIA_GUID
// (5568e427-68fc-4f3d-ac74-ca555231cc68; Linux drivers/firmware/efi/
// libstub/efi-stub-helper.c efi_load_initrd_dev_path()). The stub asks for
// the size, allocates, and asks for the bytes; they come from khoboot's
// copy in scratch.
#pragma once
#include <stdint.h>

#include "../uefi.h"

namespace khoefi {

// Serves [addr, addr + size); false when the firmware refused the handle.
bool initrd_media_install(uint64_t addr, uint64_t size);
void initrd_media_uninstall();

}  // namespace khoefi
