// The handover descriptor variable (abi/handover_descriptor.h): read it,
// and delete it once the loader commits to booting, so that a descriptor
// is never used twice (a second boot would find RAM the first kernel
// owned).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../loader/status.h"

namespace khoefi {

// *found = false (and ok) when the variable does not exist.
kho::Status read_handover_variable(void* buf, size_t capacity, size_t* len, bool* found);
kho::Status delete_handover_variable();

}  // namespace khoefi
