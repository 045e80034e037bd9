// `khotool export` (loader/tools/export.h): its pure parts on RAM images
// rebuilt from the real Linux 7.2.13 vectors (loader/tests/vectors/
// linux-7.2.13-*: the root FDT page, radix pages and sub-blobs as Linux A
// left them, plus the truncated debugfs kho/out/fdt copy its init printed),
// and the whole command against files standing in for debugfs, /dev/mem,
// /proc/iomem and efivarfs.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "abi/handover_descriptor.h"
#include "abi/integrity_manifest.h"
#include "loader/crc32.h"
#include "loader/handover_descriptor.h"
#include "loader/integrity_manifest.h"
#include "loader/kho_fdt_reader.h"
#include "loader/ram_probe.h"
#include "loader/tests/fake_phys_mem.h"
#include "loader/tools/export.h"

namespace {

using kho::Err;
using kho::Range;
using kho::abi::KhoScratch;
namespace ex = kho::tools::exporting;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kRamTop = 24ull << 20;   // every vector address lies below 16 MiB
constexpr uint64_t kFreePage = 20ull << 20;  // RAM that holds nothing preserved

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Every decimal number in a JSON text, in order. (No std::regex: GCC 12
// reports false maybe-uninitialized warnings inside it under ASan.)
std::vector<uint64_t> numbers(const std::string& text) {
    std::vector<uint64_t> out;
    for (size_t i = 0; i < text.size();) {
        if (!isdigit(uint8_t(text[i]))) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < text.size() && isdigit(uint8_t(text[j]))) ++j;
        out.push_back(std::stoull(text.substr(i, j - i)));
        i = j;
    }
    return out;
}

// The JSON value after "key": up to the matching bracket or the comma.
std::string json_field(const std::string& text, const std::string& key) {
    size_t at = text.find("\"" + key + "\":");
    if (at == std::string::npos) return "";
    size_t p = at + key.size() + 3;
    while (text[p] == ' ' || text[p] == '\n') ++p;
    if (text[p] != '[') return text.substr(p, text.find_first_of(",}", p) - p);
    int depth = 0;
    size_t q = p;
    do {
        if (text[q] == '[') ++depth;
        if (text[q] == ']') --depth;
        ++q;
    } while (depth && q < text.size());
    return text.substr(p, q - p);
}

// One captured state: what Linux A left in RAM and what its init printed.
struct Vector {
    std::string dir;
    uint64_t fdt = 0, map_root = 0;
    std::vector<KhoScratch> scratch;
    std::vector<std::pair<uint64_t, uint64_t>> blocks;  // [phys, size] Linux B reserved
    std::vector<uint64_t> metadata_pages;
    std::vector<std::pair<uint64_t, std::string>> ram_files;  // addr, bytes
    std::vector<uint8_t> debugfs_fdt;  // kho/out/fdt as Linux A read it (truncated)
};

Vector load_vector(const std::string& name) {
    Vector v;
    v.dir = "loader/tests/vectors/" + name;
    std::string state = slurp(v.dir + "/state.json");
    EXPECT_FALSE(state.empty()) << "missing " << v.dir << " (run the tests from the repository root)";
    v.fdt = std::stoull(json_field(state, "fdt"));
    v.map_root = std::stoull(json_field(state, "map_root"));
    std::vector<uint64_t> s = numbers(json_field(state, "scratch"));
    for (size_t i = 0; i + 1 < s.size(); i += 2) v.scratch.push_back(KhoScratch{s[i], s[i + 1]});
    std::vector<uint64_t> b = numbers(slurp(v.dir + "/expected-blocks.json"));
    for (size_t i = 0; i + 1 < b.size(); i += 2) v.blocks.push_back({b[i], b[i + 1]});
    v.metadata_pages = numbers(slurp(v.dir + "/metadata-pages.json"));
    // ["ram-0x2a1000.bin", 2756608], ...
    std::string files = json_field(state, "ram_files");
    for (size_t at = files.find('"'); at != std::string::npos; at = files.find('"', at)) {
        size_t end = files.find('"', at + 1);
        std::string file = files.substr(at + 1, end - at - 1);
        size_t comma = files.find(',', end);
        v.ram_files.push_back({std::stoull(files.substr(comma + 1)), slurp(v.dir + "/" + file)});
        at = files.find(']', end);
    }
    // "KHOINIT: out-fdt-hex OFFSET HEX" lines of Linux A's serial log
    // (scripts/linux/kho-init.c print_hex_blob()).
    std::istringstream log(slurp(v.dir + "/linux-a.log"));
    const std::string tag = "KHOINIT: out-fdt-hex ";
    for (std::string line; std::getline(log, line);) {
        if (line.compare(0, tag.size(), tag) != 0) continue;
        std::istringstream fields(line.substr(tag.size()));
        std::string offset, h;
        fields >> offset >> h;
        EXPECT_EQ(std::stoull(offset, nullptr, 16), v.debugfs_fdt.size());
        for (size_t i = 0; i + 1 < h.size(); i += 2)
            v.debugfs_fdt.push_back(uint8_t(std::stoul(h.substr(i, 2), nullptr, 16)));
    }
    return v;
}

// Guest RAM as Linux A left it: preserved blocks hold pseudo-random bytes
// (the vector keeps only their addresses), the captured pages hold their
// real bytes, the scratch regions are RAM without contents.
void fill_ram(khotest::FakePhysMem& mem, const Vector& v, uint64_t seed = 1) {
    ASSERT_TRUE(mem.add_backed(0x100000, kRamTop - 0x100000));
    std::mt19937_64 rng(seed);
    for (auto [phys, size] : v.blocks) {
        std::vector<uint64_t> words(size / 8);
        for (uint64_t& w : words) w = rng();
        ASSERT_TRUE(mem.write(phys, words.data(), size));
    }
    for (const auto& [addr, bytes] : v.ram_files) ASSERT_TRUE(mem.write(addr, bytes.data(), bytes.size()));
    for (const KhoScratch& s : v.scratch)
        if (s.size) mem.declare_ram(s.addr, s.size);
}

// The copy with its last byte changed: the header still parses, the tail
// (which lies past the root properties) no longer matches the page.
std::vector<uint8_t> with_changed_tail(const std::vector<uint8_t>& bytes) {
    std::vector<uint8_t> copy = bytes;
    if (!copy.empty()) copy[copy.size() - 1] = uint8_t(copy[copy.size() - 1] ^ 0x5a);
    return copy;
}

class ExportVector : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        v = load_vector(GetParam());
        ASSERT_FALSE(v.debugfs_fdt.empty());
        fill_ram(mem, v);
    }
    Vector v;
    khotest::FakePhysMem mem;
};

