// khoboot-handoff: the bridge from a running KHO kernel to khoboot.
//
// `khotool reboot` loads this image with kexec_file_load(). The kernel then
// does what it does for any kexec: liveupdate_reboot() serialises every LUO
// session (kernel/kexec_core.c kernel_kexec()), the KHO state is final, the
// image is placed in scratch and gets the state through setup_data type 10
// (SETUP_KEXEC_KHO: the root FDT and the scratch table). Here, with the
// state exactly as the next kernel will find it, the image checks it with
// khoboot's own core, writes an integrity manifest over it into free RAM,
// writes the KhoHandover descriptor through the UEFI runtime services and
// resets warm into the firmware, which starts khoboot.
//
// Protocol lines on COM1 start with "KHOBOOT_HANDOFF: ". Any failure is one
// line "KHOBOOT_HANDOFF: error KIND MESSAGE" (KIND from loader/status.cpp),
// then the descriptor is deleted and the machine resets warm: khoboot finds
// no state and boots cold. Preserved memory is never handed on unchecked,
// and the machine never hangs.
#include <stdint.h>

#include "../abi/handover_descriptor.h"
#include "../abi/khoboot_vendor.h"
#include "../abi/x86_boot.h"
#include "../loader/handover_descriptor.h"
#include "../loader/handover_plan.h"
#include "../loader/manifest_place.h"
#include "../test_kernel/boot_info.h"
#include "../test_kernel/efi_runtime.h"
#include "../test_kernel/exceptions.h"
#include "../test_kernel/paging.h"
#include "../test_kernel/serial.h"
#include "cpu.h"
#include "e820_mem.h"
#include "../loader/handoff_options.h"
#include "relocate.h"
#include "reset.h"
#include "runtime_map.h"

