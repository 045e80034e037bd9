// kho-v1 preserved-memory map: a linked list of one-page khoser_mem_chunk
// records, each listing bitmaps of one page order.
// Source: Linux kernel/kexec_handover.c @00c010e1 (6.16) .. 7.0; the bitmap
// object grew from 512 bytes to PAGE_SIZE in 6.17.9 / 6.18 ("kho: increase
// metadata bitmap size to PAGE_SIZE") without a compatible bump.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::abi::v1 {

inline constexpr uint64_t kPageSize = 4096;

struct ChunkHeader {
    uint64_t next;      // phys of next chunk, 0 = end of list
    uint32_t order;     // page order of every element in this chunk
    uint32_t num_elms;  // used elements
};
static_assert(sizeof(ChunkHeader) == 16);
static_assert(offsetof(ChunkHeader, next) == 0);
static_assert(offsetof(ChunkHeader, order) == 8);
static_assert(offsetof(ChunkHeader, num_elms) == 12);

struct BitmapElement {
    uint64_t phys_start;  // physical address covered by bit 0
    uint64_t bitmap;      // phys of the bitmap object
};
static_assert(sizeof(BitmapElement) == 16);
static_assert(offsetof(BitmapElement, phys_start) == 0);
static_assert(offsetof(BitmapElement, bitmap) == 8);

// KHOSER_BITMAP_SIZE: elements that fit a page after the header (255 @ 4K).
inline constexpr uint32_t kElementsPerChunk =
    (kPageSize - sizeof(ChunkHeader)) / sizeof(BitmapElement);
static_assert(kElementsPerChunk == 255);

struct Chunk {
    ChunkHeader hdr;
    BitmapElement elements[kElementsPerChunk];
};
static_assert(sizeof(Chunk) == kPageSize);

// The two bitmap layouts a "kho-v1" FDT may carry (not distinguishable from
// the FDT itself): 512-byte kzalloc()ed objects (6.16 .. 6.17.8) or whole
// zeroed pages (6.17.9+, 6.18 .. 7.0).
enum class BitmapLayout : uint8_t { Bytes512, Page };

constexpr uint64_t bitmap_bytes(BitmapLayout l) {
    return l == BitmapLayout::Bytes512 ? 512 : kPageSize;
}
constexpr uint64_t bitmap_bits(BitmapLayout l) { return bitmap_bytes(l) * 8; }
static_assert(bitmap_bits(BitmapLayout::Bytes512) == 4096);
static_assert(bitmap_bits(BitmapLayout::Page) == 32768);

}  // namespace kho::abi::v1
