// Radix map decoding speed: kho::decode_radix_map into the production
// RangeSetSink, next to (a) a naive decoder written here that tests every
// bit of every leaf and adds one range per set bit, and (b) a plain memcpy
// of the same leaf pages (the floor: the decoder has to read them). Dense
// maps (contiguous order-0 pages, up to 10^8 of them: 400 GB described by
// 12 MB of leaves) are where run merging pays; sparse maps (every other
// page) and scattered ones (10^6 separate ranges, gaps of 1-16 pages) are
// the worst case for it.
//
// Output, one line per case:
//   BENCH <case> blocks=<n> ms=<t> naive_ms=<t> copy_ms=<t>
// plus a RATIO line (naive/decode, decode/copy, decode ns per block). Figures are printed, never asserted (a shared 2-core
// machine is too noisy for thresholds); a decode that disagrees with the
// naive decoder is an error (exit 1).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "abi/kho_radix.h"
#include "bench_verify.h"
#include "loader/kho_radix_map.h"
#include "loader/page_set.h"
#include "loader/phys_mem.h"
#include "loader/preserved_memory.h"
#include "loader/range_set.h"

namespace {

constexpr uint64_t kPage = 4096;
constexpr unsigned kDepth = 6;          // 4 KiB pages
constexpr unsigned kTableLog2 = 9;
constexpr unsigned kBitmapLog2 = 15;
constexpr uint64_t kLeafBits = 1ull << kBitmapLog2;
constexpr uint64_t kArenaBase = 0x10000000;  // where the tree's pages live

// All tree pages in one contiguous buffer at kArenaBase.
class ArenaMem : public kho::PhysMem {
public:
    explicit ArenaMem(uint64_t pages) : bytes_(static_cast<uint8_t*>(calloc(pages, kPage))), pages_(pages) {
        if (!bytes_) abort();
    }
    ~ArenaMem() override { free(bytes_); }
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        if (addr < kArenaBase || len > pages_ * kPage || addr - kArenaBase > pages_ * kPage - len)
            return nullptr;
        return bytes_ + (addr - kArenaBase);
    }
    bool is_ram(uint64_t addr, uint64_t len) const override { return view(addr, len) != nullptr; }
    uint8_t* at(uint64_t addr) { return bytes_ + (addr - kArenaBase); }
    uint64_t alloc() {
        if (used_ == pages_) abort();
        return kArenaBase + kPage * used_++;
    }

private:
    uint8_t* bytes_;
    uint64_t pages_;
    uint64_t used_ = 0;
};

struct Tree {
    uint64_t root;
    std::vector<uint64_t> leaves;
};

uint64_t key_of(uint64_t phys, unsigned order) {
    return (1ull << (52 - order)) | (phys >> (12 + order));
}

// Where the order-0 pages go: `stride` pages apart, or (scattered) each
// followed by a gap of 1-16 pages drawn from a fixed xorshift sequence, as
// `khotool synth --cluster 1` lays out blocks: one range per page.
struct Layout {
    uint64_t pages;
    uint64_t stride;   // 1 = dense, 2 = every other page
    bool scattered;
    uint64_t max_span() const { return scattered ? pages * 17 : pages * stride; }
};

class Positions {
public:
    explicit Positions(const Layout& l) : l_(l) {}
    uint64_t next() {  // page index of the next block
        uint64_t at = cursor_;
        if (l_.scattered) {
            rnd_ ^= rnd_ << 13, rnd_ ^= rnd_ >> 7, rnd_ ^= rnd_ << 17;
            cursor_ += 2 + rnd_ % 16;
        } else {
            cursor_ += l_.stride;
        }
        return at;
    }

private:
    Layout l_;
    uint64_t cursor_ = 0, rnd_ = 0x9e3779b97f4a7c15ull;
};

// Builds the tree for the layout's order-0 pages above `base`, the way the
// producer inserts keys (walk from the root, allocate what is missing, set
// the bit), caching the leaf of the previous key.
Tree build(ArenaMem& mem, uint64_t base, const Layout& layout) {
    Tree t{mem.alloc(), {}};
    uint64_t cached_prefix = ~0ull;
    uint8_t* leaf = nullptr;
    Positions pos(layout);
    for (uint64_t i = 0; i < layout.pages; ++i) {
        uint64_t key = key_of(base + pos.next() * kPage, 0);
        if ((key >> kBitmapLog2) != cached_prefix) {
            cached_prefix = key >> kBitmapLog2;
            uint64_t page = t.root;
            for (unsigned level = kDepth - 1; level >= 1; --level) {
                unsigned idx = (key >> ((level - 1) * kTableLog2 + kBitmapLog2)) & 511;
                uint64_t* slot = reinterpret_cast<uint64_t*>(mem.at(page)) + idx;
                if (!*slot) {
                    *slot = mem.alloc();
                    if (level == 1) t.leaves.push_back(*slot);
                }
                page = *slot;
            }
            leaf = mem.at(page);
        }
        uint64_t bit = key & (kLeafBits - 1);
        leaf[bit / 8] |= uint8_t(1u << (bit % 8));
    }
    return t;
}

