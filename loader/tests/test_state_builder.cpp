// The KHO state builder both producers use (test_kernel/shared/
// state_builder.h): a state built into a FakePhysMem is read back with the
// loader core (read_kho_fdt, collect_protected, check_kho_fdt_blob), which
// was written separately from the builder's encoders, and the test manifest
// is parsed from RAM by hand (libfdt's read API for the kho-v1 sub-FDT).
// The oracle is what the test asked for (blocks, edges, kept and retired
// records), never the builder's own bookkeeping.
#include <gtest/gtest.h>
#include <libfdt.h>

#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "loader/crc32.h"
#include "loader/kho_fdt_reader.h"
#include "loader/page_set.h"
#include "loader/protected_set.h"
#include "loader/range_set.h"
#include "loader/tests/fake_phys_mem.h"
#include "test_kernel/shared/state_builder.h"

namespace {

namespace mf = tk::manifest;
namespace st = tk::state;
using Block = std::pair<uint64_t, unsigned>;  // phys, order
constexpr uint64_t kPage = 4096;

// Scratch at 1 GiB with 16 MiB of allowed RAM on each side; metadata in
// its own area at 256 MiB.
constexpr kho::abi::KhoScratch kScratch = {0x40000000, 64ull << 20};
constexpr uint64_t kBelow = 0x3f000000, kAbove = 0x44000000, kSide = 16ull << 20;
constexpr uint64_t kMeta = 0x10000000, kMetaSize = 8ull << 20;

// The builder's Env over a FakePhysMem; claim() allows the two windows
// beside scratch and refuses what is already taken.
struct TestEnv {
    khotest::FakePhysMem& mem;
    uint64_t next = kMeta;
    std::vector<std::pair<uint64_t, uint64_t>> taken;

    uint64_t alloc_meta(uint64_t bytes) {
        uint64_t size = (bytes + kPage - 1) & ~(kPage - 1);
        if (next + size > kMeta + kMetaSize) return 0;
        next += size;
        return next - size;
    }
    uint64_t alloc_page() { return alloc_meta(kPage); }
    uint64_t* page(uint64_t phys) { return reinterpret_cast<uint64_t*>(mem.mutable_view(phys, kPage)); }
    uint8_t* bytes(uint64_t phys, uint64_t len) { return mem.mutable_view(phys, len); }
    bool is_free(uint64_t at, uint64_t size) const {
        for (const auto& [s, e] : taken)
            if (at < e && s < at + size) return false;
        return true;
    }
    bool claim(uint64_t at, uint64_t size) {
        bool inside = (at >= kBelow && at + size <= kBelow + kSide) || (at >= kAbove && at + size <= kAbove + kSide);
        if (!inside || !is_free(at, size)) return false;
        taken.push_back({at, at + size});
        return true;
    }
    uint64_t* block_words(uint64_t phys, uint64_t len) {
        return reinterpret_cast<uint64_t*>(mem.mutable_view(phys, len));
    }
};

struct Machine {
    khotest::FakePhysMem mem;
    TestEnv env{mem};
    Machine() {
        EXPECT_TRUE(mem.add_backed(kMeta, kMetaSize));
        EXPECT_TRUE(mem.add_backed(kBelow, kSide));
        EXPECT_TRUE(mem.add_backed(kAbove, kSide));
        mem.declare_ram(kScratch.addr, kScratch.size);
    }
    // Lowest free naturally aligned slot in the window below scratch.
    uint64_t place(unsigned order) {
        uint64_t size = kPage << order;
        for (uint64_t at = kBelow; at + size <= kBelow + kSide; at += size)
            if (env.claim(at, size)) return at;
        ADD_FAILURE() << "test window full";
        return 0;
    }
};

st::Format format(const char* name) {
    st::Format f;
    EXPECT_TRUE(st::find_format(name, &f)) << name;
    return f;
}

st::Config config(const st::Format& f) { return st::Config{f, 3, 77, 2, &kScratch, 1}; }

// Records what the core's decoders report, one entry per block.
class RecordingSink : public kho::PreservedMemorySink {
public:
    std::multiset<Block> decoded;
    std::set<uint64_t> metadata_pages;
    kho::Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        for (uint64_t i = 0; i < count; ++i) decoded.insert({phys + i * (kPage << order), order});
        return kho::Status::ok();
    }
    kho::Status metadata(uint64_t phys, uint64_t size) override {
        for (uint64_t p = phys & ~(kPage - 1); p < phys + size; p += kPage) metadata_pages.insert(p);
        return kho::Status::ok();
    }
};

