// khoboot's integrity manifest: per-range CRC-32s recorded by a producer
// (khotool synth, test_kernel, the Linux export tool) next to a KHO state,
// so the loader can refuse a state whose bytes changed between the
// producer and the handover (firmware scribbling over RAM during the warm
// reset: OVMF rewrites 0x1000000-0x1704000 on q35, see environment.md).
// Named by the handover descriptor (manifest_addr/size, kFlagManifest).
// All fields little-endian.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::abi::manifest {

// The bytes in memory read "KOHBMANI" (see handover_descriptor.h kMagic).
inline constexpr uint64_t kMagic = 0x494e414d42484f4bull;
inline constexpr uint32_t kVersion = 1;

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
    uint32_t checksum;     // CRC-32 of header (this field 0) + entries
    uint64_t reserved;     // 0
};
static_assert(sizeof(Header) == 32);
static_assert(offsetof(Header, checksum) == 20);

struct Entry {
    uint64_t start;
    uint64_t size;
    uint32_t crc32;  // CRC-32 (IEEE) of the bytes [start, start + size)
    uint32_t kind;
};
static_assert(sizeof(Entry) == 24);

}  // namespace kho::abi::manifest
