// Decoder of the kho-v2..v4 radix-tree preserved-memory map, docs/kho-abi.md
// section 5: a fixed-depth walk (every path has max_depth - 1 table pages
// and one leaf), so depth is bounded by construction and revisits are
// refused through `visited`.
#pragma once
#include <stdint.h>
#include "../abi/kho_radix.h"
#include "page_set.h"
#include "phys_mem.h"
#include "preserved_memory.h"
#include "status.h"

namespace kho {

struct RadixDecodeStats {
    uint64_t nodes = 0;   // table pages, root included
    uint64_t leaves = 0;  // bitmap pages
};

Status decode_radix_map(const PhysMem& mem, uint64_t root, const abi::radix::Geometry& geometry,
                        PageSet& visited, PreservedMemorySink& sink,
                        RadixDecodeStats* stats = nullptr);

}  // namespace kho
