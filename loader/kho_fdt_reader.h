// Reads and validates a root KHO FDT from physical memory: header and full
// structure check (libfdt fdt_check_full), version from the root
// compatible (unknown versions refused by name), preserved-memory-map and
// every sub-node's properties under that version's rules.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/kho_fdt.h"
#include "phys_mem.h"
#include "status.h"

namespace kho {

struct KhoSubnode {
    static constexpr size_t kNameSize = 64;
    char name[kNameSize];
    uint64_t blob_phys;   // kho-v1 "fdt", kho-v2+ "preserved-data"
    uint64_t blob_size;   // kho-v3+ "blob-size"; kho-v1: sub-FDT totalsize
    bool has_blob_size;   // blob_size came from the FDT ("blob-size")
};

struct KhoState {
    static constexpr size_t kMaxSubnodes = 32;
    abi::KhoVersion version;
    char compatible[32];
    uint64_t fdt_addr;
    uint64_t memory_map;  // phys of first chunk / radix root; 0 for multikernel
    size_t subnode_count;
    KhoSubnode subnodes[kMaxSubnodes];
    uint8_t fdt[abi::kRootFdtSize];  // a private copy of the root FDT page
};

// Maps a root compatible to its version; false for anything unknown.
bool kho_version_from_compatible(const char* compatible, abi::KhoVersion* out);
const char* kho_compatible_name(abi::KhoVersion v);

// The checks every FDT of a KHO state passes before libfdt walks it:
// header, version 17, totalsize within `size`, fdt_check_full(). `what`
// and `phys` name it in the error (Err::BadFdt).
Status check_kho_fdt_blob(const void* fdt, size_t size, const char* what, uint64_t phys);

// Copies the page at fdt_addr out of `mem` and validates it. On error `out`
// is unspecified and the message names the property or address at fault.
Status read_kho_fdt(const PhysMem& mem, uint64_t fdt_addr, KhoState* out);

}  // namespace kho
