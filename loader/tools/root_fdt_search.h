// Where the running kernel's root KHO FDT lies in physical memory. Linux
// shows its bytes (debugfs kho/out/fdt) but not its address, and
// `khotool export` needs the address for the handover descriptor: it reads
// what the copy says about the preserved-memory map, walks that map through
// PhysMem and finds the one preserved order-0 page holding those bytes.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "loader/phys_mem.h"
#include "loader/status.h"

namespace kho::tools::exporting {

// What a (possibly truncated) copy of the root FDT says about its own root
// node without the strings block: the values of 8-byte properties and of
// string properties that lie wholly inside the copy. In 7.2 debugfs
// kho/out/fdt is such a prefix: its size is fixed when kho_init() creates
// the file, and later kho_add_subtree() calls grow the FDT past it, moving
// the strings block out of reach (kernel/liveupdate/kexec_handover.c).
struct RootPrefix {
    uint32_t totalsize = 0;              // the live FDT's size, from the header
    std::vector<uint64_t> u64_values;    // candidates for preserved-memory-map
    std::vector<std::string> strings;    // candidates for compatible
};
Status parse_root_prefix(const uint8_t* prefix, size_t len, RootPrefix* out);

struct FdtLocation {
    uint64_t fdt_addr = 0;
    uint64_t map_root = 0;
    uint64_t order0_blocks = 0;  // order-0 blocks compared with the prefix
};

// Finds the root FDT page: for every candidate map root in the prefix,
// walks the map and compares each preserved order-0 page with the prefix.
// Exactly one page must match, and the full FDT read back from it must
// name the map root that led to it.
Status locate_root_fdt(const PhysMem& mem, const uint8_t* prefix, size_t len, FdtLocation* out);

}  // namespace kho::tools::exporting
