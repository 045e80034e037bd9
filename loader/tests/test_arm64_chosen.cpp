// /chosen/linux,kho-fdt and linux,kho-scratch for the arm64 EFI stub.
// Expected property bytes are written out cell by cell, big-endian, as
// drivers/of/fdt.c of_flat_dt_read_addr_size() reads them, not through
// the code under test; trees are built with libfdt's sequential writer.
#include <gtest/gtest.h>
#include <libfdt.h>
#include <string.h>

#include <string>
#include <vector>

#include "loader/arm64_chosen.h"

namespace {

using kho::ChosenKho;
using kho::Err;
using kho::RootCells;

// A firmware-like DTB: root cells (0 = absent), optional /chosen with
// `chosen_props` (name, raw bytes), one /memreserve/ entry, a /memory node.
struct TreeSpec {
    uint32_t addr_cells = 2, size_cells = 2;
    bool chosen = true;
    std::vector<std::pair<std::string, std::vector<uint8_t>>> chosen_props;
};

std::vector<uint8_t> make_tree(const TreeSpec& t) {
    std::vector<uint8_t> b(4096);
    void* f = b.data();
    EXPECT_EQ(fdt_create(f, b.size()), 0);
    EXPECT_EQ(fdt_add_reservemap_entry(f, 0x48000000, 0x1000), 0);
    EXPECT_EQ(fdt_finish_reservemap(f), 0);
    EXPECT_EQ(fdt_begin_node(f, ""), 0);
    if (t.addr_cells) {
        EXPECT_EQ(fdt_property_u32(f, "#address-cells", t.addr_cells), 0);
    }
    if (t.size_cells) {
        EXPECT_EQ(fdt_property_u32(f, "#size-cells", t.size_cells), 0);
    }
    EXPECT_EQ(fdt_property_string(f, "compatible", "linux,dummy-virt"), 0);
    if (t.chosen) {
        EXPECT_EQ(fdt_begin_node(f, "chosen"), 0);
        EXPECT_EQ(fdt_property_string(f, "stdout-path", "/pl011@9000000"), 0);
        for (const auto& [name, bytes] : t.chosen_props)
            EXPECT_EQ(fdt_property(f, name.c_str(), bytes.data(), static_cast<int>(bytes.size())), 0);
        EXPECT_EQ(fdt_end_node(f), 0);
    }
    EXPECT_EQ(fdt_begin_node(f, "memory@40000000"), 0);
    EXPECT_EQ(fdt_property_string(f, "device_type", "memory"), 0);
    EXPECT_EQ(fdt_end_node(f), 0);
    EXPECT_EQ(fdt_end_node(f), 0);
    EXPECT_EQ(fdt_finish(f), 0);
    b.resize(fdt_totalsize(f));
    return b;
}

// Big-endian cells, written out by hand.
std::vector<uint8_t> be_cells(std::initializer_list<uint32_t> cells) {
    std::vector<uint8_t> out;
    for (uint32_t c : cells)
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(c >> shift));
    return out;
}

std::vector<uint8_t> prop(const std::vector<uint8_t>& fdt, const char* path, const char* name) {
    int node = fdt_path_offset(fdt.data(), path);
    if (node < 0) return {};
    int len = 0;
    const auto* p = static_cast<const uint8_t*>(fdt_getprop(fdt.data(), node, name, &len));
    if (!p) return {};
    return std::vector<uint8_t>(p, p + len);
}

bool has_prop(const std::vector<uint8_t>& fdt, const char* name) {
    int node = fdt_path_offset(fdt.data(), "/chosen");
    return node >= 0 && fdt_getprop(fdt.data(), node, name, nullptr) != nullptr;
}

ChosenKho state(uint64_t fdt, uint64_t scratch, uint64_t scratch_size) {
    ChosenKho k;
    k.has_state = true;
    k.fdt_addr = fdt;
    k.fdt_size = 0x1000;
    k.scratch_addr = scratch;
    k.scratch_size = scratch_size;
    return k;
}

struct Built {
    kho::Status status;
    std::vector<uint8_t> fdt;
    RootCells cells;
};

Built build(const std::vector<uint8_t>* in, const ChosenKho& k, size_t capacity = 0) {
    Built b;
    const void* dtb = in ? in->data() : nullptr;
    if (!capacity) capacity = kho::chosen_dtb_capacity(dtb);
    b.fdt.assign(capacity, 0xa5);
    b.status = kho::build_chosen_dtb(dtb, in ? in->size() : 0, k, b.fdt.data(), b.fdt.size(), &b.cells);
    if (b.status) {
        EXPECT_EQ(fdt_check_full(b.fdt.data(), b.fdt.size()), 0);
    }
    return b;
}