struct Decoded {
    std::unique_ptr<kho::KhoState> state{new kho::KhoState};
    RecordingSink sink;
    kho::ProtectStats stats;
    uint64_t manifest = 0;  // phys of the manifest bytes, found through the FDTs
};

// The manifest's address through the root FDT the core read: kho-v2+ the
// sub-node's blob, kho-v1 the "manifest" property of its sub-FDT.
uint64_t find_manifest(const Machine& m, const kho::KhoState& s) {
    const kho::KhoSubnode& sub = s.subnodes[0];
    if (s.version != kho::abi::KhoVersion::V1) return sub.blob_phys;
    const uint8_t* fdt = m.mem.view(sub.blob_phys, sub.blob_size);
    EXPECT_TRUE(kho::check_kho_fdt_blob(fdt, sub.blob_size, "manifest sub-FDT", sub.blob_phys));
    EXPECT_EQ(fdt_getprop(fdt, 0, st::kAlignPadProperty, nullptr), nullptr) << "padding left as a property";
    int len = 0;
    const void* v = fdt_getprop(fdt, 0, mf::kSubFdtProperty, &len);
    EXPECT_NE(v, nullptr);
    return v ? sub.blob_phys + uint64_t(static_cast<const uint8_t*>(v) - fdt) : 0;
}

void decode(const Machine& m, uint64_t fdt, Decoded* d) {
    kho::Status s = kho::read_kho_fdt(m.mem, fdt, d->state.get());
    ASSERT_TRUE(s) << s.message();
    ASSERT_EQ(d->state->subnode_count, 1u);
    EXPECT_STREQ(d->state->subnodes[0].name, mf::kSubnodeName);
    std::vector<uint64_t> slots(1 << 14, 0);
    kho::PageSet visited(slots.data(), slots.size());
    std::vector<kho::Range> storage(1 << 14);
    kho::RangeSet protect(storage.data(), storage.size());
    s = kho::collect_protected(m.mem, *d->state, kho::ProtectOptions{}, visited, d->sink, protect, &d->stats);
    ASSERT_TRUE(s) << s.message();
    d->manifest = find_manifest(m, *d->state);
}

// The decoded blocks that are not data blocks must be the root FDT page
// and the page run holding the manifest blob (plus at most one page of
// kho-v1 wrapper slack), nothing else; map pages lie outside all of them.
void expect_metadata_blocks(const Machine& m, const Decoded& d, const std::multiset<Block>& data, uint64_t fdt) {
    std::set<uint64_t> own_pages;
    for (const auto& [phys, order] : d.sink.decoded) {
        if (data.count({phys, order})) continue;
        for (uint64_t p = phys; p < phys + (kPage << order); p += kPage) {
            EXPECT_TRUE(own_pages.insert(p).second);
        }
    }
    const kho::KhoSubnode& sub = d.state->subnodes[0];
    uint64_t size = sub.blob_size;  // kho-v1: sub-FDT totalsize; kho-v3+: blob-size
    if (d.state->version == kho::abi::KhoVersion::V2) size = m.mem.peek_u64(sub.blob_phys + offsetof(mf::Header, total_size));
    std::set<uint64_t> need = {fdt};
    for (uint64_t p = sub.blob_phys & ~(kPage - 1); p < sub.blob_phys + size; p += kPage) need.insert(p);
    for (uint64_t p : need) EXPECT_TRUE(own_pages.count(p)) << std::hex << "metadata page 0x" << p << " not preserved";
    EXPECT_LE(own_pages.size(), need.size() + 1);
    for (uint64_t p : d.sink.metadata_pages) EXPECT_FALSE(own_pages.count(p)) << "map page inside a block";
}

