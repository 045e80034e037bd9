#include "boot_params_builder.h"

#include <string.h>

#include "../abi/efi_memory.h"

namespace kho {

namespace x86 = abi::x86;
namespace efi = abi::efi;

namespace {

// EFI_MEMORY_SP: "specific purpose" memory the stub reports as soft
// reserved (x86-stub.c setup_e820(), efi_soft_reserve_enabled()).
constexpr uint64_t kEfiMemorySp = 0x40000;

uint32_t lo32(uint64_t v) { return static_cast<uint32_t>(v); }
uint32_t hi32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

}  // namespace

Status init_boot_params(const BzImage& image, const uint8_t* prefix, size_t prefix_len,
                        const BootParamsInputs& in, x86::BootParams* bp) {
    if (x86::kSetupHeaderOffset + image.header_copy_size > prefix_len ||
        image.header_copy_size > sizeof(x86::BootParams) - offsetof(x86::BootParams, hdr) ||
        x86::kSetupHeaderOffset + image.header_copy_size > offsetof(x86::BootParams, edd_mbr_sig_buffer))
        return Status::error(Err::BadImage, "setup header of 0x%x bytes does not fit",
                             image.header_copy_size);
    memset(bp, 0, sizeof(*bp));
    // boot.rst "64-bit Boot Protocol": load the setup header from the
    // image into boot_params, then fill the loader fields.
    memcpy(&bp->hdr, prefix + x86::kSetupHeaderOffset, image.header_copy_size);
    x86::SetupHeader& h = bp->hdr;  // SetupHeader is packed itself (alignment 1)
    h.type_of_loader = x86::kLoaderTypeUndefined;
    h.ext_loader_ver = 0;
    h.ext_loader_type = 0;
    h.code32_start = lo32(in.kernel_load);
    h.ramdisk_image = lo32(in.initrd_addr);
    h.ramdisk_size = lo32(in.initrd_size);
    bp->ext_ramdisk_image = hi32(in.initrd_addr);
    bp->ext_ramdisk_size = hi32(in.initrd_size);
    h.cmd_line_ptr = lo32(in.cmdline_addr);
    bp->ext_cmd_line_ptr = hi32(in.cmdline_addr);
    h.setup_data = 0;
    // Always pass the RSDP: it can be lost otherwise (kexec-tools and
    // Limine do the same; docs/boot-protocols.md section 5).
    bp->acpi_rsdp_addr = in.acpi_rsdp;
    bp->efi_info.efi_loader_signature = x86::kEfi64LoaderSignature;
    bp->efi_info.efi_systab = lo32(in.efi_system_table);
    bp->efi_info.efi_systab_hi = hi32(in.efi_system_table);
    return Status::ok();
}

namespace {

// struct screen_info field offsets (include/uapi/linux/screen_info.h).
constexpr size_t kSiIsVga = 0x0f;
constexpr size_t kSiLfbWidth = 0x12;
constexpr size_t kSiLfbHeight = 0x14;
constexpr size_t kSiLfbDepth = 0x16;
constexpr size_t kSiLfbBase = 0x18;
constexpr size_t kSiLfbSize = 0x1c;
constexpr size_t kSiLfbLinelength = 0x24;
constexpr size_t kSiRedSize = 0x26;  // then red_pos, green_size/pos, blue, rsvd
constexpr size_t kSiCapabilities = 0x36;
constexpr size_t kSiExtLfbBase = 0x3a;
constexpr uint8_t kVideoTypeEfi = 0x70;
constexpr uint32_t kVideoCapabilitySkipQuirks = 1u << 0;
constexpr uint32_t kVideoCapability64BitBase = 1u << 1;

template <typename T>
void put(uint8_t* si, size_t off, T v) {
    memcpy(si + off, &v, sizeof(v));
}

// A mask as (size, pos); false unless it is one contiguous run of ones.
bool mask_run(uint32_t mask, uint8_t* size, uint8_t* pos) {
    if (!mask) {
        *size = *pos = 0;
        return true;
    }
    unsigned p = __builtin_ctz(mask);
    uint32_t run = mask >> p;
    if (run & (run + 1)) return false;
    *pos = static_cast<uint8_t>(p);
    *size = static_cast<uint8_t>(32 - __builtin_clz(run));
    return true;
}

}  // namespace

Status set_screen_info(x86::BootParams* bp, const Framebuffer& fb) {
    if (!fb.base || !fb.size || !fb.width || !fb.height || fb.pixels_per_scanline < fb.width ||
        fb.width > 0xffff || fb.height > 0xffff || fb.size > 0xffffffffull)
        return Status::error(Err::Io, "framebuffer %ux%u stride %u at 0x%llx+0x%llx unusable",
                             fb.width, fb.height, fb.pixels_per_scanline,
                             (unsigned long long)fb.base, (unsigned long long)fb.size);
    uint8_t ch[8] = {};
    uint16_t depth = 32;
    switch (fb.format) {
    case Framebuffer::Format::Rgbx8:
        // PixelRedGreenBlueReserved8BitPerColor: byte 0 red.
        ch[0] = 8, ch[1] = 0, ch[2] = 8, ch[3] = 8, ch[4] = 8, ch[5] = 16, ch[6] = 8, ch[7] = 24;
        break;
    case Framebuffer::Format::Bgrx8:
        ch[0] = 8, ch[1] = 16, ch[2] = 8, ch[3] = 8, ch[4] = 8, ch[5] = 0, ch[6] = 8, ch[7] = 24;
        break;
    case Framebuffer::Format::BitMask: {
        if (!mask_run(fb.red_mask, &ch[0], &ch[1]) || !mask_run(fb.green_mask, &ch[2], &ch[3]) ||
            !mask_run(fb.blue_mask, &ch[4], &ch[5]) || !mask_run(fb.reserved_mask, &ch[6], &ch[7]))
            return Status::error(Err::Io, "framebuffer masks are not contiguous");
        uint32_t all = fb.red_mask | fb.green_mask | fb.blue_mask | fb.reserved_mask;
        depth = static_cast<uint16_t>(all ? 32 - __builtin_clz(all) : 0);
        if (!depth) return Status::error(Err::Io, "framebuffer has empty masks");
        break;
    }
    }
    // Line length in bytes: whole bytes per pixel, as gop.c computes it.
    uint32_t bytes_pp = (depth + 7) / 8;
    uint64_t line = uint64_t(fb.pixels_per_scanline) * bytes_pp;
    if (line > 0xffff) return Status::error(Err::Io, "framebuffer line of %llu bytes",
                                            (unsigned long long)line);
    uint8_t* si = bp->screen_info;
    memset(si, 0, sizeof(bp->screen_info));
    si[kSiIsVga] = kVideoTypeEfi;
    put<uint16_t>(si, kSiLfbWidth, static_cast<uint16_t>(fb.width));
    put<uint16_t>(si, kSiLfbHeight, static_cast<uint16_t>(fb.height));
    put<uint16_t>(si, kSiLfbDepth, depth);
    put<uint32_t>(si, kSiLfbBase, lo32(fb.base));
    put<uint32_t>(si, kSiLfbSize, static_cast<uint32_t>(fb.size));
    put<uint16_t>(si, kSiLfbLinelength, static_cast<uint16_t>(line));
    memcpy(si + kSiRedSize, ch, sizeof(ch));
    uint32_t caps = kVideoCapabilitySkipQuirks;
    if (hi32(fb.base)) {
        caps |= kVideoCapability64BitBase;
        put<uint32_t>(si, kSiExtLfbBase, hi32(fb.base));
    }
    put<uint32_t>(si, kSiCapabilities, caps);
    return Status::ok();
}

void SetupDataChain::append(x86::SetupData* node, uint64_t phys, uint32_t type, uint32_t len) {
    node->next = 0;
    node->type = type;
    node->len = len;
    if (last_) last_->next = phys;
    else bp_->hdr.setup_data = phys;
    last_ = node;
    n_++;
}

void SetupDataChain::rewind(const Mark& m) {
    last_ = m.last;
    n_ = m.n;
    if (last_) last_->next = 0;
    else bp_->hdr.setup_data = 0;
}

x86::KhoData make_kho_data(uint64_t fdt_addr, uint64_t scratch_table_addr, size_t scratch_count,
                           bool multikernel) {
    x86::KhoData d{};
    d.fdt_addr = fdt_addr;
    d.fdt_size = 4096;
    if (!multikernel) {
        d.scratch_addr = scratch_table_addr;
        d.scratch_size = uint64_t(scratch_count) * 16;
    }
    return d;
}

bool e820_type_for(uint32_t efi_type, uint64_t attribute, uint32_t* out) {
    switch (efi_type) {
    case efi::kLoaderCode:
    case efi::kLoaderData:
    case efi::kBootServicesCode:
    case efi::kBootServicesData:
    case efi::kConventionalMemory:
        *out = (attribute & kEfiMemorySp) ? x86::kE820SoftReserved : x86::kE820Ram;
        return true;
    case efi::kACPIReclaimMemory: *out = x86::kE820Acpi; return true;
    case efi::kACPIMemoryNVS: *out = x86::kE820Nvs; return true;
    case efi::kPersistentMemory: *out = x86::kE820Pmem; return true;
    case efi::kUnusableMemory: *out = x86::kE820Unusable; return true;
    case efi::kReservedMemoryType:
    case efi::kRuntimeServicesCode:
    case efi::kRuntimeServicesData:
    case efi::kMemoryMappedIO:
    case efi::kMemoryMappedIOPortSpace:
    case efi::kPalCode:
        *out = x86::kE820Reserved;
        return true;
    default:
        // Unaccepted memory needs the unaccepted-memory table the stub
        // builds; without it the kernel must not touch it. OEM/OSV types
        // are dropped by the stub as well.
        return false;
    }
}

Status build_e820(const FirmwareMemoryMap& map, x86::E820Entry* out, size_t capacity,
                  size_t* count) {
    size_t n = 0;
    for (size_t i = 0; i < map.count; i++) {
        const efi::MemoryDescriptor& d = map.at(i);
        uint32_t type;
        if (d.number_of_pages == 0 || !e820_type_for(d.type, d.attribute, &type)) continue;
        if (d.number_of_pages > (UINT64_MAX - d.physical_start) / efi::kPageSize)
            return Status::error(Err::BadMap, "EFI descriptor at 0x%llx wraps",
                                 (unsigned long long)d.physical_start);
        x86::E820Entry e{d.physical_start, d.number_of_pages * efi::kPageSize, type};
        // Insertion sort: maps are nearly sorted (EDK2 returns them
        // sorted), so this is linear in practice and needs no extra memory.
        size_t j = n;
        while (j > 0 && out[j - 1].addr > e.addr) j--;
        // Merge with the predecessor when contiguous and of the same type.
        if (j > 0 && out[j - 1].type == type && out[j - 1].addr + out[j - 1].size == e.addr) {
            out[j - 1].size += e.size;
            // It may now touch its successor too.
            if (j < n && out[j].type == type && out[j - 1].addr + out[j - 1].size == out[j].addr) {
                out[j - 1].size += out[j].size;
                memmove(&out[j], &out[j + 1], (n - j - 1) * sizeof(x86::E820Entry));
                n--;
            }
            continue;
        }
        if (j < n && out[j].type == type && e.addr + e.size == out[j].addr) {
            out[j].addr = e.addr;
            out[j].size += e.size;
            continue;
        }
        if (n == capacity)
            return Status::error(Err::Capacity, "more than %zu e820 entries", capacity);
        memmove(&out[j + 1], &out[j], (n - j) * sizeof(x86::E820Entry));
        out[j] = e;
        n++;
    }
    *count = n;
    return Status::ok();
}

Status set_memory_info(x86::BootParams* bp, const FirmwareMemoryMap& map, uint64_t map_phys,
                       uint32_t descriptor_version, uint64_t efi_system_table,
                       x86::E820Entry* entries, size_t entries_capacity, const E820Ext& ext,
                       SetupDataChain& chain, size_t* e820_count) {
    size_t n;
    KHO_TRY(build_e820(map, entries, entries_capacity, &n));
    size_t in_page = n < x86::kE820MaxZeroPage ? n : x86::kE820MaxZeroPage;
    memcpy(bp->e820_table, entries, in_page * sizeof(x86::E820Entry));
    bp->e820_entries = static_cast<uint8_t>(in_page);
    if (n > in_page) {
        // E820_MAX_ENTRIES_ZEROPAGE: the rest go into SETUP_E820_EXT, as
        // kexec-tools and the EFI stub (alloc_e820ext()) pass them.
        size_t rest = n - in_page;
        if (rest > ext.capacity)
            return Status::error(Err::Capacity, "%zu e820 entries, room for %zu", n,
                                 in_page + ext.capacity);
        memcpy(reinterpret_cast<uint8_t*>(ext.node) + sizeof(x86::SetupData), entries + in_page,
               rest * sizeof(x86::E820Entry));
        chain.append(ext.node, ext.phys, x86::kSetupE820Ext,
                     static_cast<uint32_t>(rest * sizeof(x86::E820Entry)));
    }
    // zero-page.rst efi_info: what the kernel needs to keep EFI runtime
    // services (efi_memmap_init_early() reads the final map from here).
    x86::EfiInfo ei = bp->efi_info;  // packed member: edit a copy
    ei.efi_loader_signature = x86::kEfi64LoaderSignature;
    ei.efi_systab = lo32(efi_system_table);
    ei.efi_systab_hi = hi32(efi_system_table);
    ei.efi_memdesc_size = static_cast<uint32_t>(map.stride);
    ei.efi_memdesc_version = descriptor_version;
    ei.efi_memmap = lo32(map_phys);
    ei.efi_memmap_hi = hi32(map_phys);
    ei.efi_memmap_size = static_cast<uint32_t>(map.count * map.stride);
    bp->efi_info = ei;
    *e820_count = n;
    return Status::ok();
}

}  // namespace kho
