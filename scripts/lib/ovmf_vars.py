"""Reads and appends UEFI variables in an OVMF variable store file
(OVMF_VARS*.fd) while no firmware runs, so a scenario can start with a
variable already set (e.g. the handover descriptor of a synthetic state).

Layout (EDK2 MdePkg/Include/Pi/PiFirmwareVolume.h and
MdeModulePkg/Include/Guid/VariableFormat.h): a firmware volume header
("_FVH" at 0x28, HeaderLength at 0x30), then a VARIABLE_STORE_HEADER
(gEfiAuthenticatedVariableGuid, Size, Format 0x5A "formatted", State 0xFE
"healthy"), then variables, each 4-byte aligned: a 60-byte
AUTHENTICATED_VARIABLE_HEADER (StartId 0x55AA, State, Attributes,
MonotonicCount, TimeStamp, PubKeyIndex, NameSize, DataSize, VendorGuid),
the UTF-16 name with its NUL, the data. Free space is 0xFF. State 0x3F is
VAR_ADDED; the firmware clears further bits to delete (0x3C).
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

AUTH_VARIABLE_GUID = uuid.UUID("aaf32c78-947b-439a-a180-2e144ec37792")
START_ID = 0x55AA
VAR_ADDED = 0x3F
HEADER = struct.Struct("<HBBIQ16sIII16s")  # 60 bytes
NV_BS_RT = 0x1 | 0x2 | 0x4


@dataclass
class Variable:
    offset: int
    name: str
    guid: uuid.UUID
    attributes: int
    state: int
    data: bytes

    @property
    def live(self) -> bool:
        return self.state == VAR_ADDED


def _store(buf: bytes) -> tuple[int, int]:
    if buf[0x28:0x2C] != b"_FVH":
        raise ValueError("not a firmware volume (no _FVH)")
    hl = struct.unpack_from("<H", buf, 0x30)[0]
    if uuid.UUID(bytes_le=bytes(buf[hl:hl + 16])) != AUTH_VARIABLE_GUID:
        raise ValueError("variable store is not in the authenticated format")
    size, fmt, state = struct.unpack_from("<IBB", buf, hl + 16)
    if fmt != 0x5A or state != 0xFE:
        raise ValueError(f"variable store not formatted/healthy (0x{fmt:x}/0x{state:x})")
    return hl + 28, hl + size  # first variable, end of store


def _walk(buf: bytes):
    off, end = _store(buf)
    while off + HEADER.size <= end:
        start, state, _, attrs, _, _, _, name_size, data_size, guid = HEADER.unpack_from(buf, off)
        if start != START_ID:
            return off, end
        name = bytes(buf[off + 60:off + 60 + name_size]).decode("utf-16-le").rstrip("\0")
        data = bytes(buf[off + 60 + name_size:off + 60 + name_size + data_size])
        yield Variable(off, name, uuid.UUID(bytes_le=guid), attrs, state, data)
        off = (off + 60 + name_size + data_size + 3) & ~3
    return off, end


def variables(path: Path) -> list[Variable]:
    return list(_walk(Path(path).read_bytes()))


def add_variable(path: Path, name: str, guid: uuid.UUID, data: bytes,
                 attributes: int = NV_BS_RT) -> None:
    """Appends a live variable (the firmware picks the newest live copy)."""
    buf = bytearray(Path(path).read_bytes())
    gen = _walk(buf)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        free, end = stop.value
    name_b = (name + "\0").encode("utf-16-le")
    need = (HEADER.size + len(name_b) + len(data) + 3) & ~3
    if free + need > end or any(b != 0xFF for b in buf[free:free + need]):
        raise ValueError("no free space in the variable store")
    hdr = HEADER.pack(START_ID, VAR_ADDED, 0, attributes, 0, b"\0" * 16, 0, len(name_b), len(data),
                      guid.bytes_le)
    rec = hdr + name_b + data
    buf[free:free + len(rec)] = rec
    Path(path).write_bytes(bytes(buf))
