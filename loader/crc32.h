// CRC-32 (IEEE 802.3, reflected 0xEDB88320), the checksum of the handover
// descriptor and of the FDT page it names. Slicing-by-8 so integrity checks
// of preserved memory run at memory speed rather than a byte at a time.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho {

uint32_t crc32(const void* data, size_t len, uint32_t crc = 0);

// CRC-32 of a record that stores its own checksum: the 4-byte field at
// `field_offset` is taken as zero (khoboot's descriptor and manifest).
uint32_t crc32_self_checked(const void* record, size_t len, size_t field_offset);

}  // namespace kho
