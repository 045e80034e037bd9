// x86 boot protocol: the setup header, the zero page (boot_params), e820
// entries and the setup_data chain, with the KHO node.
// Sources: Linux Documentation/arch/x86/boot.rst and zero-page.rst,
// arch/x86/include/uapi/asm/bootparam.h, setup_data.h (SETUP_KEXEC_KHO).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::abi::x86 {

// --- setup header (at 0x1f1 in the image and in boot_params) ---------------
struct __attribute__((packed)) SetupHeader {
    uint8_t setup_sects;
    uint16_t root_flags;
    uint32_t syssize;
    uint16_t ram_size;
    uint16_t vid_mode;
    uint16_t root_dev;
    uint16_t boot_flag;
    uint16_t jump;
    uint32_t header;
    uint16_t version;
    uint32_t realmode_swtch;
    uint16_t start_sys_seg;
    uint16_t kernel_version;
    uint8_t type_of_loader;
    uint8_t loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start;
    uint32_t ramdisk_image;
    uint32_t ramdisk_size;
    uint32_t bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t ext_loader_ver;
    uint8_t ext_loader_type;
    uint32_t cmd_line_ptr;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint8_t relocatable_kernel;
    uint8_t min_alignment;
    uint16_t xloadflags;
    uint32_t cmdline_size;
    uint32_t hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset;
    uint32_t payload_length;
    uint64_t setup_data;
    uint64_t pref_address;
    uint32_t init_size;
    uint32_t handover_offset;
    uint32_t kernel_info_offset;
};
inline constexpr size_t kSetupHeaderOffset = 0x1f1;
#define KHO_HDR_AT(field, off) \
    static_assert(offsetof(SetupHeader, field) + kSetupHeaderOffset == (off))
KHO_HDR_AT(setup_sects, 0x1f1);
KHO_HDR_AT(boot_flag, 0x1fe);
KHO_HDR_AT(jump, 0x200);
KHO_HDR_AT(header, 0x202);
KHO_HDR_AT(version, 0x206);
KHO_HDR_AT(type_of_loader, 0x210);
KHO_HDR_AT(loadflags, 0x211);
KHO_HDR_AT(code32_start, 0x214);
KHO_HDR_AT(ramdisk_image, 0x218);
KHO_HDR_AT(ramdisk_size, 0x21c);
KHO_HDR_AT(heap_end_ptr, 0x224);
KHO_HDR_AT(cmd_line_ptr, 0x228);
KHO_HDR_AT(initrd_addr_max, 0x22c);
KHO_HDR_AT(kernel_alignment, 0x230);
KHO_HDR_AT(relocatable_kernel, 0x234);
KHO_HDR_AT(xloadflags, 0x236);
KHO_HDR_AT(cmdline_size, 0x238);
KHO_HDR_AT(setup_data, 0x250);
KHO_HDR_AT(pref_address, 0x258);
KHO_HDR_AT(init_size, 0x260);
KHO_HDR_AT(handover_offset, 0x264);
KHO_HDR_AT(kernel_info_offset, 0x268);
#undef KHO_HDR_AT
static_assert(sizeof(SetupHeader) == 0x26c - 0x1f1);

inline constexpr uint16_t kBootFlag = 0xAA55;
inline constexpr uint32_t kHeaderMagic = 0x53726448;  // "HdrS"
inline constexpr uint16_t kMinProtocol = 0x020c;      // 2.12: xloadflags
// 64-bit entry = protected-mode kernel start + 0x200 ("ABI so immutable!",
// arch/x86/boot/compressed/head_64.S).
inline constexpr uint64_t kEntry64Offset = 0x200;
inline constexpr uint64_t kSectorSize = 512;

// loadflags
inline constexpr uint8_t kLoadedHigh = 1u << 0;
inline constexpr uint8_t kKaslrFlag = 1u << 1;
inline constexpr uint8_t kQuietFlag = 1u << 5;
inline constexpr uint8_t kKeepSegments = 1u << 6;
inline constexpr uint8_t kCanUseHeap = 1u << 7;
// xloadflags
inline constexpr uint16_t kXlfKernel64 = 1u << 0;
inline constexpr uint16_t kXlfCanBeLoadedAbove4G = 1u << 1;
inline constexpr uint16_t kXlfEfiHandover32 = 1u << 2;
inline constexpr uint16_t kXlfEfiHandover64 = 1u << 3;
inline constexpr uint16_t kXlfEfiKexec = 1u << 4;
inline constexpr uint16_t kXlfFiveLevel = 1u << 5;
inline constexpr uint16_t kXlfFiveLevelEnabled = 1u << 6;

// type_of_loader 0xff: "undefined" loader (as Limine and systemd use);
// the ext_loader_* fields stay zero.
inline constexpr uint8_t kLoaderTypeUndefined = 0xff;

// --- e820 -----------------------------------------------------------------
struct __attribute__((packed)) E820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};
static_assert(sizeof(E820Entry) == 20);

