// The x86-64 boot protocol of a handover (Linux Documentation/arch/x86/
// boot.rst, docs/boot-protocols.md): boot_params, the command line, and
// the KHO state as setup_data type 10 (SETUP_KEXEC_KHO) naming the root
// FDT and a copy of the scratch table, all in the boot-data block; then,
// from the final memory map, e820 and efi_info. x86_protocol()
// (boot_protocol.h) is this module as the flow sees it; arm64_handover.h
// is the arm64 sibling.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "boot_flow.h"
#include "boot_protocol.h"

namespace kho {

// Writes the boot-data block (`block`, images->layout.size writable bytes
// at images->boot_data) and links the KHO node into `chain`; *bp points
// into the block. Logs the protocol lines through `flow`.
Status write_x86_boot_data(const BootDataInputs& in, uint8_t* block, abi::x86::BootParams** bp,
                           SetupDataChain* chain, BootFlow& flow);

// After the final GetMemoryMap() (into the block's efi_memmap area):
// e820 (with SETUP_E820_EXT beyond 128 entries) and efi_info. No
// allocation and no firmware call, so it can run before each
// ExitBootServices() try; a retry rewinds the chain first.
Status x86_final_memory_info(const Handoff& h, const MemoryMapSnapshot& final_map,
                             uint64_t system_table, size_t* e820_count);

}  // namespace kho
