// The zero page (struct boot_params) for the 64-bit boot protocol, built
// in two steps: everything known before ExitBootServices(), then the
// memory description (e820, efi_info, SETUP_E820_EXT) from the final
// EFI memory map. Sources: Linux Documentation/arch/x86/boot.rst and
// zero-page.rst; the e820 mapping is the EFI stub's setup_e820()
// (drivers/firmware/efi/libstub/x86-stub.c), so the kernel sees the same
// memory whichever way it was started.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/x86_boot.h"
#include "bzimage.h"
#include "memory_plan.h"
#include "status.h"

namespace kho {

struct BootParamsInputs {
    uint64_t kernel_load;
    uint64_t initrd_addr;  // 0 when there is none
    uint64_t initrd_size;
    uint64_t cmdline_addr;
    uint64_t acpi_rsdp;    // 0 when the firmware publishes none
    uint64_t efi_system_table;
};

// Zeroes `bp`, copies the image's setup header (bytes 0x1f1 ..
// 0x202 + jump byte of `image_prefix`) and fills the loader's fields.
Status init_boot_params(const BzImage& image, const uint8_t* image_prefix, size_t prefix_len,
                        const BootParamsInputs& in, abi::x86::BootParams* bp);

// The firmware's linear framebuffer (UEFI GOP mode information), so the
// kernel's efifb/simpledrm keep a console on the screen.
struct Framebuffer {
    enum class Format : uint8_t { Rgbx8, Bgrx8, BitMask };
    uint64_t base;
    uint64_t size;
    uint32_t width;
    uint32_t height;
    uint32_t pixels_per_scanline;
    Format format;
    uint32_t red_mask, green_mask, blue_mask, reserved_mask;  // BitMask only
};

// screen_info (boot_params 0x000, include/uapi/linux/screen_info.h) as the
// EFI stub fills it (drivers/firmware/efi/libstub/gop.c): VIDEO_TYPE_EFI,
// geometry, channel layout, 64-bit base. Refuses (Err::Io, screen_info
// left as it was) nonsensical modes: zero sizes, masks that are not
// contiguous runs, fields that do not fit.
Status set_screen_info(abi::x86::BootParams* bp, const Framebuffer& fb);

// setup_data nodes live in loader memory at known physical addresses;
// `node` is where the loader writes the node whose address the kernel will
// see as `phys` (identical under UEFI's identity map, not in host tests).
class SetupDataChain {
public:
    explicit SetupDataChain(abi::x86::BootParams* bp) : bp_(bp) {}
    void append(abi::x86::SetupData* node, uint64_t phys, uint32_t type, uint32_t len);
    size_t length() const { return n_; }

    // The chain as it is now, to come back to: the loader builds the
    // e820 extension node once per ExitBootServices() try.
    struct Mark {
        abi::x86::SetupData* last;
        size_t n;
    };
    Mark mark() const { return Mark{last_, n_}; }
    void rewind(const Mark& m);

private:
    abi::x86::BootParams* bp_;
    abi::x86::SetupData* last_ = nullptr;
    size_t n_ = 0;
};

// kho_data for SETUP_KEXEC_KHO (docs/boot-protocols.md 3.2): fdt_size is always one
// page; a multikernel-v1 state is passed with scratch 0/0 (docs/kho-abi.md 10),
// which a normal KHO state must never be.
abi::x86::KhoData make_kho_data(uint64_t fdt_addr, uint64_t scratch_table_addr,
                                size_t scratch_count, bool multikernel);

// e820 type for an EFI descriptor; false for types the kernel drops
// (unaccepted memory without its table, unknown OEM/OSV types).
bool e820_type_for(uint32_t efi_type, uint64_t attribute, uint32_t* e820_type);

// Sorted, adjacent same-type ranges merged. Err::Capacity if more than
// `capacity` entries remain.
Status build_e820(const FirmwareMemoryMap& map, abi::x86::E820Entry* out, size_t capacity,
                  size_t* count);

struct E820Ext {
    abi::x86::SetupData* node;  // header + room for `capacity` entries
    uint64_t phys;
    size_t capacity;
};

// Fills e820_table (first 128 entries) and links a SETUP_E820_EXT node for
// the rest, and efi_info ("EL64", system table, final map). `entries` is
// scratch storage for up to map.count entries. Runs after
// ExitBootServices(): no allocation, no firmware call.
Status set_memory_info(abi::x86::BootParams* bp, const FirmwareMemoryMap& final_map,
                       uint64_t map_phys, uint32_t descriptor_version, uint64_t efi_system_table,
                       abi::x86::E820Entry* entries, size_t entries_capacity, const E820Ext& ext,
                       SetupDataChain& chain, size_t* e820_count);

}  // namespace kho
