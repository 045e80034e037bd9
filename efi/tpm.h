// TPM 2.0 measurements through EFI_TCG2_PROTOCOL (loader/measured_boot.h
// decides what and where).
#pragma once
#include <stdint.h>

#include "../loader/status.h"

namespace khoefi {

bool tcg2_present();
kho::Status tcg2_measure(uint32_t pcr, uint32_t event_type, const void* event, uint32_t event_len,
                         const void* data, uint64_t len);

}  // namespace khoefi
