// The bzImage setup-header parser on arbitrary files. Whatever it accepts
// must describe a kernel the loader can actually place: the invariants
// below are what kernel placement relies on.
#include "loader/bzimage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The fuzzer's bytes are the file's prefix; the first 8 bytes pick a
    // claimed file size so truncation checks are exercised too.
    if (size < 8) return 0;
    uint64_t file_size;
    __builtin_memcpy(&file_size, data, 8);
    const uint8_t* prefix = data + 8;
    size_t prefix_len = size - 8;
    if (file_size < prefix_len) file_size = prefix_len;
    kho::BzImage img;
    if (!kho::parse_bzimage(prefix, prefix_len, file_size, &img)) return 0;
    if (img.alignment == 0 || (img.alignment & (img.alignment - 1))) __builtin_trap();
    if (img.setup_size > file_size || img.payload_size != file_size - img.setup_size) __builtin_trap();
    if (img.init_size == 0 || img.init_size < img.payload_size) __builtin_trap();
    if (img.header_copy_size > kho::kBzImagePrefix - 0x1f1) __builtin_trap();
    if (img.protocol < kho::abi::x86::kMinProtocol) __builtin_trap();
    return 0;
}
