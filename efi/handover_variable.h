// khoboot's UEFI variables, all under the descriptor's vendor GUID
// (abi/handover_descriptor.h, abi/boot_record.h):
//  - "KhoHandover", the descriptor, and "KhoManifest", the integrity
//    manifest a producer may write beside it (scripts/linux/README.md);
//    both deleted once the loader commits to a boot, so that a descriptor
//    is never used twice and a manifest never vouches for a later state;
//  - "KhoBootAttempt", khoboot's record of a try in progress
//    (loader/boot_attempt.h);
//  - "KhoBootStatus", what the last boot did.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../loader/firmware.h"
#include "../loader/status.h"

namespace khoefi {

using kho::KhoVariable;  // loader/firmware.h

// *found = false (and ok) when the variable does not exist. A variable
// larger than `capacity` is an error of the variable's own kind (a bad
// descriptor, a manifest that cannot be checked).
kho::Status read_variable(KhoVariable v, void* buf, size_t capacity, size_t* len, bool* found);
// Non-volatile, boot and runtime access (what efivarfs shows the OS).
kho::Status write_variable(KhoVariable v, const void* data, size_t len);
// Deleting a variable that does not exist is not an error.
kho::Status delete_variable(KhoVariable v);
const char* variable_name(KhoVariable v);
// The attributes of the variable as last read (0 before).
uint32_t variable_attributes(KhoVariable v);

}  // namespace khoefi
