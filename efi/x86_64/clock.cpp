#include "../clock.h"

#include "acpi.h"
#include "../uefi.h"

namespace khoefi {

namespace {

uint64_t g_entry_tsc;
uint64_t g_tsc_khz;
const char* g_source = "none";

constexpr uint64_t kPmTimerHz = 3579545;  // ACPI PM timer, fixed by the spec

inline uint32_t inl(uint16_t port) {
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

// TSC ticks against the ACPI PM timer over ~2 ms. Both clocks are read at
// the same two instants, so a late wake-up (an emulator translating code,
// an SMI) changes the interval, not the ratio.
bool calibrate_pm_timer() {
    bool wide;
    uint16_t port = acpi_pm_timer_port(&wide);
    if (!port) return false;
    uint32_t mask = wide ? 0xffffffffu : 0xffffffu;
    uint32_t p0 = inl(port) & mask;
    uint64_t t0 = rdtsc();
    uint32_t elapsed = 0;
    uint64_t t1 = t0;
    for (uint64_t spin = 0; elapsed < kPmTimerHz / 500; spin++) {
        elapsed = ((inl(port) & mask) - p0) & mask;
        t1 = rdtsc();
        if (spin > 100000000) return false;  // a timer that does not count
    }
    g_tsc_khz = (t1 - t0) * kPmTimerHz / (uint64_t(elapsed) * 1000);
    g_source = "acpi-pm";
    return g_tsc_khz != 0;
}

}  // namespace

void clock_start() { g_entry_tsc = rdtsc(); }

void clock_calibrate() {
    if (calibrate_pm_timer()) return;
    // Fallback: the firmware's Stall(), which only promises "at least".
    uint64_t a = rdtsc();
    g_bs->Stall(1000);
    uint64_t b = rdtsc();
    g_tsc_khz = b > a ? b - a : 1;
    g_source = "stall";
}

uint64_t clock_entry_tsc() { return g_entry_tsc; }
uint64_t clock_tsc_khz() { return g_tsc_khz; }
const char* clock_source() { return g_source; }

uint64_t clock_us(uint64_t tsc) {
    if (!g_tsc_khz || tsc < g_entry_tsc) return 0;
    return (tsc - g_entry_tsc) * 1000 / g_tsc_khz;
}

}  // namespace khoefi
