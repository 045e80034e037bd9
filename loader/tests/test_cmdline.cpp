// Command-line editing for a KHO boot and the memblock reserve_mem reader.
#include <gtest/gtest.h>
#include <string.h>

#include <string>
#include <vector>

#include "loader/cmdline.h"
#include "loader/tests/fake_phys_mem.h"
#include "loader/tests/kho_encoder.h"

namespace {

using namespace khotest;
using kho::CommandLine;
using kho::Err;
using kho::ReserveMemRegion;

struct Line {
    char buf[512];
    CommandLine cl{buf, sizeof(buf)};
    explicit Line(const char* text) { EXPECT_TRUE(cl.set(text)); }
};

TEST(CommandLine, HasMatchesWholeNamesAndDashUnderscore) {
    Line l("root=/dev/sda ro kho=on reserve-mem=1M:4096:x \"foo=a b\" quiet");
    EXPECT_TRUE(l.cl.has("kho"));
    EXPECT_TRUE(l.cl.has("ro"));
    EXPECT_TRUE(l.cl.has("quiet"));
    EXPECT_TRUE(l.cl.has("reserve_mem"));
    EXPECT_TRUE(l.cl.has("foo"));
    EXPECT_FALSE(l.cl.has("kh"));
    EXPECT_FALSE(l.cl.has("root=/dev"));
    EXPECT_FALSE(l.cl.has("b"));  // inside quotes
    char v[32];
    ASSERT_TRUE(l.cl.value_of("foo", v, sizeof(v)));
    EXPECT_STREQ(v, "a b");
    ASSERT_TRUE(l.cl.value_of("root", v, sizeof(v)));
    EXPECT_STREQ(v, "/dev/sda");
}

TEST(CommandLine, AppendAndCapacity) {
    char buf[16];
    CommandLine cl(buf, sizeof(buf));
    ASSERT_TRUE(cl.set("a"));
    ASSERT_TRUE(cl.append("kho=on"));
    EXPECT_STREQ(cl.c_str(), "a kho=on");
    kho::Status s = cl.append("toolongparam");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::Capacity);
    EXPECT_STREQ(cl.c_str(), "a kho=on");  // unchanged on failure
    ASSERT_FALSE(cl.set("0123456789abcdefg"));
}

TEST(KhoParameters, AddsKhoOnOnce) {
    Line l("console=ttyS0");
    kho::KhoCmdlineEdits e;
    ASSERT_TRUE(kho::add_kho_parameters(l.cl, nullptr, 0, &e));
    EXPECT_STREQ(l.cl.c_str(), "console=ttyS0 kho=on");
    EXPECT_TRUE(e.added_kho_on);
    ASSERT_TRUE(kho::add_kho_parameters(l.cl, nullptr, 0, &e));
    EXPECT_STREQ(l.cl.c_str(), "console=ttyS0 kho=on");
    EXPECT_FALSE(e.added_kho_on);
    EXPECT_FALSE(e.kho_disabled);
}

TEST(KhoParameters, EmptyLineGetsNoLeadingBlank) {
    Line l("");
    kho::KhoCmdlineEdits e;
    ASSERT_TRUE(kho::add_kho_parameters(l.cl, nullptr, 0, &e));
    EXPECT_STREQ(l.cl.c_str(), "kho=on");
}

TEST(KhoParameters, ReportsKhoTurnedOff) {
    for (const char* off : {"kho=off", "kho=0", "kho=n", "kho=no", "kho=false"}) {
        Line l(off);
        kho::KhoCmdlineEdits e;
        ASSERT_TRUE(kho::add_kho_parameters(l.cl, nullptr, 0, &e));
        EXPECT_TRUE(e.kho_disabled) << off;
        EXPECT_STREQ(l.cl.c_str(), off);
    }
    Line on("kho=1");
    kho::KhoCmdlineEdits e;
    ASSERT_TRUE(kho::add_kho_parameters(on.cl, nullptr, 0, &e));
    EXPECT_FALSE(e.kho_disabled);
}

// Regression (found by fuzz_memblock, loader/fuzz/regressions/memblock/
// unbalanced-quote): after an odd number of '"' the kernel's next_arg()
// reads everything appended as part of one quoted value, so kho=on and
// reserve_mem= were silently lost while the state was handed over.
TEST(KhoParameters, UnbalancedQuoteIsRefusedNotQuotedAway) {
    Line l("console=ttyS0 dyndbg=\"file kho.c +p");
    kho::KhoCmdlineEdits e;
    kho::Status s = kho::add_kho_parameters(l.cl, nullptr, 0, &e);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadEntry);
    EXPECT_STREQ(s.message(), "options have an unbalanced '\"': \"kho=on\" would be quoted away");
    Line ok("dyndbg=\"file kho.c +p\" quiet");
    ASSERT_TRUE(kho::add_kho_parameters(ok.cl, nullptr, 0, &e));
    EXPECT_STREQ(ok.cl.c_str(), "dyndbg=\"file kho.c +p\" quiet kho=on");
}

