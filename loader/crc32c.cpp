#include "crc32c.h"

#include "crc32c_hw.h"
#include "crc_slice8.h"

namespace kho {
namespace {

// The reflected Castagnoli polynomial.
constexpr CrcSlice8<0x82F63B78u> kTables;

// On the raw register, like the hardware paths.
uint32_t portable_reg(const uint8_t* p, size_t len, uint32_t crc) { return kTables.update(p, len, crc); }

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
    return crc_of_self_checked(crc32c, record, len, field_offset);
}

}  // namespace kho
