// vmalloc preservation sub-ABI (kho_vmalloc, kho_vmalloc_chunk).
// Source: include/linux/kho/abi/kexec_handover.h (7.0), later vmalloc.h.
// The loader does not need to walk these (their pages are in the preserved
// map); the types let tools explain sub-blobs such as test_kho's folio list.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::abi::vmalloc {

inline constexpr uint64_t kPageSize = 4096;

struct ChunkHeader {
    uint64_t next;  // phys of next chunk, 0 = end
};

// KHO_VMALLOC_SIZE = (PAGE_SIZE - 8) / 8 physical addresses per chunk,
// zero-terminated when not full.
inline constexpr uint64_t kEntriesPerChunk = (kPageSize - sizeof(ChunkHeader)) / 8;
static_assert(kEntriesPerChunk == 511);

struct Chunk {
    ChunkHeader hdr;
    uint64_t phys[kEntriesPerChunk];
};
static_assert(sizeof(Chunk) == kPageSize);

inline constexpr uint16_t kFlagAlloc = 0x0001;     // KHO_VMALLOC_ALLOC
inline constexpr uint16_t kFlagHugeVmap = 0x0002;  // KHO_VMALLOC_HUGE_VMAP

struct KhoVmalloc {
    uint64_t first;        // phys of first chunk
    uint32_t total_pages;
    uint16_t flags;
    uint16_t order;
};
static_assert(sizeof(KhoVmalloc) == 16);
static_assert(offsetof(KhoVmalloc, total_pages) == 8);
static_assert(offsetof(KhoVmalloc, flags) == 12);
static_assert(offsetof(KhoVmalloc, order) == 14);

}  // namespace kho::abi::vmalloc
