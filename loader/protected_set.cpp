#include "protected_set.h"

#include "../abi/kho_radix.h"
#include "kho_radix_map.h"

namespace kho {
namespace {

// Counts what the decoders emit on its way to the caller's sink.
class CountingSink : public PreservedMemorySink {
public:
    explicit CountingSink(PreservedMemorySink& next) : next_(next) {}
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        blocks_ += count;
        return next_.blocks(phys, order, count);
    }
    Status metadata(uint64_t phys, uint64_t size) override {
        ++metadata_;
        return next_.metadata(phys, size);
    }
    uint64_t blocks_ = 0;
    uint64_t metadata_ = 0;

private:
    PreservedMemorySink& next_;
};

Status add_page_rounded(RangeSet& set, uint64_t start, uint64_t size) {
    Range r = page_round_out(start, start + size);
    return set.add(r);
}

}  // namespace

Status collect_protected(const PhysMem& mem, const KhoState& state, const ProtectOptions& options,
                         PageSet& visited, PreservedMemorySink& sink, RangeSet& protect,
                         ProtectStats* stats) {
    ProtectStats local;
    if (!stats) stats = &local;
    CountingSink counter(sink);

    if (state.version == abi::KhoVersion::V1) {
        V1DecodeStats v1;
        KHO_TRY(decode_kho_v1_map(mem, state.memory_map, options.v1_bitmaps, visited, counter, &v1));
        stats->map_pages = v1.chunks;
        stats->leaf_pages = v1.bitmaps;
        stats->v1_layout = v1.layout;
    } else if (abi::uses_radix_map(state.version)) {
        RadixDecodeStats radix;
        KHO_TRY(decode_radix_map(mem, state.memory_map, abi::radix::kGeometry4K, visited, counter,
                                 &radix));
        stats->map_pages = radix.nodes;
        stats->leaf_pages = radix.leaves;
    }
    // multikernel-v1 has no map: only its FDT page travels.
    stats->blocks = counter.blocks_;
    stats->metadata_pages = counter.metadata_;

    // The root FDT, every sub-blob and a given scratch table are normally
    // preserved allocations already; keep them regardless, since the next
    // kernel reads them before it has walked the map.
    KHO_TRY(add_page_rounded(protect, state.fdt_addr, abi::kRootFdtSize));
    for (size_t i = 0; i < state.subnode_count; ++i)
        KHO_TRY(add_page_rounded(protect, state.subnodes[i].blob_phys, state.subnodes[i].blob_size));
    if (options.scratch_table_addr)
        KHO_TRY(add_page_rounded(protect, options.scratch_table_addr, options.scratch_table_size));
    if (options.manifest_addr)
        KHO_TRY(add_page_rounded(protect, options.manifest_addr, options.manifest_size));
    protect.normalize();
    return Status::ok();
}

}  // namespace kho
