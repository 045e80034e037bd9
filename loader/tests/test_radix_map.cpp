// kho-v2..v4 radix-tree decoder (loader/kho_radix_map.h) against the
// independent encoder: random block sets must come back exactly, and every
// malformed tree must be refused with a precise error instead of a crash, a
// hang or a silently shortened block list (which would let the loader hand
// preserved memory to the firmware).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "abi/kho_radix.h"
#include "loader/kho_radix_map.h"
#include "loader/page_set.h"
#include "loader/range_set.h"
#include "loader/tests/fake_phys_mem.h"
#include "loader/tests/kho_encoder.h"

using namespace khotest;
using kho::Err;

namespace {

constexpr uint64_t kArenaLow = 0x40000000;    // 1 GiB, below 4 GiB
constexpr uint64_t kArenaHigh = 0x300000000;  // 12 GiB
constexpr uint64_t kArenaSize = 64ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

class RadixMapTest : public ::testing::Test {
protected:
    FakePhysMem mem;
    PageArena arena{mem, kArenaLow, kArenaSize};

    kho::Status decode(uint64_t root, CollectingSink& sink, kho::RadixDecodeStats* stats = nullptr,
                       size_t slots = 1 << 16, unsigned page_shift = 12) {
        storage_.assign(slots, 0);
        kho::PageSet visited(storage_.data(), storage_.size());
        kho::Status s = kho::decode_radix_map(mem, root, kho::abi::radix::geometry_for(page_shift),
                                              visited, sink, stats);
        visited_pages_.clear();
        for (uint64_t v : storage_)
            if (v) visited_pages_.push_back(v);
        return s;
    }

    // Decodes `blocks` encoded by the test encoder and checks the round trip:
    // the same blocks, the tree's own pages as metadata, correct counts.
    void expect_round_trip(const std::vector<Block>& blocks, const char* what) {
        SCOPED_TRACE(what);
        ASSERT_FALSE(blocks_overlap(blocks));
        RadixTree tree = encode_radix(mem, arena, blocks);
        CollectingSink sink;
        kho::RadixDecodeStats stats;
        kho::Status s = decode(tree.root, sink, &stats);
        ASSERT_TRUE(s.is_ok()) << s.message();
        EXPECT_FALSE(sink.implausible());
        EXPECT_EQ(sink.sorted_blocks(), sorted(blocks));
        EXPECT_EQ(sink.metadata_pages(), tree.all_pages());
        EXPECT_EQ(stats.nodes, tree.table_pages().size());
        EXPECT_EQ(stats.leaves, tree.leaf_pages().size());
    }

    // A fresh page in the arena, linked at `slot` of table `table`.
    uint64_t link_new_page(uint64_t table, unsigned slot) {
        uint64_t p = arena.alloc_page();
        EXPECT_TRUE(mem.write_u64(table + 8ull * slot, p));
        return p;
    }

