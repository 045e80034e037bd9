// kho-v1 chunk-list decoder (loader/kho_v1_map.h) against the independent
// encoder, in both bitmap layouts a "kho-v1" producer may have used
// (512-byte kzalloc objects before 6.17.9, whole pages after), and against
// hostile lists: loops, wild and unaligned pointers, absurd orders and
// counts.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "loader/kho_v1_map.h"
#include "loader/page_set.h"
#include "loader/range_set.h"
#include "loader/tests/fake_phys_mem.h"
#include "loader/tests/kho_encoder.h"

using namespace khotest;
using kho::Err;
using kho::V1BitmapMode;
using kho::abi::v1::BitmapLayout;

namespace {

constexpr uint64_t kArenaLow = 0x20000000;
constexpr uint64_t kArenaSize = 64ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

V1BitmapMode mode_for(V1Layout l) {
    return l == V1Layout::Page ? V1BitmapMode::Page : V1BitmapMode::Bytes512;
}
BitmapLayout abi_layout(V1Layout l) {
    return l == V1Layout::Page ? BitmapLayout::Page : BitmapLayout::Bytes512;
}
const char* name(V1Layout l) { return l == V1Layout::Page ? "page" : "512"; }

class V1MapTest : public ::testing::Test {
protected:
    FakePhysMem mem;
    PageArena arena{mem, kArenaLow, kArenaSize};

    kho::Status decode(uint64_t first, V1BitmapMode mode, CollectingSink& sink,
                       kho::V1DecodeStats* stats = nullptr, size_t slots = 1 << 16) {
        storage_.assign(slots, 0);
        kho::PageSet visited(storage_.data(), storage_.size());
        return kho::decode_kho_v1_map(mem, first, mode, visited, sink, stats);
    }

    void expect_round_trip(const std::vector<Block>& blocks, V1Layout layout, V1BitmapMode mode,
                           bool descending = false) {
        SCOPED_TRACE(name(layout));
        ASSERT_FALSE(blocks_overlap(blocks));
        V1List list = encode_v1(mem, arena, blocks, {layout, descending});
        CollectingSink sink;
        kho::V1DecodeStats stats;
        kho::Status s = decode(list.first, mode, sink, &stats);
        ASSERT_TRUE(s.is_ok()) << s.message();
        EXPECT_FALSE(sink.implausible());
        EXPECT_EQ(sink.sorted_blocks(), sorted(blocks));
        EXPECT_EQ(sink.metadata_pages(), list.metadata_pages());
        EXPECT_EQ(stats.chunks, list.chunks.size());
        EXPECT_EQ(stats.bitmaps, list.bitmaps.size());
        EXPECT_EQ(stats.layout, abi_layout(layout));
    }

    // A small two-chunk list (orders 0 and 9) for the corruption tests.
    V1List small_list(V1Layout layout = V1Layout::Page) {
        std::vector<Block> blocks = {{0x10000000, 0}, {0x10001000, 0}, {0x80000000, 9},
                                     {0x180000000ull, 0}};
        return encode_v1(mem, arena, blocks, {layout, false});
    }

