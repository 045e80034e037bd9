#include "exceptions.h"

#include <stdint.h>


extern "C" char exception_stub_base[];

namespace tk {
namespace {

struct __attribute__((packed)) IdtGate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t zero;
};
static_assert(sizeof(IdtGate) == 16);

struct __attribute__((packed)) IdtPointer {
    uint16_t limit;
    uint64_t base;
};

IdtGate g_idt[32];

}  // namespace

void exceptions_init() {
    uint64_t base = reinterpret_cast<uint64_t>(exception_stub_base);
    for (unsigned v = 0; v < 32; ++v) {
        uint64_t handler = base + 16 * v;
        g_idt[v] = IdtGate{static_cast<uint16_t>(handler), 0x10, 0, 0x8e,  // present, interrupt gate
                           static_cast<uint16_t>(handler >> 16),
                           static_cast<uint32_t>(handler >> 32), 0};
    }
    IdtPointer p{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" ::"m"(p));
}

}  // namespace tk
