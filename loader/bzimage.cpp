// Checks follow Linux Documentation/arch/x86/boot.rst and the order in
// which kexec_file's bzImage64_probe() (arch/x86/kernel/kexec-bzimage64.c)
// rejects images, with one precise message per failure.
#include "bzimage.h"

#include <string.h>

namespace kho {

namespace x86 = abi::x86;

namespace {

constexpr uint64_t kOneMiB = 1ull << 20;
constexpr uint64_t k4GiB = 1ull << 32;
// The header's last field the loader reads (init_size, 2.10+) ends here.
constexpr uint32_t kHeaderNeededEnd = 0x264;

bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

// The header may be shorter than SetupHeader on old protocols; copy
// what the file holds and zero the rest before reading any field.
void copy_header(const uint8_t* prefix, size_t prefix_len, BzImage* img) {
    size_t avail = prefix_len - x86::kSetupHeaderOffset;
    memcpy(&img->header, prefix + x86::kSetupHeaderOffset,
           avail < sizeof(img->header) ? avail : sizeof(img->header));
}

Status check_magic_and_protocol(const x86::SetupHeader& h) {
    if (h.boot_flag != x86::kBootFlag)
        return Status::error(Err::BadImage, "not a bzImage: boot_flag 0x%x at 0x1fe (want 0xaa55)",
                             h.boot_flag);
    if (h.header != x86::kHeaderMagic)
        return Status::error(Err::BadImage, "not a bzImage: header 0x%x at 0x202 (want HdrS)",
                             h.header);
    if (h.version < x86::kMinProtocol)
        return Status::error(Err::BadImage, "boot protocol %u.%02u too old: 2.12 needed for xloadflags",
                             h.version >> 8, h.version & 0xff);
    return Status::ok();
}

// Header length: 0x202 + the signed jump displacement byte at 0x201.
Status measure_header(const uint8_t* prefix, size_t prefix_len, BzImage* img) {
    uint32_t hdr_end = 0x202 + prefix[0x201];
    if (hdr_end < kHeaderNeededEnd + 4 || hdr_end > offsetof(x86::BootParams, edd_mbr_sig_buffer))
        return Status::error(Err::BadImage, "setup header end 0x%x out of range 0x268..0x290",
                             hdr_end);
    if (hdr_end > prefix_len)
        return Status::error(Err::BadImage, "image truncated inside the setup header (0x%x bytes)",
                             (unsigned)prefix_len);
    img->header_copy_size = hdr_end - x86::kSetupHeaderOffset;
    return Status::ok();
}

// Splits the file into setup sectors and payload, and checks that the
// payload holds what syssize promises; *sys_bytes is that promise.
Status measure_payload(uint64_t file_size, BzImage* img, uint64_t* sys_bytes) {
    const x86::SetupHeader& h = img->header;
    // setup_sects == 0 means 4 (boot.rst "For backwards compatibility").
    uint64_t sects = h.setup_sects ? h.setup_sects : 4;
    img->setup_size = (sects + 1) * x86::kSectorSize;
    if (img->setup_size >= file_size)
        return Status::error(Err::BadImage,
                             "image truncated: %llu setup sectors but file is 0x%llx bytes",
                             (unsigned long long)sects, (unsigned long long)file_size);
    img->payload_size = file_size - img->setup_size;
    *sys_bytes = uint64_t(h.syssize) * 16;
    if (*sys_bytes == 0 || *sys_bytes > img->payload_size)
        return Status::error(Err::BadImage,
                             "image truncated: payload 0x%llx bytes, header syssize says 0x%llx",
                             (unsigned long long)img->payload_size, (unsigned long long)*sys_bytes);
    return Status::ok();
}

// What the 64-bit protocol needs the kernel to support.
Status check_64bit_relocatable(const x86::SetupHeader& h, uint64_t sys_bytes, uint64_t payload_size) {
    if (!(h.loadflags & x86::kLoadedHigh))
        return Status::error(Err::BadImage, "zImage (loadflags 0x%x without LOADED_HIGH)",
                             h.loadflags);
    if (!(h.xloadflags & x86::kXlfKernel64))
        return Status::error(Err::BadImage, "no 64-bit entry point (xloadflags 0x%x)", h.xloadflags);
    if (!h.relocatable_kernel)
        return Status::error(Err::BadImage, "kernel is not relocatable (relocatable_kernel 0)");
    if (!is_pow2(h.kernel_alignment) || h.kernel_alignment < 0x1000 ||
        h.kernel_alignment > (1u << 30))
        return Status::error(Err::BadImage, "kernel_alignment 0x%x is not a power of two in 4K..1G",
                             h.kernel_alignment);
    if (h.init_size < sys_bytes || h.init_size < payload_size)
        return Status::error(Err::BadImage,
                             "init_size 0x%x smaller than the payload (0x%llx bytes)", h.init_size,
                             (unsigned long long)payload_size);
    return Status::ok();
}

// Where the kernel, its initrd and command line may go.
void set_placement_limits(BzImage* img) {
    const x86::SetupHeader& h = img->header;
    img->init_size = (uint64_t(h.init_size) + 0xfff) & ~0xfffull;
    img->alignment = h.kernel_alignment;
    img->above_4g = (h.xloadflags & x86::kXlfCanBeLoadedAbove4G) != 0;
    // A relocatable kernel loaded below LOAD_PHYSICAL_ADDR (= pref_address)
    // decompresses at LOAD_PHYSICAL_ADDR instead (compressed/head_64.S
    // startup_64), i.e. outside the window the loader chose: never go below.
    uint64_t min = h.pref_address > kOneMiB ? h.pref_address : kOneMiB;
    img->min_load = (min + img->alignment - 1) & ~(img->alignment - 1);
    img->max_end = img->above_4g ? UINT64_MAX : k4GiB;
    img->initrd_max_end = img->above_4g ? UINT64_MAX : uint64_t(h.initrd_addr_max) + 1;
    img->cmdline_max = h.cmdline_size;
}

}  // namespace

Status parse_bzimage(const uint8_t* prefix, size_t prefix_len, uint64_t file_size, BzImage* out) {
    if (file_size < 0x204 || prefix_len < 0x204)
        return Status::error(Err::BadImage, "image too small for a setup header: 0x%llx bytes",
                             (unsigned long long)(file_size < prefix_len ? file_size : prefix_len));
    if (prefix_len > file_size) prefix_len = file_size;

    BzImage img{};
    copy_header(prefix, prefix_len, &img);
    img.protocol = img.header.version;
    uint64_t sys_bytes = 0;
    Status st = check_magic_and_protocol(img.header);
    if (st) st = measure_header(prefix, prefix_len, &img);
    if (st) st = measure_payload(file_size, &img, &sys_bytes);
    if (st) st = check_64bit_relocatable(img.header, sys_bytes, img.payload_size);
    if (!st) return st;
    set_placement_limits(&img);
    *out = img;
    return Status::ok();
}

}  // namespace kho
