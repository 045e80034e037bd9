#include "protected_set.h"

#include "../abi/kho_radix.h"
#include "kho_radix_map.h"
#include "phys_range.h"

namespace kho {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kSharedPageTag = 1;

// Counts what the decoders emit on its way to the caller's sink, and
// passes each page of map metadata on once: 512-byte kho-v1 bitmaps share
// pages, and a page added twice must not read as a double claim.
class CountingSink : public PreservedMemorySink {
public:
    CountingSink(PreservedMemorySink& next, PageSet& visited) : next_(next), visited_(visited) {}
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        blocks_ += count;
        return next_.blocks(phys, order, count);
    }
    Status metadata(uint64_t phys, uint64_t size) override {
        ++metadata_;
        if (size >= kPage) return forward(phys, size);
        // Sub-page objects: remember their page under a tagged key (the
        // decoders key objects by address, which is 512-byte aligned).
        switch (visited_.insert((phys & ~(kPage - 1)) | kSharedPageTag)) {
        case PageSet::Insert::Added: return forward(phys, size);
        case PageSet::Insert::Present: return Status::ok();
        case PageSet::Insert::Full: break;
        }
        return Status::error(Err::Capacity, "more than %zu map pages", visited_.capacity());
    }
    uint64_t blocks_ = 0;
    uint64_t metadata_ = 0;
    uint64_t metadata_bytes_ = 0;  // whole pages, each counted once

private:
    Status forward(uint64_t phys, uint64_t size) {
        metadata_bytes_ += (size + kPage - 1) & ~(kPage - 1);
        return next_.metadata(phys, size);
    }

    PreservedMemorySink& next_;
    PageSet& visited_;
};

// A page the map walk read as map metadata (see CountingSink for the tag).
bool is_map_page(const PageSet& visited, uint64_t page) {
    return visited.contains(page) || visited.contains(page | kSharedPageTag);
}

// The root FDT and the sub-blobs are read by the next kernel as what they
// are; a map page among them would be read as both (a radix leaf pointed
// at the FDT page decodes the FDT's bytes as blocks).
Status check_blobs_clear_of_map(const KhoState& state, const PageSet& visited) {
    if (is_map_page(visited, state.fdt_addr))
        return Status::error(Err::BadMap, "root FDT page 0x%llx is also a map page",
                             (unsigned long long)state.fdt_addr);
    for (size_t i = 0; i < state.subnode_count; ++i) {
        const KhoSubnode& n = state.subnodes[i];
        Range pages;
        if (!page_span(n.blob_phys, n.blob_size, &pages)) continue;  // refused by the reader
        for (uint64_t p = pages.start; p < pages.end; p += kPage)
            if (is_map_page(visited, p))
                return Status::error(Err::BadMap, "%s: blob page 0x%llx is also a map page", n.name,
                                     (unsigned long long)p);
    }
    return Status::ok();
}

Status add_page_rounded(RangeSet& set, uint64_t start, uint64_t size, const char* what) {
    Range r;
    if (!page_span(start, size, &r) || !below_phys_limit(r))
        return Status::error(Err::BadPointer, "%s 0x%llx+0x%llx reaches past 2^%u", what,
                             (unsigned long long)start, (unsigned long long)size, kPhysAddrBits);
    return set.add(r);
}

}  // namespace

Status collect_protected(const PhysMem& mem, const KhoState& state, const ProtectOptions& options,
                         PageSet& visited, PreservedMemorySink& sink, RangeSet& protect,
                         ProtectStats* stats) {
    ProtectStats local;
    if (!stats) stats = &local;
    CountingSink counter(sink, visited);

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
    stats->metadata_bytes = counter.metadata_bytes_ + abi::kRootFdtSize;
    for (size_t i = 0; i < state.subnode_count; ++i) {
        Range r;
        if (page_span(state.subnodes[i].blob_phys, state.subnodes[i].blob_size, &r))
            stats->metadata_bytes += r.size();
    }
    // Linux records a preserved folio's order in its first page at restore;
    // a page claimed twice (two blocks, or a block over a map page) would be
    // restored as whichever came last. Coalescing meets every such byte.
    protect.normalize();
    Range twice = protect.first_overlap();
    if (!twice.empty())
        return Status::error(Err::BadMap, "0x%llx-0x%llx is preserved twice (blocks or map pages overlap)",
                             (unsigned long long)twice.start, (unsigned long long)twice.end);
    KHO_TRY(check_blobs_clear_of_map(state, visited));

    // The root FDT, every sub-blob and a given scratch table are normally
    // preserved allocations already; keep them regardless, since the next
    // kernel reads them before it has walked the map.
    KHO_TRY(add_page_rounded(protect, state.fdt_addr, abi::kRootFdtSize, "root FDT"));
    for (size_t i = 0; i < state.subnode_count; ++i)
        KHO_TRY(add_page_rounded(protect, state.subnodes[i].blob_phys, state.subnodes[i].blob_size,
                                 state.subnodes[i].name));
    if (options.scratch_table_addr)
        KHO_TRY(add_page_rounded(protect, options.scratch_table_addr, options.scratch_table_size,
                                 "scratch table"));
    if (options.manifest_addr)
        KHO_TRY(add_page_rounded(protect, options.manifest_addr, options.manifest_size, "manifest"));
    protect.normalize();
    return Status::ok();
}

}  // namespace kho
