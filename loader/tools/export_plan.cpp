#include "export_plan.h"

#include <cstdio>
#include <memory>

#include "abi/handover_descriptor.h"
#include "abi/integrity_manifest.h"
#include "loader/handover_descriptor.h"

namespace kho::tools::exporting {
namespace {

// Storage for one plan, sized for large hosts (2^20 ranges); the vectors
// are only touched as far as they are used.
struct PlanStorage {
    PlanStorage()
        : state(std::make_unique<KhoState>()), blocks(size_t(1) << 20), metadata(size_t(1) << 16),
          protect(size_t(1) << 20), visited(size_t(1) << 18) {}
    HandoverPlanBuffers buffers() {
        HandoverPlanBuffers b;
        b.state = state.get();
        b.blocks = blocks.data(), b.blocks_cap = blocks.size();
        b.metadata = metadata.data(), b.metadata_cap = metadata.size();
        b.protect = protect.data(), b.protect_cap = protect.size();
        b.visited = visited.data(), b.visited_slots = visited.size();
        return b;
    }
    std::unique_ptr<KhoState> state;
    std::vector<Range> blocks, metadata, protect;
    std::vector<uint64_t> visited;
};

Status build_descriptor(const PhysMem& mem, uint64_t fdt_addr,
                        const std::vector<abi::KhoScratch>& scratch, ExportPlan* out) {
    HandoverDescriptor d;
    KHO_TRY(plan_descriptor(mem, fdt_addr, scratch.data(), scratch.size(), 0, 0, &d));
    out->descriptor.resize(abi::descriptor::kMaxSize);
    size_t written = 0;
    KHO_TRY(build_handover_descriptor(d, out->descriptor.data(), out->descriptor.size(), &written));
    out->descriptor.resize(written);
    out->fdt_crc32 = d.fdt_crc32;
    return Status::ok();
}

// The metadata entries must fit in `budget`; the blocks are added (Full)
// only when all of them fit too.
Status build_manifest_for(const PhysMem& mem, const LiveState& live, ManifestLevel level,
                          size_t budget, ExportPlan* out) {
    size_t cap = budget > manifest_bytes(0) ? (budget - manifest_bytes(0)) / sizeof(abi::manifest::Entry) : 0;
    std::vector<abi::manifest::Entry> entries(cap);
    ManifestEntries e;
    e.entries = entries.data();
    e.cap = cap;
    Status s = collect_manifest_entries(mem, live, level, &e);
    if (!s && s.code() == Err::Capacity) {
        size_t metadata = live.metadata.size() + 1 + live.state->subnode_count;
        return Status::error(Err::Capacity, "manifest of %zu metadata ranges needs %zu bytes, budget %zu",
                             metadata, manifest_bytes(metadata), budget);
    }
    KHO_TRY(s);
    out->manifest_level = e.level;
    out->metadata_entries = e.metadata_count;
    out->data_entries = e.count - e.metadata_count;
    out->manifest.resize(manifest_bytes(e.count));
    size_t written = 0;
    KHO_TRY(finish_manifest(live, e, live.protect, out->manifest.data(), out->manifest.size(), &written));
    out->manifest.resize(written);
    return Status::ok();
}

}  // namespace

Status check_scratch(const PhysMem& mem, const std::vector<abi::KhoScratch>& scratch,
                     const RangeSet& protect) {
    std::vector<Range> work(scratch.size() + protect.size() + 2);
    return kho::check_scratch(mem, scratch.data(), scratch.size(), protect, work.data(), work.size());
}

Status plan_export(const PhysMem& mem, uint64_t fdt_addr,
                   const std::vector<abi::KhoScratch>& scratch, ManifestLevel level, size_t budget,
                   ExportPlan* out) {
    *out = ExportPlan{};
    auto storage = std::make_unique<PlanStorage>();
    LiveState live(storage->buffers());
    KHO_TRY(decode_live_state(mem, fdt_addr, storage->buffers(), &live));
    // docs/kho-abi.md section 7.4: scratch is reused wholesale by the next
    // boot (its kernel and early allocations go there).
    KHO_TRY(check_scratch(mem, scratch, live.protect));

    ExportPlan plan;
    KHO_TRY(build_descriptor(mem, fdt_addr, scratch, &plan));
    if (level != ManifestLevel::None) KHO_TRY(build_manifest_for(mem, live, level, budget, &plan));

    const KhoState& state = *live.state;
    std::snprintf(plan.compatible, sizeof(plan.compatible), "%s", state.compatible);
    plan.fdt_addr = fdt_addr;
    plan.map_root = state.memory_map;
    plan.blocks = live.block_count;
    plan.preserved_bytes = live.blocks.total_bytes();
    plan.metadata_pages = live.metadata_pages;
    plan.subnodes = state.subnode_count;
    plan.scratch_count = scratch.size();
    plan.protect.assign(live.protect.begin(), live.protect.end());
    *out = std::move(plan);
    return Status::ok();
}

}  // namespace kho::tools::exporting
