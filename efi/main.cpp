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
#include "../loader/boot_flow.h"
#include "clock.h"
#include "cpu.h"
#include "log.h"
#include "start_kernel.h"
#include "uefi.h"
#include "uefi_firmware.h"

#ifndef KHOBOOT_VERSION
#define KHOBOOT_VERSION "dev"
#endif

namespace khoefi {

// A halt keeps RAM (and so the KHO state) as it is for inspection; the
// boot manager's watchdog would reset the machine, so it goes off.
void halt_forever() {
    g_bs->SetWatchdogTimer(0, 0, 0, nullptr);
    for (;;) cpu_wait();
}

EFI_HANDLE g_image;
EFI_SYSTEM_TABLE* g_st;
EFI_BOOT_SERVICES* g_bs;

namespace {

constinit kho::BootContext g_context{};
// One RAM range per descriptor the map buffer can hold: never full.
kho::Range g_ram_ranges[kho::BootContext::kMapDescriptors];
char g_load_text[2048];

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
    arch_facts(&f);
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
    kho::BootFlow flow(fw, g_context, facts, boot_protocol());
    kho::BootVerdict v = flow.run();
    if (v.outcome == kho::BootOutcome::Halt) halt_forever();
    // No state at stake (loader/boot_flow.h, "No dead ends"): back to the
    // boot manager, which tries its next boot option. The watchdog is left
    // as it is; the boot manager disarms it when an image returns.
    if (v.outcome == kho::BootOutcome::Exit) return EFI_LOAD_ERROR;
    return start_kernel(flow, fw, v.handoff);
}
