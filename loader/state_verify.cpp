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

Status open_manifest(const void* bytes, size_t len, uint64_t fdt_addr, ManifestView* view) {
    Status s = parse_manifest(bytes, len, view);
    if (!s) return Status::error(Err::Integrity, "manifest: %s", s.message());
    for (uint32_t i = 0; i < view->count; ++i) {
        const m::Entry e = view->entry(i);
        if (e.kind == m::kKindMetadata && e.start == fdt_addr && e.size >= abi::kRootFdtSize)
            return Status::ok();
    }
    return Status::error(Err::Integrity,
                         "manifest of %u entries names no root FDT page at 0x%llx (another state's)",
                         view->count, (unsigned long long)fdt_addr);
}

Status verify_state(const PhysMem& mem, KhoVerify requested, const void* bytes, size_t len,
                    uint64_t fdt_addr, StateVerifyResult* out) {
    *out = StateVerifyResult{};
    KHO_TRY(resolve_verify_level(requested, bytes != nullptr, &out->level));
    // Off means the manifest is not read at all: an operator who turned
    // verification off for a state must not be stopped by its manifest.
    if (!bytes || out->level == VerifyLevel::Off) return Status::ok();
    ManifestView view;
    KHO_TRY(open_manifest(bytes, len, fdt_addr, &view));
    out->manifest_entries = view.count;
    return verify_manifest(mem, view, out->level, &out->stats);
}

}  // namespace kho
