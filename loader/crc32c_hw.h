// The hardware CRC-32C paths behind crc32c() (loader/crc32c.h): each works
// on the raw CRC register (no pre- or post-inversion) and may only be
// called once its *_present() probe said yes. Only the functions of the
// architecture being compiled exist.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho::crc32c_hw {

#if defined(__x86_64__)
// CPUID.01H:ECX.SSE4_2[bit 20] (Intel SDM vol. 2A, CRC32: #UD without it).
bool x86_sse42_present();
uint32_t x86_sse42(const uint8_t* p, size_t len, uint32_t reg);
#endif

#if defined(__aarch64__)
// ID_AA64ISAR0_EL1.CRC32 (bits 19:16) != 0 (Arm ARM D19.2). Read directly:
// firmware has no HWCAP, runs at EL1/EL2 where the register is readable,
// and Linux (>= 4.11) emulates the read for EL0, so the same probe serves
// the host and the firmware. Not tested here (x86-64 host); it must only
// compile.
bool arm64_crc_present();
uint32_t arm64_crc(const uint8_t* p, size_t len, uint32_t reg);
#endif

}  // namespace kho::crc32c_hw
