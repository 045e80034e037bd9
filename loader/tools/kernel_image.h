// What a Linux bzImage says about the KHO and LUO ABIs it understands, read
// the way a KHO developer checks it before the point of no return: the
// decompressed kernel carries the compatible strings it accepts, e.g.
// "kho-v4" (include/linux/kho/abi/kexec_handover.h KHO_FDT_COMPATIBLE) and
// "luo-v5" (include/linux/kho/abi/luo.h LUO_ABI_COMPATIBLE), and its own
// banner ("Linux version ..."), which is /proc/version of the running kernel.
//
// The payload is found through the setup header (Documentation/arch/x86/
// boot.rst: payload_offset at 0x248 and payload_length at 0x24c, relative
// to the protected-mode code at (setup_sects + 1) * 512) and decompressed
// with the library of its format: zlib (gzip), liblzma (xz), libzstd.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

namespace kho::tools::image {

struct KernelImage {
    std::string compression;      // "gzip", "xz", "zstd"
    std::vector<uint8_t> vmlinux;  // the decompressed payload (an ELF file)
};

// "" when the file carries a boot sector signature and the "HdrS" setup
// header (an image kexec_file_load's bzImage loader takes), else one error
// naming the file. Reads no payload: for an image that is not compressed
// (the handoff image).
std::string check_bzimage(const std::string& path);

// "" or one error message naming the file.
std::string read_kernel_image(const std::string& path, KernelImage* out);

// Every NUL-terminated string in `bytes` of the form PREFIX<digits> ("kho-v"
// finds "kho-v4") that is not the tail of a longer name, sorted, without
// repeats.
std::vector<std::string> abi_versions(const std::vector<uint8_t>& bytes, const std::string& prefix);

bool contains(const std::vector<uint8_t>& bytes, const std::string& text);

}  // namespace kho::tools::image
