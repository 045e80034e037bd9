// Encoder of the kho-v2..v4 radix-tree preserved-memory map (docs/kho-abi.md
// section 5; Linux include/linux/kho/abi/kexec_handover.h @3f2ad900): the
// producer side of kho_radix_walk_tree(). Levels are fixed: a key's path
// is max_depth - 1 table pages and one bitmap leaf, created on demand.
//
// Mem provides: uint64_t alloc_page() -> phys of a zeroed page (0 = out
// of memory); uint64_t* page(uint64_t phys) -> that page, writable.
#pragma once
#include <stdint.h>
#include "../../abi/kho_radix.h"

namespace tk {

template <class Mem>
class RadixEncoder {
public:
    RadixEncoder(Mem& mem, const kho::abi::radix::Geometry& g) : mem_(mem), g_(g) {}

    bool init() {
        root_ = mem_.alloc_page();
        if (root_) ++tables_;
        return root_ != 0;
    }
    uint64_t root() const { return root_; }
    uint64_t table_pages() const { return tables_; }
    uint64_t leaf_pages() const { return leaves_; }

    // Adds the block [phys, phys + page_size << order); phys must be aligned
    // to the block size. False on a bad block or when a page cannot be had.
    bool add(uint64_t phys, unsigned order) {
        if (!root_ || order > g_.max_order()) return false;
        uint64_t size_shift = g_.page_shift + order;
        if (size_shift < 64 && (phys & ((uint64_t(1) << size_shift) - 1))) return false;
        uint64_t key = kho::abi::radix::encode_key(g_, phys, order);
        uint64_t node = root_;
        for (unsigned level = g_.max_depth - 1; level >= 1; --level) {
            uint64_t idx = (key >> g_.level_shift(level)) & (g_.table_entries() - 1);
            uint64_t* table = mem_.page(node);
            if (!table[idx]) {
                uint64_t child = mem_.alloc_page();
                if (!child) return false;
                table = mem_.page(node);  // alloc_page may have moved host views
                table[idx] = child;
                if (level == 1) ++leaves_;
                else ++tables_;
            }
            node = table[idx];
        }
        uint64_t bit = key & (g_.leaf_bits() - 1);
        mem_.page(node)[bit / 64] |= uint64_t(1) << (bit % 64);
        return true;
    }

private:
    Mem& mem_;
    kho::abi::radix::Geometry g_;
    uint64_t root_ = 0;
    uint64_t tables_ = 0;
    uint64_t leaves_ = 0;
};

}  // namespace tk
