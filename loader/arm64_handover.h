// The arm64 boot protocol of a handover (docs/boot-protocols.md, arm64):
// the kernel is an arm64 Image with an EFI stub (Linux Documentation/
// arch/arm64/booting.rst header, PE/COFF for the stub), started by the
// firmware's LoadImage/StartImage; the KHO state is named by
// /chosen/linux,kho-fdt and linux,kho-scratch in the device tree
// installed as the DEVICE_TREE_GUID configuration table (arm64_chosen.h);
// the scratch table lives in the boot-data block outside scratch.
//
// The stub, not khoboot, decides where the kernel runs and allocates its
// copies (the image, the initrd it reads through LINUX_EFI_INITRD_MEDIA_GUID,
// the device tree, the memory map). khoboot keeps all of them inside
// scratch by reserving, in scratch, room for all of them at placement
// (arm64_stub_footprint()) and by fencing every other free range of the
// final map as EfiBootServicesData just before LoadImage (arm64_fences()):
// the firmware then has nowhere else to allocate, and after
// ExitBootServices() the kernel treats those ranges as ordinary RAM
// (drivers/firmware/efi/efi-init.c is_usable_memory()).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../abi/handover_descriptor.h"
#include "boot_protocol.h"
#include "memory_plan.h"
#include "range_set.h"

namespace kho {

// The arm64 Image header (booting.rst "Call the kernel image").
struct Arm64Image {
    uint64_t text_offset = 0;
    uint64_t image_size = 0;  // bytes the kernel occupies once running, BSS included
    uint64_t flags = 0;
    uint32_t pe_offset = 0;
};
inline constexpr uint32_t kArm64Magic = 0x644d5241;  // "ARM\x64"
// The stub's own allocations (libstub/fdt.c MAX_FDT_SIZE, arm64's
// MIN_KIMG_ALIGN): the device tree copy, and the alignment slack of the
// kernel it places.
inline constexpr uint64_t kStubFdtBytes = 2ull << 20;
inline constexpr uint64_t kKernelAlign = 2ull << 20;

// Refuses what the stub cannot start: no "MZ", no arm64 magic, an
// image_size of 0 (kernels before 3.17), no PE header or a PE header of
// another machine (0xaa64), a file shorter than its header.
Status parse_arm64_image(const uint8_t* prefix, size_t prefix_len, uint64_t file_size, Arm64Image* out);

// Scratch the boot needs: khoboot's copy of the file, the firmware's
// LoadImage copy, the kernel as the stub places it (image_size, 2 MiB
// aligned), the stub's initrd copy and its device tree, and 1 MiB for the
// memory map and pool growth. Page multiple.
uint64_t arm64_stub_footprint(uint64_t file_size, const Arm64Image& image, uint64_t initrd_total);

// Free RAM of `map` outside `scratch` (the ranges to fence before
// LoadImage); none on a cold boot (scratch_count 0).
Status arm64_fences(const FirmwareMemoryMap& map, const abi::KhoScratch* scratch, size_t scratch_count,
                    RangeSet& fw_ram, RangeSet& free_mem, RangeSet& out);

}  // namespace kho
