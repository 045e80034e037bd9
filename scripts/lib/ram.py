"""Guest-physical memory for the tools that build, patch and save KHO
states outside a guest: runs of (base address, buffer), where a buffer is
a bytearray built in memory, a private copy of a file, or a file mapped
writable (a patch then goes straight into the file QEMU's loader device
will put into guest RAM). Addresses are the only interface: the KHO
formats themselves are left to the callers, each of which keeps its own
independent reader or encoder.
"""
from __future__ import annotations

import mmap
import os
import struct


class Ram:
    def __init__(self, runs):
        self.runs = sorted(runs, key=lambda r: r[0])

    @classmethod
    def copy_of_files(cls, pieces):
        """pieces: (path, base); each file read into a bytearray (changes stay
        in memory)."""
        runs = []
        for path, base in pieces:
            with open(path, "rb") as f:
                runs.append((int(base), bytearray(f.read())))
        return cls(runs)

    @classmethod
    def mapped_files(cls, pieces):
        """pieces: (path, base); each file mapped shared and writable: writes
        change the file (large blobs are never read whole)."""
        runs = []
        for path, base in pieces:
            if os.path.getsize(path) == 0:
                runs.append((int(base), bytearray()))
                continue
            with open(path, "r+b") as f:
                runs.append((int(base), mmap.mmap(f.fileno(), 0)))
        return cls(runs)

    def _find(self, addr: int, n: int):
        for base, buf in self.runs:
            if base <= addr and addr + n <= base + len(buf):
                return buf, addr - base
        raise KeyError("0x%x+%d lies in no RAM run" % (addr, n))

    def contains(self, addr: int, n: int = 1) -> bool:
        try:
            self._find(addr, n)
            return True
        except KeyError:
            return False

    def read(self, addr: int, n: int) -> bytes:
        """n bytes at addr, all inside one run (KeyError otherwise)."""
        buf, off = self._find(addr, n)
        return bytes(buf[off:off + n])

    def read_zero_filled(self, addr: int, n: int) -> bytes:
        """n bytes at addr as a machine whose RAM starts zeroed holds them
        once the runs are loaded: run contents where there are runs, zero
        elsewhere."""
        out = bytearray(n)
        for base, buf in self.runs:
            lo, hi = max(base, addr), min(base + len(buf), addr + n)
            if lo < hi:
                out[lo - addr:hi - addr] = buf[lo - base:hi - base]
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        buf, off = self._find(addr, len(data))
        buf[off:off + len(data)] = data

    def u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def put_u64(self, addr: int, value: int) -> None:
        self.write(addr, struct.pack("<Q", value))
