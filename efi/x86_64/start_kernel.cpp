// x86-64: the kernel is entered through the 64-bit boot protocol
// (Documentation/arch/x86/boot.rst), with khoboot exiting boot services
// itself (efi/start_kernel.h).
#include "../start_kernel.h"

#include "../../abi/x86_boot.h"
#include "../../loader/x86_handover.h"
#include "../clock.h"
#include "../cpu.h"
#include "../log.h"
#include "acpi.h"

extern "C" void khoboot_enter_linux64(uint64_t entry, uint64_t boot_params)
    __attribute__((noreturn));

namespace khoefi {

namespace x86 = kho::abi::x86;

const kho::BootProtocol& boot_protocol() { return kho::x86_protocol(); }

void arch_facts(kho::BootFacts* f) { f->acpi_rsdp = acpi_rsdp(); }

// ExitBootServices(): a changed map key (the firmware allocated in
// between) means fetch the map again and retry; after a failed attempt
// nothing but GetMemoryMap() may be called (UEFI 2.10 section 7.4.6).
// e820 and efi_info are built from each map before the call, so once it
// succeeds nothing is left that can fail. Returns only when the first
// try failed with boot services intact and the flow said exit.
EFI_STATUS start_kernel(kho::BootFlow& flow, UefiFirmware& fw, const kho::Handoff& h) {
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
                cpu_stop();
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
            cpu_stop();
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

}  // namespace khoefi
