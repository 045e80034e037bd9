// kho-v2 .. kho-v4 preserved-memory map: a fixed-depth radix tree of
// one-page table nodes ending in one-page bitmap leaves.
// Source: Linux include/linux/kho/abi/kexec_handover.h @3f2ad900 ("kho:
// adopt radix tree for preserved memory tracking", Jason Miu, 2026) and
// kernel/liveupdate/kexec_handover.c @019fc368. docs/kho-abi.md section 5.
#pragma once
#include <stdint.h>

namespace kho::abi::radix {

// Geometry derived from the producer's PAGE_SHIFT (consumer must match).
struct Geometry {
    unsigned page_shift;        // 12 for 4 KiB
    unsigned order0_log2;       // KHO_ORDER_0_LOG2 = 64 - PAGE_SHIFT
    unsigned table_log2;        // KHO_TABLE_SIZE_LOG2 = log2(PAGE_SIZE / 8)
    unsigned bitmap_log2;       // KHO_BITMAP_SIZE_LOG2 = PAGE_SHIFT + 3
    unsigned max_depth;         // KHO_TREE_MAX_DEPTH (levels incl. leaf)

    constexpr uint64_t page_size() const { return uint64_t(1) << page_shift; }
    constexpr uint64_t table_entries() const { return uint64_t(1) << table_log2; }
    constexpr uint64_t leaf_bits() const { return uint64_t(1) << bitmap_log2; }
    // Highest order a key can express: the order bit must stay >= bit 0.
    constexpr unsigned max_order() const { return order0_log2; }
    // Shift of the table index at level L >= 1 within a key.
    constexpr unsigned level_shift(unsigned level) const {
        return (level - 1) * table_log2 + bitmap_log2;
    }
};

constexpr Geometry geometry_for(unsigned page_shift) {
    Geometry g{};
    g.page_shift = page_shift;
    g.order0_log2 = 64 - page_shift;
    g.table_log2 = page_shift - 3;
    g.bitmap_log2 = page_shift + 3;
    // DIV_ROUND_UP(ORDER_0_LOG2 - BITMAP_LOG2 + 1, TABLE_LOG2) + 1, as in
    // Linux 7.2.13 include/linux/kho/abi/kexec_handover.h: a key is
    // ORDER_0_LOG2 + 1 bits wide (the order-0 order bit included). The "+ 1"
    // is not in the first radix posting (docs/kho-abi.md 5.2); it makes 16 KiB trees 5 levels deep.
    g.max_depth = (g.order0_log2 - g.bitmap_log2 + 1 + g.table_log2 - 1) / g.table_log2 + 1;
    return g;
}

inline constexpr Geometry kGeometry4K = geometry_for(12);
static_assert(kGeometry4K.order0_log2 == 52);
static_assert(kGeometry4K.table_log2 == 9);
static_assert(kGeometry4K.bitmap_log2 == 15);
static_assert(kGeometry4K.max_depth == 6);
static_assert(geometry_for(14).max_depth == 5);
static_assert(geometry_for(16).max_depth == 4);

// key = (1 << (ORDER_0_LOG2 - order)) | (phys >> (PAGE_SHIFT + order))
constexpr uint64_t encode_key(const Geometry& g, uint64_t phys, unsigned order) {
    return (uint64_t(1) << (g.order0_log2 - order)) | (phys >> (g.page_shift + order));
}

constexpr unsigned bit_length(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }

// order = ORDER_0_LOG2 + 1 - fls64(key); phys = key << (PAGE_SHIFT + order)
// with the order bit shifted out.
constexpr unsigned key_order(const Geometry& g, uint64_t key) {
    return g.order0_log2 + 1 - bit_length(key);
}
constexpr uint64_t key_phys(const Geometry& g, uint64_t key) {
    unsigned shift = g.page_shift + key_order(g, key);
    return shift >= 64 ? 0 : key << shift;
}

// Worked examples from docs/kho-abi.md section 5.5 (4 KiB pages).
static_assert(encode_key(kGeometry4K, 0x123456000ull, 0) == 0x0010000000123456ull);
static_assert(encode_key(kGeometry4K, 0x40000000ull, 9) == 0x0000080000000200ull);
static_assert(encode_key(kGeometry4K, 0x80000000ull, 18) == 0x0000000400000002ull);
static_assert(key_order(kGeometry4K, 0x0000080000000200ull) == 9);
static_assert(key_phys(kGeometry4K, 0x0000080000000200ull) == 0x40000000ull);
static_assert(key_phys(kGeometry4K, 0x0010000000123456ull) == 0x123456000ull);

}  // namespace kho::abi::radix
