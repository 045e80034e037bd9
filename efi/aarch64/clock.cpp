// arm64 (efi/clock.h): the generic timer's virtual counter. Its rate is
// published by the firmware in CNTFRQ_EL0 (Arm ARM D11.1.2: "software
// must program it ... to the system counter frequency"), so nothing is
// calibrated; clock=cntfrq in the start line says so.
#include "../clock.h"

namespace khoefi {

namespace {

uint64_t g_entry_ticks;
uint64_t g_khz;

uint64_t counter_hz() {
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v & 0xffffffffu;  // bits 63:32 are RES0
}

}  // namespace

void clock_start() { g_entry_ticks = cpu_ticks(); }
void clock_calibrate() { g_khz = counter_hz() / 1000; }
uint64_t clock_entry_tsc() { return g_entry_ticks; }
uint64_t clock_tsc_khz() { return g_khz; }
const char* clock_source() { return g_khz ? "cntfrq" : "none"; }

uint64_t clock_us(uint64_t ticks) {
    if (!g_khz || ticks < g_entry_ticks) return 0;
    return (ticks - g_entry_ticks) * 1000 / g_khz;
}

}  // namespace khoefi
