// What the loader handed over, copied out of boot_params at entry (the
// producer may later reuse RAM, and the checks should not re-read a page
// the loader might have put anywhere): the e820 map, the command line,
// the initrd, the setup_data chain, efi_info, and where this image runs.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/x86_boot.h"

namespace tk {

struct PhysRange {
    uint64_t start;
    uint64_t end;  // exclusive
    bool overlaps(uint64_t s, uint64_t e) const { return start < e && s < end; }
    bool contains(uint64_t s, uint64_t e) const { return start <= s && e <= end; }
};

struct SetupDataNode {
    uint64_t phys;
    uint32_t type;
    uint32_t len;
};

struct BootInfo {
    static constexpr size_t kMaxSetupData = 32;
    static constexpr size_t kCmdlineMax = 4096;

    uint64_t bp_phys;
    kho::abi::x86::SetupHeader hdr;
    uint32_t e820_count;
    kho::abi::x86::E820Entry e820[kho::abi::x86::kE820MaxZeroPage];
    uint64_t image_start, image_end;  // [load address, load address + init_size)
    uint64_t cmdline_phys;
    size_t cmdline_len;
    bool cmdline_terminated;          // NUL within cmdline_size
    char cmdline[kCmdlineMax];
    uint64_t initrd_phys, initrd_size;
    uint32_t efi_signature;
    uint64_t efi_systab;
    uint64_t efi_memmap, efi_memmap_size;
    uint64_t acpi_rsdp;
    size_t setup_data_count;
    SetupDataNode setup_data[kMaxSetupData];
    const char* setup_data_error;     // chain walk stopped early, or nullptr

    // True if [start, end) is covered by e820 RAM (type 1) entries.
    bool is_ram(uint64_t start, uint64_t end) const;
    uint64_t ram_top() const;  // end of the highest RAM entry
};

// Fills `out` from the zero page at `bp`.
void read_boot_info(const kho::abi::x86::BootParams* bp, BootInfo* out);

}  // namespace tk