    std::vector<uint64_t> storage_;
    std::vector<uint64_t> visited_pages_;
};

// ---------------------------------------------------------------------------
// The encoder itself against the worked examples of docs/kho-abi.md 5.5, so that
// round trips below test the decoder against the ABI rather than against a
// shared misunderstanding.

TEST(RadixEncoder, KeysMatchTheAbiWorkedExamples) {
    RadixShape s = RadixShape::for_page_shift(12);
    EXPECT_EQ(s.depth, 6u);
    EXPECT_EQ(radix_key(s, 0x123456000ull, 0), 0x0010000000123456ull);
    EXPECT_EQ(radix_key(s, 0x40000000ull, 9), 0x0000080000000200ull);
    EXPECT_EQ(radix_key(s, 0x80000000ull, 18), 0x0000000400000002ull);
    // 16 KiB: 51-bit keys need 5 levels (Linux d64b0372760e).
    EXPECT_EQ(RadixShape::for_page_shift(14).depth, 5u);
    EXPECT_EQ(RadixShape::for_page_shift(16).depth, 4u);
}

TEST(RadixEncoder, TablePathMatchesTheAbiWorkedExample) {
    FakePhysMem mem;
    PageArena arena(mem, kArenaLow, 1 << 20);
    RadixTree t = encode_radix(mem, arena, {{0x123456000ull, 0}});
    // L5=2, L4..L2=0, L1=0x24, leaf bit 0x3456.
    const unsigned expect_index[] = {0, 0x24, 0, 0, 0, 2};  // by level
    ASSERT_EQ(t.pages.size(), 6u);
    for (const RadixPage& p : t.pages) {
        if (p.level == 5) continue;  // root
        EXPECT_EQ(p.index, expect_index[p.level + 1]) << "level " << p.level;
    }
    uint64_t leaf = t.page_on_path(mem, 0x123456000ull, 0, 0);
    ASSERT_NE(leaf, 0u);
    const uint8_t* bits = mem.view(leaf, 4096);
    EXPECT_EQ(bits[0x3456 / 8], 1u << (0x3456 % 8));
}

// ---------------------------------------------------------------------------
// Round trips.

TEST_F(RadixMapTest, EmptyTreeHasNoBlocksAndOnlyTheRootAsMetadata) {
    expect_round_trip({}, "empty");
}

TEST_F(RadixMapTest, AbiWorkedExamplesRoundTrip) {
    expect_round_trip({{0x123456000ull, 0}, {0x40000000ull, 9}, {0x80000000ull, 18}}, "abi");
}

TEST_F(RadixMapTest, EveryOrderFrom0To39RoundTrips) {
    // Block of order o at 2^(12+o) covers [2^(12+o), 2^(13+o)): the blocks
    // are disjoint and exercise every order bit position whose blocks fit
    // the 52-bit physical address space of x86-64 and arm64 (the last one
    // ends exactly at 2^52).
    std::vector<Block> blocks;
    for (unsigned o = 0; o <= 39; ++o) blocks.push_back({uint64_t(4096) << o, o});
    expect_round_trip(blocks, "orders 0..39");
}

TEST_F(RadixMapTest, BlockBeyondThe52BitPhysicalSpaceIsRefused) {
    // No x86-64/arm64 machine has RAM at or above 2^52; such a key is
    // corruption, and it must not reach the range sets.
    RadixTree tree = encode_radix(mem, arena, {{uint64_t(1) << 52, 0}});
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_TRUE(sink.runs().empty());
}

TEST_F(RadixMapTest, RandomSparseMixedOrdersBelow4G) {
    for (uint64_t seed = 1; seed <= 6; ++seed) {
        std::mt19937_64 rng(seed);
        auto blocks = random_sparse_blocks(rng, 300, 0, 18, 1ull << 20, 4 * kGiB);
        expect_round_trip(blocks, ("seed " + std::to_string(seed)).c_str());
    }
}

TEST_F(RadixMapTest, RandomSparseMixedOrdersAbove4G) {
    for (uint64_t seed = 11; seed <= 16; ++seed) {
        std::mt19937_64 rng(seed);
        auto blocks = random_sparse_blocks(rng, 300, 0, 30, 4 * kGiB, 1ull << 46);
        expect_round_trip(blocks, ("seed " + std::to_string(seed)).c_str());
    }
}

TEST_F(RadixMapTest, DenseAndSparseMixAcross4G) {
    std::mt19937_64 rng(42);
    // A dense run straddling 4 GiB, a preserve_pages-style split (high
    // orders next to low ones), and random blocks around them.
    std::vector<Block> blocks = dense_pages(4 * kGiB - 5000 * 4096ull, 10000);
    merge_disjoint(blocks, split_like_preserve_pages(0x1234567000ull, 3000001));
    merge_disjoint(blocks, random_sparse_blocks(rng, 400, 0, 30, 0, 1ull << 45));
    expect_round_trip(blocks, "mix");
}

TEST_F(RadixMapTest, EveryOtherPageRoundTrips) {
    std::vector<Block> blocks;
    for (uint64_t i = 0; i < 70000; i += 2) blocks.push_back({0x500000000ull + i * 4096, 0});
    expect_round_trip(blocks, "every other page");
}

TEST_F(RadixMapTest, HighOrderBlocksNextToOrderZeroInTheSameLeafRange) {
    // Same physical neighbourhood, different orders: different keys, so
    // different leaves; the decoder must not confuse them.
    expect_round_trip({{0x200000000ull, 0}, {0x200001000ull, 0}, {0x200200000ull, 9},
                       {0x200400000ull, 1}, {0x240000000ull, 18}},
                      "neighbours");
}

TEST_F(RadixMapTest, FullLeafIsReportedAsOneRun) {
    // 32768 consecutive order-0 pages aligned to 128 MiB fill exactly one
    // leaf; the header promises adjacent bits become one sink call, which
    // is what keeps a dense 64 GiB map cheap to protect.
    RadixTree tree = encode_radix(mem, arena, dense_pages(0x8000000ull * 3, 32768));
    ASSERT_EQ(tree.leaf_pages().size(), 1u);
    CollectingSink sink;
    ASSERT_TRUE(decode(tree.root, sink).is_ok());
    ASSERT_EQ(sink.runs().size(), 1u);
    EXPECT_EQ(sink.runs()[0].phys, 0x8000000ull * 3);
    EXPECT_EQ(sink.runs()[0].order, 0u);
    EXPECT_EQ(sink.runs()[0].count, 32768u);
}

TEST_F(RadixMapTest, RunsNeverCrossAGap) {
    // Pages 0..9 and 11..20 of one leaf: two runs, not one.
    std::vector<Block> blocks = dense_pages(0x10000000, 10);
    merge_disjoint(blocks, dense_pages(0x10000000 + 11 * 4096, 10));
    RadixTree tree = encode_radix(mem, arena, blocks);
    CollectingSink sink;
    ASSERT_TRUE(decode(tree.root, sink).is_ok());
    ASSERT_EQ(sink.runs().size(), 2u);
    EXPECT_EQ(sink.sorted_blocks(), sorted(blocks));
}

struct RangeSetDecode {
    kho::Status status;
    uint64_t block_count;
};
RangeSetDecode decode_into_range_sets(
    const FakePhysMem& mem, uint64_t root, kho::RangeSet& blocks, kho::RangeSet& meta) {
    kho::RangeSetSink sink(blocks, meta);
    std::vector<uint64_t> slots(1 << 12);
    kho::PageSet visited(slots.data(), slots.size());
    kho::Status s = kho::decode_radix_map(mem, root, kho::abi::radix::kGeometry4K, visited, sink);
    return {s, sink.block_count()};
}

TEST_F(RadixMapTest, DenseMapCoalescesInRangeSetSink) {
    // 100000 pages straddling 4 GiB end up as one range in the default sink.
    const uint64_t start = 4 * kGiB - 40000 * 4096ull;
    RadixTree tree = encode_radix(mem, arena, dense_pages(start, 100000));
    std::vector<kho::Range> bst(64), mst(64);
    kho::RangeSet blocks(bst.data(), bst.size()), meta(mst.data(), mst.size());
    RangeSetDecode r = decode_into_range_sets(mem, tree.root, blocks, meta);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    blocks.normalize();
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].start, start);
    EXPECT_EQ(blocks[0].end, start + 100000 * 4096ull);
    EXPECT_EQ(r.block_count, 100000u);
    meta.normalize();
    EXPECT_EQ(meta.total_bytes(), tree.all_pages().size() * 4096);
}

