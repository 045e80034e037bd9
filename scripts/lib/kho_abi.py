"""khoboot's own contracts for Python tooling: the vendor GUID and variable
names, the handover descriptor, the integrity manifest and the boot-attempt
record, with their constants and struct layouts read from the C++ headers
in abi/ when this module is imported (scripts/lib/abi_headers.py). abi/
stays the one owner: a renamed variable, a new magic or a field added to
a header reaches every script, and a layout this module cannot pack as the
header's static_asserts pin it stops the import instead of producing
records the loader would refuse.

Run as a script, `kho_abi.py --c-header` prints the vendor constants as C
#defines for C tools that cannot include the C++ header
(scripts/linux/chain-init.c through scripts/linux/build.mk).
"""
from __future__ import annotations

import struct
import sys
import uuid
import zlib
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import abi_headers  # noqa: E402

ABI_DIR = Path(__file__).resolve().parents[2] / "abi"


class AbiMismatch(Exception):
    """A header says something this module cannot follow."""


class Layout:
    """One struct of a header as a little-endian struct.Struct (the
    contracts are little-endian), its size and offsets checked against the
    header's static_asserts, which every layout must have for its size (C
    pads to natural alignment, struct's "<" never does)."""

    def __init__(self, header: abi_headers.Header, name: str):
        if name in header.unreadable:
            raise AbiMismatch(f"{header.path.name}: struct {name}: cannot read {header.unreadable[name]}")
        if name not in header.structs:
            raise AbiMismatch(f"{header.path.name} has no struct {name}")
        self.name = name
        self.fields = [f for f, _, _ in header.structs[name]]
        codes = []
        for fname, ctype, count in header.structs[name]:
            if ctype not in abi_headers.CTYPE_CODES:
                raise AbiMismatch(f"{header.path.name}: {name}.{fname} has type {ctype}")
            codes.append((str(count) if count != 1 else "") + abi_headers.CTYPE_CODES[ctype])
        self.struct = struct.Struct("<" + "".join(codes))
        self.size = self.struct.size
        self._offsets = {f: struct.calcsize("<" + "".join(codes[:i])) for i, f in enumerate(self.fields)}
        if header.sizes.get(name) != self.size:
            raise AbiMismatch(f"{header.path.name}: sizeof({name}) is {header.sizes.get(name)}, "
                              f"packed here as {self.size} bytes")
        for (sname, fname), off in header.offsets.items():
            if sname == name and self._offsets.get(fname) != off:
                raise AbiMismatch(f"{header.path.name}: offsetof({name}, {fname}) is {off}, "
                                  f"packed here at {self._offsets.get(fname)}")

    def offset(self, field: str) -> int:
        return self._offsets[field]

    def pack(self, **values) -> bytes:
        """Fields by name; fields not given (reserved ones) are 0."""
        unknown = set(values) - set(self.fields)
        if unknown:
            raise TypeError(f"{self.name} has no field {sorted(unknown)}")
        return self.struct.pack(*(values.get(f, 0) for f in self.fields))

    def unpack(self, data: bytes) -> dict:
        return dict(zip(self.fields, self.struct.unpack_from(data)))


def _header(name: str) -> abi_headers.Header:
    return abi_headers.read(ABI_DIR / name)


VENDOR_H = _header("khoboot_vendor.h")
SCRATCH_H = _header("kho_scratch.h")
DESCRIPTOR_H = _header("handover_descriptor.h")
MANIFEST_H = _header("integrity_manifest.h")
BOOT_RECORD_H = _header("boot_record.h")
X86_BOOT_H = _header("x86_boot.h")

# --- abi/khoboot_vendor.h ---------------------------------------------------------
VENDOR_GUID_TEXT = VENDOR_H["kVendorGuidText"]
VENDOR_GUID = uuid.UUID(VENDOR_GUID_TEXT)
DESCRIPTOR_VARIABLE = VENDOR_H["kDescriptorVariable"]
MANIFEST_VARIABLE = VENDOR_H["kManifestVariable"]
ATTEMPT_VARIABLE = VENDOR_H["kAttemptVariable"]
STATUS_VARIABLE = VENDOR_H["kStatusVariable"]
PAGE_SIZE = VENDOR_H["kPageSize"]


def guid_from_fields(fields) -> uuid.UUID:
    """kVendorGuid's {data1, data2, data3, {data4[8]}} as a UUID (EFI_GUID:
    the first three fields little-endian in memory, data4 as bytes)."""
    d1, d2, d3, *d4 = fields
    return uuid.UUID(bytes_le=struct.pack("<IHH8B", d1, d2, d3, *d4))


# --- abi/handover_descriptor.h -----------------------------------------------------
DESCRIPTOR_MAGIC = DESCRIPTOR_H["kMagic"]
DESCRIPTOR_VERSION = DESCRIPTOR_H["kVersion"]
DESCRIPTOR_MAX_SCRATCH = DESCRIPTOR_H["kMaxScratch"]
FLAG_MULTIKERNEL = DESCRIPTOR_H["kFlagMultikernel"]
FLAG_FDT_CRC = DESCRIPTOR_H["kFlagFdtCrc"]
FLAG_MANIFEST = DESCRIPTOR_H["kFlagManifest"]
KNOWN_FLAGS = DESCRIPTOR_H["kKnownFlags"]
DESCRIPTOR_HEADER = Layout(DESCRIPTOR_H, "Header")
SCRATCH = Layout(SCRATCH_H, "KhoScratch")

