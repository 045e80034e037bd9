// The two things the loader needs from ACPI: the RSDP for boot_params
// (acpi_rsdp_addr), and the PM timer port for clock calibration.
#pragma once
#include <stdint.h>

namespace khoefi {

// From the system table's configuration table (ACPI 2.0 GUID first).
uint64_t acpi_rsdp();

// FADT PM_TMR_BLK I/O port (ACPI 6.5 section 5.2.9), 0 when absent;
// *wide = TMR_VAL_EXT (32-bit counter instead of 24-bit).
uint16_t acpi_pm_timer_port(bool* wide);

}  // namespace khoefi
