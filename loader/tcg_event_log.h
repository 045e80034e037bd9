// Sizes of events in a TPM 2.0 crypto-agile event log (TCG PC Client
// Platform Firmware Profile 1.05, section 10: the first event is a
// SHA1-format TCG_PCClientPCREvent carrying the TCG_EfiSpecIDEvent, whose
// algorithm list gives each digest's size; every later event is a
// TCG_PCR_EVENT2). khoboot needs them to hand the firmware's log to Linux
// as its EFI stub does (drivers/firmware/efi/libstub/tpm.c, the size rule
// of include/linux/tpm_eventlog.h __calc_tpm2_event_size()).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho {

struct TcgDigestSizes {
    static constexpr uint32_t kMax = 8;
    uint32_t count = 0;
    uint16_t alg[kMax] = {};
    uint16_t size[kMax] = {};
};

// The Spec ID event at the start of `log` (`avail` readable bytes): its
// digest sizes and its own size. False when it is not one.
bool tcg_spec_id(const uint8_t* log, size_t avail, TcgDigestSizes* out, size_t* spec_size);

// The size of the TCG_PCR_EVENT2 at `event` (`avail` readable bytes), or 0
// when it is malformed: a digest algorithm the Spec ID event does not
// list, more digests than it lists, or a size past `avail`.
size_t tcg_event2_size(const uint8_t* event, size_t avail, const TcgDigestSizes& d);

}  // namespace kho
