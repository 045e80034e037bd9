// Timestamps for the phase lines: the TSC, and microseconds since the
// loader's entry from a TSC rate calibrated against the firmware's Stall()
// (EDK2 OVMF times Stall() with the ACPI PM timer).
#pragma once
#include <stdint.h>

namespace khoefi {

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}

void clock_start();          // first thing in efi_main
void clock_calibrate();      // needs boot services (1 ms Stall)
uint64_t clock_entry_tsc();
uint64_t clock_tsc_khz();
uint64_t clock_us(uint64_t tsc);  // microseconds from entry to `tsc`

}  // namespace khoefi
