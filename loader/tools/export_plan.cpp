#include "export_plan.h"

#include <cstdio>
#include <memory>

#include "abi/handover_descriptor.h"
#include "abi/integrity_manifest.h"
#include "abi/khoboot_vendor.h"
#include "loader/crc32.h"
#include "loader/handover_descriptor.h"
#include "loader/integrity_manifest.h"
#include "loader/kho_fdt_reader.h"
#include "loader/memory_plan.h"
#include "loader/page_set.h"
#include "loader/phys_range.h"
#include "loader/protected_set.h"
#include "loader/state_verify.h"

namespace kho::tools::exporting {
namespace {

constexpr uint64_t kPage = abi::kPageSize;
constexpr size_t kVisitedSlots = size_t(1) << 18;

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

// A RangeSet with its own storage, sized for large hosts; the vector is
// only touched as far as it is used.
struct OwnedSet {
    explicit OwnedSet(size_t n) : storage(n), set(storage.data(), storage.size()) {}
    std::vector<Range> storage;
    RangeSet set;
};

// What the map and the FDT hold, decoded and checked by the core.
struct Decoded {
    OwnedSet blocks{size_t(1) << 20}, metadata{size_t(1) << 16}, protect{size_t(1) << 20};
    ProtectStats stats;
    uint64_t block_count = 0, metadata_pages = 0;
};

Status decode(const PhysMem& mem, const KhoState& state, Decoded* d) {
    std::vector<uint64_t> visited_slots(kVisitedSlots);
    PageSet visited(visited_slots.data(), visited_slots.size());
    RangeSetSink into_protect(d->protect.set, d->protect.set, kPage);
    RangeSetSink parts(d->blocks.set, d->metadata.set, kPage);
    TeeSink tee(into_protect, parts);
    KHO_TRY(collect_protected(mem, state, ProtectOptions{}, visited, tee, d->protect.set, &d->stats));
    d->blocks.set.normalize();
    d->metadata.set.normalize();
    d->block_count = parts.block_count();
    d->metadata_pages = parts.metadata_count();  // each map page once
    return Status::ok();
}

// The next kernel memblock_reserve()s exactly the map's blocks (plus the
// map's own pages, which it walks while still confined to scratch); the
// root FDT and the sub-blobs must be among those blocks or it would reuse
// them while they are still referenced (kho_mem_retrieve()/
// kho_retrieve_subtree(), kexec_handover.c).
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

Status build_descriptor(const PhysMem& mem, uint64_t fdt_addr,
                        const std::vector<abi::KhoScratch>& scratch, ExportPlan* out) {
    if (scratch.size() > abi::descriptor::kMaxScratch)
        return Status::error(Err::Capacity, "%zu scratch regions, the descriptor holds %u",
                             scratch.size(), abi::descriptor::kMaxScratch);
    const uint8_t* fdt_page = mem.view(fdt_addr, abi::kRootFdtSize);
    if (!fdt_page)
        return Status::error(Err::OutOfRam, "root FDT page 0x%llx is not readable RAM",
                             (unsigned long long)fdt_addr);
    HandoverDescriptor d;
    d.flags = abi::descriptor::kFlagFdtCrc;
    d.fdt_addr = fdt_addr;
    d.fdt_size = abi::kRootFdtSize;
    d.fdt_crc32 = crc32(fdt_page, abi::kRootFdtSize);
    d.scratch_count = uint32_t(scratch.size());
    for (size_t i = 0; i < scratch.size(); ++i) d.scratch[i] = scratch[i];
    out->descriptor.resize(abi::descriptor::kMaxSize);
    size_t written = 0;
    KHO_TRY(build_handover_descriptor(d, out->descriptor.data(), out->descriptor.size(), &written));
    out->descriptor.resize(written);
    out->fdt_crc32 = d.fdt_crc32;
    return Status::ok();
}

size_t manifest_bytes(size_t entries) {
    return sizeof(abi::manifest::Header) + entries * sizeof(abi::manifest::Entry);
}

// Metadata first (map pages, the root FDT page, the exact sub-blob bytes),
// then, at Full and within `budget`, the preserved blocks as coalesced runs.
Status build_manifest_for(const PhysMem& mem, const KhoState& state, const Decoded& d,
                          ManifestLevel level, size_t budget, ExportPlan* out) {
    std::vector<abi::manifest::Entry> entries;
    auto add = [&](uint64_t start, uint64_t size, uint32_t kind) {
        abi::manifest::Entry e;
        KHO_TRY(make_manifest_entry(mem, start, size, kind, &e));
        entries.push_back(e);
        return Status::ok();
    };
    for (const Range& r : d.metadata.set) KHO_TRY(add(r.start, r.size(), abi::manifest::kKindMetadata));
    KHO_TRY(add(state.fdt_addr, abi::kRootFdtSize, abi::manifest::kKindMetadata));
    for (size_t i = 0; i < state.subnode_count; ++i) {
        const KhoSubnode& n = state.subnodes[i];
        if (n.blob_size) KHO_TRY(add(n.blob_phys, n.blob_size, abi::manifest::kKindMetadata));
    }
    if (manifest_bytes(entries.size()) > budget)
        return Status::error(Err::Capacity, "manifest of %zu metadata ranges needs %zu bytes, budget %zu",
                             entries.size(), manifest_bytes(entries.size()), budget);
    out->metadata_entries = uint32_t(entries.size());
    out->manifest_level = ManifestLevel::Metadata;
    if (level == ManifestLevel::Full && manifest_bytes(entries.size() + d.blocks.set.size()) <= budget) {
        for (const Range& r : d.blocks.set) KHO_TRY(add(r.start, r.size(), abi::manifest::kKindData));
        out->manifest_level = ManifestLevel::Full;
    }
    out->data_entries = uint32_t(entries.size()) - out->metadata_entries;
    out->manifest.resize(manifest_bytes(entries.size()));
    size_t written = 0;
    KHO_TRY(build_manifest(entries.data(), uint32_t(entries.size()), out->manifest.data(),
                           out->manifest.size(), &written));
    out->manifest.resize(written);
    // What khoboot will do with it (state_verify.h): a manifest it would
    // refuse must not leave this machine.
    ManifestView view;
    ManifestBounds bounds{&d.protect.set, d.stats.metadata_bytes};
    Status s = open_manifest(out->manifest.data(), out->manifest.size(), state.fdt_addr, bounds, &view);
    if (!s) return Status::error(s.code(), "the loader would refuse this manifest: %s", s.message());
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

Status check_scratch(const PhysMem& mem, const std::vector<abi::KhoScratch>& scratch,
                     const RangeSet& protect) {
    std::vector<Range> scratch_store(scratch.size() + 1);
    RangeSet regions(scratch_store.data(), scratch_store.size());
    MemoryPlan plan{};
    for (const abi::KhoScratch& s : scratch) {
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
    std::vector<Range> overlap_store(protect.size() + regions.size() + 1);
    RangeSet overlaps(overlap_store.data(), overlap_store.size());
    KHO_TRY(protect.intersect(regions, overlaps));
    plan.overlaps = &overlaps;
    return plan_verdict(plan);
}

Status plan_export(const PhysMem& mem, uint64_t fdt_addr,
                   const std::vector<abi::KhoScratch>& scratch, ManifestLevel level, size_t budget,
                   ExportPlan* out) {
    *out = ExportPlan{};
    auto state = std::make_unique<KhoState>();
    KHO_TRY(read_kho_fdt(mem, fdt_addr, state.get()));
    if (state->version == abi::KhoVersion::Multikernel1)
        return Status::error(Err::BadVersion, "multikernel-v1 states are not exported from Linux");
    auto d = std::make_unique<Decoded>();
    KHO_TRY(decode(mem, *state, d.get()));
    KHO_TRY(check_state_preserved(*state, d->blocks.set));
    // docs/kho-abi.md section 7.4: scratch is reused wholesale by the next
    // boot (its kernel and early allocations go there).
    KHO_TRY(check_scratch(mem, scratch, d->protect.set));

    ExportPlan plan;
    KHO_TRY(build_descriptor(mem, fdt_addr, scratch, &plan));
    if (level != ManifestLevel::None) KHO_TRY(build_manifest_for(mem, *state, *d, level, budget, &plan));

    std::snprintf(plan.compatible, sizeof(plan.compatible), "%s", state->compatible);
    plan.fdt_addr = fdt_addr;
    plan.map_root = state->memory_map;
    plan.blocks = d->block_count;
    plan.preserved_bytes = d->blocks.set.total_bytes();
    plan.metadata_pages = d->metadata_pages;
    plan.subnodes = state->subnode_count;
    plan.scratch_count = scratch.size();
    plan.protect.assign(d->protect.set.begin(), d->protect.set.end());
    *out = std::move(plan);
    return Status::ok();
}

}  // namespace kho::tools::exporting
