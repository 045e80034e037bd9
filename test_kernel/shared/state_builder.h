// The one builder of a KHO state for both producers: test_kernel in
// producer mode (guest RAM, identity-mapped) and `khotool synth` (a sparse
// RAM image on the host). It does what a KHO kernel's kho_finalize() leaves
// behind, in this order:
//   place_edge_blocks()  blocks against scratch edges, claimed first
//   reserve()            root FDT page and manifest blob (kho-v1: a sub-FDT)
//   keep() / retire() / add_block()   the manifest's records; add_block()
//                        writes the block's pattern (block_pattern.h)
//   finish()             the preserved-memory map (kho-v1 chunk list or
//                        radix tree) of every block plus the FDT and blob
//                        pages, the root FDT, the manifest header last
// Where ordinary blocks go is the caller's policy (test_kernel: first fit
// around inherited state; synth: clustered runs), and so is the handover
// descriptor.
//
// Env (all addresses physical; the encoders' Mem plus four calls):
//   uint64_t alloc_page()       zeroed page for the map (0 = none)
//   uint64_t* page(uint64_t)    that page, writable
//   uint64_t alloc_meta(uint64_t bytes)  zeroed, page-aligned, contiguous
//   uint8_t* bytes(uint64_t phys, uint64_t len)  view inside one alloc_meta()
//   bool claim(uint64_t at, uint64_t size)  allowed and free: now taken
//   uint64_t* block_words(uint64_t phys, uint64_t len)  where a block's
//                               pattern goes; nullptr: compute the digest only
//
// Header-only and freestanding (no heap, no libc++): test_kernel compiles
// it with -ffreestanding -nostdlib, khotool and the unit tests as is.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../../abi/kho_radix.h"
#include "../../abi/kho_scratch.h"
#include "../../abi/khoboot_vendor.h"
#include "../../loader/crc32.h"
#include "../heap_sort.h"
#include "block_pattern.h"
#include "radix_encoder.h"
#include "state_fdt.h"
#include "state_format.h"
#include "test_manifest.h"
#include "v1_encoder.h"

namespace tk::state {

inline constexpr uint64_t kPage = kho::abi::kPageSize;

struct Config {
    Format format;
    uint32_t hop;             // chain hop (khotool synth: 0)
    uint64_t seed;            // block i's pattern seed: block_seed(seed, hop, i)
    unsigned full_max_order;  // blocks up to this order filled, larger: edge pages
    const kho::abi::KhoScratch* scratch;
    uint32_t scratch_count;   // at most manifest::kMaxScratch
};

// A block of the producer's own metadata (root FDT, manifest blob), as
// kho_preserve_pages() would split it.
struct OwnBlock {
    uint64_t phys;
    uint8_t order;
    bool fdt;  // the root FDT page, else a manifest blob block
};

// [start, end) as kho_preserve_pages() splits it: naturally aligned blocks
// of order min(ctz(pfn), ilog2(pages left)). Returns the count, or cap + 1
// when `out` is too small.
inline size_t split_preserved(uint64_t start, uint64_t end, bool fdt, OwnBlock* out, size_t cap) {
    size_t n = 0;
    for (uint64_t p = start; p < end; ++n) {
        if (n == cap) return cap + 1;
        uint64_t pfn = p / kPage, left = (end - p) / kPage;
        unsigned a = pfn ? unsigned(__builtin_ctzll(pfn)) : 63;
        unsigned b = 63 - unsigned(__builtin_clzll(left));
        unsigned order = a < b ? a : b;
        out[n] = OwnBlock{p, uint8_t(order), fdt};
        p += kPage << order;
    }
    return n;
}

template <class Env>
class Builder {
public:
    static constexpr size_t kMaxOwnBlocks = 128;
    // Scratch is kScratchAlignment (2 MiB) aligned, so a block up to this
    // order is naturally aligned against either edge.
    static constexpr unsigned kMaxEdgeOrder =
        unsigned(__builtin_ctzll(kho::abi::kScratchAlignment / kho::abi::kPageSize));

    Builder(Env& env, const Config& c) : env_(env), cfg_(c) {}

    uint32_t place_edge_blocks(const uint8_t* orders, uint64_t n, uint32_t max_edges, uint64_t* at);
    const char* reserve(uint64_t entries, uint64_t retired);
    const char* keep(const manifest::Entry& e);
    const char* retire(uint64_t phys, uint64_t order);
    const char* add_block(uint64_t index, uint64_t phys, unsigned order);
    const char* finish();

    uint64_t fdt() const { return fdt_; }
    uint64_t blob() const { return blob_; }
    uint64_t blob_size() const { return blob_size_; }  // kho-v1: sub-FDT totalsize
    uint64_t blob_pages() const { return blob_pages_; }
    uint64_t manifest() const { return manifest_; }    // phys of the manifest bytes
    uint64_t manifest_size() const { return manifest_size_; }
    uint64_t map_root() const { return map_root_; }
    uint64_t table_pages() const { return tables_; }   // kho-v1: chunks
    uint64_t leaf_pages() const { return leaves_; }    // kho-v1: bitmaps
    uint64_t written_bytes() const { return written_; }
    uint64_t entry_count() const { return n_; }
    uint64_t retired_count() const { return r_; }
    const manifest::Entry* entries() const { return entries_; }  // sorted by phys after finish()
    const OwnBlock* own() const { return own_; }
    size_t own_count() const { return own_n_; }

private:
    const char* split_own();
    const char* encode_map();
    const char* encode_v1();
    const char* encode_radix();
    void write_header();

