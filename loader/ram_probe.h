// The RAM-retention probe (abi/ram_probe.h has the records): which RAM a
// platform's firmware rewrites across a warm reset, measured by khoboot
// itself so that it works on any machine, not only under QEMU's monitor.
//
//   arm    (one boot):  every page of EfiConventionalMemory the loader can
//          allocate, except a small reserve the firmware keeps for its own
//          work until the reset, is filled with an address-derived pattern;
//          the filled ranges go in KhoProbeArmed; warm reset.
//   check  (the next boot, before the loader allocates anything): every
//          filled page is compared with the pattern; the changed pages,
//          coalesced per owner in the firmware's map now, go in
//          KhoProbeResult. Then the boot goes on as usual.
//
// Everything here is pure: the flow (loader/boot_flow_probe.cpp) makes the
// firmware calls. The result then serves as known-clobbered RAM: a KHO
// state that lies there is refused at boot (Err::Clobbered) and
// `khotool export` warns before writing it.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../abi/ram_probe.h"
#include "memory_plan.h"
#include "phys_mem.h"
#include "range_set.h"
#include "status.h"

namespace kho {

// --- the pattern --------------------------------------------------------
uint64_t probe_word(uint64_t phys, uint64_t salt);
// Fills `len` bytes (a multiple of 8) at `bytes`, which is physical
// address `phys` (8-aligned).
void probe_fill(uint8_t* bytes, uint64_t phys, uint64_t len, uint64_t salt);
// True when the page at physical `phys` still holds the pattern.
bool probe_page_intact(const uint8_t* page, uint64_t phys, uint64_t salt);

// --- arm ----------------------------------------------------------------
// Left unfilled so that what the firmware still does before the reset
// (console output, SetVariable, ResetSystem) allocates there and not in
// the filled pages: EDK2 allocates boot-services memory top-down below
// 4 GiB, so the reserve is the top of the highest free range below 4 GiB
// that is large enough (the top of the largest free range when none is).
inline constexpr uint64_t kProbeReserveBytes = 8ull << 20;
Range probe_reserve(const FirmwareMemoryMap& map, uint64_t bytes);

// The free memory to fill now: the map's EfiConventionalMemory, page 0 and
// `reserve` left out, into `out` (normalized, `out`'s capacity is the most
// that will be filled: the record holds kMaxFilledRanges).
Status probe_fill_plan(const FirmwareMemoryMap& map, const Range& reserve, RangeSet& out);

// The KhoProbeArmed variable for `filled` (normalized).
Status encode_probe_armed(const RangeSet& filled, uint64_t salt, uint8_t* out, size_t capacity,
                          size_t* len);

struct ProbeArmed {
    uint64_t salt = 0;
    uint64_t filled_bytes = 0;
    uint32_t count = 0;
    const abi::probe::FilledRange* ranges = nullptr;  // into the parsed bytes
};
// Checks everything (magic, version, sizes, CRC, ranges page aligned,
// sorted, disjoint, sum); `data` must be 8-byte aligned and outlive `out`.
Status parse_probe_armed(const void* data, size_t len, ProbeArmed* out);

// --- check --------------------------------------------------------------
struct ProbeResult {
    uint64_t salt = 0;
    uint64_t filled_bytes = 0;
    uint64_t changed_bytes = 0;
    uint32_t filled_ranges = 0;
    uint32_t total = 0;  // changed ranges found
    uint32_t count = 0;  // of them listed below (the first kMaxChangedRanges)
    abi::probe::ChangedRange changes[abi::probe::kMaxChangedRanges];
};

// Compares every filled page through `mem` (the firmware's identity map:
// whatever owns a page now, it is read) with the pattern; a page `mem`
// cannot show counts as changed. Each changed range is split at the
// owners of the current `map` (an address no descriptor covers:
// kTypeNotInMap).
void probe_compare(const ProbeArmed& armed, const PhysMem& mem, const FirmwareMemoryMap& map,
                   ProbeResult* out);

Status encode_probe_result(const ProbeResult& r, uint8_t* out, size_t capacity, size_t* len);
Status parse_probe_result(const void* data, size_t len, ProbeResult* out);

// "Conventional", ..., or "not-in-map".
const char* probe_owner_name(uint32_t type);

// --- policy -------------------------------------------------------------
// loader.conf `khoboot-probe`: off, or once (arm whenever no result is
// stored: a machine's first boot through this entry probes, later boots
// do not; `khotool probe arm` asks again).
enum class ProbeMode : uint8_t { Off, Once };
Status parse_probe_mode(const char* text, size_t len, ProbeMode* out);

enum class ProbeArm : uint8_t {
    No,           // nothing asks for a probe
    Arm,          // fill, record, reset
    StateAtStake, // asked, but a KHO state was found: the fill could cover
                  // what a refused state left unprotected; asked again next boot
};
ProbeArm decide_probe_arm(bool requested, ProbeMode mode, bool result_stored, bool state_found);

// --- known-clobbered ranges ---------------------------------------------
// The parts of `state` (normalized) that lie in a changed range of `r`,
// up to `capacity` into `out` (each with the changed range's owner in
// *types when given); returns how many there are in all.
size_t probe_clobbered(const ProbeResult& r, const RangeSet& state, Range* out, uint32_t* types,
                       size_t capacity);
// Err::Clobbered naming the first such part and the probe range it lies
// in, or ok.
Status probe_clobber_verdict(const ProbeResult& r, const RangeSet& state);

}  // namespace kho
