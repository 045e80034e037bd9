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

// Fences free RAM outside scratch; a range the firmware took meanwhile is
// skipped with a warning (the stub could then allocate there).
kho::Status fence(UefiFirmware& fw, const kho::Handoff& h, kho::RangeSet& out, size_t* placed) {
    kho::MapStorage st = h.images->storage;
    kho::RangeSet fw_ram(st.fw_ram, st.ranges), free_mem(st.free_mem, st.ranges);
    kho::MemoryMapSnapshot map;
    fw.hold_console(true);
    kho::Status s = fw.memory_map(st.map, st.map_bytes, &map);
    if (s) s = kho::arm64_fences(map.view, h.scratch, h.scratch_count, fw_ram, free_mem, out);
    size_t failed = 0;
    for (size_t i = 0; s && i < out.size(); i++) {
        if (fw.allocate_at(out[i].start, out[i].end, kho::abi::efi::kBootServicesData)) ++*placed;
        else ++failed;
    }
    fw.hold_console(false);
    if (failed) logf("warn fences not placed=%zu of %zu", failed, out.size());
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

EFI_STATUS give_up(kho::BootFlow& flow, const kho::Status& s) {
    if (flow.fail(s, kho::HaltReason::ExitBootServices).outcome == kho::BootOutcome::Halt) halt_forever();
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
        return give_up(flow, kho::Status::error(kho::Err::Io, "InstallConfigurationTable(DTB) failed"));
    if (l.initrd_size && !initrd_media_install(l.initrd, l.initrd_size))
        return give_up(flow, kho::Status::error(kho::Err::Io, "initrd LoadFile2 not installed"));
    UINT32 opt_bytes = 0;
    CHAR16* options = load_options(h.cmdline, &opt_bytes);
    if (!options) return give_up(flow, kho::Status::error(kho::Err::Io, "no pool for LoadOptions"));

    kho::MapStorage st = h.images->storage;
    kho::RangeSet fences(st.work, st.work_ranges);
    size_t placed = 0;
    kho::Status s = fence(fw, h, fences, &placed);
    if (!s) logf("warn fences: %s", s.message());
    EFI_HANDLE kernel = nullptr;
    EFI_STATUS es = g_bs->LoadImage(FALSE, g_image, nullptr, reinterpret_cast<void*>(l.kernel),
                                    l.image.payload_size, &kernel);
    if (EFI_ERROR(es)) {
        unfence(fw, fences);
        return give_up(flow, kho::Status::error(kho::Err::BadImage, "LoadImage: status 0x%llx",
                                                (unsigned long long)es));
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
    return give_up(flow, kho::Status::error(kho::Err::Io, "the kernel's EFI stub returned status 0x%llx",
                                            (unsigned long long)es));
}

}  // namespace khoefi
