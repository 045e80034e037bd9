// The handover variables under khoboot's vendor GUID
// (abi/handover_descriptor.h): the descriptor "KhoHandover" and the
// integrity manifest "KhoManifest" a producer may write beside it
// (scripts/linux/README.md). Read them, and delete them once the loader
// commits to booting, so that a descriptor is never used twice (a second
// boot would find RAM the first kernel owned) and a manifest never vouches
// for a later state.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../loader/status.h"

namespace khoefi {

// *found = false (and ok) when the variable does not exist.
kho::Status read_handover_variable(void* buf, size_t capacity, size_t* len, bool* found);
kho::Status delete_handover_variable();

kho::Status read_manifest_variable(void* buf, size_t capacity, size_t* len, bool* found);
kho::Status delete_manifest_variable();

}  // namespace khoefi
