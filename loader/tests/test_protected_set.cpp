// collect_protected (loader/protected_set.h): the set a KHO boot must keep
// intact, from a whole state the test encoder builds (root FDT read by
// read_kho_fdt, map, sub-blobs, scratch table): preserved blocks, every
// map metadata page, the FDT page, each sub-blob rounded out to pages, the
// scratch table. The expected set is computed here from the encoder's
// input (docs/kho-abi.md section 6).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "loader/tests/range_printing.h"
#include "loader/kho_fdt_reader.h"
#include "loader/page_set.h"
#include "loader/preserved_memory.h"
#include "loader/protected_set.h"
#include "loader/range_set.h"
#include "loader/tests/fake_phys_mem.h"
#include "loader/tests/kho_encoder.h"

using namespace khotest;
using kho::Err;
using kho::Range;

namespace {

constexpr uint64_t kArena = 0x60000000;
constexpr uint64_t kPage = 4096;

// Union of byte ranges, coalesced: the expected protect set.
class Expected {
public:
    void add(uint64_t s, uint64_t e) {
        if (s < e) raw_.emplace_back(s, e);
    }
    void add_pages(uint64_t s, uint64_t bytes) {
        add(s & ~(kPage - 1), (s + bytes + kPage - 1) & ~(kPage - 1));
    }
    void add_blocks(const std::vector<Block>& bs) {
        for (const Block& b : bs) add(b.phys, b.phys + (kPage << b.order));
    }
    void add_page_list(const std::vector<uint64_t>& pages) {
        for (uint64_t p : pages) add(p, p + kPage);
    }
    std::vector<Range> ranges() const {
        auto r = raw_;
        std::sort(r.begin(), r.end());
        std::vector<Range> out;
        for (auto [s, e] : r) {
            if (!out.empty() && s <= out.back().end) out.back().end = std::max(out.back().end, e);
            else out.push_back({s, e});
        }
        return out;
    }

private:
    std::vector<std::pair<uint64_t, uint64_t>> raw_;
};

// Decodes into the production sink, RangeSetSink, feeding `protect`.
using ProductionSink = kho::RangeSetSink;

kho::Status collect_into(
    const kho::PhysMem& mem, const kho::KhoState& state, const kho::ProtectOptions& opt,
    kho::PageSet& visited, kho::RangeSet& protect, kho::ProtectStats* stats) {
    ProductionSink sink(protect, protect);
    return kho::collect_protected(mem, state, opt, visited, sink, protect, stats);
}

class ProtectedSetTest : public ::testing::Test {
protected:
    FakePhysMem mem;
    PageArena arena{mem, kArena, 32 << 20};
    kho::KhoState state{};
    std::vector<Range> storage = std::vector<Range>(1 << 14);
    kho::RangeSet protect{storage.data(), storage.size()};
    std::vector<uint64_t> slots = std::vector<uint64_t>(1 << 14);
    kho::PageSet visited{slots.data(), slots.size()};
    kho::ProtectStats stats{};
    // RAM for the sub-blobs the tests name, below the arena.
    ProtectedSetTest() { mem.declare_ram(0x30000000, kArena - 0x30000000); }