TEST_P(ExportVector, DebugfsCopyIsTruncatedButNamesTheMapRoot) {
    ex::RootPrefix rp;
    ASSERT_TRUE(ex::parse_root_prefix(v.debugfs_fdt.data(), v.debugfs_fdt.size(), &rp));
    // The finding this tool exists for: 7.2's debugfs copy is shorter than
    // the live FDT, whose header it still carries.
    EXPECT_LT(v.debugfs_fdt.size(), rp.totalsize);
    EXPECT_EQ(rp.u64_values, std::vector<uint64_t>{v.map_root});
    EXPECT_EQ(rp.strings, std::vector<std::string>{"kho-v4"});
}

TEST_P(ExportVector, FindsTheRootFdtPageThroughTheMap) {
    ex::FdtLocation loc;
    kho::Status s = ex::locate_root_fdt(mem, v.debugfs_fdt.data(), v.debugfs_fdt.size(), &loc);
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(loc.fdt_addr, v.fdt);
    EXPECT_EQ(loc.map_root, v.map_root);
    size_t order0 = 0;
    for (auto [phys, size] : v.blocks) order0 += size == kPage;
    EXPECT_EQ(loc.order0_blocks, order0);
}

TEST_P(ExportVector, RefusesACopyNoPreservedPageHolds) {
    std::vector<uint8_t> copy = with_changed_tail(v.debugfs_fdt);
    ex::FdtLocation loc;
    kho::Status s = ex::locate_root_fdt(mem, copy.data(), copy.size(), &loc);
    EXPECT_EQ(s.code(), Err::Stale);
    EXPECT_NE(std::string(s.message()).find("holds the"), std::string::npos) << s.message();
}

