// arm64 (efi/cpu.h). The generic timer's virtual counter (Arm ARM D11,
// "The Generic Timer in AArch64 state") counts at CNTFRQ_EL0 from reset.
#include "../cpu.h"

namespace khoefi {

uint64_t cpu_ticks() {
    uint64_t v;
    // The ISB keeps the read from being hoisted over earlier code.
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}

void cpu_wait() { __asm__ volatile("wfi"); }

void cpu_stop() {
    for (;;) __asm__ volatile("msr daifset, #0xf; wfi");
}

// arm64 has no I/O space.
bool cpu_has_port_io() { return false; }

bool port_write8(uint16_t, uint8_t) { return false; }
bool port_read8(uint16_t, uint8_t*) { return false; }

kho::UartConfig cpu_serial() { return kho::UartConfig{}; }

}  // namespace khoefi