    kho::Status collect(const kho::ProtectOptions& opt = {}) {
        return collect_into(mem, state, opt, visited, protect, &stats);
    }
    uint64_t place_root(const FdtNode& root) {
        uint64_t addr = place_bytes(mem, arena, build_fdt(root));
        kho::Status s = kho::read_kho_fdt(mem, addr, &state);
        EXPECT_TRUE(s.is_ok()) << s.message();
        return addr;
    }
    std::vector<Range> got() const { return {protect.begin(), protect.end()}; }
};

TEST_F(ProtectedSetTest, KhoV4StateProtectsEverythingTheConsumerReads) {
    std::mt19937_64 rng(1);
    std::vector<Block> blocks = random_sparse_blocks(rng, 200, 0, 14, 1ull << 32, 1ull << 38);
    merge_disjoint(blocks, dense_pages(0x20000000, 3000));
    RadixTree tree = encode_radix(mem, arena, blocks);
    // Sub-blobs: one page-aligned and multi-page, one small and unaligned
    // (kexec-metadata is a 73-byte object), one straddling a page boundary.
    std::vector<KhoSubBlob> subs = {{"kho_test", 0x30000000, 0x5000},
                                    {"kexec-metadata", 0x30100040, 73},
                                    {"LUO", 0x30200ff0, 0x20}};
    uint64_t fdt = place_root(kho_root_node("kho-v4", tree.root, subs));
    kho::ProtectOptions opt;
    opt.scratch_table_addr = 0x30300100;
    opt.scratch_table_size = 3 * 16;
    kho::Status s = collect(opt);
    ASSERT_TRUE(s.is_ok()) << s.message();

    Expected e;
    e.add_blocks(blocks);
    e.add_page_list(tree.all_pages());
    e.add(fdt, fdt + kPage);
    for (const auto& sub : subs) e.add_pages(sub.phys, sub.size);
    e.add_pages(opt.scratch_table_addr, opt.scratch_table_size);
    EXPECT_TRUE(protect.normalized());
    EXPECT_EQ(got(), e.ranges());
    EXPECT_EQ(stats.blocks, blocks.size());
    EXPECT_EQ(stats.map_pages, tree.table_pages().size());
    EXPECT_EQ(stats.leaf_pages, tree.leaf_pages().size());
    EXPECT_EQ(stats.metadata_pages, tree.all_pages().size());
}

TEST_F(ProtectedSetTest, EveryRangeIsPageAligned) {
    RadixTree tree = encode_radix(mem, arena, {{0x40000000, 0}});
    place_root(kho_root_node("kho-v3", tree.root, {{"a", 0x50000123, 5}, {"b", 0x50001fff, 2}}));
    kho::ProtectOptions opt;
    opt.scratch_table_addr = 0x50002008;
    opt.scratch_table_size = 16;
    ASSERT_TRUE(collect(opt).is_ok());
    for (const Range& r : got()) {
        EXPECT_EQ(r.start % kPage, 0u) << r;
        EXPECT_EQ(r.end % kPage, 0u) << r;
    }
    // "b" straddles 0x50002000: both of its pages are kept.
    EXPECT_TRUE(protect.contains(0x50001000, 0x50003000));
}

TEST_F(ProtectedSetTest, KhoV2BlobWithoutSizeKeepsItsPage) {
    RadixTree tree = encode_radix(mem, arena, {{0x40000000, 0}});
    place_root(kho_root_node("kho-v2", tree.root, {{"memblock", 0x51000000, 0}}));
    ASSERT_TRUE(collect().is_ok());
    EXPECT_TRUE(protect.contains(0x51000000, 0x51001000));
}

TEST_F(ProtectedSetTest, KhoV1StateBothLayouts) {
    for (V1Layout layout : {V1Layout::Page, V1Layout::Bytes512}) {
        SCOPED_TRACE(layout == V1Layout::Page ? "page" : "512");
        FakePhysMem m;
        PageArena a(m, kArena, 16 << 20);
        std::mt19937_64 rng(7);
        std::vector<Block> blocks = random_sparse_blocks(rng, 150, 0, 10, 1ull << 32, 1ull << 36);
        V1List list = encode_v1(m, a, blocks, {layout, false});
        std::vector<uint8_t> sub = small_sub_fdt("memblock-v1", 0x1800);
        uint64_t sub_addr = place_bytes(m, a, sub);
        uint64_t fdt = place_bytes(m, a, build_fdt(kho_root_node("kho-v1", list.first, {{"memblock", sub_addr, 0}})));
        kho::KhoState st{};
        ASSERT_TRUE(kho::read_kho_fdt(m, fdt, &st).is_ok());
        std::vector<Range> store(4096);
        kho::RangeSet prot(store.data(), store.size());
        std::vector<uint64_t> sl(4096);
        kho::PageSet vis(sl.data(), sl.size());
        kho::ProtectStats ps{};
        kho::Status s = collect_into(m, st, {}, vis, prot, &ps);
        ASSERT_TRUE(s.is_ok()) << s.message();
        Expected e;
        e.add_blocks(blocks);
        e.add_page_list(list.metadata_pages());
        e.add(fdt, fdt + kPage);
        e.add_pages(sub_addr, 0x1800);
        EXPECT_EQ(std::vector<Range>(prot.begin(), prot.end()), e.ranges());
        EXPECT_EQ(ps.blocks, blocks.size());
        EXPECT_EQ(ps.map_pages, list.chunks.size());
        EXPECT_EQ(ps.leaf_pages, list.bitmaps.size());
        EXPECT_EQ(ps.v1_layout, layout == V1Layout::Page ? kho::abi::v1::BitmapLayout::Page
                                                         : kho::abi::v1::BitmapLayout::Bytes512);
    }
}

TEST_F(ProtectedSetTest, ExplicitV1LayoutIsHonoured) {
    // Page-aligned 512-byte objects look like page bitmaps to Auto; the
    // configuration can say otherwise (docs/kho-abi.md 4.4: only the producer's
    // kernel version tells).
    std::vector<Block> blocks = {{0x100000000ull, 0}};
    V1List list = encode_v1(mem, arena, blocks, {V1Layout::Bytes512, false});
    place_root(kho_root_node("kho-v1", list.first, {}));
    kho::ProtectOptions opt;
    opt.v1_bitmaps = kho::V1BitmapMode::Bytes512;
    ASSERT_TRUE(collect(opt).is_ok());
    EXPECT_EQ(stats.v1_layout, kho::abi::v1::BitmapLayout::Bytes512);
    EXPECT_TRUE(protect.contains(0x100000000ull, 0x100001000ull));
}

TEST_F(ProtectedSetTest, MultikernelProtectsItsFdtOnly) {
    uint64_t fdt = place_root(multikernel_root_node(small_sub_fdt("instance")));
    ASSERT_TRUE(collect().is_ok());
    EXPECT_EQ(got(), (std::vector<Range>{{fdt, fdt + kPage}}));
    EXPECT_EQ(stats.blocks, 0u);
}

TEST_F(ProtectedSetTest, MapErrorsAreReturned) {
    RadixTree tree = encode_radix(mem, arena, {{0x123456000ull, 0}});
    uint64_t l3 = tree.page_on_path(mem, 0x123456000ull, 0, 3);
    ASSERT_TRUE(mem.write_u64(l3 + 8, tree.root));
    place_root(kho_root_node("kho-v4", tree.root, {}));
    kho::Status s = collect();
    EXPECT_EQ(s.code(), Err::BadPointer) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), tree.root)) << s.message();
}

