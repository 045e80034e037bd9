#include "crc32.h"

namespace kho {
namespace {

// Slicing-by-8 tables for the reflected IEEE polynomial, built at compile
// time so the EFI image needs no initialiser.
struct Tables {
    uint32_t t[8][256];
    constexpr Tables() : t{} {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
            t[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; ++i)
            for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};
constexpr Tables kTables;

}  // namespace

uint32_t crc32(const void* data, size_t len, uint32_t crc) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    const auto& t = kTables.t;
    crc = ~crc;
    while (len && (reinterpret_cast<uintptr_t>(p) & 7)) {
        crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
        --len;
    }
    while (len >= 8) {
        uint32_t lo, hi;
        __builtin_memcpy(&lo, p, 4);
        __builtin_memcpy(&hi, p + 4, 4);
        lo ^= crc;
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

uint32_t crc32_self_checked(const void* record, size_t len, size_t field_offset) {
    const uint8_t* b = static_cast<const uint8_t*>(record);
    const uint32_t zero = 0;
    uint32_t crc = crc32(b, field_offset);
    crc = crc32(&zero, sizeof(zero), crc);
    return crc32(b + field_offset + 4, len - field_offset - 4, crc);
}

}  // namespace kho
