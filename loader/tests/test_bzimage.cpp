// bzImage header validation: a header written field by field from
// boot.rst offsets (not through SetupHeader), then broken one way at a time.
#include <gtest/gtest.h>
#include <string.h>

#include <string>
#include <vector>

#include "loader/bzimage.h"

namespace {

using kho::BzImage;
using kho::Err;

struct Image {
    std::vector<uint8_t> bytes;
    void u8(size_t off, uint8_t v) { bytes[off] = v; }
    void u16(size_t off, uint16_t v) { memcpy(&bytes[off], &v, 2); }
    void u32(size_t off, uint32_t v) { memcpy(&bytes[off], &v, 4); }
    void u64(size_t off, uint64_t v) { memcpy(&bytes[off], &v, 8); }
};

// Shaped like Debian's 6.1 vmlinuz: 39 setup sectors, protocol 2.15,
// 2 MiB alignment, pref_address 16 MiB.
Image make_image(uint64_t payload = 0x10000) {
    Image im;
    const uint64_t setup = (39 + 1) * 512;
    im.bytes.assign(setup + payload, 0);
    im.u8(0x1f1, 39);
    im.u32(0x1f4, static_cast<uint32_t>(payload / 16));  // syssize
    im.u16(0x1fe, 0xaa55);
    im.u8(0x200, 0xeb);
    im.u8(0x201, 0x6a);  // header ends at 0x26c
    im.u32(0x202, 0x53726448);
    im.u16(0x206, 0x020f);
    im.u8(0x211, 0x01);  // LOADED_HIGH
    im.u32(0x22c, 0x7fffffff);
    im.u32(0x230, 0x200000);
    im.u8(0x234, 1);
    im.u16(0x236, 0x7f);
    im.u32(0x238, 0x7ff);
    im.u64(0x258, 0x1000000);
    im.u32(0x260, 0x3f98000);
    return im;
}

kho::Status parse(const Image& im, BzImage* out, size_t prefix = kho::kBzImagePrefix) {
    size_t n = prefix < im.bytes.size() ? prefix : im.bytes.size();
    return kho::parse_bzimage(im.bytes.data(), n, im.bytes.size(), out);
}

std::string msg(const kho::Status& s) { return s.message(); }

TEST(BzImage, ParsesAValidHeader) {
    Image im = make_image();
    BzImage b;
    ASSERT_TRUE(parse(im, &b)) << msg(parse(im, &b));
    EXPECT_EQ(b.protocol, 0x020f);
    EXPECT_EQ(b.setup_size, 40u * 512);
    EXPECT_EQ(b.payload_size, 0x10000u);
    EXPECT_EQ(b.header_copy_size, 0x26cu - 0x1f1u);
    EXPECT_EQ(b.init_size, 0x3f98000u);
    EXPECT_EQ(b.alignment, 0x200000u);
    EXPECT_EQ(b.min_load, 0x1000000u);
    EXPECT_TRUE(b.above_4g);
    EXPECT_EQ(b.max_end, UINT64_MAX);
    EXPECT_EQ(b.initrd_max_end, UINT64_MAX);
    EXPECT_EQ(b.cmdline_max, 0x7ffu);
}

TEST(BzImage, WithoutAbove4GLimitsKernelAndInitrd) {
    Image im = make_image();
    im.u16(0x236, 0x01);
    BzImage b;
    ASSERT_TRUE(parse(im, &b));
    EXPECT_FALSE(b.above_4g);
    EXPECT_EQ(b.max_end, 1ull << 32);
    EXPECT_EQ(b.initrd_max_end, 0x80000000u);
}

TEST(BzImage, ZeroSetupSectsMeansFour) {
    Image im = make_image();
    im.u8(0x1f1, 0);
    BzImage b;
    ASSERT_TRUE(parse(im, &b));
    EXPECT_EQ(b.setup_size, 5u * 512);
}

TEST(BzImage, MinLoadIsPrefAddressAlignedUpAndAtLeast1M) {
    Image im = make_image();
    im.u64(0x258, 0x1100000);
    BzImage b;
    ASSERT_TRUE(parse(im, &b));
    EXPECT_EQ(b.min_load, 0x1200000u);
    im.u64(0x258, 0);
    ASSERT_TRUE(parse(im, &b));
    EXPECT_EQ(b.min_load, 0x200000u);  // 1 MiB aligned up to 2 MiB
}

struct Broken {
    const char* name;
    void (*mutate)(Image&);
    const char* needle;
};

class BzImageRefuses : public ::testing::TestWithParam<Broken> {};

TEST_P(BzImageRefuses, WithAPreciseMessage) {
    Image im = make_image();
    GetParam().mutate(im);
    BzImage b;
    kho::Status s = parse(im, &b);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), Err::BadImage);
    EXPECT_NE(msg(s).find(GetParam().needle), std::string::npos) << msg(s);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BzImageRefuses,
    ::testing::Values(
        Broken{"boot_flag", [](Image& im) { im.u16(0x1fe, 0x1234); }, "boot_flag 0x1234"},
        Broken{"magic", [](Image& im) { im.u32(0x202, 0); }, "want HdrS"},
        Broken{"protocol", [](Image& im) { im.u16(0x206, 0x020b); }, "2.11 too old"},
        Broken{"no64", [](Image& im) { im.u16(0x236, 0x02); }, "no 64-bit entry"},
        Broken{"reloc", [](Image& im) { im.u8(0x234, 0); }, "not relocatable"},
        Broken{"zimage", [](Image& im) { im.u8(0x211, 0); }, "LOADED_HIGH"},
        Broken{"align", [](Image& im) { im.u32(0x230, 0x300000); }, "kernel_alignment 0x300000"},
        Broken{"align0", [](Image& im) { im.u32(0x230, 0); }, "kernel_alignment 0x0"},
        Broken{"syssize", [](Image& im) { im.u32(0x1f4, 0x100000); }, "image truncated: payload"},
        Broken{"syssize0", [](Image& im) { im.u32(0x1f4, 0); }, "syssize says 0x0"},
        Broken{"init_size", [](Image& im) { im.u32(0x260, 0x100); }, "init_size 0x100"},
        Broken{"hdr_short", [](Image& im) { im.u8(0x201, 0x20); }, "setup header end 0x222"},
        Broken{"hdr_long", [](Image& im) { im.u8(0x201, 0xff); }, "setup header end 0x301"},
        Broken{"setup_sects", [](Image& im) { im.u8(0x1f1, 200); }, "200 setup sectors"}),
    [](const ::testing::TestParamInfo<Broken>& i) { return std::string(i.param.name); });

