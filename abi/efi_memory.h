// UEFI memory map types and descriptor layout, as the core sees them
// (UEFI 2.10 section 7.2, EFI_MEMORY_DESCRIPTOR; EDK2 MdePkg/Include/Uefi/
// UefiSpec.h). Kept here so loader/ is independent of gnu-efi headers.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::abi::efi {

enum MemoryType : uint32_t {
    kReservedMemoryType = 0,
    kLoaderCode = 1,
    kLoaderData = 2,
    kBootServicesCode = 3,
    kBootServicesData = 4,
    kRuntimeServicesCode = 5,
    kRuntimeServicesData = 6,
    kConventionalMemory = 7,
    kUnusableMemory = 8,
    kACPIReclaimMemory = 9,
    kACPIMemoryNVS = 10,
    kMemoryMappedIO = 11,
    kMemoryMappedIOPortSpace = 12,
    kPalCode = 13,
    kPersistentMemory = 14,
    kUnacceptedMemoryType = 15,
    kMaxMemoryType = 16,
};

// Firmware descriptors may be larger than this (DescriptorSize from
// GetMemoryMap, 48 on OVMF): always step by the reported size.
struct MemoryDescriptor {
    uint32_t type;
    uint32_t pad;
    uint64_t physical_start;
    uint64_t virtual_start;
    uint64_t number_of_pages;
    uint64_t attribute;
};
static_assert(sizeof(MemoryDescriptor) == 40);
static_assert(offsetof(MemoryDescriptor, physical_start) == 8);
static_assert(offsetof(MemoryDescriptor, number_of_pages) == 24);
static_assert(offsetof(MemoryDescriptor, attribute) == 32);

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kMemoryWB = 0x8;
inline constexpr uint64_t kMemoryRuntime = 0x8000000000000000ull;

constexpr const char* memory_type_name(uint32_t type) {
    constexpr const char* names[kMaxMemoryType] = {
        "Reserved",          "LoaderCode",        "LoaderData",
        "BootServicesCode",  "BootServicesData",  "RuntimeServicesCode",
        "RuntimeServicesData", "Conventional",    "Unusable",
        "ACPIReclaim",       "ACPINVS",           "MMIO",
        "MMIOPortSpace",     "PalCode",           "Persistent",
        "Unaccepted",
    };
    return type < kMaxMemoryType ? names[type] : "OEM/OSV";
}

}  // namespace kho::abi::efi