// The kernel's isspace() separates parameters on \v, \f and 0xa0 too: a
// kho=off behind one of them is a parameter of its own.
TEST(KhoParameters, KernelBlanksSeparateWords) {
    for (const char* text : {"a\vkho=off", "a\fkho=off", "a\xa0kho=off"}) {
        Line l(text);
        kho::KhoCmdlineEdits e;
        ASSERT_TRUE(kho::add_kho_parameters(l.cl, nullptr, 0, &e));
        EXPECT_TRUE(e.kho_disabled) << text;
    }
}

TEST(KhoParameters, AddsMissingReserveMem) {
    ReserveMemRegion r[3] = {{"oops", 0x22000000, 1 << 20},
                             {"trace", 0x100000000, 3ull << 30},
                             {"odd", 0x30000040, 0x1001}};
    Line l("reserve_mem=2M:4096:trace");
    kho::KhoCmdlineEdits e;
    ASSERT_TRUE(kho::add_kho_parameters(l.cl, r, 3, &e));
    EXPECT_STREQ(l.cl.c_str(),
                 "reserve_mem=2M:4096:trace kho=on reserve_mem=1M:4096:oops reserve_mem=4097:64:odd");
    EXPECT_EQ(e.added_reserve_mem, 2u);
}

// Regression (found by fuzz_memblock): a reserve_mem= word the kernel's
// reserve_mem() refuses (here a size of "1" followed by ":M4096") named
// the region, so the loader added none and the region was not revived.
TEST(KhoParameters, MalformedReserveMemDoesNotCount) {
    ReserveMemRegion r[1] = {{"oops", 0x22000000, 1 << 20}};
    for (const char* bad : {"reserve_mem=1:M4096:oops", "reserve_mem=1M:;096:oops", "reserve_mem=0:64:oops",
                            "reserve_mem=:64:oops", "reserve_mem=1M:64oops"}) {
        Line l(bad);
        kho::KhoCmdlineEdits e;
        ASSERT_TRUE(kho::add_kho_parameters(l.cl, r, 1, &e));
        EXPECT_EQ(e.added_reserve_mem, 1u) << bad;
    }
    for (const char* good : {"reserve_mem=1M:4096:oops", "reserve_mem=0x100000:0:oops", "reserve_mem=1m:010:oops"}) {
        Line l(good);
        kho::KhoCmdlineEdits e;
        ASSERT_TRUE(kho::add_kho_parameters(l.cl, r, 1, &e));
        EXPECT_EQ(e.added_reserve_mem, 0u) << good;
    }
}

TEST(KhoParameters, FormatsSizesAndAlignment) {
    char out[80];
    ASSERT_TRUE(kho::format_reserve_mem({"a", 0x40000000, 2ull << 30}, out, sizeof(out)));
    EXPECT_STREQ(out, "reserve_mem=2G:4096:a");
    ASSERT_TRUE(kho::format_reserve_mem({"b", 0x1080, 3 << 10}, out, sizeof(out)));
    EXPECT_STREQ(out, "reserve_mem=3K:128:b");
    kho::Status s = kho::format_reserve_mem({"c", 0x1004, 4096}, out, sizeof(out));
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("not 64-byte aligned"), std::string::npos);
}

// A KHO state whose "memblock" sub-node points at a memblock-v1 sub-FDT.
class ReserveMemTest : public ::testing::Test {
protected:
    FakePhysMem mem;
    PageArena arena{mem, 0x10000000, 1 << 20};
    kho::KhoState state{};
    std::vector<uint8_t> scratch = std::vector<uint8_t>(64 << 10);
    // Sub-blobs must be RAM (the reader refuses them otherwise).
    ReserveMemTest() { mem.declare_ram(0x20000000, 0x20000000); }
    ReserveMemRegion regions[8];
    size_t count = 0;

    void make_state(const FdtNode& memblock, const char* version = "kho-v4") {
        std::vector<uint8_t> sub = build_fdt(memblock);
        uint64_t sub_addr = place_bytes(mem, arena, sub);
        FdtNode root = kho_root_node(version, 0x12345000, {{"memblock", sub_addr, sub.size()}});
        uint64_t fdt = place_bytes(mem, arena, build_fdt(root));
        kho::Status s = kho::read_kho_fdt(mem, fdt, &state);
        ASSERT_TRUE(s) << s.message();
    }
    kho::Status read() {
        return kho::read_reserve_mem_regions(mem, state, scratch.data(), scratch.size(), regions, 8,
                                             &count);
    }
    static FdtNode region(const std::string& name, uint64_t start, uint64_t size) {
        FdtNode n{name, {prop_string("compatible", "reserve-mem-v1"), prop_u64("start", start),
                         prop_u64("size", size)}, {}};
        return n;
    }
};

