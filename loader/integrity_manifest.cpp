#include "integrity_manifest.h"

#include "crc32.h"
#include "crc32c.h"

namespace kho {
namespace {

namespace m = abi::manifest;

using Digest = uint32_t (*)(const void* data, size_t len, uint32_t crc);

Digest digest_for(uint32_t version) {
    switch (version) {
    case m::kVersionCrc32: return crc32;
    case m::kVersionCrc32c: return crc32c;
    }
    return nullptr;
}

// Header and entries with the header's checksum field taken as zero.
uint32_t checksum_of(Digest digest, const uint8_t* bytes, size_t len) {
    const size_t at = __builtin_offsetof(m::Header, checksum);
    const uint32_t zero = 0;
    uint32_t crc = digest(bytes, at, 0);
    crc = digest(&zero, sizeof(zero), crc);
    return digest(bytes + at + 4, len - at - 4, crc);
}

// Digest of RAM in page-sized views: a range may straddle two RAM regions.
bool crc_of_ram(Digest digest, const PhysMem& mem, uint64_t start, uint64_t size, uint32_t* out) {
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
        crc = digest(p, piece, crc);
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
    const Digest digest = digest_for(h.version);
    if (!digest || h.header_size != sizeof(m::Header) || h.reserved != 0)
        return Status::error(Err::BadDescriptor, "manifest version %u header_size %u unsupported",
                             h.version, h.header_size);
    size_t want = sizeof(m::Header) + size_t(h.entry_count) * sizeof(m::Entry);
    if (h.entry_count > (len - sizeof(m::Header)) / sizeof(m::Entry) || want != len)
        return Status::error(Err::BadDescriptor, "manifest of %u entries needs %zu bytes, has %zu",
                             h.entry_count, want, len);
    uint32_t crc = checksum_of(digest, b, len);
    if (crc != h.checksum)
        return Status::error(Err::BadDescriptor, "manifest checksum 0x%08x, computed 0x%08x (%s)",
                             h.checksum, crc, h.version == m::kVersionCrc32 ? "v1 crc32" : "v2 crc32c");
    view->entry_bytes = b + sizeof(m::Header);
    view->count = h.entry_count;
    view->version = h.version;
    for (uint32_t i = 0; i < h.entry_count; ++i) {
        const m::Entry e = view->entry(i);
        if (e.size == 0 || e.start + e.size < e.start || e.kind > m::kKindData)
            return Status::error(Err::BadDescriptor, "manifest entry %u (0x%llx+0x%llx kind %u) invalid",
                                 i, (unsigned long long)e.start, (unsigned long long)e.size, e.kind);
    }
    return Status::ok();
}

bool manifest_checksum(uint32_t version, const void* data, size_t len, uint32_t* crc) {
    const Digest digest = digest_for(version);
    if (digest) *crc = digest(data, len, *crc);
    return digest != nullptr;
}

Status build_manifest(const m::Entry* entries, uint32_t count, void* out, size_t capacity,
                      size_t* written) {
    return build_manifest_as(m::kVersion, entries, count, out, capacity, written);
}

Status build_manifest_as(uint32_t version, const m::Entry* entries, uint32_t count, void* out,
                         size_t capacity, size_t* written) {
    const Digest digest = digest_for(version);
    if (!digest) return Status::error(Err::BadDescriptor, "manifest version %u unknown", version);
    size_t total = sizeof(m::Header) + size_t(count) * sizeof(m::Entry);
    if (capacity < total)
        return Status::error(Err::Capacity, "manifest needs %zu bytes, buffer has %zu", total,
                             capacity);
    m::Header h{};
    h.magic = m::kMagic;
    h.version = version;
    h.header_size = sizeof(m::Header);
    h.entry_count = count;
    uint8_t* b = static_cast<uint8_t*>(out);
    __builtin_memcpy(b, &h, sizeof(h));
    __builtin_memcpy(b + sizeof(h), entries, size_t(count) * sizeof(m::Entry));
    h.checksum = checksum_of(digest, b, total);
    __builtin_memcpy(b + __builtin_offsetof(m::Header, checksum), &h.checksum, 4);
    *written = total;
    return Status::ok();
}

Status make_manifest_entry(const PhysMem& mem, uint64_t start, uint64_t size, uint32_t kind,
                           m::Entry* out) {
    return make_manifest_entry_as(m::kVersion, mem, start, size, kind, out);
}

Status make_manifest_entry_as(uint32_t version, const PhysMem& mem, uint64_t start, uint64_t size,
                              uint32_t kind, m::Entry* out) {
    const Digest digest = digest_for(version);
    if (!digest) return Status::error(Err::BadDescriptor, "manifest version %u unknown", version);
    out->start = start;
    out->size = size;
    out->kind = kind;
    if (!crc_of_ram(digest, mem, start, size, &out->checksum))
        return Status::error(Err::OutOfRam, "manifest range 0x%llx-0x%llx is not RAM",
                             (unsigned long long)start, (unsigned long long)(start + size));
    return Status::ok();
}

Status verify_manifest(const PhysMem& mem, const ManifestView& manifest, VerifyLevel level,
                       VerifyStats* stats) {
    VerifyStats local;
    if (!stats) stats = &local;
    if (level == VerifyLevel::Off) return Status::ok();
    const Digest digest = digest_for(manifest.version);
    if (!digest && manifest.count)
        return Status::error(Err::Integrity, "manifest version %u unknown", manifest.version);
    for (uint32_t i = 0; i < manifest.count; ++i) {
        const m::Entry e = manifest.entry(i);
        if (level == VerifyLevel::Metadata && e.kind != m::kKindMetadata) continue;
        uint32_t crc = 0;
        if (!crc_of_ram(digest, mem, e.start, e.size, &crc))
            return Status::error(Err::Integrity, "0x%llx-0x%llx is not readable RAM",
                                 (unsigned long long)e.start, (unsigned long long)(e.start + e.size));
        if (crc != e.checksum)
            return Status::error(Err::Integrity, "0x%llx-0x%llx changed: crc 0x%08x, producer wrote 0x%08x",
                                 (unsigned long long)e.start, (unsigned long long)(e.start + e.size),
                                 crc, e.checksum);
        ++stats->entries;
        stats->bytes += e.size;
    }
    return Status::ok();
}

}  // namespace kho
