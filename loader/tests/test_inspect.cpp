// `khotool inspect` (loader/tools/inspect.cpp), run in-process on RAM dump
// files holding states built by the independent encoder
// (loader/tests/kho_encoder): the command line, the loader's verdicts
// (memory plan conflicts, scratch overlap, capacity), the streamed block
// listing and its documented order. scripts/test-khotool runs the built
// binary on real-Linux states and hostile variants.
#include <gtest/gtest.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "loader/tests/fake_phys_mem.h"
#include "loader/tests/kho_encoder.h"

// The unit-test binary links loader/tests/*.cpp and the core only (see the
// Makefile), not loader/tools/: the sources under test are compiled into
// this translation unit. JsonWriter comes from test_json_writer.cpp, which
// compiles json_writer.cpp.
#include "loader/tools/inspect.cpp"
#include "loader/tools/sparse_ram.cpp"

namespace {

namespace fs = std::filesystem;
using khotest::Block;

constexpr uint64_t kArena = 0x1000000;        // FDT, blob and map pages: the dump
constexpr uint64_t kArenaSize = 1 << 20;
constexpr uint64_t kBlocksBase = 0x100000000;  // preserved blocks: declared RAM
constexpr uint64_t kBlocksSize = 0x100000000;

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/test_inspect.XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

std::string hex(uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
    return buf;
}

// A kho-v4 state in a dump file: root FDT and one sub-blob (both preserved
// pages, as Linux has them) and the radix map in the dump, `blocks` in
// [kBlocksBase, +kBlocksSize), which the dump does not hold.
struct State {
    TempDir dir;
    uint64_t fdt = 0;
    uint64_t blob = 0;
    std::vector<Block> blocks;  // everything the map lists
    std::string ram;            // FILE@BASE