    std::vector<uint64_t> storage_;
};

// ---------------------------------------------------------------------------
// Round trips.

TEST_F(V1MapTest, RandomMixedOrdersBothLayoutsBelowAndAbove4G) {
    for (V1Layout layout : {V1Layout::Page, V1Layout::Bytes512}) {
        for (uint64_t seed = 1; seed <= 4; ++seed) {
            SCOPED_TRACE(seed);
            std::mt19937_64 rng(seed * 31 + (layout == V1Layout::Page));
            std::vector<Block> blocks = random_sparse_blocks(rng, 250, 0, 30, 0, 1ull << 46);
            merge_disjoint(blocks, random_sparse_blocks(rng, 200, 0, 10, 1ull << 20, 4 * kGiB));
            expect_round_trip(blocks, layout, mode_for(layout));
        }
    }
}

TEST_F(V1MapTest, AutoDetectsPageBitmaps) {
    std::mt19937_64 rng(8);
    expect_round_trip(random_sparse_blocks(rng, 100, 0, 12, 0, 1ull << 40), V1Layout::Page,
                      V1BitmapMode::Auto);
}

TEST_F(V1MapTest, AutoDetects512ByteBitmaps) {
    // The first object sits at the start of its slab page (page aligned);
    // only later ones reveal the 512-byte layout.
    std::mt19937_64 rng(9);
    expect_round_trip(random_sparse_blocks(rng, 100, 0, 12, 0, 1ull << 40), V1Layout::Bytes512,
                      V1BitmapMode::Auto);
}

TEST_F(V1MapTest, DenseRunsAndPreservePagesSplits) {
    for (V1Layout layout : {V1Layout::Page, V1Layout::Bytes512}) {
        FakePhysMem m;
        PageArena a(m, kArenaLow, kArenaSize);
        std::vector<Block> blocks = dense_pages(4 * kGiB - 3000 * 4096ull, 7000);
        merge_disjoint(blocks, split_like_preserve_pages(0x3456789000ull, 1234567));
        V1List list = encode_v1(m, a, blocks, {layout, false});
        CollectingSink sink;
        std::vector<uint64_t> slots(1 << 14);
        kho::PageSet visited(slots.data(), slots.size());
        kho::Status s = kho::decode_kho_v1_map(m, list.first, mode_for(layout), visited, sink);
        ASSERT_TRUE(s.is_ok()) << s.message();
        EXPECT_EQ(sink.sorted_blocks(), sorted(blocks)) << name(layout);
    }
}

TEST_F(V1MapTest, ManyBitmapsOfOneOrderSpanSeveralChunks) {
    // 600 order-0 pages 1 GiB apart: 600 bitmaps, so 3 chunks of order 0
    // (255 + 255 + 90).
    std::vector<Block> blocks;
    for (uint64_t i = 0; i < 600; ++i) blocks.push_back({i * kGiB + 0x5000, 0});
    V1List list = encode_v1(mem, arena, blocks, {V1Layout::Page, false});
    ASSERT_EQ(list.chunks.size(), 3u);
    CollectingSink sink;
    kho::V1DecodeStats stats;
    ASSERT_TRUE(decode(list.first, V1BitmapMode::Page, sink, &stats).is_ok());
    EXPECT_EQ(sink.sorted_blocks(), sorted(blocks));
    EXPECT_EQ(stats.chunks, 3u);
    EXPECT_EQ(stats.bitmaps, 600u);
}

TEST_F(V1MapTest, OrdersInAnyListOrder) {
    std::mt19937_64 rng(10);
    expect_round_trip(random_sparse_blocks(rng, 200, 0, 20, 0, 1ull << 42), V1Layout::Page,
                      V1BitmapMode::Page, /*descending=*/true);
}

TEST_F(V1MapTest, FullBitmapIsOneRun) {
    // 4096 consecutive pages fill one 512-byte bitmap: one sink call.
    V1List list = encode_v1(mem, arena, dense_pages(0x40000000, 4096), {V1Layout::Bytes512, false});
    ASSERT_EQ(list.bitmaps.size(), 1u);
    CollectingSink sink;
    ASSERT_TRUE(decode(list.first, V1BitmapMode::Bytes512, sink).is_ok());
    ASSERT_EQ(sink.runs().size(), 1u);
    EXPECT_EQ(sink.runs()[0].phys, 0x40000000u);
    EXPECT_EQ(sink.runs()[0].count, 4096u);
}

TEST_F(V1MapTest, PhysStartMathForHighOrders) {
    // One order-20 block in the second bitmap of its order: phys_start =
    // (1 * 32768) << 32, bit 5 -> 2^47 + 5 * 2^32.
    const uint64_t phys = (uint64_t(32768) << 32) + (uint64_t(5) << 32);
    V1List list = encode_v1(mem, arena, {{phys, 20}}, {V1Layout::Page, false});
    EXPECT_EQ(mem.peek_u64(v1_phys_start_addr(list.first, 0)), uint64_t(32768) << 32);
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(sink.sorted_blocks(), (std::vector<Block>{{phys, 20}}));
}

TEST_F(V1MapTest, HighOrderBlocksLowInMemoryAreAccepted) {
    // kho_preserve_pages() (6.18+, page-sized bitmaps) turns a large aligned
    // range into high orders: a 256 GiB block at 256 GiB is order 26, bit 1
    // of the bitmap at phys_start 0. The bitmap could describe memory beyond
    // 2^52, but the only set bit is far below it: a valid state.
    for (V1Layout layout : {V1Layout::Page, V1Layout::Bytes512}) {
        for (unsigned order : {25u, 26u, 28u, 29u, 30u}) {
            SCOPED_TRACE(order);
            FakePhysMem m;
            PageArena a(m, kArenaLow, 1 << 20);
            const uint64_t size = uint64_t(4096) << order;
            std::vector<Block> blocks = {{size, order}, {0x10000000, 0}};
            V1List list = encode_v1(m, a, blocks, {layout, false});
            CollectingSink sink;
            std::vector<uint64_t> slots(64);
            kho::PageSet visited(slots.data(), slots.size());
            kho::Status s = kho::decode_kho_v1_map(m, list.first, mode_for(layout), visited, sink);
            ASSERT_TRUE(s.is_ok()) << name(layout) << ": " << s.message();
            EXPECT_EQ(sink.sorted_blocks(), sorted(blocks));
        }
    }
}

TEST_F(V1MapTest, SinkErrorStopsTheWalkAndIsReturned) {
    std::mt19937_64 rng(12);
    V1List list = encode_v1(mem, arena, random_sparse_blocks(rng, 50, 0, 8, 0, 1ull << 40));
    CollectingSink sink;
    sink.fail_blocks_call(1, Err::Capacity);
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::Capacity) << s.message();
    EXPECT_EQ(sink.runs().size(), 2u);
}

