#include "kho_v1_map.h"

#include "phys_range.h"

namespace kho {
namespace {

namespace v1 = abi::v1;
constexpr uint64_t kPage = v1::kPageSize;
constexpr unsigned kPageShift = 12;
// A block of order > 40 (2^52 bytes with 4 KiB pages) cannot fit the 52-bit
// physical address space of x86-64 / arm64 LPA; refusing it also keeps
// every `PAGE_SHIFT + order` shift below 64.
constexpr unsigned kMaxOrder = kPhysAddrBits - kPageShift;

// Decide the bitmap layout without trusting the list: look at every bitmap
// pointer reachable within `max_steps` chunks (the main walk reports cycles
// and bad pointers precisely). A 512-byte slab object is page aligned only
// by chance, so one unaligned pointer proves the old layout.
v1::BitmapLayout detect_layout(const PhysMem& mem, uint64_t chunk_pa, size_t max_steps) {
    for (size_t step = 0; chunk_pa && step < max_steps; ++step) {
        if (chunk_pa & (kPage - 1)) break;
        const auto* chunk = reinterpret_cast<const v1::Chunk*>(mem.view(chunk_pa, kPage));
        if (!chunk) break;
        uint32_t n = chunk->hdr.num_elms;
        if (n > v1::kElementsPerChunk) break;
        const unsigned shift = kPageShift + (chunk->hdr.order > kMaxOrder ? 0 : chunk->hdr.order);
        for (uint32_t i = 0; i < n; ++i) {
            const v1::BitmapElement& e = chunk->elements[i];
            // phys_start is aligned to one bitmap's span: a span that is
            // 4096 blocks but not 32768 blocks aligned is the old layout too.
            if ((e.bitmap & (kPage - 1)) ||
                ((e.phys_start >> shift) % v1::bitmap_bits(v1::BitmapLayout::Page)) != 0)
                return v1::BitmapLayout::Bytes512;
        }
        chunk_pa = chunk->hdr.next;
    }
    return v1::BitmapLayout::Page;
}

class ChunkListWalker {
public:
    ChunkListWalker(const PhysMem& mem, v1::BitmapLayout layout, PageSet& visited,
                    PreservedMemorySink& sink, V1DecodeStats& stats)
        : mem_(mem), layout_(layout), visited_(visited), sink_(sink), stats_(stats) {}

    Status walk(uint64_t chunk_pa) {
        while (chunk_pa) {
            const v1::Chunk* chunk = nullptr;
            KHO_TRY(enter_chunk(chunk_pa, &chunk));
            // Copy the header once: the checks and the loop use one snapshot.
            const v1::ChunkHeader hdr = chunk->hdr;
            if (hdr.order > kMaxOrder)
                return Status::error(Err::BadMap, "kho-v1 chunk 0x%llx: absurd order %u",
                                     (unsigned long long)chunk_pa, hdr.order);
            if (hdr.num_elms > v1::kElementsPerChunk)
                return Status::error(Err::BadMap, "kho-v1 chunk 0x%llx: %u elements, max %u",
                                     (unsigned long long)chunk_pa, hdr.num_elms,
                                     v1::kElementsPerChunk);
            for (uint32_t i = 0; i < hdr.num_elms; ++i)
                KHO_TRY(decode_element(chunk_pa, hdr.order, chunk->elements[i]));
            ++stats_.chunks;
            chunk_pa = hdr.next;
        }
        return Status::ok();
    }

private:
    Status enter_chunk(uint64_t pa, const v1::Chunk** out) {
        if (pa & (kPage - 1))
            return Status::error(Err::BadPointer, "kho-v1 chunk 0x%llx is not page aligned",
                                 (unsigned long long)pa);
        const uint8_t* p = mem_.view(pa, kPage);
        if (!p)
            return Status::error(Err::OutOfRam, "kho-v1 chunk 0x%llx is outside RAM",
                                 (unsigned long long)pa);
        KHO_TRY(mark_visited(pa, "chunk"));
        KHO_TRY(sink_.metadata(pa, kPage));
        *out = reinterpret_cast<const v1::Chunk*>(p);
        return Status::ok();
    }

    Status mark_visited(uint64_t pa, const char* what) {
        switch (visited_.insert(pa)) {
        case PageSet::Insert::Added: return Status::ok();
        case PageSet::Insert::Present:
            return Status::error(Err::BadPointer, "kho-v1 %s 0x%llx reached twice (cycle)", what,
                                 (unsigned long long)pa);
        case PageSet::Insert::Full: break;
        }
        return Status::error(Err::Capacity, "more than %zu kho-v1 map objects", visited_.capacity());
    }

