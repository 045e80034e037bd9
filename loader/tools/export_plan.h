// What `khotool export` writes for a live KHO state: the core's handover
// plan (loader/handover_plan.h, shared with the handoff image) with
// storage sized for large hosts, and the manifest in a variable of its
// own within a byte budget. Pure (PhysMem in, bytes out) for host tests.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <vector>

#include "abi/kho_scratch.h"
#include "loader/handover_plan.h"
#include "loader/phys_mem.h"
#include "loader/range_set.h"
#include "loader/status.h"

namespace kho::tools::exporting {

// Largest manifest written whole: OVMF's 4 MiB variable store takes
// variables up to 0x8400 bytes (PcdMaxVariableSize of its FD_SIZE_4MB
// build); stay well below so other variables keep room. A bigger manifest
// keeps its metadata entries only (the part the loader checks first). The
// manifest has no safe place in RAM (user space cannot keep a page away
// from the next boot's firmware and loader), so it travels in a variable
// of its own (abi::kManifestVariable); see scripts/linux/README.md
// "Handover through the firmware".
inline constexpr size_t kManifestBudget = 16 * 1024;

using kho::ManifestLevel;
using kho::manifest_level_name;

struct ExportPlan {
    std::vector<uint8_t> descriptor;  // the KhoHandover variable's data
    std::vector<uint8_t> manifest;    // the KhoManifest variable's data, may be empty
    ManifestLevel manifest_level = ManifestLevel::None;
    char compatible[32] = {};
    uint64_t fdt_addr = 0;
    uint32_t fdt_crc32 = 0;
    uint64_t map_root = 0;
    uint64_t blocks = 0;           // preserved blocks as the map encodes them
    uint64_t preserved_bytes = 0;
    uint64_t metadata_pages = 0;
    size_t subnodes = 0;
    size_t scratch_count = 0;
    uint32_t metadata_entries = 0;
    uint32_t data_entries = 0;
    std::vector<Range> protect;    // everything the loader must keep
};

// Validates the state at fdt_addr with the loader's core plus the rule a
// firmware handover adds: the FDT page and every sub-blob are preserved
// memory (the next kernel reuses anything else); then builds the
// descriptor (kFlagFdtCrc) and, at `level`, the manifest. `budget` caps
// the manifest's bytes.
Status plan_export(const PhysMem& mem, uint64_t fdt_addr,
                   const std::vector<abi::KhoScratch>& scratch, ManifestLevel level, size_t budget,
                   ExportPlan* out);

// kho::check_scratch() (loader/handover_plan.h) with its own work space.
Status check_scratch(const PhysMem& mem, const std::vector<abi::KhoScratch>& scratch,
                     const RangeSet& protect);

}  // namespace kho::tools::exporting