enum E820Type : uint32_t {
    kE820Ram = 1,
    kE820Reserved = 2,
    kE820Acpi = 3,
    kE820Nvs = 4,
    kE820Unusable = 5,
    kE820Pmem = 7,
    kE820Pram = 12,
    kE820SoftReserved = 0xefffffff,
};
inline constexpr size_t kE820MaxZeroPage = 128;  // E820_MAX_ENTRIES_ZEROPAGE

// --- efi_info (boot_params 0x1c0) -------------------------------------------
struct EfiInfo {
    uint32_t efi_loader_signature;
    uint32_t efi_systab;
    uint32_t efi_memdesc_size;
    uint32_t efi_memdesc_version;
    uint32_t efi_memmap;
    uint32_t efi_memmap_size;
    uint32_t efi_systab_hi;
    uint32_t efi_memmap_hi;
};
static_assert(sizeof(EfiInfo) == 32);
inline constexpr uint32_t kEfi64LoaderSignature = 0x34364c45;  // "EL64"

// --- boot_params (the zero page) -------------------------------------------
struct __attribute__((packed)) BootParams {
    uint8_t screen_info[0x40];
    uint8_t apm_bios_info[0x14];
    uint8_t _pad2[4];
    uint64_t tboot_addr;
    uint8_t ist_info[0x10];
    uint64_t acpi_rsdp_addr;
    uint8_t _pad3[8];
    uint8_t hd0_info[16];
    uint8_t hd1_info[16];
    uint8_t sys_desc_table[0x10];
    uint8_t olpc_ofw_header[0x10];
    uint32_t ext_ramdisk_image;
    uint32_t ext_ramdisk_size;
    uint32_t ext_cmd_line_ptr;
    uint8_t _pad4[112];
    uint32_t cc_blob_address;
    uint8_t edid_info[0x80];
    EfiInfo efi_info;
    uint32_t alt_mem_k;
    uint32_t scratch;
    uint8_t e820_entries;
    uint8_t eddbuf_entries;
    uint8_t edd_mbr_sig_buf_entries;
    uint8_t kbd_status;
    uint8_t secure_boot;
    uint8_t _pad5[2];
    uint8_t sentinel;
    uint8_t _pad6[1];
    SetupHeader hdr;
    uint8_t _pad7[0x290 - 0x1f1 - sizeof(SetupHeader)];
    uint32_t edd_mbr_sig_buffer[16];
    E820Entry e820_table[kE820MaxZeroPage];
    uint8_t _pad8[48];
    uint8_t eddbuf[6 * 82];
    uint8_t _pad9[276];
};
static_assert(sizeof(BootParams) == 4096);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0x0c0);
static_assert(offsetof(BootParams, ext_cmd_line_ptr) == 0x0c8);
static_assert(offsetof(BootParams, cc_blob_address) == 0x13c);
static_assert(offsetof(BootParams, efi_info) == 0x1c0);
static_assert(offsetof(BootParams, e820_entries) == 0x1e8);
static_assert(offsetof(BootParams, sentinel) == 0x1ef);
static_assert(offsetof(BootParams, hdr) == 0x1f1);
static_assert(offsetof(BootParams, edd_mbr_sig_buffer) == 0x290);
static_assert(offsetof(BootParams, e820_table) == 0x2d0);
static_assert(offsetof(BootParams, eddbuf) == 0xd00);

// --- setup_data chain ---------------------------------------------------------
struct SetupData {
    uint64_t next;  // phys of next node, 0 = end
    uint32_t type;
    uint32_t len;   // bytes of data[] following this header
};
static_assert(sizeof(SetupData) == 16);

enum SetupDataType : uint32_t {
    kSetupNone = 0,
    kSetupE820Ext = 1,
    kSetupDtb = 2,
    kSetupPci = 3,
    kSetupEfi = 4,
    kSetupAppleProperties = 5,
    kSetupJailhouse = 6,
    kSetupCcBlob = 7,
    kSetupIma = 8,
    kSetupRngSeed = 9,
    kSetupKexecKho = 10,  // SETUP_KEXEC_KHO, SETUP_ENUM_MAX in 6.16+
};

// Payload of a SETUP_KEXEC_KHO node (packed in Linux, naturally aligned
// anyway). fdt_size is always PAGE_SIZE; scratch_size is n * 16. A node with
// scratch_addr == scratch_size == 0 is read as multikernel by kernels that
// carry the multikernel patches.
struct __attribute__((packed)) KhoData {
    uint64_t fdt_addr;
    uint64_t fdt_size;
    uint64_t scratch_addr;
    uint64_t scratch_size;
};
static_assert(sizeof(KhoData) == 32);
static_assert(offsetof(KhoData, fdt_size) == 8);
static_assert(offsetof(KhoData, scratch_addr) == 16);
static_assert(offsetof(KhoData, scratch_size) == 24);

// Boot GDT selectors the 64-bit protocol requires (__BOOT_CS, __BOOT_DS).
inline constexpr uint16_t kBootCs = 0x10;
inline constexpr uint16_t kBootDs = 0x18;

}  // namespace kho::abi::x86