TEST_F(ReserveMemTest, ReadsRegions) {
    FdtNode mb{"", {prop_string("compatible", "memblock-v1")},
               {region("oops", 0x22000000, 1 << 20), region("trace", 0x23000000, 8 << 20)}};
    make_state(mb);
    ASSERT_TRUE(read());
    ASSERT_EQ(count, 2u);
    EXPECT_STREQ(regions[0].name, "oops");
    EXPECT_EQ(regions[0].start, 0x22000000u);
    EXPECT_EQ(regions[1].size, 8u << 20);
}

TEST_F(ReserveMemTest, KhoV2WithoutBlobSizeUsesTheFdtHeader) {
    FdtNode mb{"", {prop_string("compatible", "memblock-v1")}, {region("oops", 0x22000000, 4096)}};
    make_state(mb, "kho-v2");
    ASSERT_TRUE(read());
    EXPECT_EQ(count, 1u);
}

TEST_F(ReserveMemTest, SkipsIncompatibleChildren) {
    FdtNode other{"x", {prop_string("compatible", "something-else")}, {}};
    FdtNode mb{"", {prop_string("compatible", "memblock-v1")}, {other, region("a", 0x22000000, 4096)}};
    make_state(mb);
    ASSERT_TRUE(read());
    ASSERT_EQ(count, 1u);
    EXPECT_STREQ(regions[0].name, "a");
}

TEST_F(ReserveMemTest, NoMemblockNodeIsZeroRegions) {
    FdtNode root = kho_root_node("kho-v4", 0x12345000, {{"kho_test", 0x30000000, 64}});
    uint64_t fdt = place_bytes(mem, arena, build_fdt(root));
    ASSERT_TRUE(kho::read_kho_fdt(mem, fdt, &state));
    count = 99;
    ASSERT_TRUE(read());
    EXPECT_EQ(count, 0u);
}

TEST_F(ReserveMemTest, RefusesWrongCompatible) {
    FdtNode mb{"", {prop_string("compatible", "memblock-v2")}, {}};
    make_state(mb);
    kho::Status s = read();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadVersion);
}

TEST_F(ReserveMemTest, RefusesBadProperties) {
    FdtNode bad{"a", {prop_string("compatible", "reserve-mem-v1"), prop_u32_be("start", 1),
                      prop_u64("size", 4096)}, {}};
    FdtNode mb{"", {prop_string("compatible", "memblock-v1")}, {bad}};
    make_state(mb);
    kho::Status s = read();
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("'a': start/size not u64"), std::string::npos) << s.message();
}

TEST_F(ReserveMemTest, RefusesNamesUnusableOnACommandLine) {
    FdtNode mb{"", {prop_string("compatible", "memblock-v1")},
               {region("a-very-long-region-name", 0x22000000, 4096)}};
    make_state(mb);
    kho::Status s = read();
    ASSERT_FALSE(s);
    EXPECT_NE(std::string(s.message()).find("unusable in reserve_mem="), std::string::npos);
}

TEST_F(ReserveMemTest, RefusesACorruptSubFdt) {
    FdtNode mb{"", {prop_string("compatible", "memblock-v1")}, {region("a", 0x22000000, 4096)}};
    make_state(mb);
    // Break the sub-FDT's struct block in RAM.
    uint64_t sub = state.subnodes[0].blob_phys;
    uint32_t bad = 0xffffffff;
    ASSERT_TRUE(mem.write(sub + 56, &bad, 4));
    kho::Status s = read();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadFdt);
}

// Regression (issue 9, defect 2): the memblock sub-FDT reached libfdt's
// fdt_check_full() without the version-17 check the root FDT has; libfdt
// 1.6.1 dereferences NULL there on old layouts (the fuzzer's
// regressions/kho_fdt/fdt-version-7, reachable here from preserved RAM).
TEST_F(ReserveMemTest, RefusesASubFdtOfAnOldVersion) {
    FdtNode mb{"", {prop_string("compatible", "memblock-v1")}, {region("a", 0x22000000, 4096)}};
    make_state(mb);
    uint64_t sub = state.subnodes[0].blob_phys;
    const uint32_t version_be = __builtin_bswap32(7), last_comp_be = 0;
    ASSERT_TRUE(mem.write(sub + 20, &version_be, 4));
    ASSERT_TRUE(mem.write(sub + 24, &last_comp_be, 4));
    kho::Status s = read();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadFdt);
    EXPECT_NE(std::string(s.message()).find("memblock sub-FDT at 0x"), std::string::npos) << s.message();
    EXPECT_NE(std::string(s.message()).find("version 7, KHO writes 17"), std::string::npos)
        << s.message();
}

TEST_F(ReserveMemTest, RefusesASubFdtOutsideRam) {
    FdtNode mb{"", {prop_string("compatible", "memblock-v1")}, {}};
    make_state(mb);
    state.subnodes[0].blob_phys = 0x7000000000;
    kho::Status s = read();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::OutOfRam);
}

}  // namespace
