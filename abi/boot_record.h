// khoboot's own boot records, stored as UEFI variables under the
// descriptor's vendor GUID (abi/handover_descriptor.h):
//
//  - "KhoBootAttempt": written before khoboot parses a descriptor, deleted
//    when it commits to a kernel. Found at the next boot beside the same
//    descriptor, it means that boot never got that far (a hang reset by the
//    watchdog, a crash, a power cut): the state is treated as failed
//    instead of being tried again (loader/boot_attempt.h). In the manner of
//    systemd-boot's boot counting (systemd's docs/AUTOMATIC_BOOT_ASSESSMENT.md),
//    with one try per state.
//  - "KhoBootStatus": what the last boot did, as text for people and
//    khotool (loader/boot_attempt.h format_boot_status()).
// All fields little-endian.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "khoboot_vendor.h"

namespace kho::abi::boot_record {

using abi::kAttemptVariable;
using abi::kStatusVariable;

inline constexpr uint64_t kAttemptMagic = 0x504d545441424b4bull;  // "KKBATTMP"
inline constexpr uint32_t kAttemptVersion = 1;

struct Attempt {
    uint64_t magic;
    uint32_t version;
    // CRC-32 of the descriptor variable's bytes: ties the record to the
    // state it was written for, so a leftover record never condemns a
    // descriptor a later OS wrote.
    uint32_t descriptor_crc32;
};
static_assert(sizeof(Attempt) == 16);
static_assert(offsetof(Attempt, descriptor_crc32) == 12);

// KhoBootStatus text: at most this many bytes, "key=value" lines.
inline constexpr size_t kStatusMaxBytes = 1024;

}  // namespace kho::abi::boot_record
