#include "acpi.h"

#include <string.h>

#include "../uefi.h"

namespace khoefi {

namespace {

// Table reads go through the identity map; every length read from a
// table is bounded before it is used.
template <typename T>
T rd(uint64_t addr) {
    T v;
    memcpy(&v, reinterpret_cast<const void*>(static_cast<uintptr_t>(addr)), sizeof(T));
    return v;
}

bool checksum_ok(uint64_t addr, uint32_t len) {
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++) sum += rd<uint8_t>(addr + i);
    return sum == 0;
}

}  // namespace

uint64_t acpi_rsdp() {
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID;
    EFI_GUID acpi10 = ACPI_TABLE_GUID;
    uint64_t v1 = 0;
    for (UINTN i = 0; i < g_st->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE& t = g_st->ConfigurationTable[i];
        if (!memcmp(&t.VendorGuid, &acpi20, sizeof(EFI_GUID)))
            return reinterpret_cast<uintptr_t>(t.VendorTable);
        if (!memcmp(&t.VendorGuid, &acpi10, sizeof(EFI_GUID)))
            v1 = reinterpret_cast<uintptr_t>(t.VendorTable);
    }
    return v1;
}

uint16_t acpi_pm_timer_port(bool* wide) {
    *wide = false;
    uint64_t rsdp = acpi_rsdp();
    if (!rsdp || memcmp(reinterpret_cast<const void*>(static_cast<uintptr_t>(rsdp)), "RSD PTR ", 8))
        return 0;
    // RSDP: revision at 15, RsdtAddress at 16, XsdtAddress at 24 (rev >= 2).
    bool xsdt = rd<uint8_t>(rsdp + 15) >= 2 && rd<uint64_t>(rsdp + 24);
    uint64_t sdt = xsdt ? rd<uint64_t>(rsdp + 24) : rd<uint32_t>(rsdp + 16);
    if (!sdt) return 0;
    uint32_t len = rd<uint32_t>(sdt + 4);
    if (len < 36 || len > (1u << 20) || !checksum_ok(sdt, len)) return 0;
    unsigned entry = xsdt ? 8 : 4;
    for (uint32_t off = 36; off + entry <= len; off += entry) {
        uint64_t t = xsdt ? rd<uint64_t>(sdt + off) : rd<uint32_t>(sdt + off);
        if (!t || memcmp(reinterpret_cast<const void*>(static_cast<uintptr_t>(t)), "FACP", 4)) continue;
        uint32_t flen = rd<uint32_t>(t + 4);
        if (flen < 116 || flen > 4096 || !checksum_ok(t, flen)) return 0;
        // PM_TMR_BLK at 76, Flags at 112 (TMR_VAL_EXT = bit 8).
        uint32_t port = rd<uint32_t>(t + 76);
        *wide = (rd<uint32_t>(t + 112) >> 8) & 1;
        return port <= 0xffff ? static_cast<uint16_t>(port) : 0;
    }
    return 0;
}

}  // namespace khoefi
