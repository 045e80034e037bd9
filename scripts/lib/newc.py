"""The initramfs format: gzip'd "newc" cpio records
(Documentation/driver-api/early-userspace/buffer-format.rst), written
directly (no cpio(1), no mknod) so it needs no privileges and the output is
byte-for-byte reproducible: fixed owner, mode and mtime 0."""
from __future__ import annotations

import gzip

DIR, FILE, SYMLINK, CHARDEV = 0o040755, 0o100755, 0o120777, 0o020600


def entry(name: str, mode: int, data: bytes = b"", rdev=(0, 0), ino: int = 1) -> bytes:
    """One "070701" record."""
    nb = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0]
    hdr = b"070701" + b"".join(f"{v:08x}".encode() for v in fields)
    out = hdr + nb
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


class Archive:
    """Records in order, numbered; packed() ends it and compresses."""

    def __init__(self) -> None:
        self.records: list[bytes] = []

    def add(self, name: str, mode: int, data: bytes = b"", rdev=(0, 0)) -> None:
        self.records.append(entry(name, mode, data, rdev, ino=len(self.records) + 1))

    def packed(self) -> bytes:
        raw = b"".join(self.records) + entry("TRAILER!!!", 0, ino=0)
        raw += b"\0" * (-len(raw) % 512)
        return gzip.compress(raw, compresslevel=6, mtime=0)
