// An arm64 Image with an EFI stub's PE header, written field by field from
// Linux Documentation/arch/arm64/booting.rst and the PE/COFF layout (not
// through the parser under test), for the arm64 tests.
#pragma once
#include <stdint.h>
#include <string.h>

#include <vector>

namespace khotest {

inline std::vector<uint8_t> make_arm64_image(uint64_t file_size, uint64_t image_size,
                                             uint16_t machine = 0xaa64) {
    std::vector<uint8_t> b(file_size, 0);
    auto put = [&](size_t off, uint64_t v, size_t n) { memcpy(&b[off], &v, n); };
    b[0] = 'M';
    b[1] = 'Z';                    // code0: the stub's "MZ" (an add instruction)
    put(8, 0, 8);                  // text_offset
    put(16, image_size, 8);        // image_size
    put(24, 0xa, 8);               // flags: LE, 4K pages, anywhere
    put(56, 0x644d5241, 4);        // "ARM\x64"
    put(60, 0x40, 4);              // PE header offset
    memcpy(&b[0x40], "PE\0\0", 4);
    put(0x44, machine, 2);
    return b;
}

}  // namespace khotest
