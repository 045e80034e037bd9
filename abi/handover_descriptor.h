// khoboot's own handover descriptor: how a previous stage (Linux + the
// export tool, test_kernel in producer mode, khotool synth) tells the
// loader where its KHO state is. Stored as a non-volatile UEFI variable
// "KhoHandover" under kVendorGuid, deleted by the loader before it boots
// so that it is never used twice. All fields little-endian.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "khoboot_vendor.h"
#include "kho_scratch.h"

namespace kho::abi::descriptor {

using abi::Guid;
inline constexpr Guid kVendorGuid = abi::kVendorGuid;
inline constexpr const char (&kVariableName)[sizeof(abi::kDescriptorVariable)] = abi::kDescriptorVariable;

// The bytes in memory read "KOHBDESC" (the value was chosen as "KHOBDESC"
// with two letters swapped; states in the field carry it, so it stays).
inline constexpr uint64_t kMagic = 0x4353454442484f4bull;
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kMaxScratch = 64;

enum Flags : uint32_t {
    // The FDT is multikernel-v1: hand it over with scratch 0/0.
    kFlagMultikernel = 1u << 0,
    // fdt_crc32 holds the CRC-32 of the fdt_size bytes at fdt_addr; a
    // mismatch means the RAM no longer holds the state (cold power cycle,
    // firmware overwrite).
    kFlagFdtCrc = 1u << 1,
    // manifest_addr/size name an integrity manifest (per-range digests).
    kFlagManifest = 1u << 2,
};
inline constexpr uint32_t kKnownFlags = kFlagMultikernel | kFlagFdtCrc | kFlagManifest;

struct Header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;    // sizeof(Header) for version 1
    uint32_t total_size;     // header + scratch_count * 16
    uint32_t checksum;       // CRC-32 of total_size bytes, this field as 0
    uint32_t flags;
    uint32_t scratch_count;
    uint64_t fdt_addr;
    uint64_t fdt_size;       // 4096
    uint32_t fdt_crc32;
    uint32_t reserved;       // 0
    uint64_t manifest_addr;
    uint64_t manifest_size;
    // followed by KhoScratch scratch[scratch_count]
};
static_assert(sizeof(Header) == 72);
static_assert(offsetof(Header, checksum) == 20);
static_assert(offsetof(Header, fdt_addr) == 32);
static_assert(offsetof(Header, fdt_crc32) == 48);
static_assert(offsetof(Header, manifest_addr) == 56);

inline constexpr size_t kMaxSize = sizeof(Header) + kMaxScratch * sizeof(KhoScratch);

}  // namespace kho::abi::descriptor