TEST_F(RadixMapTest, MetadataAboveAndBelow4GIsReported) {
    // Tables below 4 GiB, a subtree allocated later from a high arena.
    PageArena high(mem, kArenaHigh, 1 << 20);
    RadixTree tree = encode_radix(mem, arena, {{0x10000000, 0}});
    radix_add(mem, high, tree, {0x7000000000ull, 3});
    CollectingSink sink;
    ASSERT_TRUE(decode(tree.root, sink).is_ok());
    EXPECT_EQ(sink.metadata_pages(), tree.all_pages());
    EXPECT_EQ(sink.sorted_blocks(), sorted(std::vector<Block>{{0x10000000, 0}, {0x7000000000ull, 3}}));
}

TEST_F(RadixMapTest, VisitedSetHoldsEveryTreePage) {
    // Callers reuse `visited` to refuse the same page in another structure.
    std::mt19937_64 rng(7);
    RadixTree tree = encode_radix(mem, arena, random_sparse_blocks(rng, 50, 0, 12, 0, 1ull << 40));
    CollectingSink sink;
    ASSERT_TRUE(decode(tree.root, sink).is_ok());
    std::vector<uint64_t> visited = visited_pages_;
    std::sort(visited.begin(), visited.end());
    EXPECT_EQ(visited, tree.all_pages());
}

