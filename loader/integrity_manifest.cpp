#include "integrity_manifest.h"

#include "crc32.h"

namespace kho {
namespace {

namespace m = abi::manifest;

uint32_t checksum_of(const uint8_t* bytes, size_t len) {
    return crc32_self_checked(bytes, len, __builtin_offsetof(m::Header, checksum));
}

// CRC of RAM in page-sized views: a range may straddle two RAM regions.
bool crc_of_ram(const PhysMem& mem, uint64_t start, uint64_t size, uint32_t* out) {
    uint32_t crc = 0;
    while (size) {
        uint64_t piece = size;
        const uint8_t* p = mem.view(start, piece);
        if (!p) {
            piece = 4096 - (start & 4095);
            if (piece > size) piece = size;
            p = mem.view(start, piece);
            if (!p) return false;
        }
        crc = crc32(p, piece, crc);
        start += piece;
        size -= piece;
    }
    *out = crc;
    return true;
}

}  // namespace

Status parse_manifest(const void* bytes, size_t len, ManifestView* view) {
    const uint8_t* b = static_cast<const uint8_t*>(bytes);
    if (len < sizeof(m::Header))
        return Status::error(Err::BadDescriptor, "manifest is %zu bytes, header needs %zu", len,
                             sizeof(m::Header));
    m::Header h;
    __builtin_memcpy(&h, b, sizeof(h));
    if (h.magic != m::kMagic)
        return Status::error(Err::BadDescriptor, "manifest magic 0x%llx, want 0x%llx",
                             (unsigned long long)h.magic, (unsigned long long)m::kMagic);
    if (h.version != m::kVersion || h.header_size != sizeof(m::Header) || h.reserved != 0)
        return Status::error(Err::BadDescriptor, "manifest version %u header_size %u unsupported",
                             h.version, h.header_size);
    size_t want = sizeof(m::Header) + size_t(h.entry_count) * sizeof(m::Entry);
    if (h.entry_count > (len - sizeof(m::Header)) / sizeof(m::Entry) || want != len)
        return Status::error(Err::BadDescriptor, "manifest of %u entries needs %zu bytes, has %zu",
                             h.entry_count, want, len);
    uint32_t crc = checksum_of(b, len);
    if (crc != h.checksum)
        return Status::error(Err::BadDescriptor, "manifest checksum 0x%08x, computed 0x%08x",
                             h.checksum, crc);
    view->entry_bytes = b + sizeof(m::Header);
    view->count = h.entry_count;
    for (uint32_t i = 0; i < h.entry_count; ++i) {
        const m::Entry e = view->entry(i);
        if (e.size == 0 || e.start + e.size < e.start || e.kind > m::kKindData)
            return Status::error(Err::BadDescriptor, "manifest entry %u (0x%llx+0x%llx kind %u) invalid",
                                 i, (unsigned long long)e.start, (unsigned long long)e.size, e.kind);
    }
    return Status::ok();
}

Status build_manifest(const m::Entry* entries, uint32_t count, void* out, size_t capacity,
                      size_t* written) {
    size_t total = sizeof(m::Header) + size_t(count) * sizeof(m::Entry);
    if (capacity < total)
        return Status::error(Err::Capacity, "manifest needs %zu bytes, buffer has %zu", total,
                             capacity);
    m::Header h{};
    h.magic = m::kMagic;
    h.version = m::kVersion;
    h.header_size = sizeof(m::Header);
    h.entry_count = count;
    uint8_t* b = static_cast<uint8_t*>(out);
    __builtin_memcpy(b, &h, sizeof(h));
    __builtin_memcpy(b + sizeof(h), entries, size_t(count) * sizeof(m::Entry));
    h.checksum = checksum_of(b, total);
    __builtin_memcpy(b + __builtin_offsetof(m::Header, checksum), &h.checksum, 4);
    *written = total;
    return Status::ok();
}

Status make_manifest_entry(const PhysMem& mem, uint64_t start, uint64_t size, uint32_t kind,
                           m::Entry* out) {
    out->start = start;
    out->size = size;
    out->kind = kind;
    if (!crc_of_ram(mem, start, size, &out->crc32))
        return Status::error(Err::OutOfRam, "manifest range 0x%llx-0x%llx is not RAM",
                             (unsigned long long)start, (unsigned long long)(start + size));
    return Status::ok();
}

Status verify_manifest(const PhysMem& mem, const ManifestView& manifest, VerifyLevel level,
                       VerifyStats* stats) {
    VerifyStats local;
    if (!stats) stats = &local;
    if (level == VerifyLevel::Off) return Status::ok();
    for (uint32_t i = 0; i < manifest.count; ++i) {
        const m::Entry e = manifest.entry(i);
        if (level == VerifyLevel::Metadata && e.kind != m::kKindMetadata) continue;
        uint32_t crc = 0;
        if (!crc_of_ram(mem, e.start, e.size, &crc))
            return Status::error(Err::Integrity, "0x%llx-0x%llx is not readable RAM",
                                 (unsigned long long)e.start, (unsigned long long)(e.start + e.size));
        if (crc != e.crc32)
            return Status::error(Err::Integrity, "0x%llx-0x%llx changed: crc 0x%08x, producer wrote 0x%08x",
                                 (unsigned long long)e.start, (unsigned long long)(e.start + e.size),
                                 crc, e.crc32);
        ++stats->entries;
        stats->bytes += e.size;
    }
    return Status::ok();
}

}  // namespace kho
