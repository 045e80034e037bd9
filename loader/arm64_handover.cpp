// The arm64 boot protocol (arm64_handover.h).
#include "arm64_handover.h"

#include "arm64_chosen.h"
#include "boot_flow.h"

namespace kho {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint16_t kPeMachineArm64 = 0xaa64;  // PE/COFF IMAGE_FILE_MACHINE_ARM64
// The stub builds the command line from LoadOptions up to arm64's
// COMMAND_LINE_SIZE (arch/arm64/include/uapi/asm/setup.h: 2048).
constexpr uint32_t kCmdlineMax = 2047;

uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

uint64_t le(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = v << 8 | p[i];
    return v;
}

// Boot data: the device tree for the stub, then the scratch table.
struct Arm64Layout {
    uint64_t dtb, dtb_capacity, scratch_table, size;
};

Arm64Layout arm64_layout(size_t scratch_count, const BootFacts& facts) {
    Arm64Layout a{};
    a.dtb = 0;
    a.dtb_capacity = chosen_dtb_capacity(reinterpret_cast<const void*>(static_cast<uintptr_t>(facts.dtb)));
    a.scratch_table = (a.dtb_capacity + 15) & ~uint64_t(15);
    a.size = page_up(a.scratch_table + scratch_count * sizeof(abi::KhoScratch));
    return a;
}

class Arm64Protocol final : public BootProtocol {
public:
    const char* efi_architecture() const override { return "aa64"; }
    Status read_kernel(const uint8_t* prefix, size_t prefix_len, uint64_t file_size,
                       BzImage* out) const override {
        Arm64Image im;
        KHO_TRY(parse_arm64_image(prefix, prefix_len, file_size, &im));
        *out = BzImage{};
        out->setup_size = 0;  // the whole file goes to LoadImage
        out->payload_size = file_size;
        out->init_size = arm64_stub_footprint(file_size, im, 0);
        out->alignment = kKernelAlign;
        out->min_load = 0;
        out->max_end = ~uint64_t(0);
        out->initrd_max_end = ~uint64_t(0);
        out->cmdline_max = kCmdlineMax;
        out->above_4g = true;
        return Status::ok();
    }
    void add_initrd(BzImage* image, uint64_t initrd_total) const override {
        image->init_size += page_up(initrd_total);  // the stub's copy
    }
    BootDataLayout layout(size_t, size_t scratch_count, size_t, size_t, const BootFacts& facts) const override {
        Arm64Layout a = arm64_layout(scratch_count, facts);
        BootDataLayout l{};
        l.boot_params = a.dtb;  // the DTB starts the block
        l.scratch_table = a.scratch_table;
        l.size = a.size;
        return l;
    }
    Status write_boot_data(const BootDataInputs& in, uint8_t* block, SetupDataChain*, Handoff* out,
                           BootFlow& flow) const override;
};

Status Arm64Protocol::write_boot_data(const BootDataInputs& in, uint8_t* block, SetupDataChain*,
                                      Handoff* out, BootFlow& flow) const {
    const LoadedImages& l = *in.images;
    Arm64Layout a = arm64_layout(l.scratch_count, *in.facts);
    __builtin_memset(block, 0, l.layout.size);
    ChosenKho kho;
    if (in.handover) {
        auto* table = reinterpret_cast<abi::KhoScratch*>(block + a.scratch_table);
        for (size_t i = 0; i < l.scratch_count; i++) table[i] = in.desc->scratch[i];
        kho.has_state = true;
        kho.fdt_addr = in.desc->fdt_addr;
        kho.fdt_size = kPage;  // the root FDT page, as on x86 (kho_data.fdt_size)
        kho.scratch_addr = l.boot_data + a.scratch_table;
        kho.scratch_size = l.scratch_count * sizeof(abi::KhoScratch);
        if (in.multikernel) kho.scratch_addr = kho.scratch_size = 0;
        out->scratch = in.multikernel ? nullptr : table;
        out->scratch_count = in.multikernel ? 0 : l.scratch_count;
    }
    const void* fw_dtb = reinterpret_cast<const void*>(static_cast<uintptr_t>(in.facts->dtb));
    RootCells cells;
    KHO_TRY(build_chosen_dtb(fw_dtb, a.dtb_capacity, kho, block + a.dtb, a.dtb_capacity, &cells));
    out->entry_data = l.boot_data + a.dtb;
    out->dtb_size = a.dtb_capacity;
    out->cmdline = in.cmdline->c_str();
    flow.log("cmdline %s", in.cmdline->c_str());
    if (!kho.has_state) {
        flow.log("handover none");
        return Status::ok();
    }
    flow.log("handover chosen dtb=0x%llx source=%s cells=%u/%u kho-fdt=0x%llx+0x%llx kho-scratch=0x%llx+0x%llx",
             (unsigned long long)out->entry_data, fw_dtb ? "firmware" : "empty", cells.address, cells.size,
             (unsigned long long)kho.fdt_addr, (unsigned long long)kho.fdt_size,
             (unsigned long long)kho.scratch_addr, (unsigned long long)kho.scratch_size);
    return Status::ok();
}

constinit Arm64Protocol g_arm64;

}  // namespace

