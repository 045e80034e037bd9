#include "state_verify.h"

#include "../abi/kho_fdt.h"

namespace kho {

namespace m = abi::manifest;

const char* verify_level_name(VerifyLevel level) {
    switch (level) {
    case VerifyLevel::Off: return "off";
    case VerifyLevel::Metadata: return "metadata";
    case VerifyLevel::Full: return "full";
    }
    return "?";
}

Status resolve_verify_level(KhoVerify requested, bool have_manifest, VerifyLevel* out) {
    switch (requested) {
    case KhoVerify::Auto:
        *out = have_manifest ? VerifyLevel::Metadata : VerifyLevel::Off;
        return Status::ok();
    case KhoVerify::Off:
        *out = VerifyLevel::Off;
        return Status::ok();
    case KhoVerify::Metadata:
    case KhoVerify::Full:
        *out = requested == KhoVerify::Full ? VerifyLevel::Full : VerifyLevel::Metadata;
        if (!have_manifest)
            return Status::error(Err::Integrity, "kho-verify=%s but the state has no manifest",
                                 kho_verify_name(requested));
        return Status::ok();
    }
    return Status::error(Err::BadEntry, "kho-verify value %u unknown", unsigned(requested));
}

Status check_ram_manifest_range(uint64_t addr, uint64_t size) {
    if (size < sizeof(m::Header) || size > kMaxRamManifest)
        return Status::error(Err::Integrity, "manifest at 0x%llx: size %llu outside %zu..%llu",
                             (unsigned long long)addr, (unsigned long long)size, sizeof(m::Header),
                             (unsigned long long)kMaxRamManifest);
    if (addr + size < addr)
        return Status::error(Err::Integrity, "manifest 0x%llx+0x%llx wraps", (unsigned long long)addr,
                             (unsigned long long)size);
    return Status::ok();
}

namespace {

Status check_bounds(const ManifestView& view, const ManifestBounds& bounds) {
    uint64_t kind_bytes[2] = {0, 0};  // metadata, data
    const uint64_t limit[2] = {bounds.metadata_bytes, bounds.protect->total_bytes()};
    for (uint32_t i = 0; i < view.count; ++i) {
        const m::Entry e = view.entry(i);
        if (!bounds.protect->contains(e.start, e.start + e.size))
            return Status::error(Err::Integrity, "manifest entry %u 0x%llx-0x%llx lies outside the state",
                                 i, (unsigned long long)e.start,
                                 (unsigned long long)(e.start + e.size));
        unsigned k = e.kind == m::kKindMetadata ? 0 : 1;
        kind_bytes[k] += e.size;  // each entry lies inside the state: no wrap
        if (kind_bytes[k] > limit[k])
            return Status::error(Err::Integrity,
                                 "manifest names %llu+ bytes of %s, the state holds %llu",
                                 (unsigned long long)kind_bytes[k], k ? "data" : "metadata",
                                 (unsigned long long)limit[k]);
    }
    return Status::ok();
}

}  // namespace

Status open_manifest(const void* bytes, size_t len, uint64_t fdt_addr, const ManifestBounds& bounds,
                     ManifestView* view) {
    Status s = parse_manifest(bytes, len, view);
    if (!s) return Status::error(Err::Integrity, "manifest: %s", s.message());
    // The binding first: a stale manifest of another state is named as such.
    bool names_fdt = false;
    for (uint32_t i = 0; i < view->count && !names_fdt; ++i) {
        const m::Entry e = view->entry(i);
        names_fdt = e.kind == m::kKindMetadata && e.start == fdt_addr && e.size >= abi::kRootFdtSize;
    }
    if (!names_fdt)
        return Status::error(Err::Integrity,
                             "manifest of %u entries names no root FDT page at 0x%llx (another state's)",
                             view->count, (unsigned long long)fdt_addr);
    return check_bounds(*view, bounds);
}

Status verify_state(const PhysMem& mem, KhoVerify requested, const void* bytes, size_t len,
                    uint64_t fdt_addr, const ManifestBounds& bounds, StateVerifyResult* out) {
    *out = StateVerifyResult{};
    KHO_TRY(resolve_verify_level(requested, bytes != nullptr, &out->level));
    // Off means the manifest is not read at all: an operator who turned
    // verification off for a state must not be stopped by its manifest.
    if (!bytes || out->level == VerifyLevel::Off) return Status::ok();
    ManifestView view;
    KHO_TRY(open_manifest(bytes, len, fdt_addr, bounds, &view));
    out->manifest_entries = view.count;
    return verify_manifest(mem, view, out->level, &out->stats);
}

}  // namespace kho
