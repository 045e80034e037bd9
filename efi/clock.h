// Timestamps for the phase lines: the TSC, and microseconds since the
// loader's entry from a TSC rate calibrated against the ACPI PM timer
// (the firmware's Stall() as a fallback).
#pragma once
#include <stdint.h>

namespace khoefi {

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}

void clock_start();          // first thing in efi_main
void clock_calibrate();      // ~2 ms; needs the system table
const char* clock_source();  // "acpi-pm" or "stall"
uint64_t clock_entry_tsc();
uint64_t clock_tsc_khz();
uint64_t clock_us(uint64_t tsc);  // microseconds from entry to `tsc`

}  // namespace khoefi