TEST_P(ExportVector, RefusesTwoPreservedPagesWithTheSameBytes) {
    uint64_t other = 0;
    for (auto [phys, size] : v.blocks)
        if (size == kPage && phys != v.fdt && (!other || phys > other)) other = phys;
    ASSERT_NE(other, 0u);
    ASSERT_TRUE(mem.write(other, mem.view(v.fdt, kPage), kPage));
    ex::FdtLocation loc;
    kho::Status s = ex::locate_root_fdt(mem, v.debugfs_fdt.data(), v.debugfs_fdt.size(), &loc);
    EXPECT_EQ(s.code(), Err::BadFdt) << s.message();
    EXPECT_NE(std::string(s.message()).find("2 preserved pages"), std::string::npos) << s.message();
}

TEST_P(ExportVector, IgnoresCopiesOutsidePreservedMemory) {
    // A stale copy of the FDT in free memory (e.g. the kernel's own buffer
    // behind the debugfs read) must not be taken for the preserved page.
    uint64_t free_page = kFreePage;
    for (auto [phys, size] : v.blocks) ASSERT_FALSE(phys <= free_page && free_page < phys + size);
    ASSERT_TRUE(mem.write(free_page, mem.view(v.fdt, kPage), kPage));
    ex::FdtLocation loc;
    ASSERT_TRUE(ex::locate_root_fdt(mem, v.debugfs_fdt.data(), v.debugfs_fdt.size(), &loc));
    EXPECT_EQ(loc.fdt_addr, v.fdt);
}

TEST_P(ExportVector, PlanCarriesTheStateAndAManifestThatCatchesChanges) {
    ex::ExportPlan plan;
    kho::Status s = ex::plan_export(mem, v.fdt, v.scratch, ex::ManifestLevel::Full, ex::kManifestBudget, &plan);
    ASSERT_TRUE(s) << s.message();
    EXPECT_STREQ(plan.compatible, "kho-v4");
    EXPECT_EQ(plan.blocks, v.blocks.size());
    EXPECT_EQ(plan.metadata_pages, v.metadata_pages.size());

    kho::HandoverDescriptor d;
    ASSERT_TRUE(kho::parse_handover_descriptor(plan.descriptor.data(), plan.descriptor.size(), &d));
    EXPECT_EQ(d.fdt_addr, v.fdt);
    EXPECT_EQ(d.fdt_size, kPage);
    EXPECT_EQ(d.flags, uint32_t(kho::abi::descriptor::kFlagFdtCrc));
    EXPECT_EQ(d.fdt_crc32, kho::crc32(mem.view(v.fdt, kPage), kPage));
    ASSERT_EQ(d.scratch_count, v.scratch.size());  // zero-size entries kept, in order
    for (size_t i = 0; i < v.scratch.size(); ++i) {
        EXPECT_EQ(d.scratch[i].addr, v.scratch[i].addr);
        EXPECT_EQ(d.scratch[i].size, v.scratch[i].size);
    }

    // Entries cover exactly the map pages + FDT + sub-blobs (metadata) and
    // the blocks (data).
    kho::ManifestView view;
    ASSERT_TRUE(kho::parse_manifest(plan.manifest.data(), plan.manifest.size(), &view));
    EXPECT_EQ(plan.manifest_level, ex::ManifestLevel::Full);
    std::set<uint64_t> meta_pages, data_pages;
    for (uint32_t i = 0; i < view.count; ++i) {
        const auto e = view.entry(i);
        for (uint64_t p = e.start & ~(kPage - 1); p < e.start + e.size; p += kPage)
            (e.kind == kho::abi::manifest::kKindData ? data_pages : meta_pages).insert(p);
    }
    std::set<uint64_t> want_meta(v.metadata_pages.begin(), v.metadata_pages.end()), want_data;
    want_meta.insert(v.fdt);
    for (auto [phys, size] : v.blocks)
        for (uint64_t p = phys; p < phys + size; p += kPage) want_data.insert(p);
    for (uint64_t p : meta_pages) EXPECT_TRUE(want_meta.count(p) || want_data.count(p)) << std::hex << p;
    for (uint64_t p : want_meta) EXPECT_TRUE(meta_pages.count(p)) << std::hex << p;
    EXPECT_EQ(data_pages, want_data);

    kho::VerifyStats stats;
    ASSERT_TRUE(kho::verify_manifest(mem, view, kho::VerifyLevel::Full, &stats));
    // A changed byte in a preserved block fails the full check only...
    uint64_t block = v.blocks.back().first + 100;
    uint8_t b = mem.view(block, 1)[0] ^ 1;
    ASSERT_TRUE(mem.write(block, &b, 1));
    EXPECT_TRUE(kho::verify_manifest(mem, view, kho::VerifyLevel::Metadata, nullptr));
    EXPECT_EQ(kho::verify_manifest(mem, view, kho::VerifyLevel::Full, nullptr).code(), Err::Integrity);
    // ...one in a radix leaf fails the metadata check too.
    uint64_t leaf = v.metadata_pages.back() + 8;
    b = mem.view(leaf, 1)[0] ^ 0x80;
    ASSERT_TRUE(mem.write(leaf, &b, 1));
    EXPECT_EQ(kho::verify_manifest(mem, view, kho::VerifyLevel::Metadata, nullptr).code(), Err::Integrity);
}

