// kho-verify on hostile manifests: open_manifest() (parse, binding to the
// root FDT, ManifestBounds) and verify_state()/verify_manifest() over a
// fuzzed RAM image, with the cost bound checked where it is paid: every
// byte the verifier reads goes through a counting PhysMem, and what it
// read may never exceed what ManifestBounds allows for the level
// (metadata: metadata_bytes; full: that plus the protected bytes; off:
// nothing).
//
// Input: u8 flags (bits 0-1 the entry's kho-verify, auto/off/metadata/
// full; bit2 no manifest; bit3 set every entry's checksum to the RAM's;
// bit4 set the header checksum (both by the checksum of the manifest's
// version field: 1 CRC-32, 2 CRC-32C, else CRC-32C, which must be refused); bit5 the root FDT is the first entry's start;
// bit6 the manifest bytes are not 8-byte aligned), u8 protected range
// count (at most 32), each {u16 first page, u16 pages} inside the 4 MiB
// of RAM, u32 metadata_bytes (at most 8 times the RAM), u64 fdt_addr,
// u16 manifest length, the manifest, then the RAM image (repeated over
// [0x1000, 0x1000 + 4 MiB), fuzz_mem.h).
#include <string.h>

#include "fuzz_mem.h"
#include "loader/crc32c.h"
#include "loader/state_verify.h"

namespace {

using namespace kho;
namespace fz = kho::fuzz;
namespace m = abi::manifest;

#define CHECK(cond) \
    do {            \
        if (!(cond)) __builtin_trap(); \
    } while (0)

constexpr uint64_t kRam = 4ull << 20;

// Counts the bytes a verifier actually reads.
class CountingMem : public PhysMem {
public:
    explicit CountingMem(const PhysMem& mem) : mem_(mem) {}
    const uint8_t* view(uint64_t addr, uint64_t len) const override {
        const uint8_t* p = mem_.view(addr, len);
        if (p) bytes_ += len;
        return p;
    }
    bool is_ram(uint64_t addr, uint64_t len) const override { return mem_.is_ram(addr, len); }
    uint64_t bytes() const { return bytes_; }

private:
    const PhysMem& mem_;
    mutable uint64_t bytes_ = 0;
};

// The checksum a version names; an unknown version gets CRC-32C, so the
// fix-ups below still make the rest of such a manifest look sound.
uint32_t digest(uint32_t version, const void* p, size_t n, uint32_t crc) {
    if (!manifest_checksum(version, p, n, &crc)) crc = crc32c(p, n, crc);
    return crc;
}

bool ram_crc(uint32_t version, const PhysMem& mem, uint64_t start, uint64_t size, uint32_t* out) {
    uint32_t crc = 0;
    while (size) {
        uint64_t piece = kho::fuzz::kPage - (start & (kho::fuzz::kPage - 1));
        if (piece > size) piece = size;
        const uint8_t* p = mem.view(start, piece);
        if (!p) return false;
        crc = digest(version, p, piece, crc);
        start += piece;
        size -= piece;
    }
    *out = crc;
    return true;
}

Range g_protect[64];
alignas(8) uint8_t g_manifest[1 + 65536];

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fz::Reader in(data, size);
    const uint8_t flags = in.take<uint8_t>();
    const unsigned np = in.take<uint8_t>() % 33;
    RangeSet protect(g_protect, 64);
    for (unsigned i = 0; i < np; i++) {
        uint64_t first = in.take<uint16_t>() % (kRam / fz::kPage), pages = in.take<uint16_t>();
        uint64_t start = fz::FuzzMem::kBase + first * fz::kPage;
        uint64_t end = start + pages * fz::kPage;
        if (end > fz::FuzzMem::kBase + kRam) end = fz::FuzzMem::kBase + kRam;
        if (!protect.add(start, end)) return 0;
    }
    protect.normalize();
    const uint64_t metadata_bytes = in.take<uint32_t>() % (8 * kRam + 1);
    uint64_t fdt_addr = in.take<uint64_t>();
    size_t len = in.take<uint16_t>();
    const uint8_t* bytes;
    len = in.bytes(len, &bytes);
    uint8_t* manifest = g_manifest + ((flags & 64) ? 1 : 0);
    memcpy(manifest, bytes, len);
    const uint8_t* image;
    size_t image_len = in.bytes(in.left(), &image);
    fz::FuzzMem ram(image, image_len, kRam);

