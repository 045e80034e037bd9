// Parse and build the handover descriptor (abi/handover_descriptor.h).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/handover_descriptor.h"
#include "../abi/kho_scratch.h"
#include "status.h"

namespace kho {

struct HandoverDescriptor {
    uint32_t flags = 0;
    uint64_t fdt_addr = 0;
    uint64_t fdt_size = 0;
    uint32_t fdt_crc32 = 0;
    uint64_t manifest_addr = 0;
    uint64_t manifest_size = 0;
    uint32_t scratch_count = 0;
    abi::KhoScratch scratch[abi::descriptor::kMaxScratch] = {};
};

// Validates magic, version, sizes, checksum, flags, FDT size (4096), and
// that scratch regions are page aligned, non-overlapping, do not wrap and
// are not all empty (single empty entries are real: Linux emits them).
Status parse_handover_descriptor(const void* bytes, size_t len, HandoverDescriptor* out);

// Serialises `in` into `out`; returns the byte count in *written.
Status build_handover_descriptor(const HandoverDescriptor& in, void* out, size_t capacity,
                                 size_t* written);

}  // namespace kho
