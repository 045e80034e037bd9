// Slicing-by-8 for a reflected 32-bit CRC (the same walk serves CRC-32 and
// CRC-32C; only the polynomial differs). The tables are built at compile
// time so that the EFI image needs no initialiser.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho {

template <uint32_t kPoly>
struct CrcSlice8 {
    uint32_t t[8][256];
    constexpr CrcSlice8() : t{} {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
            t[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; ++i)
            for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }

    // Runs the raw register (no pre/post inversion) over `len` bytes.
    uint32_t update(const uint8_t* p, size_t len, uint32_t crc) const {
        for (; len && (reinterpret_cast<uintptr_t>(p) & 7); --len) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
        for (; len >= 8; len -= 8, p += 8) {
            uint32_t lo, hi;
            __builtin_memcpy(&lo, p, 4);
            __builtin_memcpy(&hi, p + 4, 4);
            lo ^= crc;
            crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
                  t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        }
        for (; len; --len) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
        return crc;
    }
};

// The CRC of a record whose own 4-byte checksum field (at field_offset)
// counts as zero, with `crc` a whole CRC function (crc32, crc32c).
template <typename CrcFn>
uint32_t crc_of_self_checked(CrcFn crc, const void* record, size_t len, size_t field_offset) {
    const uint8_t* b = static_cast<const uint8_t*>(record);
    const uint32_t zero = 0;
    uint32_t c = crc(b, field_offset, 0);
    c = crc(&zero, sizeof(zero), c);
    return crc(b + field_offset + 4, len - field_offset - 4, c);
}

}  // namespace kho
