#!/usr/bin/env python3
"""Assembles the test_kernel bzImage: setup sectors + protected-mode part.

  mkbzimage.py SETUP.bin KERNEL.elf KERNEL.bin OUT

Fills the header fields only known after linking (Linux boot.rst, "The
Real-Mode Kernel Header"): setup_sects (512-byte sectors after the boot
sector), syssize (protected-mode size in 16-byte units) and init_size
(bytes the kernel needs from its load address: image plus bss and page
tables, from the ELF symbol _end). Checks the invariants a loader relies
on: "HdrS", boot flag, protocol >= 2.12, 64-bit entry at +0x200.
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


def main():
    setup_bin, kernel_elf, kernel_bin, out = sys.argv[1:5]
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
    with open(out, "wb") as f:
        f.write(setup)
        f.write(kernel)


if __name__ == "__main__":
    main()