Status parse_arm64_image(const uint8_t* p, size_t n, uint64_t file_size, Arm64Image* out) {
    if (n < 64 || file_size < 64) return Status::error(Err::BadImage, "shorter than an arm64 Image header");
    if (p[0] != 'M' || p[1] != 'Z')
        return Status::error(Err::BadImage, "no EFI stub (no MZ): khoboot starts arm64 kernels through it");
    if (le(p + 56, 4) != kArm64Magic) return Status::error(Err::BadImage, "not an arm64 Image (magic)");
    Arm64Image im;
    im.text_offset = le(p + 8, 8);
    im.image_size = le(p + 16, 8);
    im.flags = le(p + 24, 8);
    im.pe_offset = static_cast<uint32_t>(le(p + 60, 4));
    if (im.image_size == 0) return Status::error(Err::BadImage, "image_size 0 (a kernel before 3.17)");
    if (im.image_size > (64ull << 30) || im.image_size < file_size / 2)
        return Status::error(Err::BadImage, "image_size 0x%llx does not fit a file of %llu bytes",
                             (unsigned long long)im.image_size, (unsigned long long)file_size);
    if (im.pe_offset < 64 || uint64_t(im.pe_offset) + 6 > n || uint64_t(im.pe_offset) + 6 > file_size)
        return Status::error(Err::BadImage, "PE header offset 0x%x outside the header read", im.pe_offset);
    const uint8_t* pe = p + im.pe_offset;
    if (pe[0] != 'P' || pe[1] != 'E' || pe[2] || pe[3]) return Status::error(Err::BadImage, "no PE signature");
    uint16_t machine = static_cast<uint16_t>(le(pe + 4, 2));
    if (machine != kPeMachineArm64)
        return Status::error(Err::BadImage, "PE machine 0x%x, not arm64 (0xaa64)", machine);
    *out = im;
    return Status::ok();
}

uint64_t arm64_stub_footprint(uint64_t file_size, const Arm64Image& image, uint64_t initrd_total) {
    const uint64_t kernel = page_up(image.image_size);
    return page_up(file_size) + kernel + (kernel + kKernelAlign) + page_up(initrd_total) + kStubFdtBytes +
           (1ull << 20);
}

Status arm64_fences(const FirmwareMemoryMap& map, const abi::KhoScratch* scratch, size_t scratch_count, RangeSet& fw_ram,
                    RangeSet& free_mem, RangeSet& out) {
    out.clear();
    if (!scratch_count) return Status::ok();
    KHO_TRY(firmware_ram(map, fw_ram, free_mem));
    Range buf[abi::descriptor::kMaxScratch];
    RangeSet s(buf, abi::descriptor::kMaxScratch);
    for (size_t i = 0; i < scratch_count; i++)
        if (scratch[i].size) KHO_TRY(s.add(scratch[i].addr, scratch[i].addr + scratch[i].size));
    s.normalize();
    return free_mem.subtract(s, out);
}

const BootProtocol& arm64_protocol() { return g_arm64; }

}  // namespace kho
