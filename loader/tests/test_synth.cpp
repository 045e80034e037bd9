// khotool synth (loader/tools/synth.h): every state it writes is read back
// from its own output files (the RAM blobs QEMU would load, the descriptor)
// and decoded with the loader's core (read_kho_fdt, collect_protected, the
// descriptor parser), which was written separately from synth's encoders;
// the decoded blocks and map pages must be exactly the ones synth placed,
// and the blobs must hold the manifest and the pattern bytes it promises.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "loader/crc32.h"
#include "loader/handover_descriptor.h"
#include "loader/kho_fdt_reader.h"
#include "loader/page_set.h"
#include "loader/protected_set.h"
#include "loader/range_set.h"
#include "loader/tests/fake_phys_mem.h"
#include "loader/tools/synth.h"
#include "test_kernel/shared/block_pattern.h"

// The unit-test binary links loader/tests/*.cpp and the core only (see the
// Makefile), not loader/tools/: the synth sources under test are compiled
// into this test's translation unit.
#include "loader/tools/synth.cpp"
#include "loader/tools/synth_output.cpp"

namespace {

namespace fs = std::filesystem;
namespace mf = tk::manifest;
using kho::synth::Format;
using kho::synth::Options;
using kho::synth::State;

using kho::synth::kPage;

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/test_synth.XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

// Guest RAM as QEMU would have it after -device loader: every blob file at
// its address; the arenas and scratch are RAM without bytes elsewhere.
struct LoadedState {
    khotest::FakePhysMem mem;
    std::vector<kho::synth::Blob> blobs;
};

void load(const Options& o, const std::string& dir, const std::vector<kho::synth::Blob>& blobs, LoadedState* out) {
    for (const auto& b : blobs) {
        std::ifstream f(dir + "/" + b.file, std::ios::binary);
        std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        ASSERT_EQ(bytes.size(), b.size) << b.file;
        ASSERT_TRUE(out->mem.add_backed(b.addr, b.size)) << b.file;
        ASSERT_TRUE(out->mem.write(b.addr, bytes.data(), bytes.size()));
    }
    for (const auto& a : o.arenas) out->mem.declare_ram(a.start, a.end - a.start);
    for (const auto& s : o.scratch) out->mem.declare_ram(s.addr, s.size);
    out->blobs = blobs;
}

// Records what the core's decoders report, one entry per block.
class RecordingSink : public kho::PreservedMemorySink {
public:
    std::set<std::pair<uint64_t, unsigned>> decoded;
    std::set<uint64_t> metadata_pages;
    uint64_t duplicates = 0;
    kho::Status blocks(uint64_t phys, unsigned order, uint64_t count) override {
        for (uint64_t i = 0; i < count; ++i)
            if (!decoded.insert({phys + i * (kPage << order), order}).second) ++duplicates;
        return kho::Status::ok();
    }
    kho::Status metadata(uint64_t phys, uint64_t size) override {
        for (uint64_t p = phys & ~(kPage - 1); p < phys + size; p += kPage) metadata_pages.insert(p);
        return kho::Status::ok();
    }
};

Options small_options(Format f, uint64_t seed) {
    Options o;
    o.format = f;
    o.blocks = 300;
    o.min_order = 0;
    o.max_order = 12;
    o.full_max_order = 3;
    o.seed = seed;
    return o;
}

// Builds, writes and reloads a state; checks the decoded map and metadata.
void round_trip(const Options& o) {
    State s;
    ASSERT_EQ(kho::synth::build_state(o, &s), "");
    TempDir tmp;
    std::vector<kho::synth::Blob> blobs;
    ASSERT_EQ(kho::synth::write_output(s, tmp.path, &blobs), "");
    LoadedState ram;
    load(o, tmp.path, blobs, &ram);

    auto* state = new kho::KhoState;
    std::unique_ptr<kho::KhoState> own(state);
    kho::Status st = kho::read_kho_fdt(ram.mem, s.fdt, state);
    ASSERT_TRUE(st) << st.message();
    EXPECT_EQ(state->version, kho::synth::format_version(o.format));
    ASSERT_EQ(state->subnode_count, 1u);
    EXPECT_STREQ(state->subnodes[0].name, mf::kSubnodeName);
    EXPECT_EQ(state->subnodes[0].blob_phys, s.blob);

    std::vector<uint64_t> slots(1 << 16, 0);
    kho::PageSet visited(slots.data(), slots.size());
    std::vector<kho::Range> storage(1 << 16);
    kho::RangeSet protect(storage.data(), storage.size());
    RecordingSink sink;
    kho::ProtectStats stats;
    st = kho::collect_protected(ram.mem, *state, kho::ProtectOptions{}, visited, sink, protect, &stats);
    ASSERT_TRUE(st) << st.message();

    std::set<std::pair<uint64_t, unsigned>> want;
    for (const auto& b : s.map_blocks) want.insert({b.phys, b.order});
    EXPECT_EQ(sink.duplicates, 0u);
    EXPECT_EQ(sink.decoded.size(), s.map_blocks.size());
    EXPECT_TRUE(sink.decoded == want) << "decoded map differs from synth's block list";
    std::set<uint64_t> meta;
    for (const auto& [p, page] : s.pages)
        if (p != s.fdt && !(p >= s.blob && p < s.blob + s.blob_size)) meta.insert(p);
    EXPECT_TRUE(sink.metadata_pages == meta) << sink.metadata_pages.size() << " vs " << meta.size();
    if (o.format == Format::V1Bytes512) {
        EXPECT_EQ(stats.v1_layout, kho::abi::v1::BitmapLayout::Bytes512);
    } else if (o.format == Format::V1Page) {
        EXPECT_EQ(stats.v1_layout, kho::abi::v1::BitmapLayout::Page);
    }

    // The manifest in RAM: header, CRCs and every entry as synth recorded.
    mf::Header h;
    ASSERT_TRUE(ram.mem.read(s.manifest, &h, sizeof(h)));
    EXPECT_EQ(h.magic, mf::kMagic);
    EXPECT_EQ(h.entry_count, s.entries.size());
    EXPECT_EQ(h.root_fdt, s.fdt);
    mf::Header zero = h;
    zero.header_crc32 = 0;
    EXPECT_EQ(kho::crc32(&zero, sizeof(zero)), h.header_crc32);
    std::vector<mf::Entry> entries(h.entry_count);
    ASSERT_TRUE(ram.mem.read(s.manifest + sizeof(h), entries.data(), entries.size() * sizeof(mf::Entry)));
    EXPECT_EQ(kho::crc32(entries.data(), entries.size() * sizeof(mf::Entry)), h.body_crc32);
    ASSERT_EQ(entries.size(), s.entries.size());
    EXPECT_EQ(std::memcmp(entries.data(), s.entries.data(), entries.size() * sizeof(mf::Entry)), 0);

    // Every written byte of every block is in the blobs, and its digest
    // matches the manifest.
    for (const auto& e : entries) {
        tk::pattern::Extents x = tk::pattern::extents(e.phys, e.order, e.fill);
        tk::pattern::Digest d;
        for (unsigned k = 0; k < x.count; ++k) {
            const uint8_t* v = ram.mem.view(x.start[k], x.len[k]);
            ASSERT_NE(v, nullptr) << std::hex << x.start[k];
            for (uint64_t w = 0; w < x.len[k] / 8; ++w) {
                uint64_t word;
                std::memcpy(&word, v + 8 * w, 8);
                ASSERT_EQ(word, tk::pattern::word_at(e.seed, x.start[k] + 8 * w));
                d.add(word);
            }
        }
        EXPECT_EQ(d.h, e.digest);
    }

    // The descriptor file names this state and passes the loader's parser.
    std::ifstream f(tmp.path / "descriptor.bin", std::ios::binary);
    std::vector<char> desc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    kho::HandoverDescriptor d;
    st = kho::parse_handover_descriptor(desc.data(), desc.size(), &d);
    ASSERT_TRUE(st) << st.message();
    EXPECT_EQ(d.fdt_addr, s.fdt);
    EXPECT_EQ(d.fdt_crc32, kho::crc32(ram.mem.view(s.fdt, kPage), kPage));
    ASSERT_EQ(d.scratch_count, o.scratch.size());
    for (size_t i = 0; i < o.scratch.size(); ++i) EXPECT_EQ(d.scratch[i].addr, o.scratch[i].addr);

    // Blobs never reach into scratch (QEMU rewrites them at every reset).
    for (const auto& b : blobs)
        for (const auto& sc : o.scratch) EXPECT_FALSE(b.addr < sc.addr + sc.size && sc.addr < b.addr + b.size);
}

TEST(Synth, KhoV4RoundTripsThroughTheCoreDecoders) { round_trip(small_options(Format::V4, 1)); }
TEST(Synth, KhoV3RoundTrips) { round_trip(small_options(Format::V3, 2)); }
TEST(Synth, KhoV2RoundTrips) { round_trip(small_options(Format::V2, 3)); }
TEST(Synth, KhoV1PageBitmapsRoundTrip) { round_trip(small_options(Format::V1Page, 4)); }
TEST(Synth, KhoV1Bytes512BitmapsRoundTrip) { round_trip(small_options(Format::V1Bytes512, 5)); }

TEST(Synth, HighOrdersAndManyBlocksRoundTrip) {
    Options o = small_options(Format::V4, 6);
    o.blocks = 3000;
    o.max_order = 14;
    o.cluster = 4;
    round_trip(o);
}

TEST(Synth, LayoutHasEveryOrderBothSidesOf4GiBAndScratchEdges) {
    Options o = small_options(Format::V4, 7);
    State s;
    ASSERT_EQ(kho::synth::build_state(o, &s), "");
    std::set<unsigned> orders;
    bool below = false, above = false;
    for (const auto& e : s.entries) {
        orders.insert(e.order);
        (e.phys < (1ull << 32) ? below : above) = true;
        for (const auto& sc : o.scratch)  // no block inside scratch
            EXPECT_FALSE(e.phys < sc.addr + sc.size && sc.addr < e.phys + (kPage << e.order));
    }
    EXPECT_EQ(orders.size(), o.max_order - o.min_order + 1);
    EXPECT_TRUE(below && above);
    for (const auto& sc : o.scratch) {
        bool touches_start = false, touches_end = false;
        for (const auto& e : s.entries) {
            touches_start |= e.phys + (kPage << e.order) == sc.addr;
            touches_end |= e.phys == sc.addr + sc.size;
        }
        EXPECT_TRUE(touches_start && touches_end) << std::hex << sc.addr;
    }
}

TEST(Synth, Order20BlockIsAlignedAndEdgeFilled) {
    Options o = small_options(Format::V4, 8);
    o.blocks = 40;
    o.max_order = 20;
    o.arenas = {{0x10000000, 0x70000000}, {0x100000000, 0x300000000}};
    o.scratch = {{0x40000000, 64ull << 20}, {0x50000000, 64ull << 20}};
    State s;
    ASSERT_EQ(kho::synth::build_state(o, &s), "");
    bool found = false;
    for (const auto& e : s.entries) {
        if (e.order != 20) continue;
        found = true;
        EXPECT_EQ(e.phys % (kPage << 20), 0u);
        EXPECT_EQ(e.fill, mf::kFillEdges);
    }
    EXPECT_TRUE(found);
    round_trip(o);
}

TEST(Synth, MultikernelFdtReadsAsMultikernel) {
    Options o = small_options(Format::Multikernel, 9);
    State s;
    ASSERT_EQ(kho::synth::build_state(o, &s), "");
    TempDir tmp;
    std::vector<kho::synth::Blob> blobs;
    ASSERT_EQ(kho::synth::write_output(s, tmp.path, &blobs), "");
    LoadedState ram;
    load(o, tmp.path, blobs, &ram);
    std::unique_ptr<kho::KhoState> state(new kho::KhoState);
    kho::Status st = kho::read_kho_fdt(ram.mem, s.fdt, state.get());
    ASSERT_TRUE(st) << st.message();
    EXPECT_EQ(state->version, kho::abi::KhoVersion::Multikernel1);
    EXPECT_TRUE(s.scratch.empty());
    std::ifstream f(tmp.path / "descriptor.bin", std::ios::binary);
    std::vector<char> desc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    kho::HandoverDescriptor d;
    ASSERT_TRUE(kho::parse_handover_descriptor(desc.data(), desc.size(), &d));
    EXPECT_TRUE(d.flags & kho::abi::descriptor::kFlagMultikernel);
    EXPECT_EQ(d.scratch_count, 0u);
}

TEST(Synth, RefusesWhatCannotBePlaced) {
    Options o = small_options(Format::V4, 10);
    o.arenas = {{0x10000000, 0x10800000}};  // 8 MiB: metadata area only
    State s;
    EXPECT_NE(kho::synth::build_state(o, &s), "");
    o = small_options(Format::V4, 10);
    o.scratch = {{0x40001000, 64ull << 20}};  // not 2 MiB aligned
    EXPECT_NE(kho::synth::build_state(o, &s), "");
    o = small_options(Format::V4, 10);
    o.min_order = 5;
    o.max_order = 4;
    EXPECT_NE(kho::synth::build_state(o, &s), "");
}

}  // namespace