TEST_F(ProtectedSetTest, FullProtectSetIsACapacityError) {
    std::vector<Block> blocks;
    for (uint64_t i = 0; i < 64; ++i) blocks.push_back({0x100000000ull + i * 0x200000, 0});
    RadixTree tree = encode_radix(mem, arena, blocks);
    place_root(kho_root_node("kho-v4", tree.root, {}));
    std::vector<Range> small(16);
    kho::RangeSet tiny(small.data(), small.size());
    kho::Status s = collect_into(mem, state, {}, visited, tiny, &stats);
    EXPECT_EQ(s.code(), Err::Capacity) << s.message();
}

// Regression (issue 9, defect 1): with the set full and a range arriving
// out of order, RangeSet::add sorted and called itself forever. Order-1
// blocks high up, walked first (the radix walk goes from the highest order
// down), then order-0 blocks below them, every bit alternating so nothing
// coalesces: a Capacity error.
TEST_F(ProtectedSetTest, FullSetWithOutOfOrderRunsIsACapacityErrorNotAHang) {
    std::vector<Block> blocks;
    for (uint64_t i = 0; i < 8; ++i) blocks.push_back({0x200000000ull + 4 * i * kPage, 1});
    for (uint64_t i = 0; i < 32; ++i) blocks.push_back({0x100000000ull + 2 * i * kPage, 0});
    RadixTree tree = encode_radix(mem, arena, blocks);
    place_root(kho_root_node("kho-v4", tree.root, {}));
    std::vector<Range> small(16);
    kho::RangeSet tiny(small.data(), small.size());
    kho::Status s = collect_into(mem, state, {}, visited, tiny, &stats);
    EXPECT_EQ(s.code(), Err::Capacity) << s.message();
}