# --- abi/integrity_manifest.h --------------------------------------------------------
MANIFEST_MAGIC = MANIFEST_H["kMagic"]
# The Python tools write version 1 (CRC-32, zlib.crc32), which khoboot keeps
# accepting; khotool and the loader core write version 2 (CRC-32C).
MANIFEST_VERSION = MANIFEST_H["kVersionCrc32"]
KIND_METADATA = MANIFEST_H["kKindMetadata"]
KIND_DATA = MANIFEST_H["kKindData"]
MANIFEST_HEADER = Layout(MANIFEST_H, "Header")
MANIFEST_ENTRY = Layout(MANIFEST_H, "Entry")

# --- abi/boot_record.h -----------------------------------------------------------------
ATTEMPT_MAGIC = BOOT_RECORD_H["kAttemptMagic"]
ATTEMPT_VERSION = BOOT_RECORD_H["kAttemptVersion"]
STATUS_MAX_BYTES = BOOT_RECORD_H["kStatusMaxBytes"]
ATTEMPT = Layout(BOOT_RECORD_H, "Attempt")


# --- abi/x86_boot.h: the bzImage setup header (Linux's boot protocol, which
# fuzz seeds and test images pack) -------------------------------------------------------
SETUP_HEADER = Layout(X86_BOOT_H, "SetupHeader")
SETUP_HEADER_OFFSET = X86_BOOT_H["kSetupHeaderOffset"]


def _with_checksum(layout: Layout, record: bytes) -> bytes:
    """record with its checksum field set to the CRC-32 (IEEE, zlib's) of
    the record as packed with the field 0, as both headers define it."""
    at = layout.offset("checksum")
    crc = zlib.crc32(record[:at] + bytes(4) + record[at + 4:])
    return record[:at] + struct.pack("<I", crc) + record[at + 4:]


def pack_descriptor(fdt_addr: int, scratch, flags: int = 0, fdt_crc32: int = 0,
                    manifest_addr: int = 0, manifest_size: int = 0,
                    fdt_size: int = PAGE_SIZE) -> bytes:
    """A version-1 handover descriptor (the KhoHandover variable's data):
    the header, then one KhoScratch {addr, size} per scratch region.
    Values are packed as given (fuzz seeds and fault scenarios want
    records the loader must refuse too); flags are not implied by the
    other arguments."""
    tail = b"".join(SCRATCH.pack(addr=a, size=s) for a, s in scratch)
    head = DESCRIPTOR_HEADER.pack(
        magic=DESCRIPTOR_MAGIC, version=DESCRIPTOR_VERSION, header_size=DESCRIPTOR_HEADER.size,
        total_size=DESCRIPTOR_HEADER.size + len(tail), flags=flags, scratch_count=len(scratch),
        fdt_addr=fdt_addr, fdt_size=fdt_size, fdt_crc32=fdt_crc32,
        manifest_addr=manifest_addr, manifest_size=manifest_size)
    return _with_checksum(DESCRIPTOR_HEADER, head + tail)


def pack_manifest(entries) -> bytes:
    """A version-1 integrity manifest from (start, size, crc32, kind)
    entries, in the given order."""
    body = b"".join(MANIFEST_ENTRY.pack(start=s, size=n, checksum=c, kind=k) for s, n, c, k in entries)
    head = MANIFEST_HEADER.pack(magic=MANIFEST_MAGIC, version=MANIFEST_VERSION,
                                header_size=MANIFEST_HEADER.size, entry_count=len(entries))
    return _with_checksum(MANIFEST_HEADER, head + body)


def c_header() -> str:
    """The vendor constants as C #defines (string literals, so C code can
    paste them into efivarfs paths)."""
    lines = ["/* Generated from abi/khoboot_vendor.h by scripts/lib/kho_abi.py --c-header. */",
             "#pragma once"]
    for macro, value in (("KHOBOOT_VENDOR_GUID_TEXT", VENDOR_GUID_TEXT),
                         ("KHOBOOT_DESCRIPTOR_VARIABLE", DESCRIPTOR_VARIABLE),
                         ("KHOBOOT_MANIFEST_VARIABLE", MANIFEST_VARIABLE),
                         ("KHOBOOT_ATTEMPT_VARIABLE", ATTEMPT_VARIABLE),
                         ("KHOBOOT_STATUS_VARIABLE", STATUS_VARIABLE)):
        lines.append(f'#define {macro} "{value}"')
    lines.append(f"#define KHOBOOT_PAGE_SIZE {PAGE_SIZE}u")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--c-header"]:
        sys.exit("usage: kho_abi.py --c-header")
    sys.stdout.write(c_header())