TEST_P(ExportVector, SmallBudgetKeepsMetadataOnlyAndTinyOneFails) {
    ex::ExportPlan plan;
    ASSERT_TRUE(ex::plan_export(mem, v.fdt, v.scratch, ex::ManifestLevel::Metadata, ex::kManifestBudget, &plan));
    ASSERT_EQ(plan.data_entries, 0u);
    // Room for the metadata entries and one more: not for the data ranges.
    size_t meta = sizeof(kho::abi::manifest::Header) + (plan.metadata_entries + 1) * sizeof(kho::abi::manifest::Entry);
    ASSERT_TRUE(ex::plan_export(mem, v.fdt, v.scratch, ex::ManifestLevel::Full, meta, &plan));
    EXPECT_EQ(plan.manifest_level, ex::ManifestLevel::Metadata);
    EXPECT_EQ(plan.data_entries, 0u);
    EXPECT_GT(plan.metadata_entries, 0u);
    EXPECT_EQ(ex::plan_export(mem, v.fdt, v.scratch, ex::ManifestLevel::Full, 64, &plan).code(),
              Err::Capacity);
    ASSERT_TRUE(ex::plan_export(mem, v.fdt, v.scratch, ex::ManifestLevel::None, 64, &plan));
    EXPECT_TRUE(plan.manifest.empty());
}

TEST_P(ExportVector, RefusesPreservedMemoryInsideScratch) {
    std::vector<KhoScratch> scratch = v.scratch;
    uint64_t block = v.blocks.front().first & ~((2ull << 20) - 1);
    scratch.push_back(KhoScratch{block, 2ull << 20});
    ex::ExportPlan plan;
    kho::Status s = ex::plan_export(mem, v.fdt, scratch, ex::ManifestLevel::Full, ex::kManifestBudget, &plan);
    EXPECT_EQ(s.code(), Err::Overlap) << s.message();
    EXPECT_TRUE(plan.descriptor.empty());
}

TEST_P(ExportVector, RefusesAnFdtThatIsNotPreserved) {
    uint64_t free_page = kFreePage;
    ASSERT_TRUE(mem.write(free_page, mem.view(v.fdt, kPage), kPage));
    ex::ExportPlan plan;
    kho::Status s = ex::plan_export(mem, free_page, v.scratch, ex::ManifestLevel::Full, ex::kManifestBudget, &plan);
    EXPECT_EQ(s.code(), Err::BadProperty);
    EXPECT_NE(std::string(s.message()).find("not preserved"), std::string::npos) << s.message();
}

