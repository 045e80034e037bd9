#include "handover_plan.h"

#include "crc32.h"
#include "integrity_manifest.h"
#include "memory_plan.h"
#include "page_set.h"
#include "phys_range.h"
#include "state_verify.h"

namespace kho {
namespace {

constexpr uint64_t kPage = abi::kPageSize;

// One decoder stream into two sinks: the protected set (which
// collect_protected() reads double claims off) and the blocks and map
// pages kept apart for the checks and the manifest.
class TeeSink : public PreservedMemorySink {
public:
    TeeSink(PreservedMemorySink& a, PreservedMemorySink& b) : a_(a), b_(b) {}
    Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        KHO_TRY(a_.blocks(phys, order, count));
        return b_.blocks(phys, order, count);
    }
    Status metadata(uint64_t phys, uint64_t size) override {
        KHO_TRY(a_.metadata(phys, size));
        return b_.metadata(phys, size);
    }

private:
    PreservedMemorySink& a_;
    PreservedMemorySink& b_;
};

// The next kernel memblock_reserve()s exactly the map's blocks (plus the
// map's own pages, which it walks while still confined to scratch); the
// root FDT and the sub-blobs must be among those blocks or it would reuse
// them while they are still referenced (kho_mem_retrieve()/
// kho_retrieve_subtree(), kernel/liveupdate/kexec_handover.c).
Status check_state_preserved(const KhoState& state, const RangeSet& blocks) {
    if (!blocks.contains(state.fdt_addr, state.fdt_addr + abi::kRootFdtSize))
        return Status::error(Err::BadProperty, "root FDT page 0x%llx is not preserved memory",
                             (unsigned long long)state.fdt_addr);
    for (size_t i = 0; i < state.subnode_count; ++i) {
        const KhoSubnode& n = state.subnodes[i];
        Range r{0, 0};
        // The reader refused blobs whose pages wrap: page_span cannot fail here.
        if (!page_span(n.blob_phys, n.blob_size ? n.blob_size : 1, &r) || !blocks.contains(r.start, r.end))
            return Status::error(Err::BadProperty, "sub-node %s blob 0x%llx+0x%llx is not preserved memory",
                                 n.name, (unsigned long long)n.blob_phys, (unsigned long long)n.blob_size);
    }
    return Status::ok();
}

}  // namespace

const char* manifest_level_name(ManifestLevel level) {
    switch (level) {
    case ManifestLevel::None: return "none";
    case ManifestLevel::Metadata: return "metadata";
    case ManifestLevel::Full: return "full";
    }
    return "?";
}

Status decode_live_state(const PhysMem& mem, uint64_t fdt_addr, const HandoverPlanBuffers& b,
                         LiveState* out) {
    KHO_TRY(read_kho_fdt(mem, fdt_addr, b.state));
    if (b.state->version == abi::KhoVersion::Multikernel1)
        return Status::error(Err::BadVersion, "multikernel-v1 states are not produced by Linux");
    out->state = b.state;
    PageSet visited(b.visited, b.visited_slots);
    RangeSetSink into_protect(out->protect, out->protect, kPage);
    RangeSetSink parts(out->blocks, out->metadata, kPage);
    TeeSink tee(into_protect, parts);
    KHO_TRY(collect_protected(mem, *b.state, ProtectOptions{}, visited, tee, out->protect, &out->stats));
    out->blocks.normalize();
    out->metadata.normalize();
    out->block_count = parts.block_count();
    out->metadata_pages = parts.metadata_count();
    return check_state_preserved(*b.state, out->blocks);
}