TEST(BzImage, RefusesTinyFiles) {
    std::vector<uint8_t> tiny(0x100, 0);
    BzImage b;
    kho::Status s = kho::parse_bzimage(tiny.data(), tiny.size(), tiny.size(), &b);
    ASSERT_FALSE(s);
    EXPECT_NE(msg(s).find("too small"), std::string::npos) << msg(s);
}

TEST(BzImage, RefusesAPrefixThatCutsTheHeader) {
    Image im = make_image();
    BzImage b;
    kho::Status s = parse(im, &b, 0x240);
    ASSERT_FALSE(s);
    EXPECT_NE(msg(s).find("truncated inside the setup header"), std::string::npos) << msg(s);
}

TEST(BzImage, RefusesAPayloadLargerThanInitSize) {
    Image im = make_image(0x20000);
    im.u32(0x260, 0x10000);
    im.u32(0x1f4, 0x10000 / 16);
    BzImage b;
    kho::Status s = parse(im, &b);
    ASSERT_FALSE(s);
    EXPECT_NE(msg(s).find("init_size 0x10000 smaller than the payload"), std::string::npos) << msg(s);
}

TEST(BzImage, GarbageNeverParses) {
    // Random bytes with the two magics planted: every other field is
    // garbage, and parsing must fail cleanly or produce sane numbers.
    std::vector<uint8_t> g(0x8000);
    uint32_t x = 12345;
    for (int round = 0; round < 2000; round++) {
        for (auto& b : g) {
            x = x * 1103515245 + 12345;
            b = static_cast<uint8_t>(x >> 16);
        }
        uint16_t flag = 0xaa55;
        uint32_t magic = 0x53726448;
        memcpy(&g[0x1fe], &flag, 2);
        memcpy(&g[0x202], &magic, 4);
        BzImage b;
        if (kho::parse_bzimage(g.data(), g.size(), g.size(), &b)) {
            EXPECT_LE(b.setup_size + b.payload_size, g.size());
            EXPECT_GE(b.init_size, b.payload_size);
            EXPECT_EQ(b.alignment & (b.alignment - 1), 0u);
            EXPECT_EQ(b.min_load % b.alignment, 0u);
        }
    }
}

}  // namespace