// The naive decoder: every table entry, every leaf bit, one range per block.
void naive_walk(const ArenaMem& mem, uint64_t page, unsigned level, uint64_t prefix, kho::RangeSet& out,
                uint64_t* blocks) {
    const uint64_t* table = reinterpret_cast<const uint64_t*>(mem.view(page, kPage));
    for (uint64_t i = 0; i < 512; ++i) {
        if (!table[i]) continue;
        uint64_t p = prefix | (i << ((level - 1) * kTableLog2 + kBitmapLog2));
        if (level > 1) {
            naive_walk(mem, table[i], level - 1, p, out, blocks);
            continue;
        }
        const uint8_t* bits = mem.view(table[i], kPage);
        for (uint64_t b = 0; b < kLeafBits; ++b) {
            if (!(bits[b / 8] & (1u << (b % 8)))) continue;
            uint64_t key = p | b;
            unsigned order = 53 - (64 - __builtin_clzll(key));
            uint64_t phys = key << (12 + order);
            if (!out.add(phys, phys + (kPage << order)).is_ok()) abort();
            ++*blocks;
        }
    }
}

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool same(const kho::RangeSet& a, const kho::RangeSet& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].start != b[i].start || a[i].end != b[i].end) return false;
    return true;
}

// Returns false if the decoder and the naive decoder disagree.
bool run_case(const char* name, const Layout& layout, int reps) {
    const uint64_t base = 0x100000000ull;  // 4 GiB, 128 MiB aligned
    const uint64_t pages = layout.pages;
    const uint64_t leaves = layout.max_span() / kLeafBits + 2;
    ArenaMem mem(leaves + leaves / 512 + 64);
    Tree tree = build(mem, base, layout);

    // One range per block is the most either decoder can need.
    const size_t cap = layout.stride == 1 && !layout.scattered ? 1024 : pages + 1024;
    std::vector<kho::Range> s1(cap), s2(cap), s3(4096);
    kho::RangeSet decoded(s1.data(), cap), naive(s2.data(), cap), meta(s3.data(), s3.size());
    std::vector<uint64_t> slots(1 << 16);
    std::vector<uint8_t> copy(tree.leaves.size() * kPage);

    double best = 1e30, best_naive = 1e30, best_copy = 1e30;
    uint64_t blocks = 0, naive_blocks = 0;
    for (int r = 0; r < reps; ++r) {
        decoded.clear();
        meta.clear();
        std::fill(slots.begin(), slots.end(), 0);
        kho::PageSet visited(slots.data(), slots.size());
        kho::RangeSetSink sink(decoded, meta);
        auto t0 = Clock::now();
        kho::Status s = kho::decode_radix_map(mem, tree.root, kho::abi::radix::kGeometry4K, visited, sink);
        decoded.normalize();
        best = std::min(best, ms_since(t0));
        if (!s.is_ok()) {
            fprintf(stderr, "bench: %s: decode failed: %s\n", name, s.message());
            return false;
        }
        blocks = sink.block_count();

        naive.clear();
        naive_blocks = 0;
        t0 = Clock::now();
        naive_walk(mem, tree.root, kDepth - 1, 0, naive, &naive_blocks);
        naive.normalize();
        best_naive = std::min(best_naive, ms_since(t0));

        t0 = Clock::now();
        for (size_t i = 0; i < tree.leaves.size(); ++i)
            memcpy(copy.data() + i * kPage, mem.view(tree.leaves[i], kPage), kPage);
        best_copy = std::min(best_copy, ms_since(t0));
        // Keep the copy observable so it is not optimised away.
        if (copy[copy.size() / 2] == 0x5a && copy[0] == 0xa5) fprintf(stderr, " ");
    }
    if (blocks != pages || naive_blocks != pages || !same(decoded, naive)) {
        fprintf(stderr, "bench: %s: decoder reports %llu blocks in %zu ranges, naive %llu in %zu, expected %llu\n",
                name, (unsigned long long)blocks, decoded.size(), (unsigned long long)naive_blocks,
                naive.size(), (unsigned long long)pages);
        return false;
    }
    printf("BENCH %s blocks=%llu ms=%.3f naive_ms=%.3f copy_ms=%.3f\n", name, (unsigned long long)blocks,
           best, best_naive, best_copy);
    printf("RATIO %s naive/decode=%.1fx decode/copy=%.1fx ns_per_block=%.2f leaves=%zu ranges=%zu\n", name,
           best_naive / best, best / best_copy, best * 1e6 / double(pages), tree.leaves.size(),
           decoded.size());
    fflush(stdout);
    return true;
}

}  // namespace

int main() {
    bool ok = true;
    ok &= run_case("radix-dense-1M", {1u << 20, 1, false}, 5);
    ok &= run_case("radix-sparse-1M", {1u << 20, 2, false}, 5);
    ok &= run_case("radix-dense-16M", {1u << 24, 1, false}, 3);
    ok &= run_case("radix-sparse-16M", {1u << 24, 2, false}, 3);
    // Scale: 10^8 pages (400 GB described, 12 MB of leaves) and 10^6
    // separate ranges (synth's scattered layout, one range per page).
    ok &= run_case("radix-dense-100M", {100000000, 1, false}, 2);
    ok &= run_case("radix-scattered-1M-ranges", {1000000, 1, true}, 3);
    ok &= run_verify_benchmarks();
    return ok ? 0 : 1;
}
