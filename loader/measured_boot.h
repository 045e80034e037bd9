// Measured boot: what khoboot measures into the TPM, into which PCR, with
// which event. khoboot starts the kernel itself (no LoadImage/StartImage),
// so the firmware measures none of what follows; khoboot does, before the
// kernel runs. PCRs follow the UAPI Linux TPM PCR Registry and what
// systemd-boot and systemd-stub use (systemd docs/TPM2_PCR_MEASUREMENTS.md):
//
//  item            PCR  why
//  kernel file       4  "boot-loader-code": PE binaries the boot loader
//                       invokes (where the firmware measures an image it
//                       starts, and so a kernel systemd-boot starts)
//  each initrd       9  "kernel-initrd": where Linux's EFI stub measures
//                       its initrd (drivers/firmware/efi/libstub)
//  command line     12  "kernel-config": systemd-boot and systemd-stub
//                       measure the command line there
//  KHO descriptor,  12  "kernel-config": runtime input that shapes the next
//  root FDT page,       kernel, as the command line and credentials are;
//  scratch table,       kept out of 4 and 9 so that a policy sealed to
//  manifest             the code (4, 9) still holds across KHO boots
//
// Every event is EV_EVENT_TAG (TCG PC Client PFP, TCG_PCClientTaggedEvent:
// tag id, size, data), as systemd asks of new measurements; the initrd and
// command line carry Linux's own tag ids (INITRD_EVENT_TAG_ID,
// LOAD_OPTIONS_EVENT_TAG_ID in drivers/firmware/efi/libstub/efistub.h),
// khoboot's items ids 0x4b484fNN ("KHO", NN). The tagged data is the
// description below. The digest is of the bytes named, exactly: the
// kernel and initrd files as read from the ESP, the command line without
// its NUL, the descriptor variable's bytes, the 4096-byte root FDT page,
// the scratch table as handed over (16 bytes per region), the manifest's
// bytes.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho {

constexpr uint32_t kEvEventTag = 0x00000006;  // EV_EVENT_TAG

enum class MeasuredItem : uint8_t { Kernel, Initrd, Cmdline, KhoDescriptor, KhoFdt, KhoScratch, KhoManifest };

struct MeasurementSpec {
    uint32_t pcr;
    uint32_t tag;
    const char* description;
};
const MeasurementSpec& measurement_spec(MeasuredItem item);

// The TCG_PCClientTaggedEvent of `item` into `out`; its length, or 0 when
// `capacity` is too small.
uint32_t tagged_event(MeasuredItem item, uint8_t* out, uint32_t capacity);

}  // namespace kho
