// The consumer's own decoders of the preserved-memory map, written from
// docs/kho-abi.md sections 4 and 5 independently of loader/: a state that
// the loader accepted is re-read here by different code.
//
// Visitor: bool block(uint64_t phys, unsigned order) for every preserved
// block; bool metadata(uint64_t page) for every map page (chunk, bitmap
// page, radix table or leaf). Returning false stops the walk.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/kho_radix.h"
#include "../abi/kho_v1.h"
#include "boot_info.h"
#include "page_hash_set.h"

namespace tk {

struct MapReadStats {
    uint64_t blocks = 0;
    uint64_t tables = 0;   // radix tables / v1 chunks
    uint64_t leaves = 0;   // radix leaves / v1 bitmaps
};

// Failure description: what and where.
struct MapError {
    char text[160];
};

class MapReader {
public:
    MapReader(const BootInfo& bi, PageHashSet& visited) : bi_(bi), visited_(visited) {}

    template <class Visitor>
    bool read_radix(uint64_t root, Visitor& v, MapReadStats* st, MapError* err);

    template <class Visitor>
    bool read_v1(uint64_t first_chunk, kho::abi::v1::BitmapLayout layout, Visitor& v,
                 MapReadStats* st, MapError* err);

private:
    // A map pointer must be non-zero, aligned, e820 RAM, and new.
    bool pointer_ok(uint64_t p, uint64_t align, uint64_t len, const char* what, MapError* err);
    template <class Visitor>
    bool radix_level(uint64_t node, unsigned level, uint64_t prefix, Visitor& v, MapReadStats* st,
                     MapError* err);

    const BootInfo& bi_;
    PageHashSet& visited_;
    static constexpr kho::abi::radix::Geometry g_ = kho::abi::radix::kGeometry4K;
};

void map_error(MapError* err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

template <class Visitor>
bool MapReader::radix_level(uint64_t node, unsigned level, uint64_t prefix, Visitor& v,
                            MapReadStats* st, MapError* err) {
    const uint64_t* table = reinterpret_cast<const uint64_t*>(node);
    for (uint64_t i = 0; i < g_.table_entries(); ++i) {
        uint64_t child = table[i];
        if (!child) continue;
        uint64_t p = prefix | (i << g_.level_shift(level));
        if (level == 1) {
            if (!pointer_ok(child, 4096, 4096, "radix leaf", err)) return false;
            ++st->leaves;
            if (!v.metadata(child)) return false;
            const uint64_t* bits = reinterpret_cast<const uint64_t*>(child);
            for (uint64_t w = 0; w < g_.leaf_bits() / 64; ++w) {
                for (uint64_t word = bits[w]; word; word &= word - 1) {
                    uint64_t key = p | (w * 64 + uint64_t(__builtin_ctzll(word)));
                    // order = ORDER_0_LOG2 + 1 - fls64(key); a key without
                    // its order bit in range decodes to no valid block.
                    unsigned fls = 64 - unsigned(__builtin_clzll(key));
                    if (fls > g_.order0_log2 + 1) {
                        map_error(err, "radix key 0x%lx above the order-0 bit", (unsigned long)key);
                        return false;
                    }
                    unsigned order = g_.order0_log2 + 1 - fls;
                    unsigned shift = g_.page_shift + order;
                    uint64_t phys = shift >= 64 ? 0 : (key << shift);
                    // the order bit itself shifts out at bit 64
                    ++st->blocks;
                    if (!v.block(phys, order)) return false;
                }
            }
        } else {
            if (!pointer_ok(child, 4096, 4096, "radix table", err)) return false;
            ++st->tables;
            if (!v.metadata(child)) return false;
            if (!radix_level(child, level - 1, p, v, st, err)) return false;
        }
    }
    return true;
}

template <class Visitor>
bool MapReader::read_radix(uint64_t root, Visitor& v, MapReadStats* st, MapError* err) {
    if (!pointer_ok(root, 4096, 4096, "radix root", err)) return false;
    ++st->tables;
    if (!v.metadata(root)) return false;
    return radix_level(root, g_.max_depth - 1, 0, v, st, err);
}

template <class Visitor>
bool MapReader::read_v1(uint64_t first_chunk, kho::abi::v1::BitmapLayout layout, Visitor& v,
                        MapReadStats* st, MapError* err) {
    using namespace kho::abi::v1;
    const uint64_t bm_bytes = bitmap_bytes(layout);
    const uint64_t bm_bits = bitmap_bits(layout);
    if (!first_chunk) {
        map_error(err, "kho-v1 map pointer is 0 (refused by 6.19+ consumers)");
        return false;
    }
    for (uint64_t c = first_chunk; c;) {
        if (!pointer_ok(c, 4096, 4096, "kho-v1 chunk", err)) return false;
        ++st->tables;
        if (!v.metadata(c)) return false;
        const Chunk* chunk = reinterpret_cast<const Chunk*>(c);
        uint32_t order = chunk->hdr.order;
        if (order > 40 || chunk->hdr.num_elms > kElementsPerChunk) {
            map_error(err, "kho-v1 chunk 0x%lx order %u elements %u", (unsigned long)c, order,
                      chunk->hdr.num_elms);
            return false;
        }
        const unsigned shift = 12 + order;
        for (uint32_t e = 0; e < chunk->hdr.num_elms; ++e) {
            const BitmapElement& el = chunk->elements[e];
            // phys_start = (xa_index * PRESERVE_BITS) << (order + PAGE_SHIFT)
            if (el.phys_start % (bm_bits << shift)) {
                map_error(err, "kho-v1 element phys_start 0x%lx not a bitmap window",
                          (unsigned long)el.phys_start);
                return false;
            }
            if (!pointer_ok(el.bitmap, bm_bytes, bm_bytes, "kho-v1 bitmap", err)) return false;
            ++st->leaves;
            if (!v.metadata(el.bitmap & ~4095ull)) return false;
            const uint64_t* words = reinterpret_cast<const uint64_t*>(el.bitmap);
            for (uint64_t w = 0; w < bm_bits / 64; ++w) {
                for (uint64_t word = words[w]; word; word &= word - 1) {
                    uint64_t bit = w * 64 + uint64_t(__builtin_ctzll(word));
                    ++st->blocks;
                    if (!v.block(el.phys_start + (bit << shift), order)) return false;
                }
            }
        }
        c = chunk->hdr.next;
    }
    return true;
}

}  // namespace tk
