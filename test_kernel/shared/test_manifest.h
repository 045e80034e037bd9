// The test manifest: how a producer of a KHO state (test_kernel in producer
// mode, `khotool synth`) tells test_kernel in consumer mode what the state
// must contain. It is the blob of the root FDT sub-node "khoboot-test"
// (kho-v2+: "preserved-data" + "blob-size"; kho-v1: a sub-FDT whose root
// property "manifest" holds these bytes), preserved like any KHO user's
// data. Header-only and freestanding: shared by the guest and the host.
//
// Layout, all little-endian: Header, then entry_count Entry records sorted
// by phys, then retired_count Retired records.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../../abi/kho_scratch.h"

namespace tk::manifest {

inline constexpr char kSubnodeName[] = "khoboot-test";
inline constexpr char kSubFdtCompatible[] = "khoboot,test-manifest-v1";  // kho-v1 wrapper
inline constexpr char kSubFdtProperty[] = "manifest";
inline constexpr uint64_t kMagic = 0x494e414d54534554ull;  // "TESTMANI"
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kMaxScratch = 16;

// The map encoding the producer chose (the consumer decodes with it).
enum Format : uint32_t {
    kFormatV1Page = 1,     // "kho-v1", PAGE_SIZE bitmaps (6.17.9+ .. 7.0)
    kFormatV1Bytes512 = 2, // "kho-v1", 512-byte bitmaps (6.16 .. 6.17.8)
    kFormatV2 = 3,         // "kho-v2" radix
    kFormatV3 = 4,         // "kho-v3" radix + blob-size
    kFormatV4 = 5,         // "kho-v4"
    kFormatMultikernel = 6 // "multikernel-v1": no map, no scratch
};

// How much of a block the producer wrote: all of it, or (for blocks too
// big to fill in reasonable time) the first and the last page only.
enum Fill : uint8_t { kFillFull = 0, kFillEdges = 1 };

struct Header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;   // sizeof(Header)
    uint64_t total_size;    // header + entries + retired
    uint32_t hop;           // chain hop that produced the state (synth: 0)
    uint32_t format;        // Format
    uint64_t entry_count;
    uint64_t retired_count;
    uint64_t root_fdt;      // the root FDT this manifest belongs to
    uint64_t seed;          // state seed (informational)
    uint32_t scratch_count;
    uint32_t flags;         // 0
    kho::abi::KhoScratch scratch[kMaxScratch];
    uint32_t body_crc32;    // CRC-32 of entries and retired records
    uint32_t header_crc32;  // CRC-32 of the header with this field 0
};
static_assert(sizeof(Header) == 336);
static_assert(offsetof(Header, scratch) == 72);
static_assert(offsetof(Header, body_crc32) == 328);

struct Entry {
    uint64_t phys;
    uint8_t order;
    uint8_t fill;       // Fill
    uint16_t hop;       // hop that wrote the block (kept blocks keep it)
    uint32_t reserved;  // 0
    uint64_t seed;      // pattern seed (block_pattern.h)
    uint64_t digest;    // pattern_digest() of what was written
};
static_assert(sizeof(Entry) == 32);

// A block an earlier state preserved and this state dropped: the consumer
// checks that the map no longer lists it.
struct Retired {
    uint64_t phys;
    uint64_t order;
};
static_assert(sizeof(Retired) == 16);

constexpr uint64_t total_size(uint64_t entries, uint64_t retired) {
    return sizeof(Header) + entries * sizeof(Entry) + retired * sizeof(Retired);
}

}  // namespace tk::manifest
