#include "clock.h"

#include "uefi.h"

namespace khoefi {

namespace {
uint64_t g_entry_tsc;
uint64_t g_tsc_khz;
}  // namespace

void clock_start() { g_entry_tsc = rdtsc(); }

void clock_calibrate() {
    // 1 ms is enough for a kHz figure and costs 1 ms of boot time once.
    uint64_t a = rdtsc();
    g_bs->Stall(1000);
    uint64_t b = rdtsc();
    g_tsc_khz = b > a ? b - a : 1;
}

uint64_t clock_entry_tsc() { return g_entry_tsc; }
uint64_t clock_tsc_khz() { return g_tsc_khz; }

uint64_t clock_us(uint64_t tsc) {
    if (!g_tsc_khz || tsc < g_entry_tsc) return 0;
    return (tsc - g_entry_tsc) * 1000 / g_tsc_khz;
}

}  // namespace khoefi