    Env& env_;
    Config cfg_;
    uint64_t fdt_ = 0, blob_ = 0, blob_size_ = 0, blob_pages_ = 0;
    uint64_t manifest_ = 0, manifest_size_ = 0;
    manifest::Header* header_ = nullptr;
    manifest::Entry* entries_ = nullptr;
    manifest::Retired* retired_ = nullptr;
    uint64_t n_ = 0, r_ = 0, entry_cap_ = 0, retired_cap_ = 0;
    OwnBlock own_[kMaxOwnBlocks] = {};
    size_t own_n_ = 0;
    uint64_t map_root_ = 0, tables_ = 0, leaves_ = 0, written_ = 0;
};

// ---- edge blocks
// Blocks against scratch edges, [addr - size, addr) below and [end, end +
// size) above each region in turn (at most max_edges edges): where KHO
// users' memory meets the consumer's scratch, an off-by-one in either shows.
// Candidates are taken in the order drawn; orders above kMaxEdgeOrder are
// passed over; an edge whose block Env::claim() refuses is left out.
// Sets at[i] for each block placed (the others must be 0); returns the count.
template <class Env>
uint32_t Builder<Env>::place_edge_blocks(const uint8_t* orders, uint64_t n, uint32_t max_edges, uint64_t* at) {
    uint32_t placed = 0, edge = 0;
    uint64_t next = 0;
    for (uint32_t r = 0; r < cfg_.scratch_count && edge < max_edges; ++r) {
        const kho::abi::KhoScratch& sc = cfg_.scratch[r];
        for (int side = 0; side < 2 && edge < max_edges; ++side, ++edge) {
            while (next < n && orders[next] > kMaxEdgeOrder) ++next;
            if (next == n) return placed;
            uint64_t size = kPage << orders[next];
            if (side == 0 && sc.addr < size) continue;
            uint64_t want = side == 0 ? sc.addr - size : sc.addr + sc.size;
            if (!env_.claim(want, size)) continue;
            at[next++] = want;
            ++placed;
        }
    }
    return placed;
}

// ---- the manifest blob (sizes are known now) and the root FDT page
template <class Env>
const char* Builder<Env>::reserve(uint64_t entries, uint64_t retired) {
    namespace mf = manifest;
    if (cfg_.scratch_count > mf::kMaxScratch) return "more scratch regions than the manifest holds";
    manifest_size_ = mf::total_size(entries, retired);
    uint64_t want = cfg_.format.v1() ? manifest_size_ + kSubFdtOverhead : manifest_size_;
    blob_pages_ = (want + kPage - 1) / kPage;
    fdt_ = env_.alloc_meta(kPage);
    blob_ = fdt_ ? env_.alloc_meta(blob_pages_ * kPage) : 0;
    if (!blob_) return "no room for the root FDT or the manifest";
    uint8_t* b = env_.bytes(blob_, blob_pages_ * kPage);
    uint64_t off = 0;
    blob_size_ = manifest_size_;
    if (cfg_.format.v1()) {
        uint32_t total = 0;
        if (!wrap_manifest(b, blob_pages_ * kPage, manifest_size_, &off, &total))
            return "manifest sub-FDT does not fit";
        blob_size_ = total;
    }
    manifest_ = blob_ + off;
    header_ = reinterpret_cast<mf::Header*>(b + off);
    entries_ = reinterpret_cast<mf::Entry*>(header_ + 1);
    retired_ = reinterpret_cast<mf::Retired*>(entries_ + entries);
    entry_cap_ = entries;
    retired_cap_ = retired;
    return nullptr;
}

// ---- the manifest's records
template <class Env>
const char* Builder<Env>::keep(const manifest::Entry& e) {
    if (n_ == entry_cap_) return "more blocks than reserved";
    entries_[n_++] = e;
    return nullptr;
}

template <class Env>
const char* Builder<Env>::retire(uint64_t phys, uint64_t order) {
    if (r_ == retired_cap_) return "more retired blocks than reserved";
    retired_[r_++] = manifest::Retired{phys, order};
    return nullptr;
}

// Block `index` of this state at [phys, phys + size): pattern written (or
// only digested, see Env::block_words) and recorded.
template <class Env>
const char* Builder<Env>::add_block(uint64_t index, uint64_t phys, unsigned order) {
    namespace mf = manifest;
    if (n_ == entry_cap_) return "more blocks than reserved";
    uint8_t fill = order <= cfg_.full_max_order ? mf::kFillFull : mf::kFillEdges;
    uint64_t seed = pattern::block_seed(cfg_.seed, cfg_.hop, index);
    pattern::Extents x = pattern::extents(phys, order, fill);
    pattern::Digest d;
    for (unsigned k = 0; k < x.count; ++k) {
        uint64_t* dst = env_.block_words(x.start[k], x.len[k]);
        if (dst) pattern::fill(dst, x.start[k], x.len[k], seed, &d);
        else pattern::digest(x.start[k], x.len[k], seed, &d);
        written_ += x.len[k];
    }
    entries_[n_++] = mf::Entry{phys, uint8_t(order), fill, uint16_t(cfg_.hop), 0, seed, d.h};
    return nullptr;
}

// ---- the map, the root FDT (docs/kho-abi.md section 3.2), the manifest header last:
// it covers everything above
template <class Env>
const char* Builder<Env>::finish() {
    if (n_ != entry_cap_ || r_ != retired_cap_) return "manifest records differ from the reservation";
    heap_sort(entries_, n_, [](const manifest::Entry& a, const manifest::Entry& b) { return a.phys < b.phys; });
    const char* err = split_own();
    if (!err) err = encode_map();
    if (err) return err;
    if (!write_root_fdt(env_.bytes(fdt_, kPage), uint32_t(kPage), cfg_.format, map_root_, blob_, manifest_size_))
        return "root FDT does not fit a page";
    write_header();
    return nullptr;
}

// The FDT page and the blob pages are preserved like any KHO user's data.
template <class Env>
const char* Builder<Env>::split_own() {
    own_n_ = split_preserved(fdt_, fdt_ + kPage, true, own_, kMaxOwnBlocks);
    if (own_n_ <= kMaxOwnBlocks)
        own_n_ += split_preserved(blob_, blob_ + blob_pages_ * kPage, false, own_ + own_n_, kMaxOwnBlocks - own_n_);
    if (own_n_ > kMaxOwnBlocks) return "the metadata splits into too many blocks";
    heap_sort(own_, own_n_, [](const OwnBlock& a, const OwnBlock& b) { return a.phys < b.phys; });
    return nullptr;
}

template <class Env>
const char* Builder<Env>::encode_map() {
    return cfg_.format.v1() ? encode_v1() : encode_radix();
}

// kho-v1: orders ascending, addresses ascending within an order (the
// kernel's xarray walk order), the data blocks and the own blocks merged.
template <class Env>
const char* Builder<Env>::encode_v1() {
    V1Encoder<Env> enc(env_, cfg_.format.v1_layout);
    unsigned top = 0;
    for (uint64_t i = 0; i < n_; ++i) top = entries_[i].order > top ? entries_[i].order : top;
    for (size_t j = 0; j < own_n_; ++j) top = own_[j].order > top ? own_[j].order : top;
    for (unsigned order = 0; order <= top; ++order) {
        uint64_t i = 0;
        size_t j = 0;
        for (;;) {
            while (i < n_ && entries_[i].order != order) ++i;
            while (j < own_n_ && own_[j].order != order) ++j;
            if (i == n_ && j == own_n_) break;
            bool data = j == own_n_ || (i < n_ && entries_[i].phys < own_[j].phys);
            if (!enc.add(data ? entries_[i].phys : own_[j].phys, order)) return "kho-v1 map encoding ran out of room";
            if (data) ++i;
            else ++j;
        }
    }
    map_root_ = enc.first_chunk();
    tables_ = enc.chunk_pages();
    leaves_ = enc.bitmaps();
    return nullptr;
}

template <class Env>
const char* Builder<Env>::encode_radix() {
    RadixEncoder<Env> enc(env_, kho::abi::radix::kGeometry4K);
    bool ok = enc.init();
    for (uint64_t i = 0; ok && i < n_; ++i) ok = enc.add(entries_[i].phys, entries_[i].order);
    for (size_t j = 0; ok && j < own_n_; ++j) ok = enc.add(own_[j].phys, own_[j].order);
    if (!ok) return "radix map encoding ran out of room";
    map_root_ = enc.root();
    tables_ = enc.table_pages();
    leaves_ = enc.leaf_pages();
    return nullptr;
}

template <class Env>
void Builder<Env>::write_header() {
    namespace mf = manifest;
    mf::Header h{};
    h.magic = mf::kMagic;
    h.version = mf::kVersion;
    h.header_size = sizeof(mf::Header);
    h.total_size = manifest_size_;
    h.hop = cfg_.hop;
    h.format = cfg_.format.manifest_format;
    h.entry_count = n_;
    h.retired_count = r_;
    h.root_fdt = fdt_;
    h.seed = cfg_.seed;
    h.scratch_count = cfg_.scratch_count;
    for (uint32_t i = 0; i < cfg_.scratch_count; ++i) h.scratch[i] = cfg_.scratch[i];
    h.body_crc32 = kho::crc32(entries_, manifest_size_ - sizeof(mf::Header));
    h.header_crc32 = kho::crc32(&h, sizeof(h));
    *header_ = h;
}

}  // namespace tk::state