// Parses the manifest at `at` by hand and checks it against the request.
void expect_manifest(const Machine& m, uint64_t at, uint64_t fdt, const std::multiset<Block>& data,
                     const std::vector<mf::Retired>& retired) {
    ASSERT_EQ(at % 8, 0u) << "manifest not 8-byte aligned";
    mf::Header h;
    ASSERT_TRUE(m.mem.read(at, &h, sizeof(h)));
    EXPECT_EQ(h.magic, mf::kMagic);
    EXPECT_EQ(h.root_fdt, fdt);
    EXPECT_EQ(h.hop, 3u);
    EXPECT_EQ(h.scratch_count, 1u);
    EXPECT_EQ(h.scratch[0].addr, kScratch.addr);
    ASSERT_EQ(h.entry_count, data.size());
    ASSERT_EQ(h.retired_count, retired.size());
    mf::Header zero = h;
    zero.header_crc32 = 0;
    EXPECT_EQ(kho::crc32(&zero, sizeof(zero)), h.header_crc32);
    const uint8_t* body = m.mem.view(at + sizeof(h), h.total_size - sizeof(h));
    ASSERT_NE(body, nullptr);
    EXPECT_EQ(kho::crc32(body, h.total_size - sizeof(h)), h.body_crc32);
    std::vector<mf::Entry> e(h.entry_count);
    std::memcpy(e.data(), body, e.size() * sizeof(mf::Entry));
    std::multiset<Block> listed;
    for (size_t i = 0; i < e.size(); ++i) {
        listed.insert({e[i].phys, e[i].order});
        if (i) {
            EXPECT_LT(e[i - 1].phys, e[i].phys) << "entries not sorted by address";
        }
    }
    EXPECT_TRUE(listed == data);
    for (size_t i = 0; i < retired.size(); ++i) {
        mf::Retired r;
        std::memcpy(&r, body + e.size() * sizeof(mf::Entry) + i * sizeof(r), sizeof(r));
        EXPECT_EQ(r.phys, retired[i].phys);
        EXPECT_EQ(r.order, retired[i].order);
    }
}

// Every entry's written words are the pattern of its seed at their own
// address, and their FNV digest is the entry's.
void expect_patterns(const Machine& m, uint64_t at) {
    mf::Header h;
    ASSERT_TRUE(m.mem.read(at, &h, sizeof(h)));
    std::vector<mf::Entry> e(h.entry_count);
    ASSERT_TRUE(m.mem.read(at + sizeof(h), e.data(), e.size() * sizeof(mf::Entry)));
    for (const auto& x : e) {
        uint64_t size = kPage << x.order;
        bool whole = x.fill == mf::kFillFull || size <= 2 * kPage;
        EXPECT_EQ(x.fill, x.order <= 2 ? mf::kFillFull : mf::kFillEdges);
        uint64_t fnv = 0xcbf29ce484222325ull;
        for (uint64_t off = 0; off < size; off += 8) {
            if (!whole && off >= kPage && off < size - kPage) continue;
            uint64_t w = m.mem.peek_u64(x.phys + off);
            ASSERT_EQ(w, tk::pattern::word_at(x.seed, x.phys + off)) << std::hex << x.phys + off;
            fnv = (fnv ^ w) * 0x100000001b3ull;
        }
        EXPECT_EQ(fnv, x.digest) << std::hex << x.phys;
    }
}

// Builds a state of `orders` new blocks (edges first, up to max_edges),
// decodes it and checks everything; returns the edge blocks placed.
std::vector<Block> build_and_check(const char* name, const std::vector<uint8_t>& orders, uint32_t max_edges) {
    Machine m;
    st::Builder<TestEnv> b(m.env, config(format(name)));
    std::vector<uint64_t> at(orders.size(), 0);
    uint32_t edges = b.place_edge_blocks(orders.data(), orders.size(), max_edges, at.data());
    std::vector<Block> edge_blocks;
    std::multiset<Block> data;
    for (size_t i = 0; i < orders.size(); ++i) {
        if (at[i]) edge_blocks.push_back({at[i], orders[i]});
        else at[i] = m.place(orders[i]);
        data.insert({at[i], orders[i]});
    }
    EXPECT_EQ(edges, edge_blocks.size());
    EXPECT_EQ(b.reserve(orders.size(), 0), nullptr);
    for (size_t i = 0; i < orders.size(); ++i) EXPECT_EQ(b.add_block(i, at[i], orders[i]), nullptr);
    EXPECT_EQ(b.finish(), nullptr);

    Decoded d;
    decode(m, b.fdt(), &d);
    if (::testing::Test::HasFatalFailure()) return edge_blocks;
    EXPECT_STREQ(d.state->compatible, format(name).compatible);
    for (const Block& blk : data) EXPECT_EQ(d.sink.decoded.count(blk), 1u) << std::hex << blk.first;
    expect_metadata_blocks(m, d, data, b.fdt());
    expect_manifest(m, d.manifest, b.fdt(), data, {});
    expect_patterns(m, d.manifest);
    if (format(name).v1()) {
        EXPECT_EQ(d.stats.v1_layout, format(name).v1_layout);
    }
    return edge_blocks;
}

std::vector<uint8_t> mixed_orders() {
    std::vector<uint8_t> o;
    for (unsigned i = 0; i < 60; ++i) o.push_back(uint8_t((i * 3) % 7));  // 0..6, interleaved
    return o;
}