// ---------------------------------------------------------------------------
// Hostile lists.

TEST_F(V1MapTest, ZeroFirstChunkIsRefused) {
    // 6.19+ consumers refuse a zero map: accepting it would hand on a state
    // the next kernel drops silently.
    CollectingSink sink;
    kho::Status s = decode(0, V1BitmapMode::Auto, sink);
    EXPECT_EQ(s.code(), Err::BadProperty) << s.message();
    EXPECT_NE(std::string(s.message()).find("preserved-memory-map"), std::string::npos)
        << s.message();
}

TEST_F(V1MapTest, ChunkListLoopIsRefused) {
    V1List list = small_list();
    ASSERT_GE(list.chunks.size(), 2u);
    ASSERT_TRUE(mem.write_u64(v1_next_addr(list.chunks.back()), list.first));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), list.first)) << s.message();
}

TEST_F(V1MapTest, ChunkPointingToItselfIsRefused) {
    V1List list = small_list();
    ASSERT_TRUE(mem.write_u64(v1_next_addr(list.first), list.first));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), list.first)) << s.message();
}

TEST_F(V1MapTest, NextChunkOutsideRamIsRefused) {
    V1List list = small_list();
    const uint64_t bad = 0x9990000000ull;
    ASSERT_TRUE(mem.write_u64(v1_next_addr(list.chunks.back()), bad));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::OutOfRam) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), bad)) << s.message();
}

TEST_F(V1MapTest, UnalignedNextChunkIsRefused) {
    V1List list = small_list();
    const uint64_t bad = list.chunks.back() + 0x800;
    ASSERT_TRUE(mem.write_u64(v1_next_addr(list.first), bad));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), bad)) << s.message();
}

TEST_F(V1MapTest, UnalignedFirstChunkIsRefused) {
    V1List list = small_list();
    CollectingSink sink;
    kho::Status s = decode(list.first + 16, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), list.first + 16)) << s.message();
}

TEST_F(V1MapTest, TooManyElementsIsRefused) {
    V1List list = small_list();
    for (uint32_t n : {256u, 0xffffffffu}) {
        ASSERT_TRUE(mem.write_u32(v1_count_addr(list.first), n));
        CollectingSink sink;
        kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
        EXPECT_EQ(s.code(), Err::BadMap) << n << ": " << s.message();
        EXPECT_TRUE(mentions_hex(s.message(), list.first)) << s.message();
    }
}

TEST_F(V1MapTest, AbsurdOrderIsRefused) {
    for (uint32_t order : {53u, 64u, 0xffffffffu}) {
        FakePhysMem m;
        PageArena a(m, kArenaLow, 1 << 20);
        V1List list = encode_v1(m, a, {{0x10000000, 0}});
        ASSERT_TRUE(m.write_u32(v1_order_addr(list.first), order));
        CollectingSink sink;
        std::vector<uint64_t> slots(64);
        kho::PageSet visited(slots.data(), slots.size());
        kho::Status s = kho::decode_kho_v1_map(m, list.first, V1BitmapMode::Page, visited, sink);
        EXPECT_EQ(s.code(), Err::BadMap) << order << ": " << s.message();
        EXPECT_TRUE(mentions_hex(s.message(), list.first)) << s.message();
        EXPECT_TRUE(sink.runs().empty());
    }
}

TEST_F(V1MapTest, BlockBeyond2To64IsRefused) {
    // Order 40, bit 4095 of a 512-byte bitmap at phys_start 0: 4095 << 52
    // does not fit in 64 bits. Reporting a wrapped address would protect
    // the wrong memory.
    V1List list = encode_v1(mem, arena, {{0, 40}}, {V1Layout::Bytes512, false});
    uint8_t* bm = mem.mutable_view(list.bitmaps[0], 512);
    bm[0] = 0;
    bm[511] = 0x80;
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Bytes512, sink);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_FALSE(sink.implausible());
}

TEST_F(V1MapTest, Order52BlockIsRefused) {
    // 2^52 pages = 2^64 bytes: not a block any machine has.
    V1List list = encode_v1(mem, arena, {{0x10000000, 0}});
    ASSERT_TRUE(mem.write_u32(v1_order_addr(list.first), 52));
    ASSERT_TRUE(mem.write_u64(v1_phys_start_addr(list.first, 0), 0));
    uint8_t* bm = mem.mutable_view(list.bitmaps[0], 4096);
    memset(bm, 0, 4096);
    bm[0] = 1;
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_FALSE(sink.implausible());
}

