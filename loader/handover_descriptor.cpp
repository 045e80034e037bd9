#include "handover_descriptor.h"

#include "crc32.h"

namespace kho {
namespace {

namespace d = abi::descriptor;

uint32_t checksum_of(const uint8_t* bytes, size_t len) {
    return crc32_self_checked(bytes, len, __builtin_offsetof(d::Header, checksum));
}

// Linux itself emits zero-size entries (kho_scratch= allows a zero lowmem,
// global or per-node size once the total is non-zero; a 7.2 kernel with
// -m 1G was seen passing [0x3fc00000, 0]), and the next kernel keeps using
// the array it is given, so empty entries are kept, not refused.
Status check_scratch(const abi::KhoScratch* s, uint32_t n) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; ++i) {
        if (s[i].addr + s[i].size < s[i].addr)
            return Status::error(Err::BadDescriptor, "scratch[%u] 0x%llx+0x%llx wraps", i,
                                 (unsigned long long)s[i].addr, (unsigned long long)s[i].size);
        if ((s[i].addr | s[i].size) & 4095)
            return Status::error(Err::BadDescriptor, "scratch[%u] 0x%llx+0x%llx not page aligned",
                                 i, (unsigned long long)s[i].addr, (unsigned long long)s[i].size);
        for (uint32_t j = 0; j < i; ++j)
            if (s[i].addr < s[j].addr + s[j].size && s[j].addr < s[i].addr + s[i].size)
                return Status::error(Err::BadDescriptor, "scratch[%u] overlaps scratch[%u]", i, j);
        total += s[i].size;
    }
    if (n && total == 0)
        return Status::error(Err::BadDescriptor, "all %u scratch regions are empty", n);
    return Status::ok();
}

}  // namespace

Status parse_handover_descriptor(const void* bytes, size_t len, HandoverDescriptor* out) {
    const uint8_t* b = static_cast<const uint8_t*>(bytes);
    if (len < sizeof(d::Header))
        return Status::error(Err::BadDescriptor, "descriptor is %zu bytes, header needs %zu", len,
                             sizeof(d::Header));
    d::Header h;
    __builtin_memcpy(&h, b, sizeof(h));
    if (h.magic != d::kMagic)
        return Status::error(Err::BadDescriptor, "descriptor magic 0x%llx, want 0x%llx",
                             (unsigned long long)h.magic, (unsigned long long)d::kMagic);
    if (h.version != d::kVersion)
        return Status::error(Err::BadDescriptor, "descriptor version %u, want %u", h.version,
                             d::kVersion);
    if (h.header_size != sizeof(d::Header))
        return Status::error(Err::BadDescriptor, "descriptor header_size %u, want %zu",
                             h.header_size, sizeof(d::Header));
    if (h.scratch_count > d::kMaxScratch)
        return Status::error(Err::BadDescriptor, "descriptor has %u scratch regions, max %u",
                             h.scratch_count, d::kMaxScratch);
    size_t want = sizeof(d::Header) + size_t(h.scratch_count) * sizeof(abi::KhoScratch);
    if (h.total_size != want || len != want)
        return Status::error(Err::BadDescriptor, "descriptor size %zu (total_size %u), want %zu",
                             len, h.total_size, want);
    uint32_t crc = checksum_of(b, want);
    if (crc != h.checksum)
        return Status::error(Err::BadDescriptor, "descriptor checksum 0x%08x, computed 0x%08x",
                             h.checksum, crc);
    if (h.flags & ~d::kKnownFlags)
        return Status::error(Err::BadDescriptor, "descriptor has unknown flags 0x%x",
                             h.flags & ~d::kKnownFlags);
    if (h.reserved != 0)
        return Status::error(Err::BadDescriptor, "descriptor reserved field is 0x%x", h.reserved);
    if (h.fdt_addr == 0 || (h.fdt_addr & 4095))
        return Status::error(Err::BadDescriptor, "descriptor FDT address 0x%llx not page aligned",
                             (unsigned long long)h.fdt_addr);
    if (h.fdt_size != 4096)
        return Status::error(Err::BadDescriptor, "descriptor FDT size %llu, want 4096",
                             (unsigned long long)h.fdt_size);
    bool multikernel = h.flags & d::kFlagMultikernel;
    if (multikernel != (h.scratch_count == 0))
        return Status::error(Err::BadDescriptor,
                             multikernel ? "multikernel descriptor lists scratch regions"
                                         : "descriptor lists no scratch regions");
    if ((h.flags & d::kFlagManifest) && (h.manifest_addr == 0 || h.manifest_size == 0))
        return Status::error(Err::BadDescriptor, "descriptor manifest flag without a manifest");

    out->flags = h.flags;
    out->fdt_addr = h.fdt_addr;
    out->fdt_size = h.fdt_size;
    out->fdt_crc32 = h.fdt_crc32;
    out->manifest_addr = h.manifest_addr;
    out->manifest_size = h.manifest_size;
    out->scratch_count = h.scratch_count;
    __builtin_memcpy(out->scratch, b + sizeof(d::Header), h.scratch_count * sizeof(abi::KhoScratch));
    return check_scratch(out->scratch, out->scratch_count);
}

Status build_handover_descriptor(const HandoverDescriptor& in, void* out, size_t capacity,
                                 size_t* written) {
    if (in.scratch_count > d::kMaxScratch)
        return Status::error(Err::BadDescriptor, "%u scratch regions, max %u", in.scratch_count,
                             d::kMaxScratch);
    KHO_TRY(check_scratch(in.scratch, in.scratch_count));
    size_t total = sizeof(d::Header) + in.scratch_count * sizeof(abi::KhoScratch);
    if (capacity < total)
        return Status::error(Err::Capacity, "descriptor needs %zu bytes, buffer has %zu", total,
                             capacity);
    d::Header h{};
    h.magic = d::kMagic;
    h.version = d::kVersion;
    h.header_size = sizeof(d::Header);
    h.total_size = uint32_t(total);
    h.flags = in.flags;
    h.scratch_count = in.scratch_count;
    h.fdt_addr = in.fdt_addr;
    h.fdt_size = in.fdt_size;
    h.fdt_crc32 = in.fdt_crc32;
    h.manifest_addr = in.manifest_addr;
    h.manifest_size = in.manifest_size;
    uint8_t* b = static_cast<uint8_t*>(out);
    __builtin_memcpy(b, &h, sizeof(h));
    __builtin_memcpy(b + sizeof(h), in.scratch, in.scratch_count * sizeof(abi::KhoScratch));
    h.checksum = checksum_of(b, total);
    __builtin_memcpy(b + __builtin_offsetof(d::Header, checksum), &h.checksum, 4);
    *written = total;
    // Round-trip through the parser so a builder can never emit what the
    // loader would refuse.
    HandoverDescriptor check;
    return parse_handover_descriptor(b, total, &check);
}

}  // namespace kho