// A kernel booted with KHO state shows no kho/out/fdt, only its sub-FDTs
// (root_fdt_scan.h). The blobs debugfs would show are the bytes at each
// sub-node's address in the captured state, as Linux A's FDT names them.
std::vector<ex::SubtreeBlob> subtree_blobs(const kho::PhysMem& mem, uint64_t fdt) {
    auto state = std::make_unique<kho::KhoState>();
    EXPECT_TRUE(kho::read_kho_fdt(mem, fdt, state.get()));
    std::vector<ex::SubtreeBlob> out;
    for (size_t i = 0; i < state->subnode_count; i++) {
        const kho::KhoSubnode& n = state->subnodes[i];
        const uint8_t* at = mem.view(n.blob_phys, n.blob_size);
        EXPECT_NE(at, nullptr) << n.name;
        if (at) out.push_back({n.name, std::string(reinterpret_cast<const char*>(at), n.blob_size)});
    }
    return out;
}

const std::vector<Range> kScanRam = {{0x100000, kRamTop}};

TEST_P(ExportVector, ScanFindsTheRootFdtByItsSubFdts) {
    std::vector<ex::SubtreeBlob> blobs = subtree_blobs(mem, v.fdt);
    ASSERT_FALSE(blobs.empty());
    ex::RootScan scan;
    kho::Status s = ex::scan_root_fdt(mem, kScanRam, blobs, &scan);
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(scan.fdt_addr, v.fdt);
    EXPECT_GE(scan.fdt_pages, 1u);  // the root itself begins with the magic
}

TEST_P(ExportVector, ScanRefusesWhenNoRootNamesTheseBlobs) {
    // The incoming state's root names other blobs (kexec-metadata counts
    // the kexecs): one byte of difference and the page is not this kernel's.
    std::vector<ex::SubtreeBlob> blobs = subtree_blobs(mem, v.fdt);
    ASSERT_FALSE(blobs.empty());
    blobs.back().bytes.back() ^= 0x01;
    ex::RootScan scan;
    kho::Status s = ex::scan_root_fdt(mem, kScanRam, blobs, &scan);
    EXPECT_EQ(s.code(), Err::BadFdt);
    EXPECT_NE(std::string(s.message()).find("no page of RAM"), std::string::npos) << s.message();
}

TEST_P(ExportVector, ScanRefusesTwoRootsNamingTheSameBlobs) {
    std::vector<ex::SubtreeBlob> blobs = subtree_blobs(mem, v.fdt);
    ASSERT_TRUE(mem.write(kFreePage, mem.view(v.fdt, kPage), kPage));
    ex::RootScan scan;
    kho::Status s = ex::scan_root_fdt(mem, kScanRam, blobs, &scan);
    EXPECT_EQ(s.code(), Err::BadFdt);
    EXPECT_NE(std::string(s.message()).find("2 pages of RAM"), std::string::npos) << s.message();
}

TEST_P(ExportVector, ScanNeedsASubFdtToGoBy) {
    ex::RootScan scan;
    EXPECT_EQ(ex::scan_root_fdt(mem, kScanRam, {}, &scan).code(), Err::BadProperty);
}

INSTANTIATE_TEST_SUITE_P(Linux72, ExportVector,
                         ::testing::Values("linux-7.2.13-kho-v4", "linux-7.2.13-kho-v4-m1536-scratch"));

// --- debugfs / iomem text -----------------------------------------------------

TEST(ExportParse, ScratchListsKeepZeroSizedRegionsInOrder) {
    std::vector<KhoScratch> s;
    ASSERT_TRUE(ex::parse_scratch_lists("0x39800000\n0x3fc00000\n0x2a800000\n", "0x5000000\n0x0\n0xf000000\n", &s));
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[1].addr, 0x3fc00000u);
    EXPECT_EQ(s[1].size, 0u);
    EXPECT_EQ(s[2].size, 0xf000000u);
}