TEST(Arm64Chosen, TwoCellsEachAsQemuVirt) {
    auto in = make_tree({});
    Built b = build(&in, state(0x1'2345'6000, 0xbf00'0000, 48));
    ASSERT_TRUE(b.status) << b.status.message();
    EXPECT_EQ(b.cells.address, 2u);
    EXPECT_EQ(b.cells.size, 2u);
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-fdt"), be_cells({0x1, 0x23456000, 0x0, 0x1000}));
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-scratch"), be_cells({0x0, 0xbf000000, 0x0, 48}));
}

TEST(Arm64Chosen, KeepsTheFirmwareTreeAndOtherChosenProperties) {
    auto in = make_tree({});
    Built b = build(&in, state(0x50000000, 0x51000000, 32));
    ASSERT_TRUE(b.status);
    const std::string stdout_path = "/pl011@9000000";
    auto sp = prop(b.fdt, "/chosen", "stdout-path");
    EXPECT_EQ(std::string(sp.begin(), sp.end()), stdout_path + '\0');
    EXPECT_GE(fdt_path_offset(b.fdt.data(), "/memory@40000000"), 0);
    // /memreserve/ is the stub's to delete; khoboot leaves the tree as it was.
    EXPECT_EQ(fdt_num_mem_rsv(b.fdt.data()), 1);
}

TEST(Arm64Chosen, AbsentCellPropertiesMeanOneAndOneAsLinuxReadsThem) {
    TreeSpec t;
    t.addr_cells = t.size_cells = 0;
    auto in = make_tree(t);
    Built b = build(&in, state(0x7000'0000, 0x7100'0000, 32));
    ASSERT_TRUE(b.status) << b.status.message();
    EXPECT_EQ(b.cells.address, 1u);
    EXPECT_EQ(b.cells.size, 1u);
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-fdt"), be_cells({0x70000000, 0x1000}));
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-scratch"), be_cells({0x71000000, 32}));
}

TEST(Arm64Chosen, MixedCellsTwoAddressOneSize) {
    TreeSpec t;
    t.size_cells = 1;
    auto in = make_tree(t);
    Built b = build(&in, state(0x2'0000'0000, 0x1'0000'0000, 64));
    ASSERT_TRUE(b.status);
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-fdt"), be_cells({0x2, 0x0, 0x1000}));
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-scratch"), be_cells({0x1, 0x0, 64}));
}

TEST(Arm64Chosen, AddressAboveFourGiBWithOneCellIsRefusedByName) {
    TreeSpec t;
    t.addr_cells = 1;
    t.size_cells = 1;
    auto in = make_tree(t);
    Built b = build(&in, state(0x1'0000'0000, 0x7100'0000, 32));
    EXPECT_EQ(b.status.code(), Err::BadProperty);
    EXPECT_NE(std::string(b.status.message()).find("linux,kho-fdt 0x100000000+0x1000"), std::string::npos)
        << b.status.message();
}

TEST(Arm64Chosen, StaleCopiesAreReplacedByExactlyOnePair) {
    TreeSpec t;
    // Two pairs and a wrong length: the kernel would ignore either.
    t.chosen_props = {{"linux,kho-fdt", be_cells({0, 0x1000, 0, 0x1000, 0, 0x2000, 0, 0x1000})},
                      {"linux,kho-scratch", be_cells({0xdead})}};
    auto in = make_tree(t);
    Built b = build(&in, state(0x4800'0000, 0x4900'0000, 16));
    ASSERT_TRUE(b.status);
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-fdt"), be_cells({0, 0x48000000, 0, 0x1000}));
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-scratch"), be_cells({0, 0x49000000, 0, 16}));
}

TEST(Arm64Chosen, ColdBootRemovesStaleProperties) {
    TreeSpec t;
    t.chosen_props = {{"linux,kho-fdt", be_cells({0, 0x48000000, 0, 0x1000})},
                      {"linux,kho-scratch", be_cells({0, 0x49000000, 0, 16})}};
    auto in = make_tree(t);
    Built b = build(&in, ChosenKho{});
    ASSERT_TRUE(b.status);
    EXPECT_FALSE(has_prop(b.fdt, "linux,kho-fdt"));
    EXPECT_FALSE(has_prop(b.fdt, "linux,kho-scratch"));
    EXPECT_TRUE(has_prop(b.fdt, "stdout-path"));
}

TEST(Arm64Chosen, ChosenIsCreatedWhenTheFirmwareTreeHasNone) {
    TreeSpec t;
    t.chosen = false;
    auto in = make_tree(t);
    Built b = build(&in, state(0x4800'0000, 0x4900'0000, 16));
    ASSERT_TRUE(b.status);
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-fdt"), be_cells({0, 0x48000000, 0, 0x1000}));
}

TEST(Arm64Chosen, NoFirmwareTreeGivesTheStubsEmptyTreeWithTwoCells) {
    Built b = build(nullptr, state(0x1'4800'0000, 0x4900'0000, 16));
    ASSERT_TRUE(b.status) << b.status.message();
    EXPECT_EQ(prop(b.fdt, "/", "#address-cells"), be_cells({2}));
    EXPECT_EQ(prop(b.fdt, "/", "#size-cells"), be_cells({2}));
    EXPECT_EQ(prop(b.fdt, "/chosen", "linux,kho-fdt"), be_cells({1, 0x48000000, 0, 0x1000}));
}

TEST(Arm64Chosen, BrokenFirmwareTreeIsRefused) {
    auto in = make_tree({});
    in[0] ^= 0xff;  // magic
    EXPECT_EQ(build(&in, state(0x48000000, 0x49000000, 16)).status.code(), Err::Io);
    auto truncated = make_tree({});
    truncated.resize(truncated.size() / 2);
    EXPECT_EQ(build(&truncated, state(0x48000000, 0x49000000, 16), 8192).status.code(), Err::Io);
    TreeSpec t;
    t.addr_cells = 3;
    auto three = make_tree(t);
    EXPECT_EQ(build(&three, state(0x48000000, 0x49000000, 16)).status.code(), Err::Io);
}

TEST(Arm64Chosen, TooSmallABufferIsCapacity) {
    auto in = make_tree({});
    EXPECT_EQ(build(&in, state(0x48000000, 0x49000000, 16), in.size() + 16).status.code(), Err::Capacity);
}

}  // namespace
