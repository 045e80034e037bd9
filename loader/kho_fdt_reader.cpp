#include "kho_fdt_reader.h"

#include <libfdt.h>

#include "../abi/multikernel.h"
#include "phys_range.h"

namespace kho {
namespace {

using abi::KhoVersion;

// Sub-blobs are preserved allocations; anything this large is corruption,
// not a real KHO user (test_kho's largest sub-FDT is a few pages).
constexpr uint64_t kMaxBlobSize = 1ull << 30;

bool str_eq(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

void copy_str(char* dst, size_t cap, const char* src, size_t len) {
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
    dst[n] = '\0';
}

uint64_t read_le64(const void* p) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);  // native endian: x86-64 and arm64 are LE
    return v;
}

// A KHO u64 property: exactly 8 bytes, CPU-native (not a DT cell pair).
Status get_u64(const void* fdt, int node, const char* node_name, const char* prop, uint64_t* out,
               bool* present = nullptr) {
    int len = 0;
    const void* p = fdt_getprop(fdt, node, prop, &len);
    if (present) *present = p != nullptr;
    if (!p) {
        if (present) return Status::ok();
        return Status::error(Err::BadProperty, "%s: missing property %s", node_name, prop);
    }
    if (len != 8)
        return Status::error(Err::BadProperty, "%s: property %s has %d bytes, want 8", node_name,
                             prop, len);
    *out = read_le64(p);
    return Status::ok();
}

Status read_compatible(const void* fdt, KhoState* out) {
    int len = 0;
    const char* compat = static_cast<const char*>(fdt_getprop(fdt, 0, "compatible", &len));
    if (!compat || len <= 0)
        return Status::error(Err::BadVersion, "root FDT at 0x%llx has no compatible",
                             (unsigned long long)out->fdt_addr);
    if (compat[len - 1] != '\0')
        return Status::error(Err::BadVersion, "root compatible is not NUL-terminated");
    // A stringlist: the consumer matches any entry against its own
    // KHO_FDT_COMPATIBLE (fdt_node_check_compatible), so accept the first
    // entry we know and name the first one when none is known.
    for (int off = 0; off < len;) {
        const char* s = compat + off;
        int n = 0;
        while (s[n]) ++n;
        if (kho_version_from_compatible(s, &out->version)) {
            copy_str(out->compatible, sizeof(out->compatible), s, n);
            return Status::ok();
        }
        off += n + 1;
    }
    return Status::error(Err::BadVersion, "unknown KHO version \"%s\"", compat);
}

Status read_subnode(const PhysMem& mem, const void* fdt, int node, KhoVersion version,
                    KhoSubnode* sub) {
    int name_len = 0;
    const char* name = fdt_get_name(fdt, node, &name_len);
    if (!name || name_len <= 0)
        return Status::error(Err::BadFdt, "sub-node at offset %d has no name", node);
    copy_str(sub->name, sizeof(sub->name), name, name_len);
    sub->has_blob_size = false;

    if (abi::has_sub_fdt_prop(version)) {
        KHO_TRY(get_u64(fdt, node, sub->name, abi::kPropSubFdtV1, &sub->blob_phys));
        // kho-v1 sub-blobs are FDTs: their size is their header's totalsize.
        uint8_t hdr[sizeof(fdt_header)];
        if (!mem.read(sub->blob_phys, hdr, sizeof(hdr)))
            return Status::error(Err::OutOfRam, "%s: sub-FDT 0x%llx is not in RAM", sub->name,
                                 (unsigned long long)sub->blob_phys);
        if (fdt_magic(hdr) != FDT_MAGIC)
            return Status::error(Err::BadFdt, "%s: sub-FDT 0x%llx has bad magic 0x%x", sub->name,
                                 (unsigned long long)sub->blob_phys, fdt_magic(hdr));
        sub->blob_size = fdt_totalsize(hdr);
    } else {
        KHO_TRY(get_u64(fdt, node, sub->name, abi::kPropPreservedData, &sub->blob_phys));
        if (abi::has_blob_size(version)) {
            KHO_TRY(get_u64(fdt, node, sub->name, abi::kPropBlobSize, &sub->blob_size));
            sub->has_blob_size = true;
        } else {
            // kho-v2 records no size; the blob is a preserved allocation of
            // at least one page, which is what we keep defensively.
            sub->blob_size = 4096;
        }
    }
    if (sub->blob_phys == 0)
        return Status::error(Err::BadProperty, "%s: blob address is 0", sub->name);
    if (sub->blob_size == 0 || sub->blob_size > kMaxBlobSize)
        return Status::error(Err::BadProperty, "%s: blob size %llu out of range", sub->name,
                             (unsigned long long)sub->blob_size);
    // The next kernel reads the blob before it walks the map, and khoboot
    // protects its pages: it must be addressable, whole pages included, and
    // be RAM (a blob in MMIO or a hole would be "protected" as nothing).
    Range pages;
    if (!page_span(sub->blob_phys, sub->blob_size, &pages) || !below_phys_limit(pages))
        return Status::error(Err::BadPointer, "%s: blob 0x%llx+0x%llx reaches past 2^%u", sub->name,
                             (unsigned long long)sub->blob_phys,
                             (unsigned long long)sub->blob_size, kPhysAddrBits);
    if (!mem.is_ram(sub->blob_phys, sub->blob_size))
        return Status::error(Err::OutOfRam, "%s: blob 0x%llx+0x%llx is not RAM", sub->name,
                             (unsigned long long)sub->blob_phys,
                             (unsigned long long)sub->blob_size);
    return Status::ok();
}

Status read_multikernel(const void* fdt, KhoState* out) {
    int node = fdt_subnode_offset(fdt, 0, abi::multikernel::kNode);
    if (node < 0)
        return Status::error(Err::BadProperty, "multikernel-v1 FDT has no /%s node",
                             abi::multikernel::kNode);
    int len = 0;
    if (!fdt_getprop(fdt, node, abi::multikernel::kPropDtbData, &len) || len <= 0)
        return Status::error(Err::BadProperty, "/%s: missing %s", abi::multikernel::kNode,
                             abi::multikernel::kPropDtbData);
    out->memory_map = 0;
    out->subnode_count = 0;
    return Status::ok();
}

}  // namespace

