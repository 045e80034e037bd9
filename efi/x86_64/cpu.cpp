// x86-64 (efi/cpu.h).
#include "../cpu.h"

namespace khoefi {

uint64_t cpu_ticks() {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}

void cpu_wait() { __asm__ volatile("hlt"); }

void cpu_stop() {
    for (;;) __asm__ volatile("cli; hlt");
}

bool cpu_has_port_io() { return true; }

bool port_write8(uint16_t port, uint8_t v) {
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
    return true;
}

bool port_read8(uint16_t port, uint8_t* v) {
    __asm__ volatile("inb %1, %0" : "=a"(*v) : "Nd"(port));
    return true;
}

kho::UartConfig cpu_serial() { return kho::kCom1; }

}  // namespace khoefi
