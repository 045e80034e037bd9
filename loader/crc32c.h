// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78; RFC 3720 B.4), the
// digest of integrity manifest v2 (abi/integrity_manifest.h). Chosen over
// CRC-32 (IEEE) because x86-64 (SSE4.2) and ARMv8 compute it in hardware:
// kho-verify=full then reads preserved memory at memory speed instead of
// at table-lookup speed.
//
// crc32c() picks the fastest path the CPU offers, decided at run time
// (the core also runs in firmware, where nothing may be assumed beyond
// the baseline ISA), and falls back to a portable slicing-by-8 table.
// Same convention as crc32(): pass the previous result to continue.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace kho {

enum class Crc32cEngine : uint8_t {
    Portable,  // slicing-by-8 tables, any CPU
    X86Sse42,  // the SSE4.2 crc32 instruction, three interleaved streams
    Arm64Crc,  // the ARMv8 crc32c instructions, three interleaved streams
};

// The engine crc32c() uses on this CPU (probed once, then cached).
Crc32cEngine crc32c_engine();
const char* crc32c_engine_name(Crc32cEngine engine);

uint32_t crc32c(const void* data, size_t len, uint32_t crc = 0);

// The table-driven path, whatever the CPU: the fallback, and the baseline
// the tests and the bench compare the hardware path with.
uint32_t crc32c_portable(const void* data, size_t len, uint32_t crc = 0);

// CRC-32C of a record that stores its own checksum: the 4-byte field at
// `field_offset` is taken as zero (the v2 integrity manifest header).
uint32_t crc32c_self_checked(const void* record, size_t len, size_t field_offset);

}  // namespace kho
