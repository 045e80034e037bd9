#include "boot_info.h"

#include "paging.h"

extern "C" char _text[];
extern "C" char _end[];

namespace tk {

using namespace kho::abi::x86;

bool BootInfo::is_ram(uint64_t start, uint64_t end) const {
    // Entries may be unsorted and split: walk forward from `start`,
    // extending through any RAM entry that covers the current position.
    uint64_t pos = start;
    while (pos < end) {
        bool advanced = false;
        for (uint32_t i = 0; i < e820_count; ++i) {
            const E820Entry& e = e820[i];
            if (e.type == kE820Ram && e.addr <= pos && pos < e.addr + e.size) {
                pos = e.addr + e.size;
                advanced = true;
            }
        }
        if (!advanced) return false;
    }
    return true;
}

uint64_t BootInfo::ram_top() const {
    uint64_t top = 0;
    for (uint32_t i = 0; i < e820_count; ++i)
        if (e820[i].type == kE820Ram && e820[i].addr + e820[i].size > top)
            top = e820[i].addr + e820[i].size;
    return top;
}

void read_boot_info(const BootParams* bp, BootInfo* out) {
    out->bp_phys = reinterpret_cast<uint64_t>(bp);
    out->hdr = bp->hdr;
    out->e820_count = bp->e820_entries <= kE820MaxZeroPage ? bp->e820_entries : 0;
    for (uint32_t i = 0; i < out->e820_count; ++i) out->e820[i] = bp->e820_table[i];
    out->image_start = reinterpret_cast<uint64_t>(_text);
    out->image_end = reinterpret_cast<uint64_t>(_end);

    // Command line: cmd_line_ptr | ext_cmd_line_ptr << 32 (boot.rst, 2.02+
    // and zero-page.rst 0x0c8), at most cmdline_size bytes plus the NUL.
    out->cmdline_phys = bp->hdr.cmd_line_ptr | uint64_t(bp->ext_cmd_line_ptr) << 32;
    out->cmdline_len = 0;
    out->cmdline_terminated = false;
    out->cmdline[0] = 0;
    if (out->cmdline_phys && out->cmdline_phys < kIdentityLimit) {
        const char* s = reinterpret_cast<const char*>(out->cmdline_phys);
        size_t limit = bp->hdr.cmdline_size + 1;
        if (limit > BootInfo::kCmdlineMax) limit = BootInfo::kCmdlineMax;
        size_t n = 0;
        while (n < limit && s[n]) ++n;
        out->cmdline_terminated = n < limit;
        if (n == limit) --n;
        for (size_t i = 0; i < n; ++i) out->cmdline[i] = s[i];
        out->cmdline[n] = 0;
        out->cmdline_len = n;
    }

    out->initrd_phys = bp->hdr.ramdisk_image | uint64_t(bp->ext_ramdisk_image) << 32;
    out->initrd_size = bp->hdr.ramdisk_size | uint64_t(bp->ext_ramdisk_size) << 32;
    out->efi_signature = bp->efi_info.efi_loader_signature;
    out->efi_systab = bp->efi_info.efi_systab | uint64_t(bp->efi_info.efi_systab_hi) << 32;
    out->efi_memmap = bp->efi_info.efi_memmap | uint64_t(bp->efi_info.efi_memmap_hi) << 32;
    out->efi_memmap_size = bp->efi_info.efi_memmap_size;
    out->acpi_rsdp = bp->acpi_rsdp_addr;

    // setup_data: a singly linked list in RAM; bounded and cycle-proof.
    out->setup_data_count = 0;
    out->setup_data_error = nullptr;
    for (uint64_t p = bp->hdr.setup_data; p; ) {
        if (out->setup_data_count == BootInfo::kMaxSetupData) {
            out->setup_data_error = "chain longer than 32 nodes (cycle?)";
            break;
        }
        if (p >= kIdentityLimit || !out->is_ram(p, p + sizeof(SetupData))) {
            out->setup_data_error = "node outside e820 RAM";
            break;
        }
        const SetupData* n = reinterpret_cast<const SetupData*>(p);
        out->setup_data[out->setup_data_count++] = SetupDataNode{p, n->type, n->len};
        p = n->next;
    }
}

}  // namespace tk