TEST_F(V1MapTest, UnalignedPhysStartIsRefused) {
    // phys_start 0x1000 with order 1: blocks would not be naturally aligned,
    // which no producer writes and the sink contract excludes.
    V1List list = encode_v1(mem, arena, {{0x10000000, 1}});
    ASSERT_TRUE(mem.write_u64(v1_phys_start_addr(list.first, 0), 0x1000));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
}

TEST_F(V1MapTest, ZeroBitmapPointerIsRefused) {
    V1List list = small_list();
    ASSERT_TRUE(mem.write_u64(v1_bitmap_ptr_addr(list.first, 0), 0));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
}

TEST_F(V1MapTest, BitmapOutsideRamIsRefused) {
    V1List list = small_list();
    const uint64_t bad = 0x5550000000ull;
    ASSERT_TRUE(mem.write_u64(v1_bitmap_ptr_addr(list.chunks.back(), 0), bad));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::OutOfRam) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), bad)) << s.message();
}

TEST_F(V1MapTest, UnalignedPageBitmapIsRefused) {
    V1List list = small_list();
    const uint64_t bad = list.bitmaps[0] + 8;
    ASSERT_TRUE(mem.write_u64(v1_bitmap_ptr_addr(list.first, 0), bad));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), bad)) << s.message();
}

TEST_F(V1MapTest, Bitmap512StraddlingTheEndOfRamIsRefused) {
    V1List list = small_list(V1Layout::Bytes512);
    const uint64_t bad = kArenaLow + kArenaSize - 256;
    ASSERT_TRUE(mem.write_u64(v1_bitmap_ptr_addr(list.first, 0), bad));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Bytes512, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), bad)) << s.message();
}

TEST_F(V1MapTest, SameBitmapPageTwiceIsRefused) {
    V1List list = small_list();
    ASSERT_GE(list.bitmaps.size(), 2u);
    ASSERT_TRUE(mem.write_u64(v1_bitmap_ptr_addr(list.chunks.back(), 0), list.bitmaps[0]));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), list.bitmaps[0])) << s.message();
}

TEST_F(V1MapTest, BitmapThatIsAChunkIsRefused) {
    V1List list = small_list();
    ASSERT_TRUE(mem.write_u64(v1_bitmap_ptr_addr(list.chunks.back(), 0), list.first));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), list.first)) << s.message();
}

TEST_F(V1MapTest, ChunkThatIsABitmapIsRefused) {
    V1List list = small_list();
    ASSERT_TRUE(mem.write_u64(v1_next_addr(list.chunks.back()), list.bitmaps[0]));
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), list.bitmaps[0])) << s.message();
}

TEST_F(V1MapTest, VisitedSetTooSmallIsACapacityError) {
    std::vector<Block> blocks;
    for (uint64_t i = 0; i < 40; ++i) blocks.push_back({i * kGiB, 0});
    V1List list = encode_v1(mem, arena, blocks);
    CollectingSink sink;
    kho::Status s = decode(list.first, V1BitmapMode::Page, sink, nullptr, 8);
    EXPECT_EQ(s.code(), Err::Capacity) << s.message();
}

TEST_F(V1MapTest, RandomCorruptionNeverCrashes) {
    // Random words written over chunk headers and elements, both layouts.
    std::mt19937_64 rng(77);
    for (int round = 0; round < 60; ++round) {
        FakePhysMem m;
        PageArena a(m, kArenaLow, 4 << 20);
        V1Layout layout = round % 2 ? V1Layout::Page : V1Layout::Bytes512;
        V1List list = encode_v1(m, a, random_sparse_blocks(rng, 40, 0, 20, 0, 1ull << 44),
                                {layout, false});
        for (int k = 0; k < 2; ++k) {
            uint64_t chunk = list.chunks[rng() % list.chunks.size()];
            uint64_t off = (rng() % 64) * 8;
            uint64_t v = rng() % 3 == 0 ? rng() : rng() % 3 == 0 ? rng() % 300 : kArenaLow + (rng() % (4 << 20));
            ASSERT_TRUE(m.write_u64(chunk + off, v));
        }
        CollectingSink sink;
        std::vector<uint64_t> slots(1 << 12);
        kho::PageSet visited(slots.data(), slots.size());
        kho::Status s = kho::decode_kho_v1_map(m, list.first, V1BitmapMode::Auto, visited, sink);
        if (!s.is_ok()) {
            EXPECT_NE(s.message()[0], '\0');
        }
        EXPECT_FALSE(sink.implausible());
    }
}

}  // namespace
