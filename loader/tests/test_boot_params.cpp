// boot_params: header copy and loader fields, the setup_data chain with
// the KHO node, e820 from an EFI map (with SETUP_E820_EXT), efi_info.
#include <gtest/gtest.h>
#include <string.h>

#include <vector>

#include "abi/efi_memory.h"
#include "loader/boot_params_builder.h"

namespace {

namespace x86 = kho::abi::x86;
namespace efi = kho::abi::efi;
using kho::Err;

std::vector<uint8_t> image_prefix() {
    std::vector<uint8_t> b(kho::kBzImagePrefix, 0);
    auto put16 = [&](size_t o, uint16_t v) { memcpy(&b[o], &v, 2); };
    auto put32 = [&](size_t o, uint32_t v) { memcpy(&b[o], &v, 4); };
    b[0x1f1] = 39;
    put32(0x1f4, 0x1000);
    put16(0x1fe, 0xaa55);
    b[0x201] = 0x6a;
    put32(0x202, 0x53726448);
    put16(0x206, 0x020f);
    b[0x210] = 0x00;
    b[0x211] = 0x01;
    put32(0x230, 0x200000);
    b[0x234] = 1;
    put16(0x236, 0x7f);
    put32(0x238, 0x7ff);
    put32(0x260, 0x100000);
    b[0x26c] = 0xee;  // just past the header: must not be copied
    return b;
}

kho::BzImage parsed(const std::vector<uint8_t>& p) {
    kho::BzImage img;
    EXPECT_TRUE(kho::parse_bzimage(p.data(), p.size(), 0x100000, &img));
    return img;
}

TEST(BootParams, CopiesHeaderAndFillsLoaderFields) {
    auto prefix = image_prefix();
    kho::BzImage img = parsed(prefix);
    auto bp = std::make_unique<x86::BootParams>();
    memset(bp.get(), 0xcc, sizeof(*bp));
    kho::BootParamsInputs in{};
    in.kernel_load = 0x4c000000;
    in.initrd_addr = 0x1234560000;
    in.initrd_size = 0x100001000;
    in.cmdline_addr = 0x2000007fe7e000;
    in.acpi_rsdp = 0x7f77e014;
    in.efi_system_table = 0x17f9ee018;
    ASSERT_TRUE(kho::init_boot_params(img, prefix.data(), prefix.size(), in, bp.get()));
    const uint8_t* raw = reinterpret_cast<const uint8_t*>(bp.get());
    EXPECT_EQ(0, memcmp(raw + 0x1f1 + 2, prefix.data() + 0x1f1 + 2, 0x210 - 0x1f3));
    EXPECT_EQ(raw[0x26c], 0);  // zeroed, not copied
    EXPECT_EQ(bp->hdr.type_of_loader, 0xff);
    EXPECT_EQ(bp->hdr.version, 0x020f);
    EXPECT_EQ(bp->hdr.code32_start, 0x4c000000u);
    EXPECT_EQ(bp->hdr.ramdisk_image, 0x34560000u);
    EXPECT_EQ(bp->ext_ramdisk_image, 0x12u);
    EXPECT_EQ(bp->hdr.ramdisk_size, 0x1000u);
    EXPECT_EQ(bp->ext_ramdisk_size, 1u);
    EXPECT_EQ(bp->hdr.cmd_line_ptr, 0x7fe7e000u);
    EXPECT_EQ(bp->ext_cmd_line_ptr, 0x200000u);
    EXPECT_EQ(bp->hdr.setup_data, 0u);
    EXPECT_EQ(bp->acpi_rsdp_addr, 0x7f77e014u);
    EXPECT_EQ(bp->efi_info.efi_loader_signature, 0x34364c45u);
    EXPECT_EQ(bp->efi_info.efi_systab, 0x7f9ee018u);
    EXPECT_EQ(bp->efi_info.efi_systab_hi, 1u);
    EXPECT_EQ(bp->sentinel, 0);
    EXPECT_EQ(bp->e820_entries, 0);
}

TEST(SetupData, ChainLinksInOrder) {
    auto bp = std::make_unique<x86::BootParams>();
    memset(bp.get(), 0, sizeof(*bp));
    alignas(8) uint8_t a[64], b[64];
    kho::SetupDataChain chain(bp.get());
    chain.append(reinterpret_cast<x86::SetupData*>(a), 0x1000, x86::kSetupKexecKho, 32);
    chain.append(reinterpret_cast<x86::SetupData*>(b), 0x2000, x86::kSetupE820Ext, 40);
    EXPECT_EQ(bp->hdr.setup_data, 0x1000u);
    auto* na = reinterpret_cast<x86::SetupData*>(a);
    auto* nb = reinterpret_cast<x86::SetupData*>(b);
    EXPECT_EQ(na->next, 0x2000u);
    EXPECT_EQ(na->type, 10u);
    EXPECT_EQ(na->len, 32u);
    EXPECT_EQ(nb->next, 0u);
    EXPECT_EQ(chain.length(), 2u);
}

// The loader builds the e820 extension node once per ExitBootServices()
// try: a retry must not chain a second node behind the first.
TEST(SetupData, RewindDropsWhatWasAppendedSinceTheMark) {
    auto bp = std::make_unique<x86::BootParams>();
    memset(bp.get(), 0, sizeof(*bp));
    alignas(8) uint8_t a[64], b[64];
    kho::SetupDataChain chain(bp.get());
    kho::SetupDataChain::Mark empty = chain.mark();
    chain.append(reinterpret_cast<x86::SetupData*>(a), 0x1000, x86::kSetupKexecKho, 32);
    kho::SetupDataChain::Mark one = chain.mark();
    for (int attempt = 0; attempt < 3; ++attempt) {
        chain.rewind(one);
        chain.append(reinterpret_cast<x86::SetupData*>(b), 0x2000, x86::kSetupE820Ext, 40);
    }
    EXPECT_EQ(chain.length(), 2u);
    EXPECT_EQ(reinterpret_cast<x86::SetupData*>(a)->next, 0x2000u);
    EXPECT_EQ(reinterpret_cast<x86::SetupData*>(b)->next, 0u);
    chain.rewind(one);
    EXPECT_EQ(reinterpret_cast<x86::SetupData*>(a)->next, 0u);
    chain.rewind(empty);
    EXPECT_EQ(bp->hdr.setup_data, 0u);
    EXPECT_EQ(chain.length(), 0u);
}

TEST(KhoData, NormalAndMultikernel) {
    x86::KhoData d = kho::make_kho_data(0x20000000, 0x7fe7e070, 3, false);
    EXPECT_EQ(d.fdt_addr, 0x20000000u);
    EXPECT_EQ(d.fdt_size, 4096u);
    EXPECT_EQ(d.scratch_addr, 0x7fe7e070u);
    EXPECT_EQ(d.scratch_size, 48u);
    // Byte layout as the kernel's struct kho_data (docs/boot-protocols.md 3.2).
    uint8_t raw[32];
    memcpy(raw, &d, 32);
    EXPECT_EQ(raw[3], 0x20);
    EXPECT_EQ(raw[9], 0x10);
    EXPECT_EQ(raw[24], 48);
    x86::KhoData m = kho::make_kho_data(0x20000000, 0x7fe7e070, 3, true);
    EXPECT_EQ(m.scratch_addr, 0u);
    EXPECT_EQ(m.scratch_size, 0u);
    EXPECT_EQ(m.fdt_size, 4096u);
}

TEST(ScreenInfo, EfiFramebufferLikeTheStub) {
    auto bp = std::make_unique<x86::BootParams>();
    memset(bp.get(), 0, sizeof(*bp));
    kho::Framebuffer fb{};
    fb.base = 0x480000000;
    fb.size = 1280 * 800 * 4;
    fb.width = 1280;
    fb.height = 800;
    fb.pixels_per_scanline = 1280;
    fb.format = kho::Framebuffer::Format::Bgrx8;
    ASSERT_TRUE(kho::set_screen_info(bp.get(), fb));
    const uint8_t* si = bp->screen_info;
    auto u16 = [&](size_t o) { uint16_t v; memcpy(&v, si + o, 2); return v; };
    auto u32 = [&](size_t o) { uint32_t v; memcpy(&v, si + o, 4); return v; };
    EXPECT_EQ(si[0x0f], 0x70);  // VIDEO_TYPE_EFI
    EXPECT_EQ(u16(0x12), 1280);
    EXPECT_EQ(u16(0x14), 800);
    EXPECT_EQ(u16(0x16), 32);
    EXPECT_EQ(u32(0x18), 0x80000000u);
    EXPECT_EQ(u32(0x1c), 1280u * 800 * 4);
    EXPECT_EQ(u16(0x24), 1280 * 4);
    const uint8_t bgrx[8] = {8, 16, 8, 8, 8, 0, 8, 24};
    EXPECT_EQ(0, memcmp(si + 0x26, bgrx, 8));
    EXPECT_EQ(u32(0x36), 3u);  // SKIP_QUIRKS | 64BIT_BASE
    EXPECT_EQ(u32(0x3a), 4u);
}

TEST(ScreenInfo, BitMaskAndRefusals) {
    auto bp = std::make_unique<x86::BootParams>();
    memset(bp.get(), 0, sizeof(*bp));
    kho::Framebuffer fb{};
    fb.base = 0x80000000;
    fb.size = 640 * 480 * 2;
    fb.width = 640;
    fb.height = 480;
    fb.pixels_per_scanline = 640;
    fb.format = kho::Framebuffer::Format::BitMask;
    fb.red_mask = 0xf800;
    fb.green_mask = 0x07e0;
    fb.blue_mask = 0x001f;
    ASSERT_TRUE(kho::set_screen_info(bp.get(), fb));
    const uint8_t rgb565[8] = {5, 11, 6, 5, 5, 0, 0, 0};
    EXPECT_EQ(0, memcmp(bp->screen_info + 0x26, rgb565, 8));
    uint16_t depth, line;
    memcpy(&depth, bp->screen_info + 0x16, 2);
    memcpy(&line, bp->screen_info + 0x24, 2);
    EXPECT_EQ(depth, 16);
    EXPECT_EQ(line, 1280);
    fb.green_mask = 0x0520;  // not a contiguous run
    EXPECT_FALSE(kho::set_screen_info(bp.get(), fb));
    fb.green_mask = 0x07e0;
    fb.pixels_per_scanline = 100;  // shorter than a line
    EXPECT_FALSE(kho::set_screen_info(bp.get(), fb));
    fb.pixels_per_scanline = 640;
    fb.base = 0;
    EXPECT_FALSE(kho::set_screen_info(bp.get(), fb));
}

// An EFI map with 48-byte descriptors, as OVMF returns.
struct Map {
    static constexpr size_t kStride = 48;
    std::vector<uint8_t> bytes;
    void add(uint32_t type, uint64_t start, uint64_t pages, uint64_t attr = efi::kMemoryWB) {
        size_t off = bytes.size();
        bytes.resize(off + kStride, 0xa5);  // padding beyond the known fields
        efi::MemoryDescriptor d{type, 0, start, 0, pages, attr};
        memcpy(&bytes[off], &d, sizeof(d));
    }
    kho::FirmwareMemoryMap view() const { return {bytes.data(), bytes.size() / kStride, kStride}; }
};

TEST(E820, TypesLikeTheEfiStub) {
    uint32_t t;
    EXPECT_TRUE(kho::e820_type_for(efi::kLoaderData, 0, &t));
    EXPECT_EQ(t, x86::kE820Ram);
    EXPECT_TRUE(kho::e820_type_for(efi::kBootServicesCode, 0, &t));
    EXPECT_EQ(t, x86::kE820Ram);
    EXPECT_TRUE(kho::e820_type_for(efi::kConventionalMemory, 0x40000, &t));
    EXPECT_EQ(t, x86::kE820SoftReserved);
    EXPECT_TRUE(kho::e820_type_for(efi::kACPIReclaimMemory, 0, &t));
    EXPECT_EQ(t, x86::kE820Acpi);
    EXPECT_TRUE(kho::e820_type_for(efi::kACPIMemoryNVS, 0, &t));
    EXPECT_EQ(t, x86::kE820Nvs);
    EXPECT_TRUE(kho::e820_type_for(efi::kPersistentMemory, 0, &t));
    EXPECT_EQ(t, x86::kE820Pmem);
    EXPECT_TRUE(kho::e820_type_for(efi::kRuntimeServicesData, 0, &t));
    EXPECT_EQ(t, x86::kE820Reserved);
    EXPECT_TRUE(kho::e820_type_for(efi::kMemoryMappedIO, 0, &t));
    EXPECT_EQ(t, x86::kE820Reserved);
    EXPECT_TRUE(kho::e820_type_for(efi::kUnusableMemory, 0, &t));
    EXPECT_EQ(t, x86::kE820Unusable);
    EXPECT_FALSE(kho::e820_type_for(efi::kUnacceptedMemoryType, 0, &t));
    EXPECT_FALSE(kho::e820_type_for(0x80000001, 0, &t));
}

TEST(E820, SortsAndMergesAdjacentRam) {
    Map m;
    m.add(efi::kConventionalMemory, 0x100000, 0x100);    // 0x100000-0x200000
    m.add(efi::kACPIMemoryNVS, 0x0, 0x10);
    m.add(efi::kLoaderData, 0x200000, 0x10);             // protected KHO range: RAM
    m.add(efi::kBootServicesData, 0x210000, 0x10);
    m.add(efi::kRuntimeServicesCode, 0x300000, 0x1);
    m.add(efi::kConventionalMemory, 0x220000, 0xe0);     // closes the gap to 0x300000
    m.add(efi::kUnacceptedMemoryType, 0x400000, 0x10);   // dropped
    m.add(efi::kConventionalMemory, 0x500000, 0);        // empty: dropped
    x86::E820Entry out[16];
    size_t n;
    ASSERT_TRUE(kho::build_e820(m.view(), out, 16, &n));
    ASSERT_EQ(n, 3u);
    EXPECT_EQ(out[0].addr, 0u);
    EXPECT_EQ(out[0].type, x86::kE820Nvs);
    EXPECT_EQ(out[1].addr, 0x100000u);
    EXPECT_EQ(out[1].size, 0x200000u);
    EXPECT_EQ(out[1].type, x86::kE820Ram);
    EXPECT_EQ(out[2].addr, 0x300000u);
    EXPECT_EQ(out[2].type, x86::kE820Reserved);
}

TEST(E820, CapacityAndWrapErrors) {
    Map m;
    for (int i = 0; i < 4; i++) m.add(i % 2 ? efi::kACPIMemoryNVS : efi::kConventionalMemory, i * 0x1000, 1);
    x86::E820Entry out[3];
    size_t n;
    kho::Status s = kho::build_e820(m.view(), out, 3, &n);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Capacity);
    Map w;
    w.add(efi::kConventionalMemory, 0xfffffffffff00000, 0x1000);
    s = kho::build_e820(w.view(), out, 3, &n);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadMap);
}