TEST(RadixMapLargePages, Radix16KAnd64KRoundTrip) {
    // Producer and consumer must share PAGE_SIZE; the geometry follows it.
    // 16 KiB trees are 5 levels deep (key width 51 bits, Linux d64b0372760e
    // fixed KHO_TREE_MAX_DEPTH, which the first radix version computed as 4
    // and which then dropped the order bit of every order-0 key).
    for (unsigned shift : {14u, 16u}) {
        SCOPED_TRACE(shift);
        const uint64_t page = uint64_t(1) << shift;
        FakePhysMem mem;
        PageArena arena(mem, kArenaLow, 64ull << 20, page);
        std::mt19937_64 rng(shift);
        // Blocks generated for 4 KiB pages, scaled to the larger page: still
        // naturally aligned and disjoint.
        std::vector<Block> blocks = random_sparse_blocks(rng, 120, 0, 20, 0, 1ull << 40);
        for (Block& b : blocks) b.phys *= page / 4096;
        RadixTree tree = encode_radix(mem, arena, blocks, shift);
        EXPECT_EQ(tree.shape.depth, shift == 14 ? 5u : 4u);
        EXPECT_EQ(kho::abi::radix::geometry_for(shift).max_depth, tree.shape.depth);
        CollectingSink sink(page);
        std::vector<uint64_t> slots(1 << 14);
        kho::PageSet visited(slots.data(), slots.size());
        kho::Status s = kho::decode_radix_map(mem, tree.root, kho::abi::radix::geometry_for(shift),
                                              visited, sink);
        ASSERT_TRUE(s.is_ok()) << s.message();
        EXPECT_EQ(sink.sorted_blocks(), sorted(blocks));
        EXPECT_EQ(sink.metadata_pages(), tree.all_pages());
    }
}

TEST_F(RadixMapTest, SinkErrorStopsTheWalkAndIsReturned) {
    std::mt19937_64 rng(3);
    RadixTree tree = encode_radix(mem, arena, random_sparse_blocks(rng, 40, 0, 5, 0, 1ull << 36));
    CollectingSink sink;
    sink.fail_blocks_call(2, Err::Capacity);
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::Capacity) << s.message();
    EXPECT_EQ(sink.runs().size(), 3u) << "decoder went on after the sink failed";
}

// ---------------------------------------------------------------------------
// Hostile trees. Each must fail with the right code and name the address.

TEST_F(RadixMapTest, ZeroRootIsRefused) {
    // kho-v2+ consumers reject a zero preserved-memory-map (-EINVAL).
    CollectingSink sink;
    kho::Status s = decode(0, sink);
    EXPECT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), Err::BadProperty) << s.message();
    EXPECT_TRUE(sink.runs().empty());
}

TEST_F(RadixMapTest, UnalignedRootIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x10000000, 0}});
    CollectingSink sink;
    kho::Status s = decode(tree.root + 8, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), tree.root + 8)) << s.message();
    EXPECT_TRUE(sink.runs().empty());
}

TEST_F(RadixMapTest, RootOutsideRamIsRefused) {
    CollectingSink sink;
    kho::Status s = decode(0xabc000000ull, sink);
    EXPECT_EQ(s.code(), Err::OutOfRam) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), 0xabc000000ull)) << s.message();
}

TEST_F(RadixMapTest, RootJustPastTheEndOfRamIsRefused) {
    CollectingSink sink;
    kho::Status s = decode(kArenaLow + kArenaSize, sink);
    EXPECT_EQ(s.code(), Err::OutOfRam) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), kArenaLow + kArenaSize)) << s.message();
}

TEST_F(RadixMapTest, RootInDeclaredButUnreadableRamIsRefused) {
    mem.declare_ram(0x800000000ull, 1 << 20);  // RAM, but no bytes to read
    CollectingSink sink;
    kho::Status s = decode(0x800000000ull, sink);
    EXPECT_FALSE(s.is_ok());
    EXPECT_TRUE(mentions_hex(s.message(), 0x800000000ull)) << s.message();
}

