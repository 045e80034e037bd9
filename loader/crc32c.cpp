#include "crc32c.h"

#include "crc32c_hw.h"

namespace kho {
namespace {

// Slicing-by-8 tables for the reflected Castagnoli polynomial, built at
// compile time so the EFI image needs no initialiser (as crc32.cpp).
struct Tables {
    uint32_t t[8][256];
    constexpr Tables() : t{} {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; ++i)
            for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};
constexpr Tables kTables;

// On the raw register, like the hardware paths.
uint32_t portable_reg(const uint8_t* p, size_t len, uint32_t crc) {
    const auto& t = kTables.t;
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

Crc32cEngine probe() {
#if defined(__x86_64__)
    if (crc32c_hw::x86_sse42_present()) return Crc32cEngine::X86Sse42;
#elif defined(__aarch64__)
    if (crc32c_hw::arm64_crc_present()) return Crc32cEngine::Arm64Crc;
#endif
    return Crc32cEngine::Portable;
}

// 0: not probed yet; else the engine + 1. Probing twice is harmless, so a
// relaxed atomic is all the host's threads need (and firmware has none).
uint8_t g_engine = 0;

}  // namespace

Crc32cEngine crc32c_engine() {
    uint8_t e = __atomic_load_n(&g_engine, __ATOMIC_RELAXED);
    if (!e) {
        e = uint8_t(uint8_t(probe()) + 1);
        __atomic_store_n(&g_engine, e, __ATOMIC_RELAXED);
    }
    return Crc32cEngine(e - 1);
}

const char* crc32c_engine_name(Crc32cEngine engine) {
    switch (engine) {
    case Crc32cEngine::Portable: return "portable";
    case Crc32cEngine::X86Sse42: return "x86-sse4.2";
    case Crc32cEngine::Arm64Crc: return "arm64-crc";
    }
    return "?";
}

uint32_t crc32c(const void* data, size_t len, uint32_t crc) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    switch (crc32c_engine()) {
#if defined(__x86_64__)
    case Crc32cEngine::X86Sse42: return ~crc32c_hw::x86_sse42(p, len, ~crc);
#endif
#if defined(__aarch64__)
    case Crc32cEngine::Arm64Crc: return ~crc32c_hw::arm64_crc(p, len, ~crc);
#endif
    default: return ~portable_reg(p, len, ~crc);
    }
}

uint32_t crc32c_portable(const void* data, size_t len, uint32_t crc) {
    return ~portable_reg(static_cast<const uint8_t*>(data), len, ~crc);
}

uint32_t crc32c_self_checked(const void* record, size_t len, size_t field_offset) {
    const uint8_t* b = static_cast<const uint8_t*>(record);
    const uint32_t zero = 0;
    uint32_t crc = crc32c(b, field_offset);
    crc = crc32c(&zero, sizeof(zero), crc);
    return crc32c(b + field_offset + 4, len - field_offset - 4, crc);
}

}  // namespace kho