TEST(MemoryInfo, ZeroPageThenE820ExtAndEfiInfo) {
    Map m;
    // 200 alternating entries: nothing merges.
    for (int i = 0; i < 200; i++)
        m.add(i % 2 ? efi::kACPIMemoryNVS : efi::kConventionalMemory, uint64_t(i) * 0x1000, 1);
    auto bp = std::make_unique<x86::BootParams>();
    memset(bp.get(), 0, sizeof(*bp));
    std::vector<x86::E820Entry> scratch(256);
    std::vector<uint8_t> ext_mem(16 + 100 * 20);
    kho::E820Ext ext{reinterpret_cast<x86::SetupData*>(ext_mem.data()), 0x9000, 100};
    kho::SetupDataChain chain(bp.get());
    alignas(8) uint8_t kho_node[48];
    chain.append(reinterpret_cast<x86::SetupData*>(kho_node), 0x8000, x86::kSetupKexecKho, 32);
    size_t n;
    ASSERT_TRUE(kho::set_memory_info(bp.get(), m.view(), 0x7fe80000, 1, 0x7f9ee018, scratch.data(),
                                     scratch.size(), ext, chain, &n));
    EXPECT_EQ(n, 200u);
    EXPECT_EQ(bp->e820_entries, 128);
    EXPECT_EQ(bp->e820_table[127].addr, 127u * 0x1000);
    auto* node = reinterpret_cast<x86::SetupData*>(ext_mem.data());
    EXPECT_EQ(node->type, x86::kSetupE820Ext);
    EXPECT_EQ(node->len, 72u * 20);
    x86::E820Entry first_ext;
    memcpy(&first_ext, ext_mem.data() + 16, sizeof(first_ext));
    EXPECT_EQ(first_ext.addr, 128u * 0x1000);
    EXPECT_EQ(reinterpret_cast<x86::SetupData*>(kho_node)->next, 0x9000u);  // appended after KHO
    x86::EfiInfo ei = bp->efi_info;
    EXPECT_EQ(ei.efi_loader_signature, 0x34364c45u);
    EXPECT_EQ(ei.efi_memmap, 0x7fe80000u);
    EXPECT_EQ(ei.efi_memmap_hi, 0u);
    EXPECT_EQ(ei.efi_memmap_size, 200u * 48);
    EXPECT_EQ(ei.efi_memdesc_size, 48u);
    EXPECT_EQ(ei.efi_memdesc_version, 1u);
    EXPECT_EQ(ei.efi_systab, 0x7f9ee018u);
}