TEST_F(RadixMapTest, EntryPointingBackToTheRootIsACycle) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    uint64_t l3 = tree.page_on_path(mem, 0x123456000ull, 0, 3);
    ASSERT_TRUE(mem.write_u64(l3 + 8 * 7, tree.root));
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), tree.root)) << s.message();
}

TEST_F(RadixMapTest, EntryPointingToItsOwnTableIsACycle) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    uint64_t l2 = tree.page_on_path(mem, 0x123456000ull, 0, 2);
    ASSERT_TRUE(mem.write_u64(l2 + 8 * 300, l2));
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), l2)) << s.message();
}

TEST_F(RadixMapTest, ChildSharedByTwoParentsIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    // Root slot 2 holds order-0 keys; slot 3 (also a valid order-0 slot)
    // gets the very same subtree.
    uint64_t l4 = mem.peek_u64(tree.root + 8 * 2);
    ASSERT_NE(l4, 0u);
    ASSERT_TRUE(mem.write_u64(tree.root + 8 * 3, l4));
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), l4)) << s.message();
}

TEST_F(RadixMapTest, LeafSharedByTwoTablesIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    uint64_t l1 = tree.page_on_path(mem, 0x123456000ull, 0, 1);
    uint64_t leaf = tree.page_on_path(mem, 0x123456000ull, 0, 0);
    ASSERT_TRUE(mem.write_u64(l1 + 8 * 0x25, leaf));
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), leaf)) << s.message();
}

TEST_F(RadixMapTest, TablePageUsedAsALeafIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    uint64_t l1 = tree.page_on_path(mem, 0x123456000ull, 0, 1);
    uint64_t l2 = tree.page_on_path(mem, 0x123456000ull, 0, 2);
    ASSERT_TRUE(mem.write_u64(l1 + 8 * 0x30, l2));
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), l2)) << s.message();
}

TEST_F(RadixMapTest, FanOutOfOneSharedPageFailsFast) {
    // Every slot of every table points at the next level's single page: a
    // walk without revisit detection would visit 512^4 * 4 paths (a hang).
    uint64_t pages[6];
    for (auto& p : pages) p = arena.alloc_page();
    for (int level = 5; level >= 1; --level)
        for (unsigned i = 0; i < 512; ++i)
            if (level < 5 || i < 4) {  // root: only the valid order-bit slots
                ASSERT_TRUE(mem.write_u64(pages[level] + 8 * i, pages[level - 1]));
            }
    CollectingSink sink;
    kho::Status s = decode(pages[5], sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(sink.runs().empty());
}

TEST_F(RadixMapTest, EntryOutsideRamIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    uint64_t l2 = tree.page_on_path(mem, 0x123456000ull, 0, 2);
    const uint64_t bad = 0x7777000000ull;
    ASSERT_TRUE(mem.write_u64(l2 + 8 * 1, bad));
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::OutOfRam) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), bad)) << s.message();
}

TEST_F(RadixMapTest, LeafPointerOutsideRamIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    uint64_t l1 = tree.page_on_path(mem, 0x123456000ull, 0, 1);
    const uint64_t bad = 0xfff0000000ull;
    ASSERT_TRUE(mem.write_u64(l1 + 8 * 0x24, bad));
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::OutOfRam) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), bad)) << s.message();
}

TEST_F(RadixMapTest, UnalignedEntryIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    uint64_t l4 = tree.page_on_path(mem, 0x123456000ull, 0, 4);
    uint64_t spare = arena.alloc_page();
    ASSERT_TRUE(mem.write_u64(l4 + 8 * 9, spare + 0x10));
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), spare + 0x10)) << s.message();
}

TEST_F(RadixMapTest, RootSlotWithoutAValidOrderBitIsRefused) {
    // Root slots 4..511 stand for keys with a bit above bit 52 set: no order
    // can produce them. A complete path with a set leaf bit under slot 4.
    RadixTree tree = encode_radix(mem, arena, {{0x10000000, 0}});
    uint64_t p = link_new_page(tree.root, 4);
    for (int level = 4; level >= 1; --level) p = link_new_page(p, 0);
    mem.mutable_view(p, 4096)[0] = 0x01;
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    for (const Block& b : sink.sorted_blocks())
        EXPECT_EQ(b.phys, 0x10000000u) << "invented a block from an invalid key";
}

