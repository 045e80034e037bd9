// struct kho_scratch: one scratch region, the element of the array whose
// address and byte length are handed over (x86 kho_data.scratch_addr/size,
// DT /chosen/linux,kho-scratch). Source: include/linux/kexec_handover.h
// (6.16), later include/asm-generic/kexec_handover.h.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::abi {

struct KhoScratch {
    uint64_t addr;
    uint64_t size;
};
static_assert(sizeof(KhoScratch) == 16);
static_assert(offsetof(KhoScratch, size) == 8);

// Producers align scratch to CMA_MIN_ALIGNMENT_BYTES (pageblock: 2 MiB on
// x86_64 / arm64-4K); the consumer rounds to pageblocks in
// kho_release_scratch(), so unaligned scratch loses its edges.
inline constexpr uint64_t kScratchAlignment = 2ull << 20;

}  // namespace kho::abi