TEST(ExportParse, ScratchListsRefuseMismatchAndJunk) {
    std::vector<KhoScratch> s;
    EXPECT_EQ(ex::parse_scratch_lists("0x1000\n0x2000\n", "0x1000\n", &s).code(), Err::BadProperty);
    EXPECT_EQ(ex::parse_scratch_lists("", "", &s).code(), Err::BadProperty);
    EXPECT_EQ(ex::parse_scratch_lists("0x10zz\n", "0x1000\n", &s).code(), Err::BadProperty);
    EXPECT_EQ(ex::parse_scratch_lists("0x1000\n", "size\n", &s).code(), Err::BadProperty);
    EXPECT_EQ(ex::parse_scratch_lists("-0x1000\n", "0x1000\n", &s).code(), Err::BadProperty);
    EXPECT_EQ(ex::parse_scratch_lists("0x1000\n", "0x 1000\n", &s).code(), Err::BadProperty);
}

TEST(ExportParse, IomemTakesTopLevelSystemRamOnly) {
    const char* text =
        "00000000-00000fff : Reserved\n"
        "00001000-0009fbff : System RAM\n"
        "000a0000-000bffff : PCI Bus 0000:00\n"
        "00100000-7e8eefff : System RAM\n"
        "  01000000-01bfffff : Kernel code\n"
        "7e8ef000-7e8effff : System RAM\n"
        "7f000000-7fffffff : Reserved\n"
        "100000000-13fffffff : System RAM\n";
    std::vector<Range> ram;
    ASSERT_TRUE(ex::parse_iomem_ram(text, &ram));
    ASSERT_EQ(ram.size(), 3u);
    EXPECT_EQ(ram[0].start, 0x1000u);
    EXPECT_EQ(ram[0].end, 0x9f000u);  // partial last page dropped
    EXPECT_EQ(ram[1].start, 0x100000u);
    EXPECT_EQ(ram[1].end, 0x7e8f0000u);  // adjacent entries coalesced
    EXPECT_EQ(ram[2].start, 0x100000000u);
    EXPECT_EQ(ram[2].end, 0x140000000u);
}

TEST(ExportParse, IomemRefusesHiddenAddressesAndNoRam) {
    std::vector<Range> ram;
    EXPECT_EQ(ex::parse_iomem_ram("00000000-00000000 : System RAM\n", &ram).code(), Err::Io);
    EXPECT_EQ(ex::parse_iomem_ram("00000000-00000fff : Reserved\n", &ram).code(), Err::Io);
}

TEST(ExportParse, RootPrefixRefusesWhatIsNotAnFdt) {
    ex::RootPrefix rp;
    std::vector<uint8_t> junk(64, 0);
    EXPECT_EQ(ex::parse_root_prefix(junk.data(), 20, &rp).code(), Err::BadFdt);
    EXPECT_EQ(ex::parse_root_prefix(junk.data(), junk.size(), &rp).code(), Err::BadFdt);
    std::vector<uint8_t> big(kPage + 1, 0);
    EXPECT_EQ(ex::parse_root_prefix(big.data(), big.size(), &rp).code(), Err::BadFdt);
}

// --- the whole command ----------------------------------------------------------

