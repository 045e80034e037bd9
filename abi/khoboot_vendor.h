// The names khoboot owns in the UEFI variable store and the page size of
// every contract in abi/. One place for each: C++ includes this header,
// scripts/lib/kho_abi.py reads its constants from it, and C tools get
// #defines generated from it (kho_abi.py --c-header, scripts/linux/build.mk).
#pragma once
#include <stdint.h>

namespace kho::abi {

// All khoboot variables (descriptor, manifest, boot records) live under one
// vendor GUID, {5b0bc4a2-8c1d-4e5f-9a3b-6b686f626f6f} ("...kho boo" in its
// last bytes), so that an OS tool can find and delete all of them together.
struct Guid {
    uint32_t data1;
    uint16_t data2;
    uint16_t data3;
    uint8_t data4[8];
};
inline constexpr Guid kVendorGuid = {0x5b0bc4a2, 0x8c1d, 0x4e5f,
                                     {0x9a, 0x3b, 0x6b, 0x68, 0x6f, 0x62, 0x6f, 0x6f}};
// The same GUID as efivarfs spells it in file names ("Name-<guid>").
inline constexpr const char kVendorGuidText[] = "5b0bc4a2-8c1d-4e5f-9a3b-6b686f626f6f";

// Variable names (all under kVendorGuid).
inline constexpr const char kDescriptorVariable[] = "KhoHandover";    // handover_descriptor.h
inline constexpr const char kManifestVariable[] = "KhoManifest";      // integrity_manifest.h
inline constexpr const char kAttemptVariable[] = "KhoBootAttempt";    // boot_record.h
inline constexpr const char kStatusVariable[] = "KhoBootStatus";      // boot_record.h

// UEFI pages, x86-64 base pages and the KHO preservation granule of the
// kernels khoboot serves are all 4 KiB (arm64 kernels with 16/64 KiB pages
// still describe preserved memory in 4 KiB UEFI pages to the firmware).
inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = 1ull << kPageShift;

}  // namespace kho::abi
