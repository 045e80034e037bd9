// Timestamps for the phase lines: the TSC, and microseconds since the
// loader's entry from a TSC rate calibrated against the ACPI PM timer
// (the firmware's Stall() as a fallback).
#pragma once
#include <stdint.h>

#include "cpu.h"

namespace khoefi {

// The CPU's counter (efi/cpu.h: the TSC, or CNTVCT_EL0 on arm64); the
// protocol lines call its values "tsc" on every architecture.
inline uint64_t rdtsc() { return cpu_ticks(); }

void clock_start();          // first thing in efi_main
void clock_calibrate();      // ~2 ms; needs the system table
const char* clock_source();  // "acpi-pm" or "stall"
uint64_t clock_entry_tsc();
uint64_t clock_tsc_khz();
uint64_t clock_us(uint64_t tsc);  // microseconds from entry to `tsc`

}  // namespace khoefi
