// Where the kernel, its initrd and the loader's boot data go.
//
// On a KHO boot the kernel's decompression window [load, load + init_size)
// and the initrd go inside free scratch: the consumer's early allocations
// (and its decompressor's KASLR, arch/x86/boot/compressed/kaslr.c
// process_kho_entries()) are confined to scratch, so that is where the
// kernel is meant to run (docs/kho-abi.md 7.3, docs/boot-protocols.md 3.3). The boot data
// (boot_params, command line, setup_data nodes, the scratch table, the EFI
// memory map) goes outside scratch when it can: the decompressor's
// mem_avoid does not cover the scratch table, so a randomised output
// inside scratch could overwrite it before kho_populate() reads it.
// Outside scratch nothing early in the consumer allocates.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "bzimage.h"
#include "range_set.h"
#include "status.h"

namespace kho {

// The boot-data block: one allocation, its parts at these offsets.
struct BootDataLayout {
    uint64_t boot_params;     // 4 KiB zero page, offset 0
    uint64_t cmdline;         // cmdline_max + 1 bytes
    uint64_t kho_node;        // SetupData + KhoData
    uint64_t scratch_table;   // KhoScratch[scratch_count]
    uint64_t e820_ext;        // SetupData + E820Entry[e820_ext_capacity]
    uint64_t efi_memmap;      // final EFI memory map, memmap_capacity bytes
    uint64_t size;            // whole block, page multiple
    size_t e820_ext_capacity;
    uint64_t memmap_capacity;
};

// `map_descriptors_max` bounds the final memory map (the caller adds slack
// for the splits its own allocations cause); every descriptor becomes at
// most one e820 entry, so it also bounds the SETUP_E820_EXT node.
BootDataLayout layout_boot_data(size_t cmdline_bytes, size_t scratch_count,
                                size_t map_descriptors_max, size_t descriptor_size);

struct PlacementRequest {
    uint64_t kernel_size;      // init_size, page aligned
    uint64_t kernel_align;     // kernel_alignment
    uint64_t kernel_min;       // lowest load address (pref_address)
    uint64_t kernel_max_end;   // exclusive top
    uint64_t initrd_size;      // concatenated, page aligned (0: none)
    uint64_t initrd_max_end;
    uint64_t boot_data_size;
    uint64_t boot_data_max_end;
};

struct Placement {
    uint64_t kernel;
    uint64_t initrd;  // 0 when initrd_size is 0
    uint64_t boot_data;
};

// What a bzImage asks for (its setup header's limits), with the initrds
// and a boot-data block of the given sizes; boot data below 4 GiB (the
// 32-bit boot_params fields that point into it).
Status make_placement_request(const BzImage& image, uint64_t initrd_total, uint64_t boot_data_size,
                              PlacementRequest* out);

// Top-down, preferring addresses below 4 GiB. `image_space` receives the
// kernel and initrd (free scratch, or free RAM on a cold boot);
// `data_space` the boot data, clear of both, and never anywhere else: no
// room there is Err::NoSpace, not a silent fallback into scratch. Both
// sets are normalized. Err::NoSpace says what was needed and what was
// free, naming the image space `space_name` ("scratch", "RAM").
Status place_boot_images(const RangeSet& image_space, const RangeSet& data_space,
                         const PlacementRequest& request, const char* space_name, Placement* out);

// Highest `align`-aligned start of a `size`-byte hole in `space` within
// [min, max_end) clear of the `avoid` ranges. False when there is none.
bool find_top_down(const RangeSet& space, uint64_t size, uint64_t align, uint64_t min,
                   uint64_t max_end, const Range* avoid, size_t avoid_count, uint64_t* out);

}  // namespace kho