    std::vector<std::string> args(std::vector<std::string> extra = {}) const {
        std::vector<std::string> a = {"--fdt", hex(fdt), "--ram", ram};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
    std::vector<std::string> declared(std::vector<std::string> extra = {}) const {
        std::vector<std::string> a = args({"--declare-ram", hex(kBlocksBase) + ":" + hex(kBlocksSize)});
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
};

std::unique_ptr<State> make_state(const std::vector<Block>& blocks, uint64_t blob_phys = 0) {
    auto st = std::make_unique<State>();
    khotest::FakePhysMem mem;
    khotest::PageArena arena(mem, kArena, kArenaSize);
    st->fdt = arena.alloc_page();
    st->blob = blob_phys ? blob_phys : arena.alloc_page();
    st->blocks = blocks;
    st->blocks.push_back(Block{st->fdt, 0});
    if (!blob_phys) st->blocks.push_back(Block{st->blob, 0});
    khotest::RadixTree tree = khotest::encode_radix(mem, arena, st->blocks);
    std::vector<uint8_t> fdt = khotest::build_fdt(
        khotest::kho_root_node("kho-v4", tree.root, {{"kho_test", st->blob, 200}}));
    EXPECT_TRUE(mem.write(st->fdt, fdt.data(), fdt.size()));
    fs::path file = st->dir.path / "ram.bin";
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(mem.view(kArena, kArenaSize)), kArenaSize);
    st->ram = file.string() + "@" + hex(kArena);
    return st;
}

struct Outcome {
    int rc;
    std::string out, err;
    std::vector<std::string> err_lines() const {
        std::vector<std::string> lines;
        size_t pos = 0;
        while (pos < err.size()) {
            size_t nl = err.find('\n', pos);
            lines.push_back(err.substr(pos, nl == std::string::npos ? nl : nl - pos));
            if (nl == std::string::npos) break;
            pos = nl + 1;
        }
        return lines;
    }
};

Outcome inspect(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    int rc = kho::tools::khotool_inspect(int(args.size()), argv.data());
    fflush(stdout);
    fflush(stderr);
    Outcome r;
    r.rc = rc;
    r.out = testing::internal::GetCapturedStdout();
    r.err = testing::internal::GetCapturedStderr();
    return r;
}

// A refusal: exit 1, one "khotool: error KIND: ..." line, nothing on stdout.
void expect_refused(const Outcome& r, const std::string& kind, const std::string& contains = "") {
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_EQ(r.out, "");
    auto lines = r.err_lines();
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_EQ(lines[0].rfind("khotool: error " + kind + ": ", 0), 0u) << lines[0];
    if (!contains.empty()) {
        EXPECT_NE(lines[0].find(contains), std::string::npos) << lines[0];
    }
}

// The [[phys, size], ...] pairs of the "blocks" array, in listed order.
std::vector<std::pair<uint64_t, uint64_t>> listed_blocks(const std::string& json) {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    size_t pos = json.find("\"blocks\": [");
    EXPECT_NE(pos, std::string::npos);
    if (pos == std::string::npos) return out;
    pos += strlen("\"blocks\": [");
    while (json.compare(pos, 1, "[") == 0) {
        char* end = nullptr;
        uint64_t phys = strtoull(json.c_str() + pos + 1, &end, 10);
        EXPECT_EQ(strncmp(end, ", ", 2), 0);
        uint64_t size = strtoull(end + 2, &end, 10);
        EXPECT_EQ(*end, ']');
        out.emplace_back(phys, size);
        pos = size_t(end - json.c_str()) + 1;
        if (json.compare(pos, 2, ", ") == 0) pos += 2;
    }
    EXPECT_EQ(json.compare(pos, 1, "]"), 0) << json.substr(pos, 40);
    return out;
}

unsigned order_of(uint64_t size) { return unsigned(__builtin_ctzll(size) - 12); }

// `n` order-0 blocks two pages apart: n separate protected ranges.
std::vector<Block> isolated_pages(uint64_t n) {
    std::vector<Block> v;
    for (uint64_t i = 0; i < n; ++i) v.push_back(Block{kBlocksBase + i * 2 * 4096, 0});
    return v;
}

// --- command line ---------------------------------------------------------

TEST(InspectCli, HelpGoesToStdoutAndExitsZero) {
    for (const char* h : {"--help", "-h"}) {
        Outcome r = inspect({h});
        EXPECT_EQ(r.rc, 0);
        EXPECT_EQ(r.err, "");
        EXPECT_NE(r.out.find("usage: khotool inspect"), std::string::npos);
        EXPECT_NE(r.out.find("--declare-ram"), std::string::npos);
    }
}

TEST(InspectCli, UsageErrorsNameWhatIsWrong) {
    struct Case {
        std::vector<std::string> args;
        std::string named;
    };
    for (const Case& c : std::vector<Case>{
             {{"--frobnicate"}, "'--frobnicate'"},
             {{"-z"}, "'-z'"},
             {{"--fdt"}, "'--fdt' needs a value"},
             {{"--fdt", "zz", "--ram", "x"}, "--fdt zz"},
             {{"--fdt", "0x1000", "--ram", "x", "stray"}, "'stray'"},
             {{"--fdt", "0x1000"}, "--ram"},
             {{"--ram", "x"}, "--fdt"},
             {{"--fdt", "0x1000", "--ram", "x", "--scratch", "1:2,3"}, "--scratch"},
             {{"--fdt", "0x1000", "--ram", "x", "--declare-ram", "0xffffffffffffffff:2"},
              "--declare-ram"},
             {{"--fdt", "0x1000", "--ram", "x", "--max-ranges", "0"}, "--max-ranges"},
             {{"--fdt", "0x1000", "--ram", "x", "--v1-bitmaps", "1k"}, "--v1-bitmaps"},
         }) {
        Outcome r = inspect(c.args);
        EXPECT_EQ(r.rc, 2) << c.named;
        EXPECT_EQ(r.out, "");
        auto lines = r.err_lines();
        ASSERT_EQ(lines.size(), 1u) << r.err;
        EXPECT_EQ(lines[0].rfind("khotool: error usage: ", 0), 0u) << lines[0];
        EXPECT_NE(lines[0].find(c.named), std::string::npos) << lines[0];
    }
}

TEST(InspectCli, MissingRamFileIsAnIoError) {
    Outcome r = inspect({"--fdt", "0x1000", "--ram", "/nonexistent/ram.bin"});
    expect_refused(r, "io", "/nonexistent/ram.bin");
}

// --- the listing ----------------------------------------------------------

TEST(Inspect, ListsEveryBlockOnceInRadixKeyOrder) {
    std::mt19937_64 rng(11);
    auto blocks = khotest::random_sparse_blocks(rng, 3000, 0, 10, kBlocksBase,
                                                kBlocksBase + kBlocksSize);
    auto st = make_state(blocks);
    Outcome r = inspect(st->declared({"--json"}));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");
    auto listed = listed_blocks(r.out);
    // Order: largest blocks first, then by address (the radix key).
    auto key_order = listed;
    std::stable_sort(key_order.begin(), key_order.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    EXPECT_EQ(listed, key_order);
    std::vector<Block> got;
    for (auto [phys, size] : listed) got.push_back(Block{phys, order_of(size)});
    EXPECT_EQ(khotest::sorted(got), khotest::sorted(st->blocks));
}

TEST(Inspect, TextSummaryCountsBlocksPerOrder) {
    std::vector<Block> blocks = {{kBlocksBase, 3}, {kBlocksBase + 0x10000, 0},
                                 {kBlocksBase + 0x11000, 0}};
    auto st = make_state(blocks);
    Outcome r = inspect(st->declared());
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("preserved blocks: 5,"), std::string::npos) << r.out;  // + FDT and blob
    EXPECT_NE(r.out.find("order  0: 4"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("order  3: 1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("no conflicts"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("overlap check skipped"), std::string::npos) << r.out;
}

// --- the loader's verdicts ----------------------------------------------

TEST(Inspect, BlocksOutsideRamAreConflicts) {
    auto st = make_state({{kBlocksBase, 0}, {kBlocksBase + 0x200000, 9}});
    // No --declare-ram: the blocks lie where the modelled firmware lists nothing.
    expect_refused(inspect(st->args({"--json"})), "kho-conflict",
                   hex(kBlocksBase) + "-" + hex(kBlocksBase + 0x1000) + " owner=not-in-map conflicts=2");
    // RAM declared for the first block only.
    expect_refused(inspect(st->args({"--declare-ram", hex(kBlocksBase) + ":0x1000"})),
                   "kho-conflict", "owner=not-in-map");
    EXPECT_EQ(inspect(st->declared()).rc, 0);
}

TEST(Inspect, SubBlobOutsideRamIsRefused) {
    // A sub-blob in the PC's MMIO hole, where no RAM is declared. Either
    // the reader (RAM check) or the memory plan (conflict) refuses it.
    auto st = make_state({{kBlocksBase, 0}}, 0xfed00000);
    Outcome r = inspect(st->declared());
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.out, "");
    ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
    EXPECT_NE(r.err.find("0xfed00000"), std::string::npos) << r.err;
}

TEST(Inspect, ScratchChecks) {
    auto st = make_state({{kBlocksBase, 0}, {kBlocksBase + 0x200000, 9}});
    // Scratch over a preserved block.
    expect_refused(inspect(st->declared({"--scratch", hex(kBlocksBase + 0x300000) + ":0x200000"})),
                   "kho-overlap", "preserved " + hex(kBlocksBase + 0x300000));
    // Scratch that is not RAM.
    expect_refused(inspect(st->declared({"--scratch", "0xfe000000:0x100000"})), "kho-bad-property",
                   "scratch 0xfe000000-0xfe100000 is not RAM");
    // Clear scratch, in two repeatable options, one with a list.
    Outcome r = inspect(st->declared({"--scratch", hex(kBlocksBase + 0x400000) + ":0x100000",
                                  "--scratch",
                                  hex(kBlocksBase + 0x600000) + ":0x100000," +
                                      hex(kBlocksBase + 0x800000) + ":0"}));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("scratch: no preserved memory inside; 2 free ranges, 2097152 bytes"),
              std::string::npos)
        << r.out;
}

// --- capacity ---------------------------------------------------------------

// More ranges than the first storage holds: it grows, and the state passes.
TEST(Inspect, StorageGrowsWithTheProtectedSet) {
    auto st = make_state(isolated_pages(10000));
    Outcome r = inspect(st->declared());
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("protect: 10001 ranges"), std::string::npos) << r.out.substr(0, 600);
}

TEST(Inspect, MaxRangesIsReportedAsCapacity) {
    auto st = make_state(isolated_pages(10000));
    expect_refused(inspect(st->declared({"--max-ranges", "5000", "--json"})), "capacity",
                   "(--max-ranges 5000)");
    EXPECT_EQ(inspect(st->declared({"--max-ranges", "10001"})).rc, 0);
}

// khoboot.efi protects into 32768 ranges: a state it cannot hold is
// refused under --loader-limits and accepted without.
// khoboot protects per free region and sizes its exact set from the state
// (loader/protection_plan.h): more separate ranges than its old fixed
// 32768 fit, under --loader-limits too; --max-ranges still caps inspect.
TEST(Inspect, LoaderLimits) {
    auto st = make_state(isolated_pages(33000));
    EXPECT_EQ(inspect(st->declared({"--loader-limits"})).rc, 0);
    EXPECT_EQ(inspect(st->declared()).rc, 0);
    expect_refused(inspect(st->declared({"--max-ranges", "1000"})), "capacity", "1000");
}

// Orders interleaved so that ranges coalesce only across orders: the set
// holds twice the final count before it is normalized. Growth must not
// re-sort it for every range (this finishes in well under a second).
TEST(Inspect, CoalescingAcrossOrdersStaysCheap) {
    std::vector<Block> blocks;
    for (uint64_t i = 0; i < 6000; ++i) {
        uint64_t base = kBlocksBase + i * 0x4000;  // 16 KiB, filled:
        blocks.push_back(Block{base, 1});           // 8 KiB of order 1,
        blocks.push_back(Block{base + 0x2000, 0});  // then two pages
        blocks.push_back(Block{base + 0x3000, 0});
    }
    auto st = make_state(blocks);
    Outcome r = inspect(st->declared());
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("protect: 2 ranges"), std::string::npos) << r.out.substr(0, 600);
}

}  // namespace