namespace {

uint32_t be32_at(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

// Walks the structure block's tags once, checking that every step moves
// forward inside the block. libfdt 1.6.1's fdt_next_tag() adds a
// property's length to an int offset unchecked: a length of -12 (0xfffffff4)
// brings it back to the same tag, and fdt_check_full() loops forever
// (found by fuzz_kho_fdt; loader/fuzz/regressions/kho_fdt/prop-len-minus-12).
// Tags and layout: the devicetree specification, section 5.4.
bool struct_walk_terminates(const void* fdt) {
    const uint8_t* base = static_cast<const uint8_t*>(fdt) + fdt_off_dt_struct(fdt);
    const uint64_t size = fdt_size_dt_struct(fdt);
    uint64_t off = 0;
    while (off + 4 <= size) {
        const uint32_t tag = be32_at(base + off);
        off += 4;
        if (tag == FDT_END) return true;
        if (tag == FDT_BEGIN_NODE) {
            while (off < size && base[off]) ++off;
            off = (off + 1 + 3) & ~uint64_t(3);
        } else if (tag == FDT_PROP) {
            if (off + 8 > size) return false;
            const uint64_t len = be32_at(base + off);
            off += 8 + ((len + 3) & ~uint64_t(3));
        } else if (tag != FDT_END_NODE && tag != FDT_NOP) {
            return false;
        }
    }
    return false;
}

}  // namespace

Status check_kho_fdt_blob(const void* fdt, size_t size, const char* what, uint64_t phys) {
    if (size < sizeof(fdt_header))
        return Status::error(Err::BadFdt, "%s at 0x%llx: %zu bytes hold no header", what,
                             (unsigned long long)phys, size);
    int err = fdt_check_header(fdt);
    if (err)
        return Status::error(Err::BadFdt, "%s at 0x%llx: bad header (%s)", what,
                             (unsigned long long)phys, fdt_strerror(err));
    // Linux builds KHO FDTs with fdt_create(), which always writes version
    // 17. Refusing older layouts also keeps us clear of a NULL dereference
    // in libfdt 1.6.1's fdt_check_full() on pre-v16 trees (found by
    // fuzz_kho_fdt; loader/fuzz/regressions/kho_fdt/fdt-version-7).
    if (fdt_version(fdt) != 17)
        return Status::error(Err::BadFdt, "%s at 0x%llx: version %u, KHO writes 17", what,
                             (unsigned long long)phys, fdt_version(fdt));
    if (fdt_totalsize(fdt) > size)
        return Status::error(Err::BadFdt, "%s at 0x%llx: totalsize %u exceeds %zu bytes", what,
                             (unsigned long long)phys, fdt_totalsize(fdt), size);
    if (uint64_t(fdt_off_dt_struct(fdt)) + fdt_size_dt_struct(fdt) > fdt_totalsize(fdt) ||
        !struct_walk_terminates(fdt))
        return Status::error(Err::BadFdt, "%s at 0x%llx: structure block runs off its end", what,
                             (unsigned long long)phys);
    err = fdt_check_full(fdt, size);
    if (err)
        return Status::error(Err::BadFdt, "%s at 0x%llx: corrupt structure (%s)", what,
                             (unsigned long long)phys, fdt_strerror(err));
    return Status::ok();
}

bool kho_version_from_compatible(const char* compatible, abi::KhoVersion* out) {
    struct Entry {
        const char* name;
        KhoVersion version;
    };
    static constexpr Entry kKnown[] = {
        {abi::kCompatV1, KhoVersion::V1},
        {abi::kCompatV2, KhoVersion::V2},
        {abi::kCompatV3, KhoVersion::V3},
        {abi::kCompatV4, KhoVersion::V4},
        {abi::kCompatMultikernel1, KhoVersion::Multikernel1},
    };
    for (const Entry& e : kKnown) {
        if (str_eq(compatible, e.name)) {
            *out = e.version;
            return true;
        }
    }
    return false;
}

const char* kho_compatible_name(abi::KhoVersion v) {
    switch (v) {
    case KhoVersion::V1: return abi::kCompatV1;
    case KhoVersion::V2: return abi::kCompatV2;
    case KhoVersion::V3: return abi::kCompatV3;
    case KhoVersion::V4: return abi::kCompatV4;
    case KhoVersion::Multikernel1: return abi::kCompatMultikernel1;
    }
    return "?";
}

Status read_kho_fdt(const PhysMem& mem, uint64_t fdt_addr, KhoState* out) {
    out->fdt_addr = fdt_addr;
    out->subnode_count = 0;
    out->memory_map = 0;
    out->compatible[0] = '\0';
    if (fdt_addr == 0 || (fdt_addr & (abi::kRootFdtSize - 1)))
        return Status::error(Err::BadPointer, "root FDT address 0x%llx is not page aligned",
                             (unsigned long long)fdt_addr);
    // Work on a private copy: the page is validated once and cannot change
    // under the reader afterwards.
    if (!mem.read(fdt_addr, out->fdt, sizeof(out->fdt)))
        return Status::error(Err::OutOfRam, "root FDT 0x%llx is not in RAM",
                             (unsigned long long)fdt_addr);
    const void* fdt = out->fdt;
    KHO_TRY(check_kho_fdt_blob(fdt, sizeof(out->fdt), "root FDT", fdt_addr));

    KHO_TRY(read_compatible(fdt, out));
    if (out->version == KhoVersion::Multikernel1) return read_multikernel(fdt, out);

    KHO_TRY(get_u64(fdt, 0, "/", abi::kPropPreservedMemoryMap, &out->memory_map));
    // 6.19+ kho-v1 consumers and every radix consumer refuse 0 ("disabling
    // KHO revival"): handing it on would silently lose the state.
    if (out->memory_map == 0)
        return Status::error(Err::BadProperty, "preserved-memory-map is 0");

    for (int node = fdt_first_subnode(fdt, 0); node >= 0; node = fdt_next_subnode(fdt, node)) {
        if (out->subnode_count == KhoState::kMaxSubnodes)
            return Status::error(Err::Capacity, "more than %zu KHO sub-nodes",
                                 KhoState::kMaxSubnodes);
        KHO_TRY(read_subnode(mem, fdt, node, out->version, &out->subnodes[out->subnode_count]));
        ++out->subnode_count;
    }
    return Status::ok();
}

}  // namespace kho
