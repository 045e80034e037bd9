// The bytes a producer writes into a preserved block and how the consumer
// recognises them. Every 64-bit word is a function of the block's seed and
// the word's own physical address, so a block that moved, shifted, was
// swapped with another or partly zeroed fails the comparison, and the
// first differing address says where. Header-only: guest and host.
#pragma once
#include <stdint.h>
#include "test_manifest.h"

namespace tk::pattern {

inline constexpr uint64_t kPageSize = 4096;

// splitmix64 finaliser (Steele, Lea, Flood: "Fast splittable pseudorandom
// number generators", OOPSLA 2014): cheap and well mixed.
constexpr uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

constexpr uint64_t word_at(uint64_t seed, uint64_t word_phys) {
    return mix64(seed ^ (word_phys * 0x9e3779b97f4a7c15ull));
}

// Seed of block `index` of a state (or hop) seeded with `state_seed`.
constexpr uint64_t block_seed(uint64_t state_seed, uint64_t hop, uint64_t index) {
    return mix64(state_seed + 0x632be59bd9b4e019ull * (hop + 1) + index);
}

// Digest of a block's written words, in address order: FNV-1a over words
// (64-bit offset basis and prime).
struct Digest {
    uint64_t h = 0xcbf29ce484222325ull;
    void add(uint64_t w) { h = (h ^ w) * 0x100000001b3ull; }
};

// The written extents of a block: [phys, phys + size) when full, else the
// first and the last page (one extent if the block is a single page).
struct Extents {
    uint64_t start[2];
    uint64_t len[2];
    unsigned count;
};
constexpr Extents extents(uint64_t phys, unsigned order, uint8_t fill) {
    uint64_t size = kPageSize << order;
    if (fill == manifest::kFillFull || size <= 2 * kPageSize) return {{phys, 0}, {size, 0}, 1};
    return {{phys, phys + size - kPageSize}, {kPageSize, kPageSize}, 2};
}

// Fills `dst`, which is mapped at physical `phys`, for `len` bytes.
inline void fill(uint64_t* dst, uint64_t phys, uint64_t len, uint64_t seed, Digest* digest) {
    for (uint64_t i = 0; i < len / 8; ++i) {
        uint64_t w = word_at(seed, phys + 8 * i);
        dst[i] = w;
        digest->add(w);
    }
}

// The digest fill() would give, without writing (khotool synth computes
// the manifest before any byte of a block exists).
inline void digest(uint64_t phys, uint64_t len, uint64_t seed, Digest* out) {
    for (uint64_t i = 0; i < len / 8; ++i) out->add(word_at(seed, phys + 8 * i));
}

}  // namespace tk::pattern
