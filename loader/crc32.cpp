#include "crc32.h"

#include "crc_slice8.h"

namespace kho {
namespace {

// The reflected IEEE 802.3 polynomial.
constexpr CrcSlice8<0xEDB88320u> kTables;

}  // namespace

uint32_t crc32(const void* data, size_t len, uint32_t crc) {
    return ~kTables.update(static_cast<const uint8_t*>(data), len, ~crc);
}

uint32_t crc32_self_checked(const void* record, size_t len, size_t field_offset) {
    return crc_of_self_checked(crc32, record, len, field_offset);
}

}  // namespace kho