    Status decode_element(uint64_t chunk_pa, unsigned order, const v1::BitmapElement& e) {
        const uint64_t bytes = v1::bitmap_bytes(layout_);
        const uint64_t bits = v1::bitmap_bits(layout_);
        const unsigned shift = kPageShift + order;
        if (!e.bitmap)
            return Status::error(Err::BadPointer, "kho-v1 chunk 0x%llx: null bitmap",
                                 (unsigned long long)chunk_pa);
        if (e.bitmap & (bytes - 1))
            return Status::error(Err::BadPointer, "kho-v1 bitmap 0x%llx is not %llu-byte aligned",
                                 (unsigned long long)e.bitmap, (unsigned long long)bytes);
        // The producer sets phys_start = (xa_index * PRESERVE_BITS) << shift,
        // so it is aligned to a whole bitmap's span. (The span itself may
        // reach past 2^52 for high orders; only set bits must stay inside.)
        if ((e.phys_start >> shift) % bits != 0 || (e.phys_start & ((1ull << shift) - 1)) != 0)
            return Status::error(Err::BadMap, "kho-v1 chunk 0x%llx: phys_start 0x%llx misaligned for order %u",
                                 (unsigned long long)chunk_pa, (unsigned long long)e.phys_start, order);
        const uint8_t* p = mem_.view(e.bitmap, bytes);
        if (!p)
            return Status::error(Err::OutOfRam, "kho-v1 bitmap 0x%llx is outside RAM",
                                 (unsigned long long)e.bitmap);
        KHO_TRY(mark_visited(e.bitmap, "bitmap"));
        KHO_TRY(sink_.metadata(e.bitmap, bytes));
        ++stats_.bitmaps;

        const auto* words = reinterpret_cast<const uint64_t*>(p);
        const uint64_t first_block = e.phys_start >> shift;
        const uint64_t limit_blocks = kPhysLimit >> shift;
        auto emit = [&](uint64_t first_bit, uint64_t count) -> Status {
            // In units of blocks, so nothing overflows: the run must end at
            // or below 2^52.
            if (first_block + first_bit + count > limit_blocks)
                return Status::error(Err::BadMap,
                                     "kho-v1 bitmap 0x%llx: order %u bit %llu beyond 52-bit physical space",
                                     (unsigned long long)e.bitmap, order,
                                     (unsigned long long)(first_bit + count - 1));
            return sink_.blocks(e.phys_start + (first_bit << shift), order, count);
        };
        uint64_t run_start = 0, run_len = 0;
        for (uint64_t w = 0; w < bits / 64; ++w) {
            for (uint64_t x = words[w]; x;) {
                unsigned tz = __builtin_ctzll(x);
                uint64_t rest = x >> tz;
                unsigned ones = rest == ~0ull ? 64 : __builtin_ctzll(~rest);
                uint64_t start = w * 64 + tz;
                if (run_len && run_start + run_len == start) {
                    run_len += ones;
                } else {
                    if (run_len) KHO_TRY(emit(run_start, run_len));
                    run_start = start;
                    run_len = ones;
                }
                x = tz + ones >= 64 ? 0 : x & (~0ull << (tz + ones));
            }
        }
        if (run_len) KHO_TRY(emit(run_start, run_len));
        return Status::ok();
    }

    const PhysMem& mem_;
    v1::BitmapLayout layout_;
    PageSet& visited_;
    PreservedMemorySink& sink_;
    V1DecodeStats& stats_;
};

}  // namespace

Status decode_kho_v1_map(const PhysMem& mem, uint64_t first_chunk, V1BitmapMode mode,
                         PageSet& visited, PreservedMemorySink& sink, V1DecodeStats* stats) {
    V1DecodeStats local;
    if (!stats) stats = &local;
    if (first_chunk == 0)
        return Status::error(Err::BadProperty, "preserved-memory-map is 0 (kho-v1 not finalized)");
    switch (mode) {
    case V1BitmapMode::Bytes512: stats->layout = v1::BitmapLayout::Bytes512; break;
    case V1BitmapMode::Page: stats->layout = v1::BitmapLayout::Page; break;
    case V1BitmapMode::Auto: stats->layout = detect_layout(mem, first_chunk, visited.capacity()); break;
    }
    ChunkListWalker walker(mem, stats->layout, visited, sink, *stats);
    return walker.walk(first_chunk);
}

}  // namespace kho
