// Parse, build and verify integrity manifests (abi/integrity_manifest.h).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/integrity_manifest.h"
#include "phys_mem.h"
#include "status.h"

namespace kho {

// What the boot entry's `kho-verify` asks for.
enum class VerifyLevel : uint8_t { Off, Metadata, Full };

// A parsed manifest, pointing into the caller's bytes. Entries are read
// through entry(), by copy: a manifest read from a UEFI variable or a RAM
// blob need not be 8-byte aligned.
struct ManifestView {
    const uint8_t* entry_bytes = nullptr;
    uint32_t count = 0;
    abi::manifest::Entry entry(uint32_t i) const {
        abi::manifest::Entry e;
        __builtin_memcpy(&e, entry_bytes + size_t(i) * sizeof(e), sizeof(e));
        return e;
    }
};

// Checks header, sizes and checksum of a manifest held in `bytes`; entries
// must be non-empty, non-wrapping and of a known kind. `view` points into
// `bytes`.
Status parse_manifest(const void* bytes, size_t len, ManifestView* view);

// Writes header + entries (whose crc32 fields the caller computed, e.g.
// with add_manifest_entry) and fills in the checksum.
Status build_manifest(const abi::manifest::Entry* entries, uint32_t count, void* out,
                      size_t capacity, size_t* written);

// Computes an entry's CRC over RAM seen through `mem`.
Status make_manifest_entry(const PhysMem& mem, uint64_t start, uint64_t size, uint32_t kind,
                           abi::manifest::Entry* out);

struct VerifyStats {
    uint64_t entries = 0;
    uint64_t bytes = 0;
};

// Recomputes the CRC of every entry the level covers; the first mismatch or
// unreadable range is the error (Err::Integrity), naming the range.
Status verify_manifest(const PhysMem& mem, const ManifestView& manifest, VerifyLevel level,
                       VerifyStats* stats);

}  // namespace kho
