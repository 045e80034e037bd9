// bzImage setup header: what the 64-bit boot protocol needs from a kernel
// image, validated as hostile input. Linux Documentation/arch/x86/boot.rst
// ("The Real-Mode Kernel Header", "64-bit Boot Protocol").
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "../abi/x86_boot.h"
#include "status.h"

namespace kho {

struct BzImage {
    abi::x86::SetupHeader header;  // as found in the image
    uint16_t protocol;             // e.g. 0x020f
    // Bytes from 0x1f1 the loader copies into boot_params.hdr: the header
    // ends at 0x202 + the jump instruction's displacement byte (boot.rst;
    // kexec-bzimage64.c computes the same).
    uint32_t header_copy_size;
    uint64_t setup_size;        // (setup_sects + 1) * 512: offset of the 64-bit kernel in the file
    uint64_t payload_size;      // file bytes from setup_size to the end
    uint64_t init_size;         // bytes [load, load + init_size) the kernel needs to decompress
    uint64_t alignment;         // kernel_alignment (a power of two)
    uint64_t min_load;          // lowest load address that is not relocated to pref_address
    uint64_t max_end;           // exclusive top for [load, load + init_size)
    uint64_t initrd_max_end;    // exclusive top for the initrd
    uint32_t cmdline_max;       // longest command line, NUL excluded
    bool above_4g;              // XLF_CAN_BE_LOADED_ABOVE_4G
};

// How much of the file parse_bzimage() needs to see: the setup header and
// its end marker (the jump byte can push it to at most 0x202 + 0x7f).
inline constexpr size_t kBzImagePrefix = 0x290;

// `prefix` holds the first `prefix_len` bytes of a file of `file_size`
// bytes. Refuses anything the 64-bit protocol cannot boot: wrong magic,
// protocol < 2.12, no 64-bit entry, not relocatable, truncated payload,
// nonsensical sizes or alignment.
Status parse_bzimage(const uint8_t* prefix, size_t prefix_len, uint64_t file_size, BzImage* out);

}  // namespace kho