class ExportCommand : public ::testing::Test {
protected:
    void SetUp() override {
        v = load_vector("linux-7.2.13-kho-v4");
        fill_ram(mem, v);
        char tmpl[] = "/tmp/khotool-export-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        for (const char* d : {"/debugfs", "/efivars"}) ASSERT_EQ(mkdir((dir + d).c_str(), 0755), 0);
        write(dir + "/debugfs/fdt", std::string(v.debugfs_fdt.begin(), v.debugfs_fdt.end()));
        std::string phys, len;
        for (const KhoScratch& s : v.scratch) {
            char b[64];
            std::snprintf(b, sizeof(b), "0x%llx\n", (unsigned long long)s.addr);
            phys += b;
            std::snprintf(b, sizeof(b), "0x%llx\n", (unsigned long long)s.size);
            len += b;
        }
        write(dir + "/debugfs/scratch_phys", phys);
        write(dir + "/debugfs/scratch_len", len);
        // /dev/mem stand-in: a sparse file whose offsets are physical
        // addresses, holding the RAM image; the scratch regions exist.
        int fd = open((dir + "/mem").c_str(), O_CREAT | O_WRONLY, 0644);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(pwrite(fd, mem.view(0x100000, kRamTop - 0x100000), kRamTop - 0x100000, 0x100000),
                  ssize_t(kRamTop - 0x100000));
        ASSERT_EQ(ftruncate(fd, 0x40000000), 0);
        close(fd);
        write(dir + "/iomem",
              "00000000-00000fff : Reserved\n00001000-0009efff : System RAM\n"
              "00100000-3ffdffff : System RAM\n  01000000-01ffffff : Kernel code\n");
    }
    void TearDown() override { std::system(("rm -rf " + dir).c_str()); }

    static void write(const std::string& path, const std::string& bytes) {
        std::ofstream(path, std::ios::binary) << bytes;
    }
    std::string var(const char* name) const {
        return dir + "/efivars/" + name + "-5b0bc4a2-8c1d-4e5f-9a3b-6b686f626f6f";
    }
    int run(std::vector<std::string> extra, std::string* out, std::string* err) {
        std::vector<std::string> args = {"--debugfs", dir + "/debugfs", "--mem", dir + "/mem",
                                         "--iomem", dir + "/iomem", "--efivars", dir + "/efivars"};
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        ::testing::internal::CaptureStdout();
        ::testing::internal::CaptureStderr();
        int rc = kho::tools::khotool_export(int(argv.size()), argv.data());
        *out = ::testing::internal::GetCapturedStdout();
        *err = ::testing::internal::GetCapturedStderr();
        return rc;
    }

    Vector v;
    khotest::FakePhysMem mem;
    std::string dir;
};

TEST_F(ExportCommand, WritesDescriptorAndManifestVariables) {
    write(var("KhoHandover"), "stale");
    std::string out, err;
    ASSERT_EQ(run({}, &out, &err), 0) << err;
    EXPECT_TRUE(err.empty()) << err;
    EXPECT_NE(out.find("export ok compatible=kho-v4 fdt=0x2a1000 "), std::string::npos) << out;

    std::string desc = slurp(var("KhoHandover"));
    ASSERT_GT(desc.size(), 4u);
    EXPECT_EQ(desc.substr(0, 4), std::string("\x07\0\0\0", 4));  // NV | BS | RT
    kho::HandoverDescriptor d;
    ASSERT_TRUE(kho::parse_handover_descriptor(desc.data() + 4, desc.size() - 4, &d));
    EXPECT_EQ(d.fdt_addr, v.fdt);
    EXPECT_EQ(d.scratch_count, 3u);

    std::string manifest = slurp(var("KhoManifest"));
    ASSERT_GT(manifest.size(), 4u);
    // The variable's data after its 4 attribute bytes, in an 8-byte
    // aligned buffer as the loader reads it (the entries hold u64s).
    std::vector<uint64_t> aligned((manifest.size() - 4 + 7) / 8);
    std::memcpy(aligned.data(), manifest.data() + 4, manifest.size() - 4);
    kho::ManifestView view;
    ASSERT_TRUE(kho::parse_manifest(aligned.data(), manifest.size() - 4, &view));
    EXPECT_TRUE(kho::verify_manifest(mem, view, kho::VerifyLevel::Full, nullptr));
}

