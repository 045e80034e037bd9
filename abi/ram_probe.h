// The RAM-retention probe's records (loader/ram_probe.h decides, efi/
// makes the calls). A probe learns what a platform's firmware does to RAM
// across a warm reset: memory training, scrubbing, MOR and fast-boot
// settings differ from board to board, and a KHO state kept in RAM that
// the firmware rewrites is lost.
//
//  - "KhoProbeRequest" (written by `khotool probe arm` in the OS): probe
//    on the next boot. Consumed when khoboot arms.
//  - "KhoProbeArmed": what the arm phase filled with the address-derived
//    pattern, written just before the warm reset; consumed by the check.
//  - "KhoProbeResult": the ranges the check found changed, each with the
//    UEFI memory type that owns it after the reset; kept until the next
//    probe replaces it. `khotool probe report` prints it, khoboot and
//    `khotool export` treat its ranges as known-clobbered.
// All under khoboot's vendor GUID (khoboot_vendor.h), non-volatile, all
// fields little-endian, each record a header then fixed-size entries,
// with a CRC-32 (loader/crc32.h) over the whole variable, its own field
// taken as zero.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "khoboot_vendor.h"

namespace kho::abi::probe {

inline constexpr const char kRequestVariable[] = "KhoProbeRequest";
inline constexpr const char kArmedVariable[] = "KhoProbeArmed";
inline constexpr const char kResultVariable[] = "KhoProbeResult";

inline constexpr uint64_t kRequestMagic = 0x5145524250504b4bull;  // "KKPPBREQ"
inline constexpr uint64_t kArmedMagic = 0x4d52414250504b4bull;    // "KKPPBARM"
inline constexpr uint64_t kResultMagic = 0x5345524250504b4bull;   // "KKPPBRES"
inline constexpr uint32_t kVersion = 1;

// Bounds that keep each variable under 8 KiB, the smallest
// PcdMaxVariableSize common on real boards (OVMF's 4 MiB build takes 33 KiB).
inline constexpr uint32_t kMaxFilledRanges = 256;
inline constexpr uint32_t kMaxChangedRanges = 256;

// The fill pattern: the 64-bit word at physical address a (8-aligned) is
// ((a ^ salt) * kPatternMul) ^ kPatternXor. The multiplier is odd, so the
// map is a bijection: no two words of a fill are equal, and a page copied
// or shifted elsewhere does not pass for intact. The salt (the TSC at
// arm time) makes a fill of an earlier probe fail this one's check.
inline constexpr uint64_t kPatternMul = 0x9E3779B97F4A7C15ull;
inline constexpr uint64_t kPatternXor = 0x4B484F4250524F42ull;  // bytes "BORPBOHK" in memory

struct Request {
    uint64_t magic;
    uint32_t version;
    uint32_t reserved;  // zero
};
static_assert(sizeof(Request) == 16);

struct ArmedHeader {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;  // sizeof(ArmedHeader)
    uint32_t entry_size;   // sizeof(FilledRange)
    uint32_t count;        // FilledRange entries that follow
    uint32_t crc32;        // of the whole variable, this field zero
    uint32_t reserved;     // zero
    uint64_t salt;
    uint64_t filled_bytes;  // sum of the ranges
};
static_assert(sizeof(ArmedHeader) == 48);
static_assert(offsetof(ArmedHeader, crc32) == 24);
static_assert(offsetof(ArmedHeader, salt) == 32);

// [start, end), page aligned, sorted, disjoint and not touching.
struct FilledRange {
    uint64_t start;
    uint64_t end;
};
static_assert(sizeof(FilledRange) == 16);

inline constexpr uint32_t kTypeNotInMap = 0xffffffff;

struct ResultHeader {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;     // sizeof(ResultHeader)
    uint32_t entry_size;      // sizeof(ChangedRange)
    uint32_t count;           // ChangedRange entries that follow
    uint32_t crc32;           // of the whole variable, this field zero
    uint32_t total;           // changed ranges found; > count: the list was cut
    uint64_t salt;            // of the fill that was checked
    uint64_t filled_bytes;    // bytes the arm phase filled (and the check read)
    uint64_t changed_bytes;   // bytes found changed, listed or not
    uint32_t filled_ranges;   // ranges the arm phase filled
    uint32_t reserved;        // zero
};
static_assert(sizeof(ResultHeader) == 64);
static_assert(offsetof(ResultHeader, crc32) == 24);
static_assert(offsetof(ResultHeader, changed_bytes) == 48);

// Page-granular: a page with any word that differs from the pattern.
// Adjacent changed pages with the same owner make one entry.
struct ChangedRange {
    uint64_t start;
    uint64_t end;
    uint32_t type;      // UEFI memory type owning it after the reset, or kTypeNotInMap
    uint32_t reserved;  // zero
};
static_assert(sizeof(ChangedRange) == 24);
static_assert(offsetof(ChangedRange, type) == 16);

inline constexpr size_t kMaxArmedBytes = sizeof(ArmedHeader) + kMaxFilledRanges * sizeof(FilledRange);
inline constexpr size_t kMaxResultBytes = sizeof(ResultHeader) + kMaxChangedRanges * sizeof(ChangedRange);
static_assert(kMaxArmedBytes <= 8192 && kMaxResultBytes <= 8192);

}  // namespace kho::abi::probe
