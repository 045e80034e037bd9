#!/usr/bin/env python3
"""Assembles the test_kernel bzImage: setup sectors + protected-mode part.

  mkbzimage.py [--pe] SETUP.bin KERNEL.elf KERNEL.bin OUT

Fills the header fields only known after linking (Linux boot.rst, "The
Real-Mode Kernel Header"): setup_sects (512-byte sectors after the boot
sector), syssize (protected-mode size in 16-byte units) and init_size
(bytes the kernel needs from its load address: image plus bss and page
tables, from the ELF symbol _end). Checks the invariants a loader relies
on: "HdrS", boot flag, protocol >= 2.12, 64-bit entry at +0x200.

--pe (the handoff image): the boot sector also carries a PE/COFF header, as
a Linux bzImage does (arch/x86/boot/header.S), so that sbsign can give the
image an Authenticode signature and a kernel in lockdown accepts it from
kexec_file_load (KEXEC_BZIMAGE_VERIFY_SIG: verify_pefile_signature()).
The header only describes the file (two sections, the setup sectors and
the protected-mode part, file offsets used as addresses); the image is not
an EFI application and has no EFI entry point. "MZ" replaces the first two
bytes of the boot-sector code, which no loader of this image runs (it only
runs when a BIOS boots the image from a floppy).
"""
import struct
import subprocess
import sys

HDR = 0x1f1


def symbols(elf):
    out = subprocess.run(["nm", elf], check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return syms


# PE/COFF (Microsoft "PE Format" specification): the header at PE_OFFSET,
# inside the boot sector, before the setup header at 0x1f1.
PE_OFFSET = 0x40
FILE_ALIGN = 0x200          # = section alignment: file offsets are the RVAs
DATA_DIRS = 6               # up to the base relocation table; [4] is the
                            # certificate table sbsign fills in
SCN_CODE_READ_EXEC = 0x60000020


def pe_header(setup_len: int, text_len: int, init_size: int) -> bytes:
    """The PE signature, COFF header, PE32+ optional header and the two
    section headers for a file of `setup_len` setup bytes (the boot sector
    is the PE headers' own space) and `text_len` (FILE_ALIGN-padded) bytes
    of protected-mode code whose run-time size is `init_size`."""
    opt_size = 112 + 8 * DATA_DIRS
    text_vsize = max(init_size, text_len)
    image_size = setup_len + (text_vsize + FILE_ALIGN - 1) // FILE_ALIGN * FILE_ALIGN
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x8664, 2, 0, 0, 0, opt_size,
                       0x0206)  # executable, line numbers and debug info stripped
    opt = struct.pack("<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
                      0x20b, 0, 0,                          # PE32+, linker version
                      setup_len - FILE_ALIGN + text_len, 0, 0,  # code, data, bss sizes
                      0, FILE_ALIGN,                        # no entry point; base of code
                      0, FILE_ALIGN, FILE_ALIGN,            # image base; alignments
                      0, 0, 0, 0, 0, 0, 0,                  # OS/image/subsystem versions, win32
                      image_size, FILE_ALIGN, 0,            # image, headers; checksum (sbsign)
                      10, 0,                                # EFI application, no DLL flags
                      0, 0, 0, 0, 0, DATA_DIRS) + bytes(8 * DATA_DIRS)
    sections = b"".join(struct.pack("<8sIIIIIIHHI", name, vsize, offset, raw, offset, 0, 0, 0, 0,
                                     SCN_CODE_READ_EXEC)
                        for name, offset, raw, vsize in (
                            (b".setup", FILE_ALIGN, setup_len - FILE_ALIGN, setup_len - FILE_ALIGN),
                            (b".text", setup_len, text_len, text_vsize)))
    return coff + opt + sections


def add_pe_header(setup: bytearray, kernel: bytearray, init_size: int) -> None:
    kernel += b"\0" * (-len(kernel) % FILE_ALIGN)
    hdr = pe_header(len(setup), len(kernel), init_size)
    if PE_OFFSET + len(hdr) > HDR:
        sys.exit("mkbzimage: the PE header does not fit before the setup header")
    if any(setup[PE_OFFSET:PE_OFFSET + len(hdr)]) or any(setup[0x3c:0x40]):
        sys.exit("mkbzimage: the boot sector has code where the PE header goes")
    setup[0:2] = b"MZ"
    struct.pack_into("<I", setup, 0x3c, PE_OFFSET)
    setup[PE_OFFSET:PE_OFFSET + len(hdr)] = hdr


def main():
    args = sys.argv[1:]
    pe = "--pe" in args
    args = [a for a in args if a != "--pe"]
    setup_bin, kernel_elf, kernel_bin, out = args[:4]
    setup = bytearray(open(setup_bin, "rb").read())
    kernel = bytearray(open(kernel_bin, "rb").read())
    syms = symbols(kernel_elf)

    def fail(msg):
        sys.exit(f"mkbzimage: {msg}")

    if len(setup) < 0x26c:
        fail("setup shorter than the header")
    if setup[0x202:0x206] != b"HdrS" or struct.unpack_from("<H", setup, 0x1fe)[0] != 0xAA55:
        fail("setup header magic missing")
    if struct.unpack_from("<H", setup, 0x206)[0] < 0x020c:
        fail("boot protocol below 2.12")
    if syms.get("startup_64") != 0x200 or syms.get("startup_32") != 0:
        fail("entries not at +0 (32-bit) and +0x200 (64-bit)")

    setup += b"\0" * (-len(setup) % 512)
    sects = len(setup) // 512 - 1
    if not 1 <= sects <= 127:  # 0 would mean 4 to old loaders
        fail(f"setup_sects {sects} out of range")
    kernel += b"\0" * (-len(kernel) % 16)
    end = syms["_end"]
    init_size = (end + 4095) & ~4095
    if init_size < len(kernel):
        fail("init_size smaller than the image")

    setup[HDR] = sects
    struct.pack_into("<I", setup, 0x1f4, len(kernel) // 16)   # syssize
    struct.pack_into("<I", setup, 0x260, init_size)           # init_size
    if pe:
        add_pe_header(setup, kernel, init_size)
    with open(out, "wb") as f:
        f.write(setup)
        f.write(kernel)


if __name__ == "__main__":
    main()
