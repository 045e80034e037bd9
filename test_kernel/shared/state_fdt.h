// The FDTs a producer writes, with libfdt's sequential-write API
// (fdt_create .. fdt_finish, libfdt.h): the KHO root FDT (docs/kho-abi.md section 3.2)
// and, for kho-v1, the sub-FDT that wraps the test manifest. test_kernel
// links Debian's libfdt.a (test_kernel/build.mk), khotool and the unit
// tests the shared libfdt. Header-only and freestanding.
#pragma once
#include <libfdt.h>
#include <stdint.h>
#include "../../abi/kho_fdt.h"
#include "state_format.h"
#include "test_manifest.h"

namespace tk::state {

// KHO property values are CPU-native u64 (docs/kho-abi.md section 3.2), not big-endian
// FDT cells, so fdt_property_u64() (which converts) does not serve.
inline int fdt_prop_u64_native(void* fdt, const char* name, uint64_t v) {
    return fdt_property(fdt, name, &v, sizeof(v));
}

// Root FDT: compatible, preserved-memory-map and the node "khoboot-test"
// that names the manifest blob (kho-v1: "fdt", the sub-FDT; kho-v2+:
// "preserved-data", plus "blob-size" from kho-v3). False if it does not
// fit `cap` bytes.
inline bool write_root_fdt(void* fdt, uint32_t cap, const Format& f, uint64_t map_root, uint64_t blob,
                           uint64_t manifest_size) {
    using namespace kho::abi;
    int e = fdt_create(fdt, int(cap));
    if (!e) e = fdt_finish_reservemap(fdt);
    if (!e) e = fdt_begin_node(fdt, "");
    if (!e) e = fdt_property_string(fdt, "compatible", f.compatible);
    if (!e) e = fdt_prop_u64_native(fdt, kPropPreservedMemoryMap, map_root);
    if (!e) e = fdt_begin_node(fdt, manifest::kSubnodeName);
    if (!e && f.v1()) e = fdt_prop_u64_native(fdt, kPropSubFdtV1, blob);
    if (!e && !f.v1()) e = fdt_prop_u64_native(fdt, kPropPreservedData, blob);
    if (!e && has_blob_size(f.version)) e = fdt_prop_u64_native(fdt, kPropBlobSize, manifest_size);
    if (!e) e = fdt_end_node(fdt);
    if (!e) e = fdt_end_node(fdt);
    if (!e) e = fdt_finish(fdt);
    return e == 0;
}

// Where the value of the next property goes while the sequential writer
// is open: the structure block grows at off_dt_struct + size_dt_struct
// (libfdt fdt_sw.c, fdt_grab_space_()) and a value follows its 12-byte
// FDT_PROP header (Devicetree Specification v0.4, 5.4.1).
inline uint32_t next_value_offset(const void* fdt) {
    return fdt_off_dt_struct(fdt) + fdt_size_dt_struct(fdt) + uint32_t(sizeof(struct fdt_property));
}

// A property that only shifts the next value by 12 bytes and is turned
// into FDT_NOP tokens once the tree is finished.
inline constexpr char kAlignPadProperty[] = "khoboot,align-pad";

// kho-v1 sub-nodes name a sub-FDT ("fdt"), so the manifest goes into one
// (test_manifest.h): root { compatible; manifest = <manifest_size bytes> }.
// The value is 8-byte aligned within the blob, so that the consumer reads
// the header in place; libfdt aligns values to 4 only, so when the value
// would land at 4 mod 8 an empty property goes first (12 bytes) and is
// NOPed after fdt_finish(). `buf` is zero on entry (fdt_create() clears
// it); on success *value_off is the manifest's offset in it and *total
// the sub-FDT's totalsize.
inline bool wrap_manifest(void* buf, uint64_t cap, uint64_t manifest_size, uint64_t* value_off, uint32_t* total) {
    if (cap > 0x7fffffff || manifest_size > cap) return false;
    int e = fdt_create(buf, int(cap));
    if (!e) e = fdt_finish_reservemap(buf);
    if (!e) e = fdt_begin_node(buf, "");
    if (!e) e = fdt_property_string(buf, "compatible", manifest::kSubFdtCompatible);
    bool pad = !e && next_value_offset(buf) % 8 != 0;
    if (pad) e = fdt_property(buf, kAlignPadProperty, "", 0);
    void* value = nullptr;
    if (!e) e = fdt_property_placeholder(buf, manifest::kSubFdtProperty, int(manifest_size), &value);
    if (!e) e = fdt_end_node(buf);
    if (!e) e = fdt_finish(buf);
    if (!e && pad) e = fdt_nop_property(buf, 0, kAlignPadProperty);
    if (e) return false;
    *value_off = uint64_t(static_cast<uint8_t*>(value) - static_cast<uint8_t*>(buf));
    *total = fdt_totalsize(buf);
    return *value_off % 8 == 0;
}

// Upper bound of what the wrapper adds to the manifest: header (40, padded
// to 48), reservation map (16), nodes, three property headers, NOPs and
// the strings block come to under 200 bytes.
inline constexpr uint64_t kSubFdtOverhead = 512;

}  // namespace tk::state
