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
    uint32_t version = 0;  // names the entries' checksum (abi/integrity_manifest.h)
    abi::manifest::Entry entry(uint32_t i) const {
        abi::manifest::Entry e;
        __builtin_memcpy(&e, entry_bytes + size_t(i) * sizeof(e), sizeof(e));
        return e;
    }
};

// Checks header, sizes and checksum of a manifest held in `bytes`: version
// 1 (CRC-32) or 2 (CRC-32C), anything else is Err::BadDescriptor like any
// other malformed header; entries must be non-empty, non-wrapping and of a
// known kind. `view` points into `bytes`.
Status parse_manifest(const void* bytes, size_t len, ManifestView* view);

// The checksum a manifest version uses, continuing `crc` as crc32() does;
// false for an unknown version.
bool manifest_checksum(uint32_t version, const void* data, size_t len, uint32_t* crc);

// Writes header + entries (whose checksums the caller computed with
// make_manifest_entry) and fills in the header checksum; version 2.
Status build_manifest(const abi::manifest::Entry* entries, uint32_t count, void* out,
                      size_t capacity, size_t* written);
// The same for a given version, whose checksum the entries must carry
// (a v1 manifest for the tests, the byte-for-byte rebuild of the fuzzer).
Status build_manifest_as(uint32_t version, const abi::manifest::Entry* entries, uint32_t count,
                         void* out, size_t capacity, size_t* written);

// Computes an entry's checksum over RAM seen through `mem`: CRC-32C, for
// build_manifest(); make_manifest_entry_as() for a given version.
Status make_manifest_entry(const PhysMem& mem, uint64_t start, uint64_t size, uint32_t kind,
                           abi::manifest::Entry* out);
Status make_manifest_entry_as(uint32_t version, const PhysMem& mem, uint64_t start, uint64_t size,
                              uint32_t kind, abi::manifest::Entry* out);

struct VerifyStats {
    uint64_t entries = 0;
    uint64_t bytes = 0;
};

// Recomputes the checksum (the manifest version's) of every entry the level covers; the first mismatch or
// unreadable range is the error (Err::Integrity), naming the range.
Status verify_manifest(const PhysMem& mem, const ManifestView& manifest, VerifyLevel level,
                       VerifyStats* stats);

}  // namespace kho
