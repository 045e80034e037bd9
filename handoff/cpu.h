// Control-register facts and fixes the handoff image needs after kexec.
#pragma once
#include <stdint.h>

namespace handoff {

inline uint64_t read_cr4() {
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

// CR4.LA57 (bit 12): 5-level paging.
inline bool cpu_la57_enabled() { return read_cr4() & (1ull << 12); }

// The kernel's relocate_kernel() leaves CR4 with little more than PAE, so
// SSE is off; firmware runtime code may use SSE registers (EDK2's memory
// routines), so turn it on: CR0.MP set, CR0.EM clear, CR4.OSFXSR and
// OSXMMEXCPT set (Intel SDM vol. 3, 13.1.3).
inline void cpu_enable_sse() {
    uint64_t cr0;
    asm volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 | (1ull << 1)) & ~(1ull << 2);
    asm volatile("mov %0, %%cr0" ::"r"(cr0));
    uint64_t cr4 = read_cr4() | (1ull << 9) | (1ull << 10);
    asm volatile("mov %0, %%cr4" ::"r"(cr4));
}

}  // namespace handoff