Status check_scratch(const PhysMem& mem, const abi::KhoScratch* scratch, size_t count,
                     const RangeSet& protect, Range* work, size_t work_cap) {
    if (work_cap < count + 1)
        return Status::error(Err::Capacity, "%zu scratch regions, room for %zu", count, work_cap - 1);
    RangeSet regions(work, count + 1);
    MemoryPlan plan{};
    for (size_t i = 0; i < count; ++i) {
        const abi::KhoScratch& s = scratch[i];
        if (!s.size) continue;
        // A region whose end wraps is not RAM whatever PhysMem says (not
        // every PhysMem checks), and names its bytes up to 2^64.
        bool wraps = s.addr + s.size < s.addr;
        if (wraps || !mem.is_ram(s.addr, s.size)) {
            if (plan.bad_scratch.empty()) plan.bad_scratch = Range{s.addr, wraps ? ~0ull : s.addr + s.size};
            continue;
        }
        KHO_TRY(regions.add(s.addr, s.addr + s.size));
    }
    regions.normalize();
    // An intersection has at most as many ranges as both sets together.
    RangeSet overlaps(work + count + 1, work_cap - (count + 1));
    KHO_TRY(protect.intersect(regions, overlaps));
    plan.overlaps = &overlaps;
    return plan_verdict(plan);
}

Status collect_manifest_entries(const PhysMem& mem, const LiveState& live, ManifestLevel wanted,
                                ManifestEntries* out) {
    out->count = 0;
    auto add = [&](uint64_t start, uint64_t size, uint32_t kind) -> Status {
        if (out->count >= out->cap)
            return Status::error(Err::Capacity, "manifest holds %zu entries", out->cap);
        return make_manifest_entry(mem, start, size, kind, &out->entries[out->count++]);
    };
    const KhoState& state = *live.state;
    for (const Range& r : live.metadata) KHO_TRY(add(r.start, r.size(), abi::manifest::kKindMetadata));
    KHO_TRY(add(state.fdt_addr, abi::kRootFdtSize, abi::manifest::kKindMetadata));
    for (size_t i = 0; i < state.subnode_count; ++i) {
        const KhoSubnode& n = state.subnodes[i];
        if (n.blob_size) KHO_TRY(add(n.blob_phys, n.blob_size, abi::manifest::kKindMetadata));
    }
    out->metadata_count = out->count;
    out->level = ManifestLevel::Metadata;
    if (wanted == ManifestLevel::Full && out->count + live.blocks.size() <= out->cap) {
        for (const Range& r : live.blocks) KHO_TRY(add(r.start, r.size(), abi::manifest::kKindData));
        out->level = ManifestLevel::Full;
    }
    return Status::ok();
}

Status finish_manifest(const LiveState& live, const ManifestEntries& entries, const RangeSet& protect,
                       void* out, size_t cap, size_t* written) {
    KHO_TRY(build_manifest(entries.entries, entries.count, out, cap, written));
    ManifestView view;
    ManifestBounds bounds{&protect, live.stats.metadata_bytes};
    Status s = open_manifest(out, *written, live.state->fdt_addr, bounds, &view);
    if (!s) return Status::error(s.code(), "the loader would refuse this manifest: %s", s.message());
    return Status::ok();
}

Status plan_descriptor(const PhysMem& mem, uint64_t fdt_addr, const abi::KhoScratch* scratch,
                       size_t scratch_count, uint64_t manifest_addr, uint64_t manifest_size,
                       HandoverDescriptor* out) {
    if (scratch_count > abi::descriptor::kMaxScratch)
        return Status::error(Err::Capacity, "%zu scratch regions, the descriptor holds %u",
                             scratch_count, abi::descriptor::kMaxScratch);
    const uint8_t* fdt_page = mem.view(fdt_addr, abi::kRootFdtSize);
    if (!fdt_page)
        return Status::error(Err::OutOfRam, "root FDT page 0x%llx is not readable RAM",
                             (unsigned long long)fdt_addr);
    *out = HandoverDescriptor{};
    out->flags = abi::descriptor::kFlagFdtCrc;
    out->fdt_addr = fdt_addr;
    out->fdt_size = abi::kRootFdtSize;
    out->fdt_crc32 = crc32(fdt_page, abi::kRootFdtSize);
    out->scratch_count = uint32_t(scratch_count);
    for (size_t i = 0; i < scratch_count; ++i) out->scratch[i] = scratch[i];
    if (manifest_size) {
        out->flags |= abi::descriptor::kFlagManifest;
        out->manifest_addr = manifest_addr;
        out->manifest_size = manifest_size;
    }
    return Status::ok();
}

}  // namespace kho
