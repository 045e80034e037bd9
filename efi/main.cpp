// khoboot's UEFI entry: gathers the facts the boot flow needs, runs it
// (loader/boot_flow.h, where every decision is made and host-tested), and
// performs what only the firmware path can: ExitBootServices() and the
// jump into the kernel, or a halt.
//
// Order matters for KHO: the preserved memory is Conventional memory in
// the firmware's eyes until the loader owns it, so nothing may allocate
// before the flow's protection step. The flow's storage therefore comes
// with this image (the context below), constant-initialized: gnu-efi's
// crt0 runs no constructors.
#include "../abi/x86_boot.h"
#include "../loader/boot_flow.h"
#include "../loader/x86_handover.h"
#include "acpi.h"
#include "clock.h"
#include "log.h"
#include "uefi.h"
#include "uefi_firmware.h"

#ifndef KHOBOOT_VERSION
#define KHOBOOT_VERSION "dev"
#endif

extern "C" void khoboot_enter_linux64(uint64_t entry, uint64_t boot_params)
    __attribute__((noreturn));

namespace khoefi {

EFI_HANDLE g_image;
EFI_SYSTEM_TABLE* g_st;
EFI_BOOT_SERVICES* g_bs;

namespace {

namespace x86 = kho::abi::x86;

constinit kho::BootContext g_context{};
// One RAM range per descriptor the map buffer can hold: never full.
kho::Range g_ram_ranges[kho::BootContext::kMapDescriptors];
char g_load_text[2048];

// A halt keeps RAM (and so the KHO state) as it is for inspection; the
// boot manager's watchdog would reset the machine, so it goes off.
[[noreturn]] void halt_forever() {
    g_bs->SetWatchdogTimer(0, 0, 0, nullptr);
    for (;;) __asm__ volatile("hlt");
}

[[noreturn]] void stop_after_exit() {
    for (;;) __asm__ volatile("cli; hlt");
}

EFI_LOADED_IMAGE* loaded_image() {
    EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    EFI_LOADED_IMAGE* li = nullptr;
    if (EFI_ERROR(g_bs->HandleProtocol(g_image, &li_guid, reinterpret_cast<void**>(&li)))) return nullptr;
    return li;
}

// The GOP framebuffer, so the kernel keeps a console on the screen. No
// GOP, or a Blt-only mode: none.
bool find_framebuffer(kho::Framebuffer* fb) {
    EFI_GUID gop_guid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;
    EFI_GRAPHICS_OUTPUT_PROTOCOL* gop = nullptr;
    if (EFI_ERROR(g_bs->LocateProtocol(&gop_guid, nullptr, reinterpret_cast<void**>(&gop))) || !gop ||
        !gop->Mode || !gop->Mode->Info)
        return false;
    const EFI_GRAPHICS_OUTPUT_MODE_INFORMATION* mi = gop->Mode->Info;
    *fb = kho::Framebuffer{};
    fb->base = gop->Mode->FrameBufferBase;
    fb->size = gop->Mode->FrameBufferSize;
    fb->width = mi->HorizontalResolution;
    fb->height = mi->VerticalResolution;
    fb->pixels_per_scanline = mi->PixelsPerScanLine;
    switch (mi->PixelFormat) {
    case PixelRedGreenBlueReserved8BitPerColor: fb->format = kho::Framebuffer::Format::Rgbx8; return true;
    case PixelBlueGreenRedReserved8BitPerColor: fb->format = kho::Framebuffer::Format::Bgrx8; return true;
    case PixelBitMask:
        fb->format = kho::Framebuffer::Format::BitMask;
        fb->red_mask = mi->PixelInformation.RedMask;
        fb->green_mask = mi->PixelInformation.GreenMask;
        fb->blue_mask = mi->PixelInformation.BlueMask;
        fb->reserved_mask = mi->PixelInformation.ReservedMask;
        return true;
    default:
        return false;  // PixelBltOnly: no linear framebuffer to hand over
    }
}

kho::BootFacts gather_facts(EFI_LOADED_IMAGE* li) {
    kho::BootFacts f;
    f.entry_time = clock_entry_tsc();
    bool text = li && kho::load_options_to_ascii(static_cast<const uint16_t*>(li->LoadOptions),
                                                  li->LoadOptionsSize, g_load_text, sizeof(g_load_text));
    f.load_options = text ? g_load_text : nullptr;
    f.acpi_rsdp = acpi_rsdp();
    f.system_table = reinterpret_cast<uintptr_t>(g_st);
    f.has_framebuffer = find_framebuffer(&f.framebuffer);
    // The Boot Loader Interface's facts; the core formats them.
    f.loader_version = KHOBOOT_VERSION;
    // Microseconds since the TSC started (CPU reset), as systemd-boot
    // counts LoaderTimeInitUSec.
    if (clock_tsc_khz()) f.init_us = clock_entry_tsc() * 1000 / clock_tsc_khz();
    f.uefi_revision = g_st->Hdr.Revision;
    f.firmware_vendor = reinterpret_cast<const uint16_t*>(g_st->FirmwareVendor);
    f.firmware_revision = g_st->FirmwareRevision;
    if (li) {
        f.image_path = reinterpret_cast<const uint8_t*>(li->FilePath);
        EFI_GUID dp_guid = DEVICE_PATH_PROTOCOL;
        void* dp = nullptr;
        if (!EFI_ERROR(g_bs->HandleProtocol(li->DeviceHandle, &dp_guid, &dp)))
            f.device_path = static_cast<const uint8_t*>(dp);
    }
    return f;
}

// ExitBootServices(): a changed map key (the firmware allocated in
// between) means fetch the map again and retry; after a failed attempt
// nothing but GetMemoryMap() may be called (UEFI 2.10 section 7.4.6).
// e820 and efi_info are built from each map before the call, so once it
// succeeds nothing is left that can fail. Returns only when the first
// try failed with boot services intact and the flow said exit.
EFI_STATUS exit_and_jump(kho::BootFlow& flow, UefiFirmware& fw, const kho::Handoff& h) {
    const kho::LoadedImages& l = *h.images;
    uint8_t* block = reinterpret_cast<uint8_t*>(h.boot_params) - l.layout.boot_params;
    const kho::SetupDataChain::Mark chain_before = h.chain->mark();
    kho::MemoryMapSnapshot final_map;
    size_t e820_count = 0;
    int tries = 0;
    for (;; tries++) {
        kho::Status s = fw.memory_map(block + l.layout.efi_memmap, l.layout.memmap_capacity, &final_map);
        if (s) {
            h.chain->rewind(chain_before);  // a retry rebuilds the e820 node
            s = kho::x86_final_memory_info(h, final_map, reinterpret_cast<uintptr_t>(g_st), &e820_count);
        }
        if (!s || tries == 8) {
            if (s) s = kho::Status::error(kho::Err::Io, "ExitBootServices: map key kept changing");
            if (tries) {  // boot services are gone: no variable, no console
                log_boot_services_gone();
                logf("error %s %s", kho::err_name(s.code()), s.message());
                stop_after_exit();
            }
            if (flow.fail(s, kho::HaltReason::ExitBootServices).outcome == kho::BootOutcome::Halt)
                halt_forever();
            return EFI_LOAD_ERROR;
        }
        EFI_STATUS es = g_bs->ExitBootServices(g_image, final_map.key);
        if (es == EFI_SUCCESS) break;
        if (es != EFI_INVALID_PARAMETER) {
            log_boot_services_gone();
            logf("error io ExitBootServices status 0x%llx", (unsigned long long)es);
            stop_after_exit();
        }
    }
    __asm__ volatile("cli");
    log_boot_services_gone();
    logf("exit ok tries=%d map=%zu e820=%zu setup_data=%zu", tries + 1, final_map.view.count, e820_count,
         h.chain->length());
    log_phase("exit", h.phase_start);
    uint64_t entry = l.kernel + x86::kEntry64Offset;
    uint64_t bp_phys = l.boot_data + l.layout.boot_params;
    uint64_t now = rdtsc();
    logf("jump entry=0x%llx boot_params=0x%llx us=%llu tsc=%llu", (unsigned long long)entry,
         (unsigned long long)bp_phys, (unsigned long long)clock_us(now), (unsigned long long)now);
    khoboot_enter_linux64(entry, bp_phys);
}

}  // namespace

}  // namespace khoefi

extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* st) {
    using namespace khoefi;
    clock_start();
    g_image = image;
    g_st = st;
    g_bs = st->BootServices;
    log_init();
    clock_calibrate();
    logf("start version=%s tsc=%llu tsc_khz=%llu clock=%s", KHOBOOT_VERSION,
         (unsigned long long)clock_entry_tsc(), (unsigned long long)clock_tsc_khz(), clock_source());
    // Where the firmware loaded us: symbols of khoboot.so are this base plus
    // their ELF address (gnu-efi links at 0), for gdb and for scenarios that
    // stop the machine at khoboot_enter_linux64.
    EFI_LOADED_IMAGE* li = loaded_image();
    if (li)
        logf("image base=0x%llx size=%llu", (unsigned long long)reinterpret_cast<uintptr_t>(li->ImageBase),
             (unsigned long long)li->ImageSize);
    const kho::BootFacts facts = gather_facts(li);
    UefiFirmware fw(g_ram_ranges, sizeof(g_ram_ranges) / sizeof(g_ram_ranges[0]));
    kho::BootFlow flow(fw, g_context, facts);
    kho::BootVerdict v = flow.run();
    if (v.outcome == kho::BootOutcome::Halt) halt_forever();
    // No state at stake (loader/boot_flow.h, "No dead ends"): back to the
    // boot manager, which tries its next boot option. The watchdog is left
    // as it is; the boot manager disarms it when an image returns.
    if (v.outcome == kho::BootOutcome::Exit) return EFI_LOAD_ERROR;
    return exit_and_jump(flow, fw, v.handoff);
}
