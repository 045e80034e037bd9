// TPM 2.0 measurements through EFI_TCG2_PROTOCOL (loader/measured_boot.h
// decides what and where).
#pragma once
#include <stdint.h>

#include "../loader/status.h"

namespace khoefi {

bool tcg2_present();
kho::Status tcg2_measure(uint32_t pcr, uint32_t event_type, const void* event, uint32_t event_len,
                         const void* data, uint64_t len);
// The firmware's event log as Linux's EFI stub hands it on: a copy in
// EfiACPIReclaimMemory under LINUX_EFI_TPM_EVENT_LOG_GUID (the stub never
// runs: khoboot enters the kernel at startup_64). *bytes: the log's size.
kho::Status tcg2_publish_linux_log(uint64_t* bytes, uint64_t* final_events);

}  // namespace khoefi
