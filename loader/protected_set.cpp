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

}  // namespace

Status decode_state(const PhysMem& mem, const KhoState& state, const ProtectOptions& options,
                    PageSet& visited, PreservedMemorySink& sink, ProtectStats* stats) {
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
    // The root FDT page and the blobs as a union: blobs may share pages,
    // and a manifest must not count one page twice.
    Range pieces[KhoState::kMaxSubnodes + 1];
    RangeSet blobs(pieces, KhoState::kMaxSubnodes + 1);
    KHO_TRY(blobs.add(state.fdt_addr, state.fdt_addr + abi::kRootFdtSize));
    for (size_t i = 0; i < state.subnode_count; ++i) {
        Range r;
        if (page_span(state.subnodes[i].blob_phys, state.subnodes[i].blob_size, &r)) KHO_TRY(blobs.add(r));
    }
    blobs.normalize();
    stats->metadata_bytes = counter.metadata_bytes_ + blobs.total_bytes();
    return Status::ok();
}

Status DoubleClaimGuard::blocks(uint64_t phys, unsigned order, uint64_t count) {
    KHO_TRY(next_.blocks(phys, order, count));
    return check();
}

Status DoubleClaimGuard::metadata(uint64_t phys, uint64_t size) {
    KHO_TRY(next_.metadata(phys, size));
    return check();
}

Status DoubleClaimGuard::check() const {
    Range twice = protect_.first_overlap();
    if (twice.empty()) return Status::ok();
    return Status::error(Err::BadMap, "0x%llx-0x%llx is preserved twice (blocks or map pages overlap)",
                         (unsigned long long)twice.start, (unsigned long long)twice.end);
}

Status collect_protected(const PhysMem& mem, const KhoState& state, const ProtectOptions& options,
                         PageSet& visited, PreservedMemorySink& sink, RangeSet& protect,
                         ProtectStats* stats) {
    DoubleClaimGuard guard(sink, protect);
    KHO_TRY(decode_state(mem, state, options, visited, guard, stats));
    // Linux records a preserved folio's order in its first page at restore;
    // a page claimed twice (two blocks, or a block over a map page) would be
    // restored as whichever came last. Coalescing meets every such byte.
    protect.normalize();
    KHO_TRY(guard.check());
    KHO_TRY(check_blobs_clear_of_map(state, visited));
    KHO_TRY(add_state_blobs(protect, state, options));
    protect.normalize();
    return Status::ok();
}

}  // namespace kho
