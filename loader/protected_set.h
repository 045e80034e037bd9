// Everything a KHO boot must keep intact, gathered in one place: the
// preserved blocks and map metadata (from the decoders), the root FDT
// page, every sub-blob, and the scratch table when it lives at a given
// address. docs/kho-abi.md section 6.
#pragma once
#include <stdint.h>
#include "../abi/kho_scratch.h"
#include "kho_fdt_reader.h"
#include "kho_v1_map.h"
#include "page_set.h"
#include "phys_mem.h"
#include "phys_range.h"
#include "preserved_memory.h"
#include "range_set.h"

namespace kho {

struct ProtectOptions {
    V1BitmapMode v1_bitmaps = V1BitmapMode::Auto;
    // Physical address and byte size of a scratch table to keep; 0 when the
    // loader builds its own table from inline regions.
    uint64_t scratch_table_addr = 0;
    uint64_t scratch_table_size = 0;
    // The producer's integrity manifest, when the descriptor names one: it
    // must survive the boot as much as the state it vouches for.
    uint64_t manifest_addr = 0;
    uint64_t manifest_size = 0;
};

struct ProtectStats {
    uint64_t blocks = 0;          // preserved blocks as encoded
    uint64_t metadata_pages = 0;  // chunks/bitmaps/nodes/leaves
    uint64_t map_pages = 0;       // radix nodes or v1 chunks
    uint64_t leaf_pages = 0;      // radix leaves or v1 bitmaps
    // What the next kernel parses before it trusts the map: map pages, the
    // root FDT page and the sub-blobs, in whole pages. Bounds a manifest's
    // metadata entries (state_verify.h).
    uint64_t metadata_bytes = 0;
    abi::v1::BitmapLayout v1_layout = abi::v1::BitmapLayout::Page;
};

// Decodes the state's map into `sink` (blocks, and each map page once) and
// fills `stats`. No check across ranges: that is collect_protected()'s.
Status decode_state(const PhysMem& mem, const KhoState& state, const ProtectOptions& options,
                    PageSet& visited, PreservedMemorySink& sink, ProtectStats* stats);

// The pieces the next kernel reads before it walks the map, kept whole
// pages: the root FDT, every sub-blob, a scratch table and a manifest at
// given addresses. They are normally preserved allocations already; they
// are kept regardless. `Set` has add(const Range&) (a RangeSet, or a
// streaming planner).
template <typename Set>
Status add_state_blobs(Set& set, const KhoState& state, const ProtectOptions& options) {
    struct Piece {
        uint64_t start, size;
        const char* what;
    };
    auto add = [&set](const Piece& p) -> Status {
        Range r;
        if (!page_span(p.start, p.size, &r) || !below_phys_limit(r))
            return Status::error(Err::BadPointer, "%s 0x%llx+0x%llx reaches past 2^%u", p.what,
                                 (unsigned long long)p.start, (unsigned long long)p.size, kPhysAddrBits);
        return set.add(r);
    };
    KHO_TRY(add(Piece{state.fdt_addr, abi::kRootFdtSize, "root FDT"}));
    for (size_t i = 0; i < state.subnode_count; ++i)
        KHO_TRY(add(Piece{state.subnodes[i].blob_phys, state.subnodes[i].blob_size, state.subnodes[i].name}));
    if (options.scratch_table_addr)
        KHO_TRY(add(Piece{options.scratch_table_addr, options.scratch_table_size, "scratch table"}));
    if (options.manifest_addr)
        KHO_TRY(add(Piece{options.manifest_addr, options.manifest_size, "manifest"}));
    return Status::ok();
}

// Stops a walk at the first page claimed twice, as `protect` (fed by
// `next`) meets it: a hostile map may repeat one claim millions of times.
class DoubleClaimGuard : public PreservedMemorySink {
public:
    DoubleClaimGuard(PreservedMemorySink& next, const RangeSet& protect) : next_(next), protect_(protect) {}
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override;
    Status metadata(uint64_t phys, uint64_t size) override;
    Status check() const;  // Err::BadMap naming the first bytes claimed twice

private:
    PreservedMemorySink& next_;
    const RangeSet& protect_;
};

// decode_state() into `sink`, which must feed `protect` (a RangeSetSink,
// possibly behind an observer): the refusal of pages preserved twice is
// read off `protect` as it coalesces. Refused too: the root FDT or a
// sub-blob sharing a page with the map. Then add_state_blobs(). `protect`
// comes out normalized and page-rounded.
Status collect_protected(const PhysMem& mem, const KhoState& state, const ProtectOptions& options,
                         PageSet& visited, PreservedMemorySink& sink, RangeSet& protect,
                         ProtectStats* stats);

}  // namespace kho