    // Fix-ups so mutations reach the digest checks.
    size_t count = len >= sizeof(m::Header) ? (len - sizeof(m::Header)) / sizeof(m::Entry) : 0;
    uint32_t version = 0;
    if (len >= sizeof(m::Header)) memcpy(&version, manifest + offsetof(m::Header, version), 4);
    if ((flags & 32) && count) memcpy(&fdt_addr, manifest + sizeof(m::Header), 8);
    if (flags & 8) {
        for (size_t i = 0; i < count; i++) {
            m::Entry e;
            uint8_t* at = manifest + sizeof(m::Header) + i * sizeof(e);
            memcpy(&e, at, sizeof(e));
            if (e.size <= kRam && ram_crc(version, ram, e.start, e.size, &e.checksum)) memcpy(at, &e, sizeof(e));
        }
    }
    if ((flags & 16) && len >= sizeof(m::Header)) {
        const size_t at = offsetof(m::Header, checksum);
        const uint32_t zero = 0;
        uint32_t crc = digest(version, manifest, at, 0);
        crc = digest(version, &zero, 4, crc);
        crc = digest(version, manifest + at + 4, len - at - 4, crc);
        memcpy(manifest + offsetof(m::Header, checksum), &crc, 4);
    }

    const ManifestBounds bounds{&protect, metadata_bytes};
    const bool have = !(flags & 4);

    // open_manifest(): whatever it accepts lies inside the bounds.
    ManifestView view;
    if (have && open_manifest(manifest, len, fdt_addr, bounds, &view)) {
        CHECK(view.version == m::kVersionCrc32 || view.version == m::kVersionCrc32c);
        uint64_t kind_bytes[2] = {0, 0};
        bool names_fdt = false;
        for (uint32_t i = 0; i < view.count; i++) {
            const m::Entry e = view.entry(i);
            CHECK(e.size && e.start + e.size > e.start && e.kind <= m::kKindData);
            CHECK(protect.contains(e.start, e.start + e.size));
            kind_bytes[e.kind] += e.size;
            names_fdt |= e.kind == m::kKindMetadata && e.start == fdt_addr && e.size >= 4096;
        }
        CHECK(names_fdt);
        CHECK(kind_bytes[0] <= metadata_bytes && kind_bytes[1] <= protect.total_bytes());
    }

    // verify_state(): what it reads stays within what the level allows.
    CountingMem counted(ram);
    StateVerifyResult r;
    const auto requested = static_cast<KhoVerify>(flags & 3);
    Status s = verify_state(counted, requested, have ? manifest : nullptr, have ? len : 0, fdt_addr,
                            bounds, &r);
    fz::trace("verify_state", s);
    uint64_t allowed = 0;
    if (r.level == VerifyLevel::Metadata) allowed = metadata_bytes;
    if (r.level == VerifyLevel::Full) allowed = metadata_bytes + protect.total_bytes();
    CHECK(counted.bytes() <= allowed);
    CHECK(r.stats.bytes <= counted.bytes());
    if (!have && (requested == KhoVerify::Metadata || requested == KhoVerify::Full)) CHECK(!s);
    if (s && r.level != VerifyLevel::Off) {
        CHECK(r.stats.bytes == counted.bytes());
        CHECK(r.manifest_entries == view.count && r.stats.entries <= view.count);
        uint32_t want = 0;
        for (uint32_t i = 0; i < view.count; i++)
            want += r.level == VerifyLevel::Full || view.entry(i).kind == m::kKindMetadata;
        CHECK(r.stats.entries == want);
    }
    if (r.level == VerifyLevel::Off) CHECK(counted.bytes() == 0);
    return 0;
}
