// arm64: the kernel is started through its EFI stub, which exits boot
// services itself (loader/arm64_handover.h has the protocol). In order:
// the DTB the flow wrote becomes the DEVICE_TREE_GUID configuration table,
// the initrd is offered through LINUX_EFI_INITRD_MEDIA_GUID, the rest of
// the kernel's scratch reservation goes back to the firmware, every free
// range outside scratch is fenced (EfiBootServicesData) so that whatever
// the firmware and the stub allocate lands in scratch, then LoadImage from
// khoboot's copy of the file, LoadOptions = the command line, StartImage.
#include "../start_kernel.h"

#include "../../abi/efi_memory.h"
#include "../../loader/arm64_handover.h"
#include "../clock.h"
#include "../log.h"
#include "initrd_media.h"

namespace khoefi {

namespace {

EFI_GUID g_dtb_guid = {0xb1b621d5, 0xf19c, 0x41a5, {0x83, 0x0b, 0xd9, 0x15, 0x2c, 0x69, 0xaa, 0xe0}};

constexpr uint64_t kPage = 4096;

// Fences every free range outside scratch; `placed` gets those allocated
// (unfence() frees exactly them). A range the firmware will not give
// (AAVMF refuses some pages of its own top-of-RAM area) is left with a
// warning: the stub could allocate there.
kho::Status fence(UefiFirmware& fw, const kho::Handoff& h, kho::RangeSet& placed) {
    kho::MapStorage st = h.images->storage;
    kho::RangeSet fw_ram(st.fw_ram, st.ranges), free_mem(st.free_mem, st.ranges);
    kho::RangeSet want(st.work, st.work_ranges);
    kho::MemoryMapSnapshot map;
    fw.hold_console(true);
    kho::Status s = fw.memory_map(st.map, st.map_bytes, &map);
    if (s) s = kho::arm64_fences(map.view, h.scratch, h.scratch_count, fw_ram, free_mem, want);
    size_t refused = 0;
    uint64_t refused_bytes = 0;
    for (size_t i = 0; s && i < want.size(); i++) {
        if (fw.allocate_at(want[i].start, want[i].end, kho::abi::efi::kBootServicesData)) {
            s = placed.add(want[i]);
        } else {
            refused++;
            refused_bytes += want[i].end - want[i].start;
        }
    }
    fw.hold_console(false);
    if (refused)
        logf("warn fences refused=%zu bytes=%llu of %zu ranges", refused, (unsigned long long)refused_bytes,
             want.size());
    return s;
}

void unfence(UefiFirmware& fw, const kho::RangeSet& set) {
    for (size_t i = 0; i < set.size(); i++) fw.free_at(set[i].start, set[i].end);
}

// The command line as the stub reads it: UTF-16 LoadOptions.
CHAR16* load_options(const char* cmdline, UINT32* bytes) {
    size_t n = 0;
    while (cmdline[n]) n++;
    void* p = nullptr;
    if (EFI_ERROR(g_bs->AllocatePool(EfiLoaderData, (n + 1) * sizeof(CHAR16), &p))) return nullptr;
    auto* w = static_cast<CHAR16*>(p);
    for (size_t i = 0; i <= n; i++) w[i] = static_cast<unsigned char>(cmdline[i]);
    *bytes = static_cast<UINT32>((n + 1) * sizeof(CHAR16));
    return w;
}

// The boot cannot reach the kernel: the error, then halt or exit as the
// entry's policy says (loader/boot_flow.h, "No dead ends").
EFI_STATUS give_up(kho::BootFlow& flow, const kho::Status& s, kho::HaltReason reason) {
    if (flow.fail(s, reason).outcome == kho::BootOutcome::Halt) halt_forever();
    return EFI_LOAD_ERROR;
}

}  // namespace

const kho::BootProtocol& boot_protocol() { return kho::arm64_protocol(); }

void arch_facts(kho::BootFacts* f) {
    for (UINTN i = 0; i < g_st->NumberOfTableEntries; i++) {
        const EFI_CONFIGURATION_TABLE& t = g_st->ConfigurationTable[i];
        if (!__builtin_memcmp(&t.VendorGuid, &g_dtb_guid, sizeof(EFI_GUID)))
            f->dtb = reinterpret_cast<uintptr_t>(t.VendorTable);
    }
}

EFI_STATUS start_kernel(kho::BootFlow& flow, UefiFirmware& fw, const kho::Handoff& h) {
    const kho::LoadedImages& l = *h.images;
    // The file's copy stays; the rest of the reservation is the stub's.
    const uint64_t file_end = l.kernel + ((l.image.payload_size + kPage - 1) & ~(kPage - 1));
    if (l.kernel + l.image.init_size > file_end) fw.free_at(file_end, l.kernel + l.image.init_size);
    void* dtb = reinterpret_cast<void*>(static_cast<uintptr_t>(h.entry_data));
    if (EFI_ERROR(g_bs->InstallConfigurationTable(&g_dtb_guid, dtb)))
        return give_up(flow, kho::Status::error(kho::Err::Io, "InstallConfigurationTable(DTB) failed"),
                       kho::HaltReason::BootParams);
    if (l.initrd_size && !initrd_media_install(l.initrd, l.initrd_size))
        return give_up(flow, kho::Status::error(kho::Err::Io, "initrd LoadFile2 not installed"),
                       kho::HaltReason::Initrd);
    UINT32 opt_bytes = 0;
    CHAR16* options = load_options(h.cmdline, &opt_bytes);
    if (!options)
        return give_up(flow, kho::Status::error(kho::Err::Io, "no pool for LoadOptions"),
                       kho::HaltReason::Cmdline);

    kho::MapStorage st = h.images->storage;
    kho::RangeSet fences(st.data_space, st.data_ranges);
    kho::Status s = fence(fw, h, fences);
    const size_t placed = fences.size();
    if (!s)  // without fences the stub could place the kernel outside scratch
        return give_up(flow, s, kho::HaltReason::Placement);
    EFI_HANDLE kernel = nullptr;
    EFI_STATUS es = g_bs->LoadImage(FALSE, g_image, nullptr, reinterpret_cast<void*>(l.kernel),
                                    l.image.payload_size, &kernel);
    if (EFI_ERROR(es)) {
        unfence(fw, fences);
        return give_up(flow,
                       kho::Status::error(kho::Err::BadImage, "LoadImage: status 0x%llx", (unsigned long long)es),
                       kho::HaltReason::Image);
    }
    EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    EFI_LOADED_IMAGE* li = nullptr;
    if (!EFI_ERROR(g_bs->HandleProtocol(kernel, &li_guid, reinterpret_cast<void**>(&li))) && li) {
        li->LoadOptions = options;
        li->LoadOptionsSize = opt_bytes;
    }
    log_phase("exit", h.phase_start);
    uint64_t now = rdtsc();
    logf("jump entry=0x%llx boot_params=0x%llx us=%llu tsc=%llu fences=%zu",
         (unsigned long long)(li ? reinterpret_cast<uintptr_t>(li->ImageBase) : 0),
         (unsigned long long)h.entry_data, (unsigned long long)clock_us(now), (unsigned long long)now, placed);
    es = g_bs->StartImage(kernel, nullptr, nullptr);
    // Only a stub that failed before ExitBootServices() comes back.
    unfence(fw, fences);
    initrd_media_uninstall();
    g_bs->InstallConfigurationTable(&g_dtb_guid, nullptr);
    return give_up(flow,
                   kho::Status::error(kho::Err::Io, "the kernel's EFI stub returned status 0x%llx",
                                      (unsigned long long)es),
                   kho::HaltReason::ExitBootServices);
}

}  // namespace khoefi