TEST(StateBuilder, KhoV4StateDecodesToExactlyTheRequestedBlocks) {
    build_and_check("kho-v4", mixed_orders(), 2);
}
TEST(StateBuilder, KhoV3StateDecodes) { build_and_check("kho-v3", mixed_orders(), 2); }
TEST(StateBuilder, KhoV2StateDecodes) { build_and_check("kho-v2", mixed_orders(), 2); }
TEST(StateBuilder, KhoV1PageBitmapStateDecodes) { build_and_check("kho-v1", mixed_orders(), 2); }
TEST(StateBuilder, KhoV1Bytes512StateDecodes) { build_and_check("kho-v1-512", mixed_orders(), 2); }

TEST(StateBuilder, EdgeBlocksTouchScratchInOrderAndSkipOrdersTooBigForTheEdge) {
    // Order 10 (4 MiB) is not aligned against a 2 MiB-aligned edge in
    // general, so it is passed over; the next two blocks take the edges.
    std::vector<uint8_t> orders = {10, 3, 1, 0, 5};
    std::vector<Block> e = build_and_check("kho-v4", orders, 2);
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0], Block(kScratch.addr - (kPage << 3), 3));
    EXPECT_EQ(e[1], Block(kScratch.addr + kScratch.size, 1));
    // max_edges bounds them; kho-v1 the same way
    e = build_and_check("kho-v1", orders, 1);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], Block(kScratch.addr - (kPage << 3), 3));
}

TEST(StateBuilder, EdgeTakenAlreadyIsLeftOut) {
    Machine m;
    ASSERT_TRUE(m.env.claim(kScratch.addr - kPage, kPage));  // the page right below scratch is someone's
    st::Builder<TestEnv> b(m.env, config(format("kho-v4")));
    std::vector<uint8_t> orders = {0, 0, 0};
    std::vector<uint64_t> at(3, 0);
    EXPECT_EQ(b.place_edge_blocks(orders.data(), orders.size(), 2, at.data()), 1u);
    EXPECT_EQ(at[0], kScratch.addr + kScratch.size);  // the low edge refused, the high one taken
    EXPECT_EQ(at[1], 0u);
}

TEST(StateBuilder, KeptAndRetiredRecordsReachTheManifestRetiredBlocksLeaveTheMap) {
    for (const char* name : {"kho-v4", "kho-v1"}) {
        Machine m;
        st::Builder<TestEnv> b(m.env, config(format(name)));
        // An inherited block with its own seed and hop, its pattern in place.
        uint64_t old_at = m.place(1), gone_at = m.place(0), new_at = m.place(2);
        mf::Entry old{old_at, 1, mf::kFillFull, 1, 0, 0x1234, 0};
        tk::pattern::Digest dg;
        tk::pattern::fill(m.env.block_words(old_at, 2 * kPage), old_at, 2 * kPage, old.seed, &dg);
        old.digest = dg.h;
        ASSERT_EQ(b.reserve(2, 1), nullptr);
        EXPECT_EQ(b.keep(old), nullptr);
        EXPECT_EQ(b.retire(gone_at, 0), nullptr);
        EXPECT_EQ(b.add_block(0, new_at, 2), nullptr);
        ASSERT_EQ(b.finish(), nullptr);
        Decoded d;
        decode(m, b.fdt(), &d);
        std::multiset<Block> data = {{old_at, 1}, {new_at, 2}};
        for (const Block& blk : data) EXPECT_EQ(d.sink.decoded.count(blk), 1u) << name;
        EXPECT_EQ(d.sink.decoded.count({gone_at, 0}), 0u) << name << ": retired block still in the map";
        expect_manifest(m, d.manifest, b.fdt(), data, {{gone_at, 0}});
        expect_patterns(m, d.manifest);
    }
}

TEST(StateBuilder, RecordsThatDifferFromTheReservationAreRefused) {
    Machine m;
    st::Builder<TestEnv> b(m.env, config(format("kho-v4")));
    ASSERT_EQ(b.reserve(2, 0), nullptr);
    EXPECT_EQ(b.add_block(0, m.place(0), 0), nullptr);
    EXPECT_NE(b.finish(), nullptr);  // one block short
    EXPECT_EQ(b.add_block(1, m.place(0), 0), nullptr);
    EXPECT_NE(b.add_block(2, m.place(0), 0), nullptr);  // one too many
    EXPECT_NE(b.retire(m.place(0), 0), nullptr);        // none reserved
}

TEST(StateBuilder, NoRoomForTheMetadataIsAnError) {
    Machine m;
    m.env.next = kMeta + kMetaSize - kPage;  // room for the FDT page only
    st::Builder<TestEnv> b(m.env, config(format("kho-v4")));
    EXPECT_NE(b.reserve(10, 0), nullptr);
}

}  // namespace