namespace handoff {
namespace {

using kho::Range;
using kho::Status;

// Working storage, sized for 2^19 preserved ranges (about 30 MiB of .bss,
// inside the init_size kexec reserves in scratch). A larger state is an
// Err::Capacity error, never a cut.
constexpr size_t kRanges = size_t(1) << 19;
constexpr size_t kManifestEntries = size_t(1) << 18;
constexpr size_t kScratchMax = kho::abi::descriptor::kMaxScratch;

tk::BootInfo g_boot;
kho::KhoState g_state;
Range g_blocks[kRanges], g_protect[kRanges], g_work[kRanges + 2 * kScratchMax];
Range g_metadata[size_t(1) << 16];
Range g_ram[512];
uint64_t g_visited[size_t(1) << 18];
kho::abi::manifest::Entry g_entries[kManifestEntries];
kho::abi::KhoScratch g_scratch[kScratchMax];
uint8_t g_descriptor[kho::abi::descriptor::kMaxSize];
tk::EfiRuntime g_rt;

// Variable names as the firmware wants them (UCS-2).
template <size_t N>
void to_ucs2(const char (&in)[N], char16_t (&out)[N]) {
    for (size_t i = 0; i < N; ++i) out[i] = char16_t(in[i]);
}

template <size_t N>
void delete_variable(const char (&name)[N]) {
    char16_t w[N];
    to_ucs2(name, w);
    g_rt.set_variable(w, kho::abi::kVendorGuid, 0, 0, nullptr);
}

[[noreturn]] void reset_warm() {
    tk::println("KHOBOOT_HANDOFF: reset warm");
    if (g_rt.ready()) g_rt.reset_warm();
    chipset_reset();
}

// One line, no descriptor left behind, reset: khoboot then boots cold.
[[noreturn]] void fail(kho::Err kind, const char* message) {
    tk::println("KHOBOOT_HANDOFF: error %s %s", kho::err_name(kind), message);
    if (g_rt.ready()) delete_variable(kho::abi::kDescriptorVariable);
    reset_warm();
}
[[noreturn]] void fail(const Status& s) { fail(s.code(), s.message()); }

// The SETUP_KEXEC_KHO node kexec_file_load added, and the scratch table
// it names (a kexec segment of its own).
void read_kho_node(uint64_t* fdt_addr, size_t* scratch_count) {
    for (size_t i = 0; i < g_boot.setup_data_count; ++i) {
        const tk::SetupDataNode& n = g_boot.setup_data[i];
        if (n.type != kho::abi::x86::kSetupKexecKho) continue;
        if (n.len < sizeof(kho::abi::x86::KhoData))
            fail(kho::Err::BadProperty, "setup_data type 10 node is shorter than kho_data");
        kho::abi::x86::KhoData kd;
        __builtin_memcpy(&kd, reinterpret_cast<const void*>(n.phys + sizeof(kho::abi::x86::SetupData)), sizeof(kd));
        size_t count = kd.scratch_size / sizeof(kho::abi::KhoScratch);
        if (kd.scratch_size % sizeof(kho::abi::KhoScratch) || count == 0 || count > kScratchMax ||
            !g_boot.is_ram(kd.scratch_addr, kd.scratch_addr + kd.scratch_size))
            fail(kho::Err::BadProperty, "kho_data scratch table is empty, misaligned, too long or not RAM");
        __builtin_memcpy(g_scratch, reinterpret_cast<const void*>(kd.scratch_addr), kd.scratch_size);
        *fdt_addr = kd.fdt_addr;
        *scratch_count = count;
        return;
    }
    if (g_boot.setup_data_error) fail(kho::Err::BadPointer, g_boot.setup_data_error);
    fail(kho::Err::BadProperty,
         "no KHO node in setup_data: start this image with kexec_file_load on a kernel booted with kho=on");
}

void start_runtime() {
    const kho::abi::x86::BootParams* bp = reinterpret_cast<const kho::abi::x86::BootParams*>(g_boot.bp_phys);
    RuntimeMapResult m = map_runtime_regions(bp->efi_info);
    if (m.error) fail(kho::Err::Io, m.error);
    const char* why = nullptr;
    if (!g_rt.init(g_boot.efi_systab, &why, true)) fail(kho::Err::Io, why);
    tk::println("KHOBOOT_HANDOFF: runtime services regions=%u pages=%lu", m.regions, (unsigned long)m.pages);
}

// Everything the manifest must not overlap: the state, the scratch, this
// image (and the boot_params and setup_data kexec put in scratch), the
// first MiB.
Status busy_ranges(const kho::LiveState& live, size_t scratch_count, kho::RangeSet& busy) {
    busy.clear();
    KHO_TRY(busy.add_all(live.protect));
    for (size_t i = 0; i < scratch_count; ++i)
        KHO_TRY(busy.add(g_scratch[i].addr, g_scratch[i].addr + g_scratch[i].size));
    KHO_TRY(busy.add(g_boot.image_start, g_boot.image_end));
    KHO_TRY(busy.add(0, 1ull << 20));
    busy.normalize();
    return Status::ok();
}

struct Written {
    uint64_t manifest_addr = 0, manifest_size = 0;
    kho::ManifestEntries entries;
};

// The manifest into free RAM; the loader will protect it (it names it).
Status write_manifest(const kho::PhysMem& mem, kho::LiveState& live, size_t scratch_count,
                      kho::ManifestLevel level, Written* w) {
    w->entries.entries = g_entries;
    w->entries.cap = kManifestEntries;
    KHO_TRY(kho::collect_manifest_entries(mem, live, level, &w->entries));
    size_t bytes = kho::manifest_bytes(w->entries.count);
    // g_work held check_scratch's sets; the blocks are no longer needed.
    kho::RangeSet busy(g_work, sizeof(g_work) / sizeof(g_work[0]));
    KHO_TRY(busy_ranges(live, scratch_count, busy));
    kho::RangeSet ram(g_ram, sizeof(g_ram) / sizeof(g_ram[0]));
    KHO_TRY(e820_ram(g_boot, ram));
    kho::RangeSet free_work(g_blocks, kRanges);
    KHO_TRY(kho::choose_manifest_place(ram, busy, bytes, free_work, &w->manifest_addr));
    KHO_TRY(live.protect.add(w->manifest_addr, w->manifest_addr + bytes));
    live.protect.normalize();
    size_t written = 0;
    KHO_TRY(kho::finish_manifest(live, w->entries, live.protect, reinterpret_cast<void*>(w->manifest_addr),
                                 bytes, &written));
    w->manifest_size = written;
    return Status::ok();
}

Status write_descriptor(const kho::PhysMem& mem, uint64_t fdt_addr, size_t scratch_count, const Written& w) {
    kho::HandoverDescriptor d;
    KHO_TRY(kho::plan_descriptor(mem, fdt_addr, g_scratch, scratch_count, w.manifest_addr, w.manifest_size, &d));
    size_t len = 0;
    KHO_TRY(kho::build_handover_descriptor(d, g_descriptor, sizeof(g_descriptor), &len));
    // A manifest variable left by an earlier export would be ignored
    // (the descriptor names this one in RAM); remove it all the same.
    delete_variable(kho::abi::kManifestVariable);
    char16_t name[sizeof(kho::abi::kDescriptorVariable)];
    to_ucs2(kho::abi::kDescriptorVariable, name);
    tk::EfiStatus s = g_rt.set_variable(name, kho::abi::kVendorGuid,
                                        tk::kVarNonVolatile | tk::kVarBootService | tk::kVarRuntime, len,
                                        g_descriptor);
    if (s != tk::kEfiSuccess)
        return Status::error(kho::Err::Io, "SetVariable(KhoHandover) status 0x%llx", (unsigned long long)s);
    return Status::ok();
}

void run(const Options& o) {
    uint64_t fdt_addr = 0;
    size_t scratch_count = 0;
    read_kho_node(&fdt_addr, &scratch_count);
    start_runtime();
    E820Mem mem(g_boot);
    kho::HandoverPlanBuffers b;
    b.state = &g_state;
    b.blocks = g_blocks, b.blocks_cap = kRanges;
    b.metadata = g_metadata, b.metadata_cap = sizeof(g_metadata) / sizeof(g_metadata[0]);
    b.protect = g_protect, b.protect_cap = kRanges;
    b.visited = g_visited, b.visited_slots = sizeof(g_visited) / sizeof(g_visited[0]);
    kho::LiveState live(b);
    Status s = kho::decode_live_state(mem, fdt_addr, b, &live);
    if (!s) fail(s);
    s = kho::check_scratch(mem, g_scratch, scratch_count, live.protect, g_work, sizeof(g_work) / sizeof(g_work[0]));
    if (!s) fail(s);
    tk::println("KHOBOOT_HANDOFF: state %s fdt=0x%lx blocks=%lu ranges=%lu bytes=%lu scratch=%lu",
                g_state.compatible, (unsigned long)fdt_addr, (unsigned long)live.block_count,
                (unsigned long)live.blocks.size(), (unsigned long)live.blocks.total_bytes(),
                (unsigned long)scratch_count);
    Written w;
    if (o.manifest != kho::ManifestLevel::None) {
        s = write_manifest(mem, live, scratch_count, o.manifest, &w);
        if (!s) fail(s);
        tk::println("KHOBOOT_HANDOFF: manifest level=%s addr=0x%lx bytes=%lu entries=%u data=%u",
                    kho::manifest_level_name(w.entries.level), (unsigned long)w.manifest_addr,
                    (unsigned long)w.manifest_size, w.entries.count, w.entries.count - w.entries.metadata_count);
    }
    s = write_descriptor(mem, fdt_addr, scratch_count, w);
    if (!s) fail(s);
    tk::println("KHOBOOT_HANDOFF: descriptor written");
}

}  // namespace
}  // namespace handoff

extern "C" [[noreturn]] void kmain(const kho::abi::x86::BootParams* bp) {
    using namespace handoff;
    // Before anything reads a table or a vtable.
    bool relocated = relocate_self();
    tk::serial_init();
    if (!relocated) fail(kho::Err::BadImage, "the image has relocations other than R_X86_64_RELATIVE");
    tk::println("KHOBOOT_HANDOFF: start boot_params=0x%lx", (unsigned long)bp);
    // Our page tables are 4-level; with LA57 on they would be read as
    // 5-level (leaving it needs a trip through 32-bit mode).
    if (cpu_la57_enabled())
        fail(kho::Err::Io, "5-level paging is on: boot the kernel with no5lvl to use the handoff");
    tk::paging_init();
    tk::exceptions_init();
    cpu_enable_sse();
    tk::read_boot_info(bp, &g_boot);
    Options o;
    Status s = parse_options(g_boot.cmdline, &o);
    if (!s) fail(s);
    run(o);
    reset_warm();
}
