// What g++ emits calls to in freestanding code with virtual destructors
// and pure virtuals (loader/phys_mem.h, preserved_memory.h): the deleting
// destructor references operator delete, never called since the loader
// has no heap; a pure virtual call is a loader bug.
#include <stddef.h>

#include "cpu.h"

extern "C" __attribute__((noreturn)) void __cxa_pure_virtual() {
    khoefi::cpu_stop();
}

void operator delete(void*) noexcept { __builtin_trap(); }
void operator delete(void*, size_t) noexcept { __builtin_trap(); }

// For the C shims (libc_shims.c): stops the CPU (efi/cpu.h).
extern "C" __attribute__((noreturn)) void khoefi_cpu_stop(void) { khoefi::cpu_stop(); }
