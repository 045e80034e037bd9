#include "x86_handover.h"

namespace kho {

namespace {

void hex_bytes(const void* p, size_t n, char* out) {
    const char* digits = "0123456789abcdef";
    const uint8_t* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

// The scratch table and the SETUP_KEXEC_KHO node, linked into the chain.
void add_kho_node(const BootDataInputs& in, uint8_t* block, SetupDataChain* chain, BootFlow& flow) {
    const LoadedImages& l = *in.images;
    auto* table = reinterpret_cast<abi::KhoScratch*>(block + l.layout.scratch_table);
    for (size_t i = 0; i < l.scratch_count; i++) table[i] = in.desc->scratch[i];
    abi::x86::KhoData kd = make_kho_data(in.desc->fdt_addr, l.boot_data + l.layout.scratch_table,
                                         l.scratch_count, in.multikernel);
    auto* node = reinterpret_cast<abi::x86::SetupData*>(block + l.layout.kho_node);
    __builtin_memcpy(node + 1, &kd, sizeof(kd));
    uint64_t node_phys = l.boot_data + l.layout.kho_node;
    chain->append(node, node_phys, abi::x86::kSetupKexecKho, sizeof(kd));
    char hex[2 * sizeof(kd) + 1];
    hex_bytes(&kd, sizeof(kd), hex);
    flow.log("handover setup_data=0x%llx kho_data=%s", (unsigned long long)node_phys, hex);
}

}  // namespace

Status write_x86_boot_data(const BootDataInputs& in, uint8_t* block, abi::x86::BootParams** bp,
                           SetupDataChain* chain, BootFlow& flow) {
    const LoadedImages& l = *in.images;
    __builtin_memset(block, 0, l.layout.size);
    __builtin_memcpy(block + l.layout.cmdline, in.cmdline->c_str(), in.cmdline->length() + 1);
    BootParamsInputs bi{};
    bi.kernel_load = l.kernel;
    bi.initrd_addr = l.initrd_size ? l.initrd : 0;
    bi.initrd_size = l.initrd_size;
    bi.cmdline_addr = l.boot_data + l.layout.cmdline;
    bi.acpi_rsdp = in.facts->acpi_rsdp;
    bi.efi_system_table = in.facts->system_table;
    *bp = reinterpret_cast<abi::x86::BootParams*>(block + l.layout.boot_params);
    KHO_TRY(init_boot_params(l.image, in.kernel_prefix, in.prefix_len, bi, *bp));
    *chain = SetupDataChain(*bp);
    (*bp)->secure_boot = static_cast<uint8_t>(in.secure_boot);
    // The GOP framebuffer into screen_info, so the kernel keeps a console
    // on the screen (efifb/simpledrm); without one, serial only.
    if (in.facts->has_framebuffer) {
        const Framebuffer& fb = in.facts->framebuffer;
        Status s = set_screen_info(*bp, fb);
        if (!s) flow.log("warn framebuffer not handed over: %s", s.message());
        else flow.log("framebuffer %ux%u base=0x%llx", fb.width, fb.height, (unsigned long long)fb.base);
    }
    flow.log("cmdline %s", in.cmdline->c_str());
    if (!in.handover) {
        flow.log("handover none");
        return Status::ok();
    }
    add_kho_node(in, block, chain, flow);
    return Status::ok();
}

Status x86_final_memory_info(const Handoff& h, const MemoryMapSnapshot& final_map, uint64_t system_table,
                             size_t* e820_count) {
    const LoadedImages& l = *h.images;
    uint8_t* block = reinterpret_cast<uint8_t*>(h.boot_params) - l.layout.boot_params;
    auto* ext_node = reinterpret_cast<abi::x86::SetupData*>(block + l.layout.e820_ext);
    E820Ext ext{ext_node, l.boot_data + l.layout.e820_ext, l.layout.e820_ext_capacity};
    return set_memory_info(h.boot_params, final_map.view, l.boot_data + l.layout.efi_memmap,
                           final_map.descriptor_version, system_table, l.storage.e820,
                           l.storage.e820_capacity, ext, *h.chain, e820_count);
}

namespace {

class X86Protocol final : public BootProtocol {
public:
    const char* efi_architecture() const override { return "x64"; }
    Status read_kernel(const uint8_t* prefix, size_t prefix_len, uint64_t file_size,
                       BzImage* out) const override {
        return parse_bzimage(prefix, prefix_len, file_size, out);
    }
    BootDataLayout layout(size_t cmdline_len, size_t scratch_count, size_t map_descriptors_max,
                          size_t descriptor_size, const BootFacts&) const override {
        return layout_boot_data(cmdline_len, scratch_count, map_descriptors_max, descriptor_size);
    }
    Status write_boot_data(const BootDataInputs& in, uint8_t* block, SetupDataChain* chain, Handoff* out,
                           BootFlow& flow) const override {
        abi::x86::BootParams* bp = nullptr;
        KHO_TRY(write_x86_boot_data(in, block, &bp, chain, flow));
        out->boot_params = bp;
        out->chain = chain;
        out->entry_data = in.images->boot_data + in.images->layout.boot_params;
        return Status::ok();
    }
};

constinit X86Protocol g_x86;

}  // namespace

const BootProtocol& x86_protocol() { return g_x86; }

}  // namespace kho
