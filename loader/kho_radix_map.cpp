#include "kho_radix_map.h"

#include "phys_range.h"

namespace kho {
namespace {

using abi::radix::Geometry;

class RadixWalker {
public:
    RadixWalker(const PhysMem& mem, const Geometry& g, PageSet& visited, PreservedMemorySink& sink,
                RadixDecodeStats& stats)
        : mem_(mem), g_(g), visited_(visited), sink_(sink), stats_(stats) {}

    Status walk(uint64_t root) {
        const uint64_t* table = nullptr;
        KHO_TRY(enter(root, g_.max_depth - 1, &table));
        ++stats_.nodes;
        return walk_table(table, root, g_.max_depth - 1, 0);
    }

private:
    // Validates a child pointer, marks it visited and reports it as map
    // metadata. `level` is the level of the page being entered (0 = leaf).
    Status enter(uint64_t pa, unsigned level, const uint64_t** out) {
        if (pa & (g_.page_size() - 1))
            return Status::error(Err::BadPointer, "radix %s 0x%llx (level %u) is not page aligned",
                                 level ? "node" : "leaf", (unsigned long long)pa, level);
        const uint8_t* p = mem_.view(pa, g_.page_size());
        if (!p)
            return Status::error(Err::OutOfRam, "radix %s 0x%llx (level %u) is outside RAM",
                                 level ? "node" : "leaf", (unsigned long long)pa, level);
        switch (visited_.insert(pa)) {
        case PageSet::Insert::Added: break;
        case PageSet::Insert::Present:
            return Status::error(Err::BadPointer,
                                 "radix page 0x%llx (level %u) reached twice (cycle or shared node)",
                                 (unsigned long long)pa, level);
        case PageSet::Insert::Full:
            return Status::error(Err::Capacity, "more than %zu radix pages", visited_.capacity());
        }
        KHO_TRY(sink_.metadata(pa, g_.page_size()));
        *out = reinterpret_cast<const uint64_t*>(p);
        return Status::ok();
    }

    Status walk_table(const uint64_t* table, uint64_t table_pa, unsigned level, uint64_t prefix) {
        const unsigned shift = g_.level_shift(level);
        const uint64_t entries = g_.table_entries();
        for (uint64_t i = 0; i < entries; ++i) {
            uint64_t child = table[i];
            if (!child) continue;
            uint64_t key_prefix = prefix | (i << shift);
            // A key must carry its order bit at or below ORDER_0_LOG2; an
            // index beyond that encodes no order at all.
            if (shift < 64 && (key_prefix >> (g_.order0_log2 + 1)) != 0)
                return Status::error(Err::BadMap,
                                     "radix node 0x%llx level %u index %llu encodes no valid order",
                                     (unsigned long long)table_pa, level, (unsigned long long)i);
            const uint64_t* next = nullptr;
            KHO_TRY(enter(child, level - 1, &next));
            if (level == 1) {
                ++stats_.leaves;
                KHO_TRY(scan_leaf(next, child, key_prefix));
            } else {
                ++stats_.nodes;
                KHO_TRY(walk_table(next, child, level - 1, key_prefix));
            }
        }
        return Status::ok();
    }

    // Emits maximal runs of set bits as runs of consecutive blocks. With a
    // non-zero prefix every bit of the leaf shares the prefix's order bit,
    // so a run of bits is a run of adjacent same-order blocks.
    Status scan_leaf(const uint64_t* words, uint64_t leaf_pa, uint64_t prefix) {
        if (abi::radix::bit_length(prefix) <= g_.bitmap_log2)
            return scan_mixed_order_leaf(words, leaf_pa);
        const unsigned order = abi::radix::key_order(g_, prefix);
        const uint64_t base = abi::radix::key_phys(g_, prefix);
        const unsigned shift = g_.page_shift + order;
        const uint64_t nwords = g_.leaf_bits() / 64;
        uint64_t run_start = 0, run_len = 0;
        for (uint64_t w = 0; w < nwords; ++w) {
            uint64_t x = words[w];
            if (!x) continue;
            const uint64_t bit0 = w * 64;
            if (x == ~0ull) {
                if (run_len && run_start + run_len == bit0) {
                    run_len += 64;
                } else {
                    KHO_TRY(flush(base, shift, order, run_start, run_len, leaf_pa));
                    run_start = bit0;
                    run_len = 64;
                }
                continue;
            }
            while (x) {
                unsigned tz = __builtin_ctzll(x);
                unsigned ones = __builtin_ctzll(~(x >> tz));  // x != ~0 here: ~(x>>tz) != 0
                uint64_t start = bit0 + tz;
                if (run_len && run_start + run_len == start) {
                    run_len += ones;
                } else {
                    KHO_TRY(flush(base, shift, order, run_start, run_len, leaf_pa));
                    run_start = start;
                    run_len = ones;
                }
                x = tz + ones >= 64 ? 0 : x & (~0ull << (tz + ones));
            }
        }
        return flush(base, shift, order, run_start, run_len, leaf_pa);
    }

    Status flush(uint64_t base, unsigned shift, unsigned order, uint64_t first_bit, uint64_t count,
                 uint64_t leaf_pa) {
        if (!count) return Status::ok();
        // Compare in units of blocks so nothing overflows: the run must end
        // at or below 2^52. Orders whose block alone exceeds that (shift >
        // 52) are refused before any shift by 64 could happen.
        if (shift > 52 || (base >> shift) + first_bit + count > (kPhysLimit >> shift))
            return Status::error(Err::BadMap,
                                 "radix leaf 0x%llx: order %u run at bit %llu beyond 52-bit physical space",
                                 (unsigned long long)leaf_pa, order, (unsigned long long)first_bit);
        return sink_.blocks(base + (first_bit << shift), order, count);
    }

    // A leaf reached through all-zero table indices: its bits themselves
    // hold the order bit (orders >= ORDER_0_LOG2 - BITMAP_LOG2 + 1), so each
    // set bit decodes on its own. Bit 0 (key 0) has no order bit at all.
    Status scan_mixed_order_leaf(const uint64_t* words, uint64_t leaf_pa) {
        const uint64_t nwords = g_.leaf_bits() / 64;
        for (uint64_t w = 0; w < nwords; ++w) {
            for (uint64_t x = words[w]; x; x &= x - 1) {
                uint64_t key = w * 64 + __builtin_ctzll(x);
                if (key == 0)
                    return Status::error(Err::BadMap, "radix leaf 0x%llx: key 0 has no order bit",
                                         (unsigned long long)leaf_pa);
                unsigned order = abi::radix::key_order(g_, key);
                KHO_TRY(flush(abi::radix::key_phys(g_, key), g_.page_shift + order, order, 0, 1,
                              leaf_pa));
            }
        }
        return Status::ok();
    }

    const PhysMem& mem_;
    const Geometry& g_;
    PageSet& visited_;
    PreservedMemorySink& sink_;
    RadixDecodeStats& stats_;
};

}  // namespace

Status decode_radix_map(const PhysMem& mem, uint64_t root, const abi::radix::Geometry& geometry,
                        PageSet& visited, PreservedMemorySink& sink, RadixDecodeStats* stats) {
    RadixDecodeStats local;
    if (!stats) stats = &local;
    if (root == 0) return Status::error(Err::BadProperty, "radix root is 0");
    RadixWalker walker(mem, geometry, visited, sink, *stats);
    return walker.walk(root);
}

}  // namespace kho
