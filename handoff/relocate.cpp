// Applies the image's own run-time relocations. The image is linked at 0
// and runs wherever kexec put it; -fpie with hidden visibility makes every
// code reference RIP-relative, but the core's vtables and string tables
// hold absolute addresses: R_X86_64_RELATIVE entries (target = load
// address + addend) in .rela.dyn, between __rela_start and __rela_end
// (test_kernel/kernel.ld). Called first thing, before anything reads them.
#include <stdint.h>

#include "relocate.h"

extern "C" char _text[], __rela_start[], __rela_end[];

namespace handoff {
namespace {

struct Rela {
    uint64_t offset;
    uint64_t info;
    int64_t addend;
};
constexpr uint32_t kRelative = 8;  // R_X86_64_RELATIVE (System V x86-64 psABI)

}  // namespace

bool relocate_self() {
    uint64_t base = reinterpret_cast<uint64_t>(_text);
    for (auto* r = reinterpret_cast<const Rela*>(__rela_start); r < reinterpret_cast<const Rela*>(__rela_end); ++r) {
        if (uint32_t(r->info) != kRelative) return false;
        *reinterpret_cast<uint64_t*>(base + r->offset) = base + uint64_t(r->addend);
    }
    return true;
}

}  // namespace handoff