TEST(MemoryInfo, FewEntriesNeedNoExtNode) {
    Map m;
    m.add(efi::kConventionalMemory, 0x100000, 0x100);
    auto bp = std::make_unique<x86::BootParams>();
    memset(bp.get(), 0, sizeof(*bp));
    std::vector<x86::E820Entry> scratch(8);
    kho::E820Ext ext{nullptr, 0, 0};
    kho::SetupDataChain chain(bp.get());
    size_t n;
    ASSERT_TRUE(kho::set_memory_info(bp.get(), m.view(), 0x1000, 1, 0x2000, scratch.data(),
                                     scratch.size(), ext, chain, &n));
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(chain.length(), 0u);
    EXPECT_EQ(bp->hdr.setup_data, 0u);
}

TEST(MemoryInfo, ExtNodeTooSmall) {
    Map m;
    for (int i = 0; i < 140; i++)
        m.add(i % 2 ? efi::kACPIMemoryNVS : efi::kConventionalMemory, uint64_t(i) * 0x1000, 1);
    auto bp = std::make_unique<x86::BootParams>();
    memset(bp.get(), 0, sizeof(*bp));
    std::vector<x86::E820Entry> scratch(256);
    std::vector<uint8_t> ext_mem(16 + 5 * 20);
    kho::E820Ext ext{reinterpret_cast<x86::SetupData*>(ext_mem.data()), 0x9000, 5};
    kho::SetupDataChain chain(bp.get());
    size_t n;
    kho::Status s = kho::set_memory_info(bp.get(), m.view(), 0x1000, 1, 0x2000, scratch.data(),
                                         scratch.size(), ext, chain, &n);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Capacity);
}

}  // namespace
