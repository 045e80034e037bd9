// The attributes khoboot requires of the variables that name a KHO state
// (KhoHandover, KhoManifest): exactly NON_VOLATILE | BOOTSERVICE_ACCESS |
// RUNTIME_ACCESS (UEFI 2.10 section 8.2), what every producer writes
// (khotool export through efivarfs, test_kernel through runtime
// services). A state crosses a reset, so a volatile variable cannot be one
// a producer left; a variable without runtime access was written by
// pre-OS code, not by the OS that owned the state; an authenticated or
// append-write variable is some other tool's. None of this authenticates
// the producer: any code that may write NV|BS|RT variables (an OS's root
// through efivarfs, a UEFI application) can write these two
// (docs/security.md).
#pragma once
#include <stdint.h>

#include "status.h"

namespace kho {

constexpr uint32_t kVarNonVolatile = 0x1, kVarBootServiceAccess = 0x2, kVarRuntimeAccess = 0x4;
constexpr uint32_t kStateVariableAttributes = kVarNonVolatile | kVarBootServiceAccess | kVarRuntimeAccess;

// ok, or the error (`kind`) naming the variable and what it has.
Status check_state_variable_attributes(const char* name, uint32_t attributes, Err kind);

}  // namespace kho
