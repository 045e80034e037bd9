// The architecture's part of efi_main: its facts, and how the kernel the
// boot flow prepared is started. One implementation per architecture
// (efi/x86_64/start_kernel.cpp, efi/aarch64/start_kernel.cpp), picked by
// the build.
#pragma once
#include "../loader/boot_flow.h"
#include "uefi.h"
#include "uefi_firmware.h"

namespace khoefi {

// The architecture's boot protocol module (loader/boot_protocol.h).
const kho::BootProtocol& boot_protocol();

// Facts only this architecture has (the ACPI RSDP for x86 boot_params).
void arch_facts(kho::BootFacts* f);

// Starts the kernel of a Handover or ColdBoot verdict. Returns only when
// the firmware is still usable and the flow said exit (EFI_LOAD_ERROR:
// the boot manager tries its next option); halts when the flow says halt.
EFI_STATUS start_kernel(kho::BootFlow& flow, UefiFirmware& fw, const kho::Handoff& h);

// Watchdog off, RAM kept, the CPU waiting forever (efi/main.cpp).
[[noreturn]] void halt_forever();

}  // namespace khoefi
