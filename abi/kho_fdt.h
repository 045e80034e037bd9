// KHO root FDT: compatible strings and property names per ABI version.
// Sources: Linux kernel/kexec_handover.c (6.16), kernel/liveupdate/
// kexec_handover.c and include/linux/kho/abi/kexec_handover.h (7.0 .. 7.2).
// The layout as Linux documents it: Documentation/core-api/kho/fdt.rst.
#pragma once
#include <stdint.h>

namespace kho::abi {

// The consumer accepts exactly one compatible (its own KHO_FDT_COMPATIBLE);
// a mismatch silently turns the boot into a cold boot, so the loader must
// know which one it is handing on.
enum class KhoVersion : uint8_t {
    V1 = 1,           // "kho-v1": khoser_mem_chunk list, sub-node prop "fdt"
    V2 = 2,           // "kho-v2": radix tree, sub-node prop "preserved-data"
    V3 = 3,           // "kho-v3": + mandatory "blob-size"
    V4 = 4,           // "kho-v4": same layout, KHO blocks ABI bump (7.2)
    Multikernel1 = 100,  // "multikernel-v1" RFC (Cong Wang): no scratch
};

inline constexpr const char kCompatV1[] = "kho-v1";
inline constexpr const char kCompatV2[] = "kho-v2";
inline constexpr const char kCompatV3[] = "kho-v3";
inline constexpr const char kCompatV4[] = "kho-v4";
inline constexpr const char kCompatMultikernel1[] = "multikernel-v1";

// Root property: 8 bytes, CPU-native (little-endian on x86/arm64) u64, not a
// big-endian cell pair. kho-v1: phys of first chunk (0 = nothing / not
// finalized, refused by 6.19+ consumers); kho-v2+: phys of the radix root.
inline constexpr const char kPropPreservedMemoryMap[] = "preserved-memory-map";

// Sub-node properties, all native-endian u64.
inline constexpr const char kPropSubFdtV1[] = "fdt";                 // kho-v1
inline constexpr const char kPropPreservedData[] = "preserved-data"; // kho-v2+
inline constexpr const char kPropBlobSize[] = "blob-size";           // kho-v3+

// multikernel-v1: node "multikernel" with the instance DTB inline.
inline constexpr const char kMultikernelNode[] = "multikernel";
inline constexpr const char kPropDtbData[] = "dtb-data";

// The root FDT is one kernel page; the handover always advertises PAGE_SIZE
// (x86 setup_kho(), DT kho_add_chosen()).
inline constexpr uint64_t kRootFdtSize = 4096;

// Sub-node names of well-known KHO users (informational, for inspect).
inline constexpr const char kSubnodeMemblock[] = "memblock";
inline constexpr const char kSubnodeKhoTest[] = "kho_test";
inline constexpr const char kSubnodeKexecMetadata[] = "kexec-metadata";

constexpr bool has_sub_fdt_prop(KhoVersion v) { return v == KhoVersion::V1; }
constexpr bool has_blob_size(KhoVersion v) {
    return v == KhoVersion::V3 || v == KhoVersion::V4;
}
constexpr bool uses_radix_map(KhoVersion v) {
    return v == KhoVersion::V2 || v == KhoVersion::V3 || v == KhoVersion::V4;
}

}  // namespace kho::abi
