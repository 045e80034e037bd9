// Checked arithmetic for the physical ranges a KHO state names. Every
// `start + size` that comes from untrusted input (an FDT property, a map
// entry, a descriptor, the firmware's memory map) is turned into a Range
// here, so an end that wraps past 2^64, before or after rounding out to
// pages, is refused in one place instead of silently becoming 0.
#pragma once
#include <stdint.h>
#include "range_set.h"

namespace kho {

// x86-64 (5-level paging) and arm64 (LPA) physical addresses have at most
// 52 bits: Linux's MAX_PHYSMEM_BITS in arch/x86/include/asm/sparsemem.h
// and arch/arm64/include/asm/sparsemem.h. Nothing a state names may reach
// past it.
constexpr unsigned kPhysAddrBits = 52;
constexpr uint64_t kPhysLimit = uint64_t(1) << kPhysAddrBits;

// [start, start + size); false when the end wraps.
[[nodiscard]] inline bool byte_span(uint64_t start, uint64_t size, Range* out) {
    uint64_t end;
    if (__builtin_add_overflow(start, size, &end)) return false;
    *out = Range{start, end};
    return true;
}

// [start, start + size) rounded out to whole `page`s (a power of two);
// false when the end wraps, before or after rounding.
[[nodiscard]] inline bool page_span(uint64_t start, uint64_t size, Range* out,
                                    uint64_t page = 4096) {
    uint64_t end, rounded;
    if (__builtin_add_overflow(start, size, &end)) return false;
    if (__builtin_add_overflow(end, page - 1, &rounded)) return false;
    *out = Range{start & ~(page - 1), rounded & ~(page - 1)};
    return true;
}

// `count` blocks of `block` bytes from `start`; false when the product or
// the end overflows.
[[nodiscard]] inline bool block_span(uint64_t start, uint64_t count, uint64_t block, Range* out) {
    uint64_t size;
    if (__builtin_mul_overflow(count, block, &size)) return false;
    return byte_span(start, size, out);
}

inline bool below_phys_limit(const Range& r) { return r.end <= kPhysLimit; }

}  // namespace kho
