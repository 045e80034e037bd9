// The arm64 way to hand a KHO state to the next kernel: two /chosen
// properties in the device tree the kernel's EFI stub is given.
//
// Linux 7.2 drivers/of/fdt.c early_init_dt_check_kho() reads
// /chosen/linux,kho-fdt (the root KHO FDT) and /chosen/linux,kho-scratch
// (the kho_scratch table) with of_flat_dt_get_addr_size(): each must hold
// exactly one <address size> pair in the root node's #address-cells and
// #size-cells (early_init_dt_scan_root(): 1 and 1 when a property is
// absent), else the kernel ignores the state. The arm64 EFI stub
// (drivers/firmware/efi/libstub/fdt.c update_fdt()) copies the DTB from
// the EFI configuration table (DEVICE_TREE_GUID), keeps /chosen properties
// it does not own, and deletes every /memreserve/ entry: the UEFI memory
// map is the only protection of the preserved pages.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "status.h"

namespace kho {

// What /chosen names; has_state false on a cold boot.
struct ChosenKho {
    bool has_state = false;
    uint64_t fdt_addr = 0, fdt_size = 0;
    uint64_t scratch_addr = 0, scratch_size = 0;  // the kho_scratch table
};

// The root node's cell sizes as Linux reads them (absent: 1 and 1);
// only 1 or 2 cells are accepted (an address is 64 bits).
struct RootCells {
    uint32_t address = 1, size = 1;
};
Status read_root_cells(const void* fdt, RootCells* out);

// The room build_chosen_dtb() needs for `dtb` (null: the firmware has
// none): its size plus space for /chosen and the two properties.
size_t chosen_dtb_capacity(const void* dtb);

// The device tree for the next kernel, in `out` (`capacity` bytes,
// chosen_dtb_capacity()): a copy of the firmware's `dtb` (validated with
// fdt_check_full; `dtb_max` bounds what may be read), or, when there is
// none, the empty tree the EFI stub would generate (#address-cells and
// #size-cells 2, efi_dt_update_cell_size()). Any linux,kho-fdt or
// linux,kho-scratch already there is removed (a cold boot must not hand
// over a stale state); with a state, both are written in the root's cells.
// Err::Io for a firmware DTB that is not a valid tree, Err::BadProperty
// for an address or size the root's cells cannot hold (the state cannot
// be named to this kernel), Err::Capacity when `out` is too small.
Status build_chosen_dtb(const void* dtb, size_t dtb_max, const ChosenKho& kho, void* out,
                        size_t capacity, RootCells* cells);

}  // namespace kho
