// khoboot's integrity manifest: per-range checksums recorded by a producer
// (khotool synth, test_kernel, the Linux export tool) next to a KHO state,
// so the loader can refuse a state whose bytes changed between the
// producer and the handover (firmware scribbling over RAM during the warm
// reset: OVMF rewrites 0x900000-0x16e1000 and more on q35, docs/firmware-facts.md).
// Named by the handover descriptor (manifest_addr/size, kFlagManifest).
// All fields little-endian.
//
// The version names the checksum of the whole manifest (header and every
// entry): version 1 CRC-32 (IEEE, zlib's crc32), version 2 CRC-32C
// (Castagnoli, RFC 3720 B.4; loader/crc32c.h), which x86-64 and ARMv8
// compute in hardware at memory speed. The layout is the same; loaders
// accept both, khoboot's C++ producers write version 2, and the Python
// producers (scripts/fuzz-seeds, scripts/scenarios/faults.py) version 1.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::abi::manifest {

// The bytes in memory read "KOHBMANI" (see handover_descriptor.h kMagic).
inline constexpr uint64_t kMagic = 0x494e414d42484f4bull;
inline constexpr uint32_t kVersionCrc32 = 1;
inline constexpr uint32_t kVersionCrc32c = 2;
inline constexpr uint32_t kVersion = kVersionCrc32c;  // what build_manifest() writes

enum Kind : uint32_t {
    // The map's own pages, the root FDT, sub-blobs: what the next kernel
    // walks first; cheap to check (kho-verify=metadata).
    kKindMetadata = 0,
    // Preserved block contents (kho-verify=full).
    kKindData = 1,
};

struct Header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;  // sizeof(Header)
    uint32_t entry_count;
    uint32_t checksum;     // the version's CRC of header (this field 0) + entries
    uint64_t reserved;     // 0
};
static_assert(sizeof(Header) == 32);
static_assert(offsetof(Header, checksum) == 20);

struct Entry {
    uint64_t start;
    uint64_t size;
    uint32_t checksum;  // the version's CRC of the bytes [start, start + size)
    uint32_t kind;
};
static_assert(sizeof(Entry) == 24);
static_assert(offsetof(Entry, checksum) == 16);

}  // namespace kho::abi::manifest
