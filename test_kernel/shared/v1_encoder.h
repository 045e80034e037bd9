// Encoder of the kho-v1 preserved-memory map (docs/kho-abi.md section 4; Linux
// kernel/kexec_handover.c kho_mem_serialize() 6.16 .. 7.0): a linked list
// of one-page chunks, each holding up to 255 {phys_start, bitmap} elements
// of one order; bitmaps are 512-byte objects (6.16 .. 6.17.8, packed
// eight to a page as kzalloc() would) or whole pages (6.17.9+).
//
// Blocks must arrive grouped by order and, within an order, in ascending
// address (what the kernel's xarray walk produces); a new element starts
// whenever the bitmap window changes, a new chunk whenever the order
// changes or the chunk is full. Mem as in radix_encoder.h.
#pragma once
#include <stdint.h>
#include "../../abi/kho_v1.h"

namespace tk {

template <class Mem>
class V1Encoder {
public:
    V1Encoder(Mem& mem, kho::abi::v1::BitmapLayout layout) : mem_(mem), layout_(layout) {}

    uint64_t first_chunk() const { return first_; }
    uint64_t chunk_pages() const { return chunks_; }
    uint64_t bitmaps() const { return bitmaps_; }
    uint64_t bitmap_pages() const { return bitmap_pages_; }

    bool add(uint64_t phys, unsigned order) {
        using namespace kho::abi::v1;
        const uint64_t bits = bitmap_bits(layout_);
        const unsigned shift = 12 + order;
        if (order > 51 || (phys & ((uint64_t(1) << shift) - 1))) return false;
        uint64_t idx = phys >> shift;  // pfn >> order
        uint64_t window = idx / bits;
        uint64_t bit = idx % bits;
        if (!chunk_ || order != order_ || window != window_ || !bitmap_) {
            if (!chunk_ || order != order_ || chunk_elems() == kElementsPerChunk) {
                if (!new_chunk(order)) return false;
            }
            uint64_t bm = alloc_bitmap();
            if (!bm) return false;
            Chunk* c = chunk();
            BitmapElement& e = c->elements[c->hdr.num_elms++];
            e.phys_start = (window * bits) << shift;
            e.bitmap = bm;
            bitmap_ = bm;
            window_ = window;
        }
        uint64_t* words = bitmap_words(bitmap_);
        words[bit / 64] |= uint64_t(1) << (bit % 64);
        return true;
    }

private:
    using Chunk = kho::abi::v1::Chunk;
    Chunk* chunk() { return reinterpret_cast<Chunk*>(mem_.page(chunk_)); }
    uint32_t chunk_elems() { return chunk()->hdr.num_elms; }

    bool new_chunk(unsigned order) {
        uint64_t c = mem_.alloc_page();
        if (!c) return false;
        ++chunks_;
        if (chunk_) chunk()->hdr.next = c;
        else first_ = c;
        chunk_ = c;
        order_ = order;
        chunk()->hdr.order = order;
        bitmap_ = 0;
        return true;
    }

    uint64_t alloc_bitmap() {
        using namespace kho::abi::v1;
        uint64_t size = bitmap_bytes(layout_);
        if (!sub_page_ || sub_off_ + size > kPageSize) {
            sub_page_ = mem_.alloc_page();
            if (!sub_page_) return 0;
            ++bitmap_pages_;
            sub_off_ = 0;
        }
        uint64_t bm = sub_page_ + sub_off_;
        sub_off_ += size;
        ++bitmaps_;
        return bm;
    }

    uint64_t* bitmap_words(uint64_t bm) {
        uint64_t page = bm & ~(kho::abi::v1::kPageSize - 1);
        return mem_.page(page) + (bm - page) / 8;
    }

    Mem& mem_;
    kho::abi::v1::BitmapLayout layout_;
    uint64_t first_ = 0, chunk_ = 0, bitmap_ = 0;
    unsigned order_ = 0;
    uint64_t window_ = 0;
    uint64_t sub_page_ = 0, sub_off_ = 0;
    uint64_t chunks_ = 0, bitmaps_ = 0, bitmap_pages_ = 0;
};

}  // namespace tk
