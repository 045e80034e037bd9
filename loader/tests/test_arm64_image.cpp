// The arm64 Image header and the stub's scratch footprint
// (loader/arm64_handover.h).
#include <gtest/gtest.h>

#include <string>

#include "arm64_image.h"
#include "loader/arm64_handover.h"

namespace {

using kho::Arm64Image;
using kho::Err;
using khotest::make_arm64_image;

kho::Status parse(const std::vector<uint8_t>& b, Arm64Image* im) {
    return kho::parse_arm64_image(b.data(), b.size() < 0x290 ? b.size() : 0x290, b.size(), im);
}

TEST(Arm64Image, HeaderFieldsAsBootingRstPlacesThem) {
    auto b = make_arm64_image(0x200000, 0x2a0000);
    Arm64Image im;
    ASSERT_TRUE(parse(b, &im));
    EXPECT_EQ(im.image_size, 0x2a0000u);
    EXPECT_EQ(im.text_offset, 0u);
    EXPECT_EQ(im.flags, 0xau);
    EXPECT_EQ(im.pe_offset, 0x40u);
}

TEST(Arm64Image, RefusesWhatTheStubCannotStart) {
    Arm64Image im;
    auto no_mz = make_arm64_image(0x200000, 0x2a0000);
    no_mz[0] = 0;
    EXPECT_EQ(parse(no_mz, &im).code(), Err::BadImage);
    auto magic = make_arm64_image(0x200000, 0x2a0000);
    magic[56] = 'X';
    EXPECT_EQ(parse(magic, &im).code(), Err::BadImage);
    EXPECT_EQ(parse(make_arm64_image(0x200000, 0), &im).code(), Err::BadImage);
    auto x86 = make_arm64_image(0x200000, 0x2a0000, 0x8664);
    kho::Status s = parse(x86, &im);
    EXPECT_EQ(s.code(), Err::BadImage);
    EXPECT_NE(std::string(s.message()).find("0x8664"), std::string::npos) << s.message();
    auto pe_far = make_arm64_image(0x200000, 0x2a0000);
    pe_far[60] = 0xf0;
    pe_far[61] = 0x0f;  // 0xff0: beyond the bytes read
    EXPECT_EQ(parse(pe_far, &im).code(), Err::BadImage);
    std::vector<uint8_t> tiny(32, 0);
    EXPECT_EQ(parse(tiny, &im).code(), Err::BadImage);
}

TEST(Arm64Image, StubFootprintCountsEveryCopyInScratch) {
    Arm64Image im;
    im.image_size = 0x2a0000 + 0x123;  // rounded up to pages
    const uint64_t file = 0x200000 + 1, initrd = 0x300000;
    const uint64_t kernel = 0x2a1000;
    // khoboot's copy + LoadImage's copy + the stub's 2 MiB aligned kernel
    // + the stub's initrd + its 2 MiB device tree + 1 MiB for the map.
    uint64_t want = 0x201000 + kernel + (kernel + 0x200000) + initrd + 0x200000 + 0x100000;
    EXPECT_EQ(kho::arm64_stub_footprint(file, im, initrd), want);
}

// The fences before LoadImage: every free range of the map outside
// scratch, nothing on a cold boot.
TEST(Arm64Fences, FreeRamOutsideScratch) {
    namespace efi = kho::abi::efi;
    auto d = [](uint32_t type, uint64_t start, uint64_t end) {
        efi::MemoryDescriptor m{};
        m.type = type;
        m.physical_start = start;
        m.number_of_pages = (end - start) / 4096;
        return m;
    };
    const efi::MemoryDescriptor map[] = {
        d(efi::kConventionalMemory, 0x40000000, 0x80000000),
        d(efi::kLoaderData, 0x80000000, 0x81000000),  // the protected state
        d(efi::kConventionalMemory, 0x81000000, 0xa0000000),
        d(efi::kRuntimeServicesData, 0xa0000000, 0xa0100000),
    };
    kho::FirmwareMemoryMap view{reinterpret_cast<const uint8_t*>(map), 4, sizeof(efi::MemoryDescriptor)};
    kho::Range a[16], b[16], c[16];
    kho::RangeSet ram(a, 16), free_mem(b, 16), out(c, 16);
    const kho::abi::KhoScratch scratch[] = {{0x90000000, 0x1000000}, {0x48000000, 0}};
    ASSERT_TRUE(kho::arm64_fences(view, scratch, 2, ram, free_mem, out));
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].start, 0x40000000u);
    EXPECT_EQ(out[0].end, 0x80000000u);
    EXPECT_EQ(out[1].start, 0x81000000u);
    EXPECT_EQ(out[1].end, 0x90000000u);
    EXPECT_EQ(out[2].start, 0x91000000u);
    EXPECT_EQ(out[2].end, 0xa0000000u);
    ASSERT_TRUE(kho::arm64_fences(view, scratch, 0, ram, free_mem, out));
    EXPECT_EQ(out.size(), 0u);
}

}  // namespace
