// Consumer mode: checks, one protocol line each, that the handover this
// kernel received is exactly the state its producer built (README.md
// lists the checks). Also keeps what a following producer needs.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/kho_scratch.h"
#include "boot_info.h"
#include "efi_runtime.h"
#include "options.h"
#include "shared/test_manifest.h"

namespace tk {

// Memory the loader placed for this boot (the kernel, initrd, boot_params,
// command line, setup_data, scratch table, EFI memory map): preserved
// memory must not overlap any of it, and a producer must not reuse it.
struct Placement {
    const char* name;
    uint64_t start, end;
};
struct Placements {
    static constexpr size_t kMax = 48;
    size_t count = 0;
    Placement p[kMax];
    void add(const char* name, uint64_t start, uint64_t end);
    const Placement* overlapping(uint64_t start, uint64_t end) const;
};
void collect_placements(const BootInfo& bi, uint64_t scratch_table, uint64_t scratch_size,
                        Placements* out);

// The state a successful KHO consumer saw, for a producer that follows.
struct ConsumedState {
    bool valid = false;
    uint64_t fdt_addr = 0;
    uint64_t scratch_table = 0, scratch_table_size = 0;
    uint32_t scratch_count = 0;
    kho::abi::KhoScratch scratch[manifest::kMaxScratch] = {};
    const manifest::Header* header = nullptr;
    const manifest::Entry* entries = nullptr;
    uint32_t hop = 0;
    size_t own_count = 0;
    PhysRange own[3] = {};             // root FDT page, manifest blob / sub-FDT (page-rounded)
    const uint64_t* metadata = nullptr;  // map pages of the consumed state
    size_t metadata_count = 0;
};

enum class ConsumeKind { Cold, Kho, Multikernel };

// Runs the checks for `kind`; every check prints its line. `out` is filled
// when a KHO state passed every check.
void consume(const BootInfo& bi, const Options& o, ConsumeKind kind, const EfiRuntime* rt,
             ConsumedState* out);

}  // namespace tk