// A probe result (KhoProbeResult, abi/ram_probe.h) naming RAM the
// firmware rewrote: a state there is still exported (the OS may know
// better) but with one warning line naming the parts khoboot will refuse.
std::string probe_result_var(std::vector<kho::abi::probe::ChangedRange> ranges) {
    auto r = std::make_unique<kho::ProbeResult>();
    for (const auto& c : ranges) r->changes[r->count++] = c;
    r->total = r->count;
    std::vector<uint8_t> bytes(kho::abi::probe::kMaxResultBytes);
    size_t len = 0;
    EXPECT_TRUE(kho::encode_probe_result(*r, bytes.data(), bytes.size(), &len));
    return std::string("\x07\0\0\0", 4) + std::string(bytes.begin(), bytes.begin() + len);
}

TEST_F(ExportCommand, StateInKnownClobberedRamIsExportedWithOneWarning) {
    // The root FDT page of the vector (0x2a1000), and RAM above the state.
    write(var("KhoProbeResult"), probe_result_var({{v.fdt, v.fdt + 0x1000, 7, 0}, {0x7e000000, 0x7e400000, 4, 0}}));
    std::string out, err;
    ASSERT_EQ(run({}, &out, &err), 0) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(err.rfind("khotool: warning: the state lies in RAM this firmware rewrote", 0), 0u) << err;
    EXPECT_NE(err.find("0x2a1000-0x2a2000"), std::string::npos) << err;
    EXPECT_NE(err.find("kho-clobbered"), std::string::npos) << err;
    EXPECT_EQ(access(var("KhoHandover").c_str(), F_OK), 0);
}

TEST_F(ExportCommand, ProbeResultElsewhereSaysNothing) {
    write(var("KhoProbeResult"), probe_result_var({{0x7e000000, 0x7e400000, 7, 0}}));
    std::string out, err;
    ASSERT_EQ(run({}, &out, &err), 0) << err;
    EXPECT_TRUE(err.empty()) << err;
}

TEST_F(ExportCommand, DryRunWritesNothing) {
    std::string out, err;
    ASSERT_EQ(run({"--dry-run", "--verbose"}, &out, &err), 0) << err;
    EXPECT_NE(out.find("export dry-run "), std::string::npos) << out;
    EXPECT_NE(out.find("protect 0x2a1000-"), std::string::npos) << out;
    EXPECT_NE(out.find("scratch 0x3fc00000+0x0\n"), std::string::npos) << out;
    EXPECT_NE(access(var("KhoHandover").c_str(), F_OK), 0);
}

TEST_F(ExportCommand, BadPieceIsOneErrorLineAndNoDescriptor) {
    write(var("KhoHandover"), "stale");
    write(var("KhoManifest"), "stale");
    std::vector<uint8_t> copy = with_changed_tail(v.debugfs_fdt);
    write(dir + "/debugfs/fdt", std::string(copy.begin(), copy.end()));
    std::string out, err;
    EXPECT_EQ(run({}, &out, &err), 1);
    // One line, of the kind the state's problem is.
    EXPECT_EQ(err.rfind("khotool: error kho-stale: ", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(err.back(), '\n');
    EXPECT_EQ(out, "");
    EXPECT_NE(access(var("KhoHandover").c_str(), F_OK), 0);
    EXPECT_NE(access(var("KhoManifest").c_str(), F_OK), 0);
}

TEST_F(ExportCommand, MissingDebugfsFileNamesIt) {
    unlink((dir + "/debugfs/scratch_len").c_str());
    std::string out, err;
    EXPECT_EQ(run({}, &out, &err), 1);
    EXPECT_NE(err.find("khotool: error io: " + dir + "/debugfs/scratch_len: No such file"), std::string::npos) << err;
    EXPECT_NE(access(var("KhoHandover").c_str(), F_OK), 0);
}

TEST_F(ExportCommand, RamOutsideIomemIsRefused) {
    // An iomem that hides the range holding the map: the walk must fail
    // rather than read what is not RAM.
    write(dir + "/iomem", "00100000-002affff : System RAM\n");
    std::string out, err;
    EXPECT_EQ(run({}, &out, &err), 1);
    EXPECT_NE(err.find("khotool: error "), std::string::npos) << err;
    EXPECT_NE(access(var("KhoHandover").c_str(), F_OK), 0);
}

}  // namespace