// Issue 9, defect 6: what the consumer would misread is refused. Linux
// keeps a preserved folio's order in its first page when it restores it:
// a page preserved twice is restored as whichever block came last.
TEST_F(ProtectedSetTest, PagePreservedAtThreeOrdersIsRefused) {
    const uint64_t p = 0x140000000ull;
    RadixTree tree = encode_radix(mem, arena, {{p, 0}, {p, 1}, {p, 4}});
    place_root(kho_root_node("kho-v4", tree.root, {}));
    kho::Status s = collect();
    ASSERT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_STREQ(s.message(), "0x140000000-0x140001000 is preserved twice (blocks or map pages overlap)");
}

TEST_F(ProtectedSetTest, BlockOverAMapPageIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x140000000ull, 0}});
    radix_add(mem, arena, tree, {tree.root, 0});
    place_root(kho_root_node("kho-v4", tree.root, {}));
    kho::Status s = collect();
    ASSERT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), tree.root)) << s.message();
}

TEST_F(ProtectedSetTest, LeafPointingAtTheRootFdtIsRefused) {
    // The reviewer's case: the FDT's bytes decoded as a leaf's bitmap.
    const uint64_t block = 0x140000000ull;
    RadixTree tree = encode_radix(mem, arena, {{block, 0}});
    uint64_t fdt = place_root(kho_root_node("kho-v4", tree.root, {}));
    uint64_t leaf = tree.page_on_path(mem, block, 0, 0);
    uint64_t table = tree.page_on_path(mem, block, 0, 1);
    bool patched = false;
    for (uint64_t slot = 0; slot < 512 && !patched; ++slot)
        if (mem.peek_u64(table + 8 * slot) == leaf) patched = mem.write_u64(table + 8 * slot, fdt);
    ASSERT_TRUE(patched);
    kho::Status s = collect();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), fdt)) << s.message();
}

TEST_F(ProtectedSetTest, SubBlobOnAMapPageIsRefused) {
    RadixTree tree = encode_radix(mem, arena, {{0x140000000ull, 0}});
    place_root(kho_root_node("kho-v4", tree.root, {{"LUO", tree.root + 0x100, 0x40}}));
    kho::Status s = collect();
    ASSERT_EQ(s.code(), Err::BadMap) << s.message();
    EXPECT_NE(std::string(s.message()).find("LUO: blob page"), std::string::npos) << s.message();
    EXPECT_TRUE(mentions_hex(s.message(), tree.root)) << s.message();
}

TEST_F(ProtectedSetTest, FdtAndBlobsMayBePreservedBlocks) {
    // What Linux does: the root FDT and each blob are preserved pages.
    const uint64_t blob = 0x30000000;
    RadixTree tree = encode_radix(mem, arena, {{blob, 1}});
    uint64_t fdt = place_root(kho_root_node("kho-v4", tree.root, {{"LUO", blob, 0x2000}}));
    radix_add(mem, arena, tree, {fdt, 0});
    kho::Status s = collect();
    ASSERT_TRUE(s) << s.message();
    EXPECT_TRUE(protect.contains(fdt, fdt + kPage));
    EXPECT_TRUE(protect.contains(blob, blob + 0x2000));
}

}  // namespace
