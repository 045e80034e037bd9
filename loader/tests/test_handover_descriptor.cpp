// Handover descriptor (loader/handover_descriptor.h): how a previous stage
// tells the loader where its KHO state is. The test encodes descriptors
// itself from abi/handover_descriptor.h's layout (byte offsets, its own
// bit-serial CRC-32), then checks the parser accepts exactly those and
// refuses each corrupted field with a message naming it.
#include <gtest/gtest.h>

#include <ctype.h>
#include <string.h>

#include <random>
#include <string>
#include <vector>

#include "abi/handover_descriptor.h"
#include "loader/handover_descriptor.h"

using kho::Err;
using kho::HandoverDescriptor;

namespace {

namespace desc = kho::abi::descriptor;

uint32_t reference_crc32(const uint8_t* p, size_t n) {
    uint32_t crc = ~0u;
    for (size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

template <typename T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
    memcpy(b.data() + off, &v, sizeof v);
}
template <typename T>
T get(const std::vector<uint8_t>& b, size_t off) {
    T v;
    memcpy(&v, b.data() + off, sizeof v);
    return v;
}

struct Fields {
    uint32_t flags = desc::kFlagFdtCrc;
    uint64_t fdt_addr = 0x7e5f0000;
    uint64_t fdt_size = 4096;
    uint32_t fdt_crc32 = 0x11223344;
    uint64_t manifest_addr = 0;
    uint64_t manifest_size = 0;
    std::vector<std::pair<uint64_t, uint64_t>> scratch = {{0x4000000, 0x4800000},
                                                          {0x100000000ull, 0x2000000}};
};

// Offsets per abi/handover_descriptor.h (static_asserted there).
constexpr size_t kOffMagic = 0, kOffVersion = 8, kOffHeaderSize = 12, kOffTotal = 16,
                 kOffChecksum = 20, kOffFlags = 24, kOffCount = 28, kOffFdtAddr = 32,
                 kOffFdtSize = 40, kOffFdtCrc = 48, kOffReserved = 52, kOffManifest = 56,
                 kOffManifestSize = 64, kHeader = 72;

void seal(std::vector<uint8_t>& b) {
    put<uint32_t>(b, kOffChecksum, 0);
    put<uint32_t>(b, kOffChecksum, reference_crc32(b.data(), get<uint32_t>(b, kOffTotal)));
}

std::vector<uint8_t> encode(const Fields& f) {
    std::vector<uint8_t> b(kHeader + 16 * f.scratch.size(), 0);
    put<uint64_t>(b, kOffMagic, 0x4353454442484f4bull);  // "KHOBDESC"
    put<uint32_t>(b, kOffVersion, 1);
    put<uint32_t>(b, kOffHeaderSize, kHeader);
    put<uint32_t>(b, kOffTotal, uint32_t(b.size()));
    put<uint32_t>(b, kOffFlags, f.flags);
    put<uint32_t>(b, kOffCount, uint32_t(f.scratch.size()));
    put<uint64_t>(b, kOffFdtAddr, f.fdt_addr);
    put<uint64_t>(b, kOffFdtSize, f.fdt_size);
    put<uint32_t>(b, kOffFdtCrc, f.fdt_crc32);
    put<uint32_t>(b, kOffReserved, 0);
    put<uint64_t>(b, kOffManifest, f.manifest_addr);
    put<uint64_t>(b, kOffManifestSize, f.manifest_size);
    for (size_t i = 0; i < f.scratch.size(); ++i) {
        put<uint64_t>(b, kHeader + 16 * i, f.scratch[i].first);
        put<uint64_t>(b, kHeader + 16 * i + 8, f.scratch[i].second);
    }
    seal(b);
    return b;
}

HandoverDescriptor to_struct(const Fields& f) {
    HandoverDescriptor d;
    d.flags = f.flags;
    d.fdt_addr = f.fdt_addr;
    d.fdt_size = f.fdt_size;
    d.fdt_crc32 = f.fdt_crc32;
    d.manifest_addr = f.manifest_addr;
    d.manifest_size = f.manifest_size;
    d.scratch_count = uint32_t(f.scratch.size());
    for (size_t i = 0; i < f.scratch.size(); ++i) d.scratch[i] = {f.scratch[i].first, f.scratch[i].second};
    return d;
}

void expect_same(const HandoverDescriptor& d, const Fields& f) {
    EXPECT_EQ(d.flags, f.flags);
    EXPECT_EQ(d.fdt_addr, f.fdt_addr);
    EXPECT_EQ(d.fdt_size, f.fdt_size);
    EXPECT_EQ(d.fdt_crc32, f.fdt_crc32);
    EXPECT_EQ(d.manifest_addr, f.manifest_addr);
    EXPECT_EQ(d.manifest_size, f.manifest_size);
    ASSERT_EQ(d.scratch_count, f.scratch.size());
    for (size_t i = 0; i < f.scratch.size(); ++i) {
        EXPECT_EQ(d.scratch[i].addr, f.scratch[i].first) << i;
        EXPECT_EQ(d.scratch[i].size, f.scratch[i].second) << i;
    }
}

std::string lower(const char* s) {
    std::string r = s;
    for (auto& c : r) c = char(tolower((unsigned char)c));
    return r;
}

kho::Status parse(const std::vector<uint8_t>& b, HandoverDescriptor* out = nullptr) {
    HandoverDescriptor tmp;
    return kho::parse_handover_descriptor(b.data(), b.size(), out ? out : &tmp);
}

// The descriptor must be refused as BadDescriptor, naming `word`.
void expect_refused(const std::vector<uint8_t>& b, const char* word) {
    kho::Status s = parse(b);
    EXPECT_EQ(s.code(), Err::BadDescriptor) << s.message();
    EXPECT_NE(lower(s.message()).find(word), std::string::npos)
        << "message lacks '" << word << "': " << s.message();
}

// ---------------------------------------------------------------------------

TEST(HandoverDescriptor, ParsesAnIndependentlyEncodedDescriptor) {
    Fields f;
    f.flags = desc::kFlagFdtCrc | desc::kFlagManifest;
    f.manifest_addr = 0x7e000000;
    f.manifest_size = 0x3000;
    HandoverDescriptor d;
    kho::Status s = parse(encode(f), &d);
    ASSERT_TRUE(s.is_ok()) << s.message();
    expect_same(d, f);
}

TEST(HandoverDescriptor, BuildProducesTheAbiLayout) {
    Fields f;
    std::vector<uint8_t> expect = encode(f);
    std::vector<uint8_t> out(desc::kMaxSize, 0xcc);
    size_t written = 0;
    kho::Status s = kho::build_handover_descriptor(to_struct(f), out.data(), out.size(), &written);
    ASSERT_TRUE(s.is_ok()) << s.message();
    ASSERT_EQ(written, expect.size());
    out.resize(written);
    EXPECT_EQ(out, expect);
}

TEST(HandoverDescriptor, RandomRoundTrips) {
    std::mt19937_64 rng(1);
    for (int round = 0; round < 200; ++round) {
        Fields f;
        f.flags = rng() % 2 ? uint32_t(desc::kFlagFdtCrc) : 0u;
        f.fdt_addr = ((rng() % (1ull << 40)) & ~4095ull) | 0x1000;
        f.fdt_crc32 = uint32_t(rng());
        f.scratch.clear();
        size_t n = 1 + rng() % desc::kMaxScratch;
        uint64_t at = (rng() % (1ull << 30)) & ~4095ull;
        for (size_t i = 0; i < n; ++i) {
            uint64_t size = (1 + rng() % (1ull << 14)) << 12;
            f.scratch.push_back({at, size});
            at += size + ((rng() % (1ull << 14)) << 12);
        }
        std::shuffle(f.scratch.begin(), f.scratch.end(), rng);  // order is free
        std::vector<uint8_t> buf(desc::kMaxSize);
        size_t written = 0;
        ASSERT_TRUE(kho::build_handover_descriptor(to_struct(f), buf.data(), buf.size(), &written).is_ok());
        buf.resize(written);
        EXPECT_EQ(buf, encode(f));
        HandoverDescriptor d;
        kho::Status s = parse(buf, &d);
        ASSERT_TRUE(s.is_ok()) << s.message();
        expect_same(d, f);
    }
}

TEST(HandoverDescriptor, TouchingScratchRegionsAreFine) {
    Fields f;
    f.scratch = {{0x200000, 0x200000}, {0x400000, 0x200000}};
    EXPECT_TRUE(parse(encode(f)).is_ok());
}

TEST(HandoverDescriptor, MaximumScratchCount) {
    Fields f;
    f.scratch.clear();
    for (uint64_t i = 0; i < desc::kMaxScratch; ++i) f.scratch.push_back({i << 30, 2 << 20});
    HandoverDescriptor d;
    ASSERT_TRUE(parse(encode(f), &d).is_ok());
    EXPECT_EQ(d.scratch_count, desc::kMaxScratch);
}

TEST(HandoverDescriptor, BuildRefusesASmallBuffer) {
    Fields f;
    std::vector<uint8_t> out(kHeader + 16);  // room for one region, not two
    size_t written = 0;
    kho::Status s = kho::build_handover_descriptor(to_struct(f), out.data(), out.size(), &written);
    EXPECT_EQ(s.code(), Err::Capacity) << s.message();
}

TEST(HandoverDescriptor, BuildRefusesTooManyScratchRegions) {
    HandoverDescriptor d = to_struct(Fields{});
    d.scratch_count = desc::kMaxScratch + 1;
    std::vector<uint8_t> out(desc::kMaxSize + 64);
    size_t written = 0;
    EXPECT_FALSE(kho::build_handover_descriptor(d, out.data(), out.size(), &written).is_ok());
}

// ---------------------------------------------------------------------------
// Every field corrupted, with the checksum recomputed so that the field
// check itself is what fires.

TEST(HandoverDescriptor, BadMagic) {
    auto b = encode(Fields{});
    put<uint64_t>(b, kOffMagic, 0x4353454442484f4cull);
    seal(b);
    expect_refused(b, "magic");
}

TEST(HandoverDescriptor, BadVersion) {
    for (uint32_t v : {0u, 2u, 0xffffffffu}) {
        auto b = encode(Fields{});
        put<uint32_t>(b, kOffVersion, v);
        seal(b);
        expect_refused(b, "version");
    }
}

TEST(HandoverDescriptor, BadHeaderSize) {
    for (uint32_t v : {0u, 64u, 80u}) {
        auto b = encode(Fields{});
        put<uint32_t>(b, kOffHeaderSize, v);
        seal(b);
        expect_refused(b, "size");
    }
}

TEST(HandoverDescriptor, TotalSizeDisagreesWithScratchCount) {
    auto b = encode(Fields{});
    put<uint32_t>(b, kOffCount, 1);  // total_size still says two regions
    seal(b);
    expect_refused(b, "size");
}

TEST(HandoverDescriptor, TotalSizeLargerThanTheBuffer) {
    auto b = encode(Fields{});
    put<uint32_t>(b, kOffTotal, uint32_t(b.size() + 16));
    put<uint32_t>(b, kOffCount, 3);
    b.resize(b.size() + 16, 0);
    seal(b);
    b.resize(b.size() - 16);  // the variable came back shorter
    kho::Status s = parse(b);
    EXPECT_EQ(s.code(), Err::BadDescriptor) << s.message();
}

TEST(HandoverDescriptor, TruncatedHeader) {
    auto b = encode(Fields{});
    for (size_t len : {0u, 8u, 71u}) {
        HandoverDescriptor d;
        kho::Status s = kho::parse_handover_descriptor(b.data(), len, &d);
        EXPECT_EQ(s.code(), Err::BadDescriptor) << len << ": " << s.message();
    }
}

TEST(HandoverDescriptor, TooManyScratchRegions) {
    Fields f;
    f.scratch.clear();
    for (uint64_t i = 0; i <= desc::kMaxScratch; ++i) f.scratch.push_back({i << 30, 2 << 20});
    expect_refused(encode(f), "scratch");
}

TEST(HandoverDescriptor, BadChecksum) {
    auto b = encode(Fields{});
    b[kOffFdtAddr] ^= 0x10;  // any byte changed after sealing
    expect_refused(b, "checksum");
    auto c = encode(Fields{});
    put<uint32_t>(c, kOffChecksum, get<uint32_t>(c, kOffChecksum) ^ 1);
    expect_refused(c, "checksum");
}

TEST(HandoverDescriptor, ChecksumCoversTheScratchArray) {
    auto b = encode(Fields{});
    b[kHeader + 16 + 3] ^= 0x01;
    expect_refused(b, "checksum");
}

TEST(HandoverDescriptor, UnknownFlags) {
    for (uint32_t flag : {1u << 3, 1u << 16, 1u << 31}) {
        Fields f;
        f.flags |= flag;
        expect_refused(encode(f), "flag");
    }
}

TEST(HandoverDescriptor, FdtSizeMustBeOnePage) {
    for (uint64_t size : {0ull, 2048ull, 8192ull, 4097ull}) {
        Fields f;
        f.fdt_size = size;
        expect_refused(encode(f), "fdt");
    }
}

TEST(HandoverDescriptor, ZeroSizeEntryBesideRealOnesIsKept) {
    // Linux's own scratch array can hold zero-size entries (kho_scratch=
    // allows a zero lowmem/global/per-node size; a 7.2 guest with -m 1G
    // passed [0x3fc00000, 0]) and the next kernel reuses the array as
    // given, so such an entry is kept, not refused.
    Fields f;
    f.scratch = {{0x3fc00000, 0}, {0x4000000, 0x4800000}};
    HandoverDescriptor d;
    kho::Status s = parse(encode(f), &d);
    ASSERT_TRUE(s.is_ok()) << s.message();
    expect_same(d, f);
}

TEST(HandoverDescriptor, AllScratchRegionsEmptyIsRefused) {
    Fields f;
    f.scratch = {{0x4000000, 0}, {0x8000000, 0}};
    expect_refused(encode(f), "scratch");
}

TEST(HandoverDescriptor, NoScratchWithoutMultikernelIsRefused) {
    // scratch 0/0 is how the handover says "multikernel": a normal KHO
    // descriptor without scratch would turn into one.
    Fields f;
    f.scratch.clear();
    expect_refused(encode(f), "scratch");
}

TEST(HandoverDescriptor, MultikernelHasNoScratch) {
    Fields f;
    f.flags = desc::kFlagMultikernel;
    f.scratch.clear();
    HandoverDescriptor d;
    ASSERT_TRUE(parse(encode(f), &d).is_ok());
    EXPECT_EQ(d.scratch_count, 0u);
    f.scratch = {{0x4000000, 0x4800000}};
    expect_refused(encode(f), "multikernel");
}

TEST(HandoverDescriptor, UnalignedScratchIsRefused) {
    Fields f;
    f.scratch[0].first += 0x800;
    expect_refused(encode(f), "scratch");
    Fields g;
    g.scratch[1].second = 0x1001;
    expect_refused(encode(g), "scratch");
}

TEST(HandoverDescriptor, FdtAddressMustBeAPage) {
    for (uint64_t addr : {0ull, 0x7e5f0800ull}) {
        Fields f;
        f.fdt_addr = addr;
        expect_refused(encode(f), "fdt");
    }
}

TEST(HandoverDescriptor, ManifestFlagNeedsAManifest) {
    Fields f;
    f.flags |= desc::kFlagManifest;
    expect_refused(encode(f), "manifest");
}

TEST(HandoverDescriptor, ReservedMustBeZero) {
    auto b = encode(Fields{});
    put<uint32_t>(b, kOffReserved, 1);
    seal(b);
    expect_refused(b, "reserved");
}

TEST(HandoverDescriptor, TrailingBytesAreRefused) {
    auto b = encode(Fields{});
    b.push_back(0);
    kho::Status s = parse(b);
    EXPECT_EQ(s.code(), Err::BadDescriptor) << s.message();
}

TEST(HandoverDescriptor, OverlappingScratchRegions) {
    Fields f;
    f.scratch = {{0x4000000, 0x4800000}, {0x8000000, 0x1000000}};  // second starts inside first
    expect_refused(encode(f), "scratch");
    f.scratch = {{0x8000000, 0x1000000}, {0x4000000, 0x4800000}};  // same, other order
    expect_refused(encode(f), "scratch");
    f.scratch = {{0x4000000, 0x1000}, {0x4000000, 0x1000}};  // identical
    expect_refused(encode(f), "scratch");
    f.scratch = {{0x1000000, 0x10000000}, {0x2000000, 0x1000}};  // contained
    expect_refused(encode(f), "scratch");
}

TEST(HandoverDescriptor, WrappingScratchRegion) {
    Fields f;
    f.scratch[1] = {0xfffffffffff00000ull, 0x200000};
    expect_refused(encode(f), "scratch");
}

TEST(HandoverDescriptor, RandomCorruptionIsAlwaysRefused) {
    // Any single-bit flip of a sealed descriptor is caught (by the checksum
    // at least): a valid-looking descriptor is never made from a damaged
    // variable.
    std::vector<uint8_t> good = encode(Fields{});
    for (size_t bit = 0; bit < good.size() * 8; ++bit) {
        std::vector<uint8_t> b = good;
        b[bit / 8] ^= uint8_t(1u << (bit % 8));
        kho::Status s = parse(b);
        EXPECT_EQ(s.code(), Err::BadDescriptor) << "bit " << bit << ": " << s.message();
    }
}

}  // namespace