TEST_F(RadixMapTest, HighestRootSlotIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {});
    uint64_t p = link_new_page(tree.root, 511);
    for (int level = 4; level >= 1; --level) p = link_new_page(p, 511);
    mem.mutable_view(p, 4096)[4095] = 0x80;
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_TRUE(sink.runs().empty());
}

TEST_F(RadixMapTest, KeyZeroIsRefused) {
    // All-zero path and leaf bit 0: key 0 has no order bit at all.
    RadixTree tree = encode_radix(mem, arena, {});
    uint64_t p = tree.root;
    for (int level = 5; level >= 1; --level) p = link_new_page(p, 0);
    mem.mutable_view(p, 4096)[0] = 0x01;
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_TRUE(sink.runs().empty());
}

TEST_F(RadixMapTest, KeyOfOrder52IsRefused) {
    // key 1: order 52, a "block" of 2^64 bytes that no RAM can hold.
    RadixTree tree = encode_radix(mem, arena, {});
    uint64_t p = tree.root;
    for (int level = 5; level >= 1; --level) p = link_new_page(p, 0);
    mem.mutable_view(p, 4096)[0] = 0x02;
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_FALSE(sink.implausible());
}

TEST_F(RadixMapTest, BlockEndingPast2To64IsRefused) {
    // A valid-looking order-0 key for the last page of the 64-bit space:
    // [0xfffffffffffff000, 2^64) cannot be a half-open u64 range; passing it
    // on would wrap to an empty range and leave the page unprotected.
    RadixTree tree = encode_radix(mem, arena, {{0xfffffffffffff000ull, 0}});
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_FALSE(sink.implausible());
}

TEST_F(RadixMapTest, VisitedSetTooSmallIsACapacityError) {
    std::mt19937_64 rng(5);
    RadixTree tree = encode_radix(mem, arena, random_sparse_blocks(rng, 20, 0, 10, 0, 1ull << 44));
    ASSERT_GT(tree.pages.size(), 16u);
    CollectingSink sink;
    kho::Status s = decode(tree.root, sink, nullptr, 16);
    EXPECT_EQ(s.code(), Err::Capacity) << s.message();
}

TEST_F(RadixMapTest, RandomCorruptionNeverCrashesAndNeverInventsBlocks) {
    // Random garbage written into table slots (wild values, pointers to
    // other tables, unaligned arena addresses, unbacked pages): the decoder
    // may fail or succeed, but it must not crash or hang (ASan build), must
    // explain a failure, and must never report a wrapping block.
    std::mt19937_64 rng(99);
    for (int round = 0; round < 40; ++round) {
        FakePhysMem m;
        PageArena a(m, kArenaLow, 8 << 20);
        auto blocks = random_sparse_blocks(rng, 30, 0, 12, 0, 1ull << 40);
        RadixTree tree = encode_radix(m, a, blocks);
        auto tables = tree.table_pages();
        for (int k = 0; k < 3; ++k) {
            uint64_t t = tables[rng() % tables.size()];
            uint64_t v;
            switch (rng() % 4) {
            case 0: v = rng(); break;
            case 1: v = tables[rng() % tables.size()]; break;
            case 2: v = kArenaLow + (rng() % (8 << 20)); break;
            default: v = (rng() % (1ull << 40)) & ~4095ull; break;
            }
            ASSERT_TRUE(m.write_u64(t + 8 * (rng() % 512), v));
        }
        CollectingSink sink;
        std::vector<uint64_t> slots(1 << 12);
        kho::PageSet visited(slots.data(), slots.size());
        kho::Status s = kho::decode_radix_map(m, tree.root, kho::abi::radix::kGeometry4K, visited, sink);
        if (!s.is_ok()) {
            EXPECT_NE(s.message()[0], '\0');
        }
        EXPECT_FALSE(sink.implausible());
    }
}

}  // namespace
