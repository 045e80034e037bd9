// Checking a KHO state against its producer's integrity manifest
// (abi/integrity_manifest.h) before it is handed on: which level the boot
// entry asks for, where a manifest in RAM may lie, and whether a manifest
// belongs to the state at hand. The digests themselves are recomputed by
// verify_manifest() (loader/integrity_manifest.h).
//
// Why at all: the FDT CRC of the descriptor and the map walk only prove
// that the root FDT page and the map pages are intact. A preserved data
// page the firmware rewrote during the warm reset (OVMF decompresses its
// volumes into 0x900000-0x16e1000 on q35) still decodes as a valid state
// and would reach the next kernel silently corrupted.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "boot_entry.h"
#include "integrity_manifest.h"
#include "phys_mem.h"
#include "range_set.h"
#include "status.h"

namespace kho {

const char* verify_level_name(VerifyLevel level);

// The level to verify at. Auto: metadata when the state has a manifest
// (cheap: the pages the next kernel parses first), nothing when it has
// none. An explicit metadata or full without a manifest is Err::Integrity:
// the entry asked for a proof the state cannot give.
Status resolve_verify_level(KhoVerify requested, bool have_manifest, VerifyLevel* out);

// A manifest in RAM (descriptor kFlagManifest) holds at least a header and
// at most kMaxRamManifest bytes (2.8 million entries), which bounds the
// time a hostile descriptor can make the loader spend.
inline constexpr uint64_t kMaxRamManifest = 64ull << 20;
Status check_ram_manifest_range(uint64_t addr, uint64_t size);

// What a manifest may make the loader read: the state it vouches for and
// nothing else. Every entry lies inside `protect` (the state's protected
// ranges, normalized); metadata entries add up to at most `metadata_bytes`
// (ProtectStats::metadata_bytes) and data entries to at most the protected
// bytes. A manifest that names the same RAM again and again is refused
// before a byte is read, so a level costs at most one read of the state per
// entry kind: metadata is a few hundred KiB, full about 0.1 s/GiB (v2,
// CRC-32C in hardware) to 0.6 s/GiB (v1) on the host and 2.2 s/GiB under
// TCG (README, kho-verify).
struct ManifestBounds {
    const RangeSet* protect = nullptr;
    uint64_t metadata_bytes = 0;
};

// Parses `bytes`, checks every entry against `bounds`, and checks that the
// manifest belongs to
// the state whose root FDT is at `fdt_addr`: it must hold a metadata entry
// starting there and covering the whole FDT page (the export tool and the
// scenario producers write exactly [fdt_addr, fdt_addr + 4096)). A stale
// manifest left beside a newer descriptor fails here, not later with a
// misleading digest mismatch. Every failure is Err::Integrity.
Status open_manifest(const void* bytes, size_t len, uint64_t fdt_addr, const ManifestBounds& bounds,
                     ManifestView* view);

// What verify_state() found, for the protocol line.
struct StateVerifyResult {
    VerifyLevel level = VerifyLevel::Off;
    VerifyStats stats;
    uint32_t manifest_entries = 0;  // all entries, whatever the level checks
};

// The whole check: resolve the level, open the manifest (if any; `bytes`
// may be null with len 0), recompute the digests the level covers through
// `mem`. The first error is returned (Err::Integrity).
Status verify_state(const PhysMem& mem, KhoVerify requested, const void* bytes, size_t len,
                    uint64_t fdt_addr, const ManifestBounds& bounds, StateVerifyResult* out);

}  // namespace kho
