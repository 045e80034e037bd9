// What a producer hands khoboot for a live KHO state, decided by the
// loader's own core: the state is read and checked as khoboot reads it
// (read_kho_fdt, collect_protected with its double-claim and blob checks,
// the memory plan's scratch verdict), then turned into the handover
// descriptor and an integrity manifest that the loader's open_manifest()
// accepts.
//
// Two producers use it: `khotool export` (the manifest travels in a
// variable) and the handoff image (handoff/: after the kernel's own kexec
// path has serialised everything, the manifest is written to RAM next to
// the state). Freestanding, no heap: every buffer is the caller's.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../abi/integrity_manifest.h"
#include "../abi/kho_scratch.h"
#include "handover_descriptor.h"
#include "kho_fdt_reader.h"
#include "phys_mem.h"
#include "protected_set.h"
#include "range_set.h"
#include "status.h"

namespace kho {

enum class ManifestLevel : uint8_t { None, Metadata, Full };
const char* manifest_level_name(ManifestLevel level);

// Caller-owned storage for one plan. Sizes are the caller's choice (a host
// takes 2^20 ranges); running out is Err::Capacity, never a silent cut.
struct HandoverPlanBuffers {
    KhoState* state = nullptr;
    Range* blocks = nullptr;     // preserved blocks, coalesced
    size_t blocks_cap = 0;
    Range* metadata = nullptr;   // map pages
    size_t metadata_cap = 0;
    Range* protect = nullptr;    // everything the loader must keep
    size_t protect_cap = 0;
    uint64_t* visited = nullptr; // PageSet slots for the map walk
    size_t visited_slots = 0;
    Range* scratch_work = nullptr;  // check_scratch: >= scratch count + protect size + 2
    size_t scratch_work_cap = 0;
};

// The decoded state. The sets point into the buffers.
struct LiveState {
    LiveState(const HandoverPlanBuffers& b)
        : blocks(b.blocks, b.blocks_cap), metadata(b.metadata, b.metadata_cap),
          protect(b.protect, b.protect_cap) {}
    const KhoState* state = nullptr;
    RangeSet blocks, metadata, protect;
    ProtectStats stats;
    uint64_t block_count = 0;     // preserved blocks as the map encodes them
    uint64_t metadata_pages = 0;  // each map page once
};

// Reads and checks the state at fdt_addr, plus the rule a firmware
// handover adds: the FDT page and every sub-blob are preserved memory (the
// next kernel reuses anything else). multikernel-v1 is refused (Linux
// never produces it).
Status decode_live_state(const PhysMem& mem, uint64_t fdt_addr, const HandoverPlanBuffers& buffers,
                         LiveState* out);

// The scratch verdict khoboot gives (memory_plan.h plan_verdict()):
// Err::Overlap for preserved memory inside scratch, Err::BadProperty for
// scratch that is not RAM. Zero-sized regions (Linux lists them) are
// ignored. `work` holds scratch count + protect size + 2 ranges.
Status check_scratch(const PhysMem& mem, const abi::KhoScratch* scratch, size_t count,
                     const RangeSet& protect, Range* work, size_t work_cap);

// The manifest's entries, metadata first (map pages, the root FDT page,
// the exact sub-blob bytes), then at Full the preserved blocks as coalesced
// runs when all of them fit in `cap` (else the manifest stays at
// Metadata; *level_out says which). Each entry's CRC is computed here.
struct ManifestEntries {
    abi::manifest::Entry* entries = nullptr;
    size_t cap = 0;
    uint32_t count = 0;
    uint32_t metadata_count = 0;
    ManifestLevel level = ManifestLevel::None;
};
Status collect_manifest_entries(const PhysMem& mem, const LiveState& live, ManifestLevel wanted,
                                ManifestEntries* out);

// Bytes of a manifest of `entries` entries.
inline size_t manifest_bytes(size_t entries) {
    return sizeof(abi::manifest::Header) + entries * sizeof(abi::manifest::Entry);
}

// Writes the manifest bytes and checks that khoboot would accept them
// (state_verify.h open_manifest()): a manifest it would refuse must not
// leave this machine. `protect` is what the loader will keep, including
// the manifest itself when it lives in RAM.
Status finish_manifest(const LiveState& live, const ManifestEntries& entries,
                       const RangeSet& protect, void* out, size_t cap, size_t* written);

// The descriptor for the state: kFlagFdtCrc over the root FDT page, the
// scratch table, and kFlagManifest with the RAM manifest's address when
// manifest_size is not 0.
Status plan_descriptor(const PhysMem& mem, uint64_t fdt_addr, const abi::KhoScratch* scratch,
                       size_t scratch_count, uint64_t manifest_addr, uint64_t manifest_size,
                       HandoverDescriptor* out);

}  // namespace kho
