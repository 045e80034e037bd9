// The consumer checks every kind of KHO consumer runs the same way (the
// loader's boot_params and command line, the setup_data node, the root FDT,
// the scratch table and where the kernel was put), shared by the checker of
// test_kernel's own states (consumer.cpp) and of foreign states
// (foreign_consumer.cpp), so both hold a handover to identical rules.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/kho_fdt.h"
#include "../abi/kho_scratch.h"
#include "../abi/x86_boot.h"
#include "boot_info.h"
#include "consumer.h"
#include "efi_runtime.h"
#include "fdt_view.h"
#include "options.h"
#include "shared/test_manifest.h"

namespace tk::checks {

using kho::abi::KhoScratch;
using kho::abi::KhoVersion;
using kho::abi::x86::KhoData;

inline constexpr uint64_t kPage = 4096;

// What the consumer learned while checking, shared by the check steps.
struct Ctx {
    const BootInfo& bi;
    const Options& o;
    KhoData kd{};
    FdtView fdt;
    Placements placed;
    uint32_t scratch_count = 0;
    KhoScratch scratch[manifest::kMaxScratch] = {};
    KhoVersion version = KhoVersion::V4;
    const manifest::Header* mh = nullptr;
    const manifest::Entry* entries = nullptr;
    const manifest::Retired* retired = nullptr;
    PhysRange own[3] = {};  // root FDT page, manifest blob (or v1 sub-FDT), page-rounded
    size_t own_count = 0;
    size_t metadata_count = 0;
    bool metadata_overflow = false;
};

bool streq(const char* a, const char* b);
// The KHO version a root compatible names; false for anything else.
bool version_from(const char* compat, KhoVersion* v);

void check_boot_params(const BootInfo& bi, const Options& o);
void check_cmdline(const BootInfo& bi, const Options& o);
void check_initrd(const BootInfo& bi, const Options& o);
void check_descriptor_consumed(const Options& o, const EfiRuntime* rt);
// The "setup-data" check: `want` SETUP_KEXEC_KHO nodes (0 or 1) of 32
// bytes; copies the first payload into c.kd. Returns the number found.
size_t check_setup_data(Ctx& c, size_t want);
// The "fdt" check against root compatible `expect`. With `map` non-null it
// also requires an 8-byte, non-zero preserved-memory-map and stores it.
bool check_fdt(Ctx& c, const char* expect, uint64_t* map = nullptr);
bool check_scratch_table(Ctx& c);
void check_placement(Ctx& c);
// Why [start, end) may not hold preserved memory: not e820 RAM (or beyond
// the identity map), a loader placement's name, or "scratch"; else null.
const char* range_problem(const Ctx& c, uint64_t start, uint64_t end);

}  // namespace tk::checks
