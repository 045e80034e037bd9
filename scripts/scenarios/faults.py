"""Hostile input and faults (issue 6): corrupted KHO states, conflicts,
broken descriptors and kernels, and the integrity manifest (kho-verify).

Every scenario names one fault and asserts the one precise
``KHOBOOT: error <kind> ...`` line it must produce and the outcome the
entry's kho-on-error asks for:

* cold boot: ``policy cold-boot found=1 usable=0``, no SETUP_KEXEC_KHO node
  (test_kernel in plan ``n`` checks there is none and that the descriptor
  variable was consumed), and none of khoboot's placements (kernel,
  initrd, boot data) touches a range the state preserves;
* halt: ``policy halt`` / ``halt reason=...`` and nothing placed or
  loaded.

Every fault run also proves that khoboot wrote nothing the state
preserves: the preserved ranges are saved through QMP when QEMU starts
(paused with -S: the blobs are in RAM, no firmware has run) and again when
khoboot is done, at its halt line or, for a boot, at khoboot_enter_linux64
(a GDB breakpoint set while loader.conf's one-second menu waits); the two
must be byte-identical outside what khoboot placed itself. A pass also
shows the firmware left those ranges alone.

States come from ``khotool synth`` and are corrupted here, in the blobs
QEMU's loader device writes into guest RAM (the FDT, radix pages and
blocks are patched in place with an independent reader of the formats),
or through the descriptor/manifest variables written into the variable
store, packed by scripts/lib/kho_abi.py from the layouts in
abi/handover_descriptor.h and abi/integrity_manifest.h (CRC-32 from zlib).

The integrity scenarios place a state's data blocks in 0x900000-0x16e1000,
which OVMF rewrites while it boots (scripts/linux/README.md, "Which RAM
OVMF writes"): with kho-verify off (or metadata: the FDT and the map are
elsewhere and intact) khoboot hands it over and test_kernel finds the
blocks corrupted; with kho-verify full khoboot refuses it.
"""
from __future__ import annotations

import json
import re
import struct
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (EXIT_FAIL, EXIT_PASS, Blob, Count, Custom, Entry, EspFile, InOrder,  # noqa: E402
                           Line, NoLine, Requirement, Run, Scenario, ScenarioError)
from lib import inject, kho_abi, ovmf_vars, reaper  # noqa: E402
from lib.kho_abi import FLAG_FDT_CRC, FLAG_MANIFEST, KIND_DATA, KIND_METADATA, VENDOR_GUID  # noqa: E402
from lib.ram import Ram  # noqa: E402
from lib.gdbstub import GdbStub  # noqa: E402
from lib.kho_kernel import kho_kernel  # noqa: E402
from lib.qmp import QmpClient  # noqa: E402
from lib.ranges import coalesce  # noqa: E402
from lib.tk_cmdline import make_initrd, tk_options, tk_with  # noqa: E402

TK = "build/x86_64/test_kernel.bzImage"
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
            Requirement(TK, "test_kernel/build.mk"),
            Requirement("build/host/khotool")]
PAGE = kho_abi.PAGE_SIZE
# A page OVMF owns at khoboot's start with -m 3G (ACPI NVS; seen in
# stock-linux-kho-conflict) and the local APIC's MMIO page.
FIRMWARE_PAGE = 0x7F77E000
LAPIC = 0xFEE00000
# What OVMF 2022.11 rewrites below 32 MiB while it boots (q35, measured).
OVMF_LOW_WRITES = (0x900000, 0x16E1000)
# A small kho-v4 state, blocks below and above 4 GiB; ~5 s per scenario.
SMALL = ["--format", "kho-v4", "--blocks", "200", "--seed", "61"]


# --- a synthetic state on disk, read and patched like guest RAM ----------------

class State:
    """khotool synth's output directory: the blobs QEMU writes into guest
    RAM, addressed by guest-physical address (scripts/lib/ram.py, the
    blob files mapped: a patch changes the file the loader device reads)."""

    def __init__(self, out: Path):
        self.out = out
        self.meta = json.loads((out / "state.json").read_text())
        self.fdt = self.meta["fdt"]
        self.blobs = [(b["addr"], b["size"], out / b["file"]) for b in self.meta["blobs"]]
        self.ram = Ram.mapped_files((path, a) for a, _, path in self.blobs)
        self.descriptor = (out / "descriptor.bin").read_bytes()
        self.manifest: bytes | None = None   # KhoManifest variable data, if any

    def read(self, addr: int, n: int) -> bytes:
        """Bytes as guest RAM holds them at power-on: blob contents, zero
        elsewhere (QEMU's RAM starts zeroed)."""
        return self.ram.read_zero_filled(addr, n)

    def write(self, addr: int, data: bytes) -> None:
        if not self.ram.contains(addr, len(data)):
            raise ScenarioError(f"0x{addr:x}+{len(data)} lies in no synth blob")
        self.ram.write(addr, data)

    def add_blob(self, addr: int, path: Path) -> None:
        """One more file for the loader device, part of RAM from now on."""
        self.blobs.append((addr, path.stat().st_size, path))
        self.ram = Ram.mapped_files((p, a) for a, _, p in self.blobs)

    def u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def set_u64(self, addr: int, value: int) -> None:
        self.write(addr, struct.pack("<Q", value))

    def blocks(self) -> list[tuple[int, int, str]]:
        out = []
        for line in (self.out / self.meta["blocks_file"]).read_text().splitlines():
            phys, order, kind = line.split()
            out.append((int(phys, 16), int(order), kind))
        return out

    def metadata_pages(self) -> list[int]:
        return [int(l, 16) for l in (self.out / self.meta["metadata_file"]).read_text().split()]

    def preserved(self) -> list[tuple[int, int]]:
        """Every range the state preserves: blocks (FDT and test_kernel's
        manifest included) and the map's own pages, coalesced."""
        ranges = [(p, p + (PAGE << o)) for p, o, _ in self.blocks()]
        ranges += [(p, p + PAGE) for p in self.metadata_pages()]
        return coalesce(ranges)


# --- FDT: property offsets (independent of libfdt) -----------------------------

def fdt_property(fdt: bytes, path: str, name: str) -> tuple[int, int]:
    """(offset of the value in the blob, length) of property `name` of the
    node at `path` ("/" = root, "/khoboot-test")."""
    magic, _total, off_struct, off_strings = struct.unpack_from(">4I", fdt, 0)
    if magic != 0xD00DFEED:
        raise ScenarioError(f"not an FDT (magic 0x{magic:x})")
    pos, stack = off_struct, []
    while True:
        tok = struct.unpack_from(">I", fdt, pos)[0]
        pos += 4
        if tok == 1:      # FDT_BEGIN_NODE
            end = fdt.index(b"\0", pos)
            stack.append(fdt[pos:end].decode())
            pos = (end + 1 + 3) & ~3
        elif tok == 2:    # FDT_END_NODE
            stack.pop()
        elif tok == 3:    # FDT_PROP
            length, nameoff = struct.unpack_from(">II", fdt, pos)
            pos += 8
            pname = fdt[off_strings + nameoff:fdt.index(b"\0", off_strings + nameoff)].decode()
            here = "/" + "/".join(stack[1:])
            if here == path and pname == name:
                return pos, length
            pos = (pos + length + 3) & ~3
        elif tok == 4:    # FDT_NOP
            continue
        elif tok == 9:    # FDT_END
            raise ScenarioError(f"FDT has no property {path}:{name}")
        else:
            raise ScenarioError(f"FDT token 0x{tok:x} at 0x{pos - 4:x}")


def fdt_set(st: State, path: str, name: str, value: bytes) -> None:
    fdt = st.read(st.fdt, PAGE)
    off, length = fdt_property(fdt, path, name)
    if len(value) != length:
        raise ScenarioError(f"{path}:{name} is {length} bytes, patch has {len(value)}")
    st.write(st.fdt + off, value)


def fdt_u64(st: State, path: str, name: str) -> int:
    fdt = st.read(st.fdt, PAGE)
    off, length = fdt_property(fdt, path, name)
    if length != 8:
        raise ScenarioError(f"{path}:{name} is {length} bytes, not a u64")
    return struct.unpack_from("<Q", fdt, off)[0]  # KHO writes CPU-native u64


# --- the kho-v2..v4 radix tree (4 KiB pages, Linux 7.2 geometry) --------------
# key = 1 << (52 - order) | phys >> (12 + order); tables at levels 5..1 take
# 9 bits each above the 15 bits of a leaf bitmap (docs/kho-abi.md 5).

def level_shift(level: int) -> int:
    return (level - 1) * 9 + 15


def radix_key(phys: int, order: int) -> int:
    return (1 << (52 - order)) | (phys >> (12 + order))


def radix_root(st: State) -> int:
    return fdt_u64(st, "/", "preserved-memory-map")


def first_child(st: State, table: int) -> tuple[int, int]:
    """(index, pointer) of the first non-zero entry of a table page."""
    words = struct.unpack("<512Q", st.read(table, PAGE))
    for i, w in enumerate(words):
        if w:
            return i, w
    raise ScenarioError(f"radix table 0x{table:x} is empty")


def find_leaf(st: State, key: int) -> int | None:
    table = radix_root(st)
    for level in range(5, 0, -1):
        child = st.u64(table + 8 * ((key >> level_shift(level)) & 511))
        if not child:
            return None
        table = child
    return table


def add_block(st: State, phys: int, orders=range(0, 11)) -> tuple[int, int]:
    """Adds a preserved block containing `phys` by setting its bit in a leaf
    the tree already has (no new pages needed); returns (block, order)."""
    for order in orders:
        block = phys & ~((PAGE << order) - 1)
        key = radix_key(block, order)
        leaf = find_leaf(st, key)
        if leaf is not None:
            bit = key & 0x7FFF
            byte = st.read(leaf + bit // 8, 1)[0]
            st.write(leaf + bit // 8, bytes([byte | 1 << (bit % 8)]))
            return block, order
    raise ScenarioError(f"no leaf of orders {list(orders)} covers 0x{phys:x}")


def clear_block(st: State, phys: int, order: int) -> None:
    key = radix_key(phys, order)
    leaf = find_leaf(st, key)
    bit = key & 0x7FFF
    byte = st.read(leaf + bit // 8, 1)[0]
    if not byte & (1 << (bit % 8)):
        raise ScenarioError(f"block 0x{phys:x} order {order} is not in the map")
    st.write(leaf + bit // 8, bytes([byte & ~(1 << (bit % 8))]))


# --- descriptor and manifest (packed by scripts/lib/kho_abi.py) --------------------

def descriptor(fdt: int, scratch, flags: int, fdt_page: bytes | None = None,
               manifest: tuple[int, int] = (0, 0)) -> bytes:
    """abi/handover_descriptor.h version 1; fdt_crc32 is the CRC of
    `fdt_page` if given (whatever the flags say), else 0."""
    crc = zlib.crc32(fdt_page) if fdt_page is not None else 0
    return kho_abi.pack_descriptor(fdt, scratch, flags, crc, manifest[0], manifest[1])


def manifest_entries(st: State, data: bool = True) -> list[tuple[int, int, int]]:
    """(start, size, kind) the way khotool export lays them out: metadata =
    the root FDT page, test_kernel's manifest sub-blob, the map pages;
    data = every preserved data block."""
    meta = [(st.fdt, PAGE), (st.meta["manifest"], st.meta["manifest_size"])]
    meta += [(s, e - s) for s, e in coalesce([(p, p + PAGE) for p in st.metadata_pages()])]
    out = [(s, n, KIND_METADATA) for s, n in meta]
    if data:
        out += [(p, PAGE << o, KIND_DATA) for p, o, kind in st.blocks() if kind == "data"]
    return out


def manifest(st: State, entries) -> bytes:
    """abi/integrity_manifest.h version 1, digests over the bytes as they
    are when the state is loaded (before the firmware runs)."""
    return kho_abi.pack_manifest([(s, n, zlib.crc32(st.read(s, n)), k) for s, n, k in entries])


# --- RAM before and after: QMP (scripts/lib/qmp.py) and GDB (scripts/lib/gdbstub.py) ---
# The watchers run in threads of the runner's reaper scope (scripts/lib/reaper.py):
# the runner joins them after each run, and a watcher that fails aborts the
# run at once (its reason is the scenario's failure) rather than leave a VM
# paused by -S until the run's timeout. Fault injection points
# (BOOTCHAIN_INJECT, scripts/lib/inject.py) let scripts/test-runner make a
# watcher fail at each stage.

class RamWatch:
    """Starts QEMU paused (-S) with a QMP socket; when the QMP socket is up,
    saves every preserved range (the blobs are in RAM, no firmware has run),
    continues, waits for a serial line matching `until`, stops the VM,
    saves the ranges again and ends QEMU (QMP quit: exit status 0). The
    verdict is written to ram-check.json for the check ram_unchanged()."""

    def __init__(self, ctx, run: Run, ranges, until: str, index: int = 1):
        self.work = ctx.workdir
        self.ranges = ranges
        self.until = re.compile(until)
        self.index = index
        self.sock_path = ctx.workdir / f"qmp{index}.sock"
        self.result = ctx.workdir / f"ram-check{index}.json"
        self.scope = None
        run.qemu_args += ["-qmp", f"unix:{self.sock_path},server=on,wait=off", "-S"]
        run.stop_on = []          # the watcher ends QEMU itself after the dump
        run.expect_exit = 0
        self.previous = run.before
        run.before = self.start

    def start(self, ctx, run_index: int) -> None:
        if self.previous:
            self.previous(ctx, run_index)
        self.scope = reaper.current()
        self.scope.start_thread(self._main, f"{type(self).__name__}{self.index}")

    def _connect(self) -> QmpClient:
        qmp = QmpClient(self.sock_path, cancel=self.scope.cancel)
        inject.point("ramwatch:connected")
        return qmp

    def _save(self, qmp: QmpClient, tag: str) -> list[Path]:
        files = []
        for i, (s, e) in enumerate(self.ranges):
            f = self.work / f"ram{self.index}-{tag}-{i}.bin"
            qmp.execute("pmemsave", val=s, size=e - s, filename=str(f))
            files.append(f)
        return files

    def _lines(self) -> list[str]:
        serial = self.work / f"run{self.index}-serial.log"
        text = serial.read_text(errors="replace") if serial.exists() else ""
        out = []
        for raw in text.splitlines():
            i = raw.find("KHOBOOT: ")
            if i >= 0:
                out.append(raw[i:].rstrip("\r"))
        return out

    def _wait_line(self, rx: re.Pattern, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in self._lines():
                if rx.fullmatch(line):
                    return line
            if time.monotonic() > deadline:
                raise RuntimeError(f"no line /{rx.pattern}/ within {timeout:.0f} s")
            if self.scope.cancel.wait(0.02):     # the run is over: stop looking
                raise RuntimeError(f"run ended before a line /{rx.pattern}/")

    def _compare(self, before, after, placed, at: str) -> dict:
        """Byte comparison of each preserved range, leaving out what khoboot
        placed there itself (`placed`: [(start, end)])."""
        changed, total = [], 0
        for (s, e), b, a in zip(self.ranges, before, after):
            x, y = b.read_bytes(), a.read_bytes()
            total += e - s
            first = None
            for page in range(0, len(x), PAGE) if x != y else ():
                if x[page:page + PAGE] == y[page:page + PAGE]:
                    continue
                for i in range(page, min(page + PAGE, len(x))):
                    if x[i] != y[i] and not any(p <= s + i < q for p, q in placed):
                        first = i
                        break
                if first is not None:
                    break
            if first is not None:
                changed.append(f"0x{s + first:x} (in 0x{s:x}-0x{e:x})")
            b.unlink()
            a.unlink()
        if changed:
            return {"ok": False, "reason": f"preserved bytes changed at {', '.join(changed[:3])}"}
        return {"ok": True, "ranges": len(self.ranges), "bytes": total, "at": at}

    def _failed(self, exc: Exception) -> dict:
        """The verdict for a watcher that could not finish. While QEMU still
        runs, the run is aborted with the same reason (else a VM paused by
        -S or by the debugger would wait for the run's timeout, and the
        reason would read "timeout"); once the run is over, the check
        reports the verdict."""
        verdict = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
        if not self.scope.cancel.is_set():
            self.scope.abort(f"RAM check: {verdict['reason']}")
        return verdict

    def _main(self) -> None:
        verdict = {"ok": False, "reason": "watcher did not finish"}
        qmp, done = None, False
        try:
            qmp = self._connect()
            before = self._save(qmp, "before")
            inject.point("ramwatch:before-saved")
            qmp.execute("cont")
            inject.point("ramwatch:continued")
            seen = self._wait_line(self.until, 120)
            inject.point("ramwatch:line")
            qmp.execute("stop")
            after = self._save(qmp, "after")
            inject.point("ramwatch:stopped")
            verdict, done = self._compare(before, after, [], seen), True
        except Exception as exc:  # reported by the run or the check, never lost
            verdict = self._failed(exc)
        finally:
            self.result.write_text(json.dumps(verdict))
            if qmp is not None:
                if done:
                    qmp.quit()            # the run ends with exit status 0
                qmp.close()               # failed: the aborted run kills QEMU

    def check(self) -> Custom:
        def fn(_lines):
            if not self.result.exists():
                return "RAM check: no verdict from the QMP watcher"
            v = json.loads(self.result.read_text())
            if not v["ok"]:
                return f"RAM check: {v['reason']}"
            print(f"  RAM check: {v['ranges']} preserved ranges, {v['bytes']} bytes, identical "
                  f"before the firmware and after '{v['at']}'", flush=True)
            return None
        return Custom(fn, "preserved RAM unchanged")


def jump_symbol_offset(root: Path) -> int:
    """ELF address of khoboot_enter_linux64 in khoboot.so (linked at 0, so
    the runtime address is the image base plus this)."""
    import subprocess
    out = subprocess.run(["nm", str(root / "build/x86_64/khoboot.so")], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "khoboot_enter_linux64":
            return int(parts[0], 16)
    raise ScenarioError("khoboot.so has no symbol khoboot_enter_linux64")


class JumpWatch(RamWatch):
    """RamWatch for runs that boot a kernel: the second dump is taken at
    khoboot_enter_linux64, the instant khoboot hands the CPU over (a GDB
    breakpoint), and ranges khoboot placed something in (its kernel, initrd
    and boot-data lines) are left out of the comparison. loader.conf's
    one-second menu gives the watcher a fixed moment to set the
    breakpoint; afterwards the kernel runs on and QEMU exits as usual."""

    def __init__(self, ctx, run: Run, ranges, index: int = 1):
        self.gdb_path = ctx.workdir / f"gdb{index}.sock"
        self.offset = jump_symbol_offset(ctx.root)
        expect = run.expect_exit
        super().__init__(ctx, run, ranges, r"KHOBOOT: menu 1 .*", index)
        run.qemu_args += ["-gdb", f"unix:{self.gdb_path},server=on,wait=off"]
        run.expect_exit = expect
        run.stop_on = [r"KHOBOOT: halt .*"]
        conf = ctx.workdir / "loader.conf"
        conf.write_text(f"default {ctx.scenario.entries[0].name}\ntimeout 1\n")
        ctx.scenario.esp_files.append(EspFile(str(conf), "loader/loader.conf"))

    def _jump_address(self) -> int:
        base = [l for l in self._lines() if l.startswith("KHOBOOT: image base=")]
        if not base:
            raise RuntimeError("no 'KHOBOOT: image base=' line")
        return int(base[0].split()[2].split("=")[1], 16) + self.offset

    def _stop_at(self, gdb: GdbStub, addr: int) -> None:
        """Breakpoint at addr, continue, wait until the CPU is there."""
        reply = gdb.command(f"Z0,{addr:x},1")
        if reply != "OK":
            raise RuntimeError(f"gdb stub: breakpoint at 0x{addr:x}: {reply!r}")
        inject.point("jumpwatch:breakpoint")
        gdb.send("c")
        stop = gdb.packet(120)
        if not stop.startswith(("T05", "S05")):
            raise RuntimeError(f"unexpected stop {stop!r}")

    def _main(self) -> None:
        verdict = {"ok": False, "reason": "watcher did not finish"}
        qmp = gdb = None
        try:
            qmp = self._connect()
            before = self._save(qmp, "before")
            inject.point("ramwatch:before-saved")
            qmp.execute("cont")
            self._wait_line(self.until, 120)
            addr = self._jump_address()
            gdb = GdbStub(self.gdb_path, cancel=self.scope.cancel)   # connecting stops the VM
            inject.point("jumpwatch:gdb")
            self._stop_at(gdb, addr)
            inject.point("jumpwatch:stopped")
            after = self._save(qmp, "after")
            lines = self._lines()
            if not any(l.startswith("KHOBOOT: jump ") for l in lines):
                raise RuntimeError(f"stopped at 0x{addr:x} before any 'KHOBOOT: jump' line")
            placed = [(s, e) for _, s, e in placements(lines)]
            verdict = self._compare(before, after, placed, "khoboot_enter_linux64")
            gdb.command(f"z0,{addr:x},1")
            gdb.command("D")                     # resumes the VM
        except Exception as exc:  # reported by the run or the check, never lost
            verdict = self._failed(exc)
        finally:
            self.result.write_text(json.dumps(verdict))
            for c in (gdb, qmp):
                if c is not None:
                    c.close()


# --- checks -------------------------------------------------------------------------

def placements(lines: list[str]) -> list[tuple[str, int, int]]:
    """What khoboot wrote: the kernel window, the initrd, the boot data."""
    out = []
    for l in lines:
        m = re.fullmatch(r"KHOBOOT: kernel .* init_size=(0x[0-9a-f]+) .* load=(0x[0-9a-f]+) in=\S+", l)
        if m:
            out.append(("kernel", int(m.group(2), 16), int(m.group(2), 16) + int(m.group(1), 16)))
        m = re.fullmatch(r"KHOBOOT: initrd count=(\d+) size=(\d+) addr=(0x[0-9a-f]+)", l)
        if m and int(m.group(1)):
            out.append(("initrd", int(m.group(3), 16), int(m.group(3), 16) + int(m.group(2))))
        m = re.fullmatch(r"KHOBOOT: boot-data addr=(0x[0-9a-f]+) size=(\d+)", l)
        if m:
            out.append(("boot-data", int(m.group(1), 16), int(m.group(1), 16) + int(m.group(2))))
    return out


def clear_of(ranges) -> Custom:
    def fn(lines):
        placed = placements(lines)
        if not placed:
            return "no KHOBOOT kernel/initrd/boot-data lines"
        for what, s, e in placed:
            for a, b in ranges:
                if s < b and a < e:
                    return f"khoboot put the {what} at 0x{s:x}-0x{e:x}, over preserved 0x{a:x}-0x{b:x}"
        return None
    return Custom(fn, "placements clear of the refused state")


NO_TK_FAIL = [NoLine(r"TEST_KERNEL: check \S+ fail.*"), NoLine(r"TEST_KERNEL: (error|exception) .*")]


def cold_checks(error: str) -> list:
    return NO_TK_FAIL + [
        Count(r"KHOBOOT: error .*", 1),
        NoLine(r"KHOBOOT: handover setup_data=.*"),
        InOrder([error,
                 r"KHOBOOT: policy cold-boot found=1 usable=0",
                 r"KHOBOOT: handover none",
                 r"KHOBOOT: boot entry=tk mode=cold .*",
                 r"TEST_KERNEL: hop 1 of 1 plan=n",
                 r"TEST_KERNEL: check descriptor ok .*",
                 r"TEST_KERNEL: check setup-data ok 0 SETUP_KEXEC_KHO node\(s\), expected 0.*",
                 r"TEST_KERNEL: result pass"]),
    ]


def halt_checks(error: str, reason: str = "kho-unusable", verb: str = "halt") -> list:
    """A halt, or (verb "exit") a return to the firmware's boot manager."""
    return [
        Count(r"KHOBOOT: error .*", 1),
        InOrder([error, rf"KHOBOOT: {verb} reason={reason}"]),
        NoLine(r"KHOBOOT: (kernel|initrd|jump|handover|boot) .*"),
        NoLine(r"TEST_KERNEL: .*"),
    ]


# --- scenario builder ---------------------------------------------------------------

def synth_state(ctx, args) -> State:
    out = ctx.workdir / "synth"
    proc = ctx.khotool("synth", "--out", str(out), *args)
    (ctx.workdir / "synth.txt").write_text(proc.stdout)
    return State(out)


def write_variables(st: State):
    def before(ctx, _run_index):
        if st.manifest is not None:
            ovmf_vars.add_variable(ctx.vars_path, kho_abi.MANIFEST_VARIABLE, VENDOR_GUID, st.manifest)
        ovmf_vars.add_variable(ctx.vars_path, kho_abi.DESCRIPTOR_VARIABLE, VENDOR_GUID, st.descriptor)
    return before


def fault(name: str, description: str, mutate, error: str, outcome: str = "cold",
          args=SMALL, via: str = "entry", load: bool = True, keys: dict | None = None,
          halt_reason: str = "kho-unusable", default: bool = True,
          plan: str = "n", tk_keys: dict | None = None, extra_checks=()) -> Scenario:
    """One fault: khotool synth ARGS, then mutate(ctx, state) corrupts it;
    the state is named by the entry's keys (via="entry") or by the
    descriptor variable (via="variable"); outcome "cold" or "halt"
    (kho-on-error), or "exit" (no kernel to boot: back to the firmware's
    boot manager); `error` is the regular expression of the one error line."""
    entry_keys = {"kho-on-error": "halt" if outcome == "halt" else "cold-boot", **(keys or {})}

    def prepare(ctx):
        st = synth_state(ctx, args)
        ctx.data["state"] = st
        run = ctx.scenario.runs[0]
        entry = ctx.scenario.entries[0]
        preserved = st.preserved()
        if mutate:
            mutate(ctx, st)
        if load:
            run.blobs += [Blob(str(p), a) for a, _, p in st.blobs]
        if via == "entry":
            for k, v in st.meta["entry_keys"].items():
                entry.keys.setdefault(k, v)
        else:
            run.before = write_variables(st)
        if outcome == "cold":
            run.checks.append(clear_of(preserved))
            run.checks.append(JumpWatch(ctx, run, preserved).check())
        if outcome in ("halt", "exit"):
            # The runner would end a halted run as a failure; the watcher
            # ends it after comparing the preserved RAM instead.
            watch = RamWatch(ctx, run, preserved, rf"KHOBOOT: {outcome} reason=.*")
            run.checks.append(watch.check())

    checks = (cold_checks(error) if outcome == "cold" else halt_checks(error, halt_reason, outcome))
    return Scenario(
        name=name, description=description, default=default, requires=REQUIRES,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options(plan, **(tk_keys or {})),
                       keys=entry_keys)],
        prepare=prepare,
        runs=[Run(timeout=60, reboot=False, checks=checks + list(extra_checks),
                  expect_exit=EXIT_PASS if outcome == "cold" else None)],
    )


# --- the faults ------------------------------------------------------------------------

def set_compatible(value: bytes):
    def mutate(_ctx, st):
        fdt_set(st, "/", "compatible", value)
    return mutate


def break_fdt_magic(_ctx, st):
    st.write(st.fdt, struct.pack(">I", 0xFEEDD00D))


def set_map(value: int):
    def mutate(_ctx, st):
        fdt_set(st, "/", "preserved-memory-map", struct.pack("<Q", value))
    return mutate


def map_unaligned(_ctx, st):
    fdt_set(st, "/", "preserved-memory-map", struct.pack("<Q", radix_root(st) + 0x10))


def cycle_to_root(_ctx, st):
    """A level-4 table's first child pointer now names the root table."""
    root = radix_root(st)
    _, l4 = first_child(st, root)
    i, _ = first_child(st, l4)
    st.set_u64(l4 + 8 * i, root)


def leaf_into_mmio(_ctx, st):
    """The first level-1 table's first leaf pointer names the local APIC."""
    table = radix_root(st)
    for _level in range(5, 1, -1):
        _, table = first_child(st, table)
    i, _ = first_child(st, table)
    st.set_u64(table + 8 * i, LAPIC)


def root_index_without_order(_ctx, st):
    """Root index 5: key bits above the order-0 order bit (bit 52), i.e. an
    order below 0; the walker must refuse before following the pointer."""
    root = radix_root(st)
    _, child = first_child(st, root)
    st.set_u64(root + 8 * 5, child)


def v1_absurd_order(_ctx, st):
    chunk = fdt_u64(st, "/", "preserved-memory-map")
    st.write(chunk + 8, struct.pack("<I", 200))


def block_in_scratch(_ctx, st):
    add_block(st, 0x40100000)


def block_in_firmware(_ctx, st):
    add_block(st, FIRMWARE_PAGE, orders=range(4, 11))


def scratch_not_ram(_ctx, st):
    """The descriptor's second scratch region moved onto the framebuffer
    BAR (MMIO at 0xc0000000 on q35 with OVMF's GOP); checksum recomputed."""
    scratch = [(0x40000000, 0x4000000), (0xC0000000, 0x4000000)]
    st.descriptor = descriptor(st.fdt, scratch, FLAG_FDT_CRC, st.read(st.fdt, PAGE))


def small_scratch_with_initrd(ctx, st):
    path = ctx.workdir / "initrd.bin"
    value = make_initrd(path, 4 << 20, 66)
    e = ctx.scenario.entries[0]
    e.initrd.append(str(path))
    e.options = tk_with(e.options, initrd=value)
    e.keys["kho-scratch"] = "0x40000000:8M"


def truncated_kernel(ctx, _st):
    data = (ctx.root / TK).read_bytes()
    path = ctx.workdir / "truncated.bzImage"
    path.write_bytes(data[:len(data) // 2])
    ctx.scenario.entries[0].linux = str(path)


def garbage_kernel(ctx, _st):
    import random
    path = ctx.workdir / "garbage.bzImage"
    path.write_bytes(random.Random(6).randbytes(256 * 1024))
    ctx.scenario.entries[0].linux = str(path)


def descriptor_bit_flip(_ctx, st):
    d = bytearray(st.descriptor)
    d[33] ^= 0x01        # fdt_addr bit 8: a single-bit NVRAM or transfer error
    st.descriptor = bytes(d)


FAULTS = [
    fault("fault-unknown-compatible", "root compatible kho-v9: refused by name, cold boot",
          set_compatible(b"kho-v9\0"),
          r'KHOBOOT: error kho-bad-version unknown KHO version "kho-v9"'),
    fault("fault-fdt-header", "root FDT magic destroyed: kho-on-error=halt stops with the state "
          "untouched (RAM dumped before the firmware and after the halt)",
          break_fdt_magic,
          r"KHOBOOT: error kho-bad-fdt root FDT at 0x10000000: bad header \(FDT_ERR_BADMAGIC\)",
          outcome="halt"),
    fault("fault-map-zero", "preserved-memory-map = 0", set_map(0),
          r"KHOBOOT: error kho-bad-property preserved-memory-map is 0"),
    fault("fault-map-outside-ram", "preserved-memory-map points past the end of RAM (8 GiB)",
          set_map(0x200000000),
          r"KHOBOOT: error kho-out-of-ram radix node 0x200000000 \(level 5\) is outside RAM"),
    fault("fault-map-unaligned", "preserved-memory-map not page aligned", map_unaligned,
          r"KHOBOOT: error kho-bad-pointer radix node 0x[0-9a-f]+010 \(level 5\) is not page aligned"),
    fault("fault-radix-cycle", "a radix table points back to the root: halt, state untouched",
          cycle_to_root,
          r"KHOBOOT: error kho-bad-pointer radix page 0x[0-9a-f]+ \(level 3\) reached twice "
          r"\(cycle or shared node\)", outcome="halt"),
    fault("fault-leaf-mmio", "a leaf pointer into the local APIC's MMIO page", leaf_into_mmio,
          r"KHOBOOT: error kho-out-of-ram radix leaf 0xfee00000 \(level 0\) is outside RAM"),
    fault("fault-radix-absurd-order", "root index 5 (a key above the order-0 bit: no valid order)",
          root_index_without_order,
          r"KHOBOOT: error kho-bad-map radix node 0x[0-9a-f]+ level 5 index 5 encodes no valid order"),
    fault("fault-v1-absurd-order", "kho-v1 chunk with order 200",
          v1_absurd_order,
          r"KHOBOOT: error kho-bad-map kho-v1 chunk 0x[0-9a-f]+: absurd order 200",
          args=["--format", "kho-v1", "--blocks", "200", "--seed", "62"]),
    fault("fault-block-in-scratch", "a preserved block inside scratch: halt, state untouched",
          block_in_scratch,
          r"KHOBOOT: error kho-overlap preserved 0x401[0-9a-f]+-0x4[0-9a-f]+ lies inside scratch",
          outcome="halt"),
    fault("fault-block-in-firmware", "a preserved block over ACPI NVS the firmware owns",
          block_in_firmware,
          r"KHOBOOT: error kho-conflict 0x7f7[0-9a-f]+-0x7f7[0-9a-f]+ owner=(?!Conventional)\S+"
          r"( conflicts=\d+)?"),
    fault("fault-scratch-not-ram", "the descriptor's scratch region lies on the framebuffer BAR",
          scratch_not_ram,
          r"KHOBOOT: error kho-bad-property scratch 0xc0000000-0xc4000000 is not RAM", via="variable"),
    fault("fault-scratch-too-small", "8 MiB scratch for a 5.6 MiB kernel and a 4 MiB initrd: "
          "the state is protected, then given up; the cold boot still loads the initrd",
          small_scratch_with_initrd,
          r"KHOBOOT: error no-space initrd needs 0x400000 bytes beside the kernel's 0x[0-9a-f]+; "
          r"free scratch: largest 0x[0-9a-f]+, total 0x[0-9a-f]+",
          extra_checks=[Line(r"KHOBOOT: reserve ok .*"), Line(r"TEST_KERNEL: check initrd ok .*")]),
    fault("fault-kernel-truncated", "the kernel file is cut in half: no kernel to boot, so back "
          "to the firmware's boot manager (exit), the protected state untouched", truncated_kernel,
          r"KHOBOOT: error image /khoboot-test/truncated.bzImage: image truncated: payload "
          r"0x[0-9a-f]+ bytes, header syssize says 0x[0-9a-f]+",
          outcome="exit", halt_reason="image", keys={"kho-on-error": "cold-boot"}),
    fault("fault-kernel-garbage", "256 KiB of random bytes as the kernel", garbage_kernel,
          r"KHOBOOT: error image /khoboot-test/garbage.bzImage: not a bzImage: boot_flag 0x[0-9a-f]+ "
          r"at 0x1fe \(want 0xaa55\)", outcome="halt", halt_reason="image"),
    fault("fault-descriptor-checksum", "one bit of the descriptor variable flipped: refused by "
          "its CRC, consumed, cold boot", descriptor_bit_flip,
          r"KHOBOOT: error descriptor .*checksum.*", via="variable"),
]


# --- a descriptor whose state a cold power cycle wiped ------------------------------

def wiped_prepare(ctx):
    """synth's state is never loaded: each run is a fresh QEMU process (RAM
    zero, as after a power cycle) that finds a descriptor in the variable
    store. Run 1: synth's descriptor (FDT CRC flag); run 2: the same
    without the flag, so the loader must find the loss from the FDT itself."""
    st = synth_state(ctx, SMALL)
    scratch = st.meta["scratch"]
    plain = descriptor(st.fdt, scratch, 0)

    def first(c, _i):
        ovmf_vars.add_variable(c.vars_path, kho_abi.DESCRIPTOR_VARIABLE, VENDOR_GUID, st.descriptor)

    def second(c, _i):
        ovmf_vars.add_variable(c.vars_path, kho_abi.DESCRIPTOR_VARIABLE, VENDOR_GUID, plain)
    ctx.scenario.runs[0].before = first
    ctx.scenario.runs[1].before = second


def wiped_run(hop: int, error: str) -> Run:
    return Run(timeout=60, reboot=False, checks=NO_TK_FAIL + [
        Count(r"KHOBOOT: error .*", 1),
        InOrder([r"KHOBOOT: kho descriptor source=variable fdt=0x10000000 .*",
                 error,
                 r"KHOBOOT: policy cold-boot found=1 usable=0",
                 r"KHOBOOT: handover none",
                 r"KHOBOOT: descriptor consumed",
                 rf"TEST_KERNEL: hop {hop} of 2 plan=n,n",
                 r"TEST_KERNEL: check descriptor ok .*",
                 r"TEST_KERNEL: check setup-data ok 0 .*",
                 r"TEST_KERNEL: result pass"]),
    ])


WIPED = Scenario(
    name="fault-wiped-state",
    description="descriptors naming a state a cold power cycle wiped: with the FDT CRC flag "
                "kho-stale, without it the zeroed FDT page itself is refused; both consumed, cold boot",
    requires=REQUIRES,
    entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("n,n"))],
    prepare=wiped_prepare,
    runs=[wiped_run(1, rf"KHOBOOT: error kho-stale FDT page 0x10000000 crc32 "
                       rf"0x{zlib.crc32(bytes(PAGE)):08x}, descriptor says 0x[0-9a-f]{{8}}"),
          wiped_run(2, r"KHOBOOT: error kho-bad-fdt root FDT at 0x10000000: bad header "
                       r"\(FDT_ERR_BADMAGIC\)")],
)


# --- the integrity manifest -----------------------------------------------------------
# Data blocks in 0x900000-0x1600000 (the second arena), the FDT, test_kernel's
# manifest and the map at 0x10000000 (the first arena's start), one scratch
# region: the blocks go into guest RAM with the loader device before OVMF
# runs, as a warm reset would leave them, and OVMF writes over them.
IN_OVMF = ["--format", "kho-v4", "--blocks", "40", "--orders", "0-6", "--seed", "5",
           "--arena", "0x10000000-0x70000000,0x1500000-0x16e0000", "--scratch", "0x40000000:0x4000000"]
MANIFEST_CONSUMED = [Line(r"KHOBOOT: descriptor consumed"), Line(r"KHOBOOT: manifest consumed")]


def integrity_scenario(name: str, description: str, level: str | None, plan: str, checks,
                       args=IN_OVMF, mutate=None, data: bool = True, expect_exit=EXIT_PASS,
                       default: bool = True, timeout: float = 60, memory: str = "3G",
                       manifest_variable: bool = True) -> Scenario:
    """A state named by the descriptor variable with its manifest in
    KhoManifest (as khotool export writes them) unless `mutate` moves or
    drops it (then manifest_variable=False); `level` is the entry's
    kho-verify (None: the default)."""
    def prepare(ctx):
        st = synth_state(ctx, args)
        st.manifest = manifest(st, manifest_entries(st, data=data))
        in_low = [(p, o) for p, o, k in st.blocks() if k == "data" and p < OVMF_LOW_WRITES[1]]
        (ctx.workdir / "manifest.txt").write_text(
            f"entries={len(manifest_entries(st, data=data))} bytes={len(st.manifest)} "
            f"blocks-in-ovmf-range={len(in_low)}\n")
        run = ctx.scenario.runs[0]
        run.before = write_variables(st)   # reads st when the run starts
        if mutate:
            mutate(ctx, st)
        run.blobs += [Blob(str(p), a) for a, _, p in st.blobs]
    keys = {} if level is None else {"kho-verify": level}
    compat = {} if plan == "n" else {"compat": "kho-v4"}
    return Scenario(
        name=name, description=description, default=default, requires=REQUIRES,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options(plan, **compat), keys=keys)],
        prepare=prepare, timeout=None,
        runs=[Run(timeout=timeout, memory=memory, reboot=False, expect_exit=expect_exit,
                  checks=(MANIFEST_CONSUMED if manifest_variable else
                          [Line(r"KHOBOOT: descriptor consumed"), NoLine(r"KHOBOOT: manifest consumed.*")])
                  + list(checks))],
    )


HANDED_OVER_CORRUPT = [
    Count(r"KHOBOOT: error .*", 0),
    InOrder([r"KHOBOOT: kho found compatible=kho-v4 .*",
             r"KHOBOOT: reserve ok .*",
             r"KHOBOOT: policy handover found=1 usable=1",
             r"KHOBOOT: handover setup_data=.*",
             r"TEST_KERNEL: check map ok .*",
             r"TEST_KERNEL: check contents fail preserved bytes changed .*",
             r"TEST_KERNEL: result fail"]),
]


def clear_leaf_bit(_ctx, st):
    """After the manifest was made: one block disappears from the map (a
    leaf bit cleared). The map still decodes; only the manifest knows."""
    phys, order, _ = next(b for b in st.blocks() if b[2] == "data" and b[0] >= 0x10000000)
    clear_block(st, phys, order)


def ram_manifest(ctx, st):
    """The manifest in RAM beside the state (a loader blob at 0x6ff00000),
    named by the descriptor: kFlagManifest + manifest_addr/size. A stale
    KhoManifest (another state's) is left in the variable store as well:
    the descriptor's own manifest must win, the variable still be consumed."""
    addr, size = 0x6FF00000, len(st.manifest)
    path = st.out / "manifest.bin"
    path.write_bytes(st.manifest)
    st.add_blob(addr, path)
    st.descriptor = descriptor(st.fdt, st.meta["scratch"], FLAG_FDT_CRC | FLAG_MANIFEST,
                               st.read(st.fdt, PAGE), (addr, size))
    other_states_manifest(ctx, st)
    run = ctx.scenario.runs[0]
    # A handover too must leave every preserved byte as the producer wrote it.
    run.checks.append(JumpWatch(ctx, run, coalesce(st.preserved() + [(addr, addr + size)])).check())

    def manifest_reserved(lines):
        for l in lines:
            m = re.fullmatch(r"KHOBOOT: reserve range (0x[0-9a-f]+)-(0x[0-9a-f]+)", l)
            if m and int(m.group(1), 16) <= addr and addr + size <= int(m.group(2), 16):
                return None
        return f"no 'KHOBOOT: reserve range' covers the manifest at 0x{addr:x}+{size}"
    run.checks.append(Custom(manifest_reserved, "manifest protected"))


def other_states_manifest(_ctx, st):
    """A KhoManifest left from an earlier state: its FDT entry names another page."""
    entries = [(0x20000000 if s == st.fdt else s, n, k) for s, n, k in manifest_entries(st, data=False)]
    st.manifest = manifest(st, entries)


def no_manifest(_ctx, st):
    st.manifest = None


INTEGRITY = [
    integrity_scenario(
        "integrity-ovmf-off", "data blocks where OVMF writes while it boots, kho-verify=off: handed "
        "over silently corrupted, test_kernel's contents check fails",
        "off", "c", HANDED_OVER_CORRUPT + [Line(r"KHOBOOT: verify level=off entries=0 bytes=0 us=\d+")],
        expect_exit=EXIT_FAIL),
    integrity_scenario(
        "integrity-ovmf-metadata", "the same with the default level (metadata): FDT and map are "
        "intact, so the corrupted blocks still reach the kernel",
        None, "c", HANDED_OVER_CORRUPT + [Line(r"KHOBOOT: verify level=metadata entries=\d+ bytes=\d+ us=\d+")],
        expect_exit=EXIT_FAIL),
    integrity_scenario(
        "integrity-ovmf-full", "the same with kho-verify=full: kho-integrity names the first "
        "rewritten block, cold boot",
        "full", "n", NO_TK_FAIL + [
            Count(r"KHOBOOT: error .*", 1),
            NoLine(r"KHOBOOT: verify .*"),
            InOrder([r"KHOBOOT: manifest source=variable bytes=\d+",
                     r"KHOBOOT: error kho-integrity 0x(9|a|b|c|d|e|f|1[0-5])[0-9a-f]{5}-0x[0-9a-f]+ changed: "
                     r"crc 0x[0-9a-f]{8}, producer wrote 0x[0-9a-f]{8}",
                     r"KHOBOOT: policy cold-boot found=1 usable=0",
                     r"KHOBOOT: handover none",
                     r"TEST_KERNEL: check setup-data ok 0 .*",
                     r"TEST_KERNEL: result pass"])]),
    integrity_scenario(
        "integrity-map-page", "a block dropped from the map after the manifest was written: the "
        "map still decodes, the default level (metadata) catches the changed leaf",
        None, "n", NO_TK_FAIL + [
            Count(r"KHOBOOT: error .*", 1),
            InOrder([r"KHOBOOT: kho found compatible=kho-v4 .*",
                     r"KHOBOOT: error kho-integrity 0x[0-9a-f]+-0x[0-9a-f]+ changed: .*",
                     r"KHOBOOT: policy cold-boot found=1 usable=0",
                     r"TEST_KERNEL: result pass"])],
        args=SMALL, mutate=clear_leaf_bit, data=False),
    integrity_scenario(
        "integrity-ram-manifest", "the manifest in RAM, named by the descriptor (kFlagManifest), wins over a stale KhoManifest: "
        "protected with the state, kho-verify=full passes, test_kernel checks every block",
        "full", "c", NO_TK_FAIL + [
            Count(r"KHOBOOT: error .*", 0),
            InOrder([r"KHOBOOT: kho descriptor source=variable .*flags=0x6",
                     r"KHOBOOT: warn KhoManifest variable ignored: the descriptor names a manifest in RAM",
                     r"KHOBOOT: manifest source=ram bytes=\d+",
                     r"KHOBOOT: verify level=full entries=\d+ bytes=\d+ us=\d+",
                     r"KHOBOOT: policy handover found=1 usable=1",
                     r"TEST_KERNEL: check contents ok .*",
                     r"TEST_KERNEL: result pass"])],
        args=SMALL, mutate=ram_manifest),
    integrity_scenario(
        "integrity-stale-manifest", "a KhoManifest of another state beside the descriptor: refused "
        "before any digest is compared",
        None, "n", NO_TK_FAIL + [
            Count(r"KHOBOOT: error .*", 1),
            Line(r"KHOBOOT: error kho-integrity manifest of \d+ entries names no root FDT page at "
                 r"0x10000000 \(another state's\)"),
            Line(r"KHOBOOT: policy cold-boot found=1 usable=0"),
            Line(r"TEST_KERNEL: result pass")],
        args=SMALL, mutate=other_states_manifest),
    integrity_scenario(
        "integrity-required-missing", "kho-verify=full on a state without a manifest: refused",
        "full", "n", [
            Count(r"KHOBOOT: error .*", 1),
            Line(r"KHOBOOT: error kho-integrity kho-verify=full but the state has no manifest"),
            Line(r"KHOBOOT: policy cold-boot found=1 usable=0"),
            Line(r"TEST_KERNEL: result pass")] + NO_TK_FAIL,
        args=SMALL, mutate=no_manifest, manifest_variable=False),
]


def report_verify_cost(lines):
    """Prints kho-verify's in-guest cost per GiB (never asserted: TCG speed
    depends on the host and on what else runs)."""
    for l in lines:
        m = re.fullmatch(r"KHOBOOT: verify level=full entries=(\d+) bytes=(\d+) us=(\d+)", l)
        if m:
            n, us = int(m.group(2)), int(m.group(3))
            print(f"  kho-verify=full in the guest (QEMU TCG): {m.group(1)} entries, {n / 2**20:.0f} MiB "
                  f"in {us / 1000:.0f} ms = {n / 2**20 / (us / 1e6):.0f} MiB/s, "
                  f"{us / 1000 / (n / 2**30):.0f} ms/GiB", flush=True)
            return None
    return "no 'KHOBOOT: verify level=full' line"


# About 1 GiB of preserved data (260 order-10 blocks, below and above 4 GiB;
# only their first and last pages hold a pattern, the CRC reads them whole).
COST = integrity_scenario(
    "integrity-cost-1g", "kho-verify=full over about 1 GiB of preserved blocks: the verify line's "
    "us= gives the in-guest cost per GiB; the state is handed over intact",
    "full", "c", NO_TK_FAIL + [
        Count(r"KHOBOOT: error .*", 0),
        Line(r"KHOBOOT: policy handover found=1 usable=1"),
        Line(r"TEST_KERNEL: result pass"),
        Custom(report_verify_cost, "verify cost")],
    args=["--format", "kho-v4", "--blocks", "260", "--orders", "10-10", "--cluster", "0", "--by-order",
          "--seed", "67"], default=False, timeout=180)


# --- the real thing: Linux 7.2's own state and khotool export's manifest ------------
# The chain of linux-kho-chain (scripts/linux/README.md), with kho-verify=full:
# every radix page, the FDT, each sub-blob and every preserved block Linux A
# exported is checked against KhoManifest after OVMF ran, before Linux B gets it.
LINUX_TAGS = ("KHOBOOT", "LINUX_INIT", "KHO", "test_kho", "WARNING", "BUG", "Kernel panic - not syncing")
LINUX_REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
                  Requirement("build/host/khotool-static", "scripts/linux/build.mk"),
                  Requirement("build/host/linux-chain-init", "scripts/linux/build.mk")]


def linux_prepare(ctx):
    """The KHO kernel (scripts/build-linux-kho: cached after the first build)
    and the chain initramfs (its init exports the state and resets warm)."""
    bzimage = kho_kernel(ctx)
    initrd = ctx.workdir / "chain-initramfs.cpio.gz"
    ctx.run(["scripts/linux/build-chain-initramfs", "--out", initrd])
    e = ctx.scenario.entries[0]
    e.linux, e.initrd = bzimage, [str(initrd)]


LINUX_FULL = Scenario(
    name="integrity-linux-full",
    description="real KHO Linux 7.2 -> khotool export (descriptor + KhoManifest) -> warm reset -> "
                "OVMF -> khoboot with kho-verify=full: every exported range verifies, Linux B "
                "restores test_kho's state",
    requires=LINUX_REQUIRES, tags=LINUX_TAGS, prepare=linux_prepare,
    entries=[Entry("linux", linux="(set by prepare)", title="KHO Linux 7.2",
                   options="console=ttyS0,115200 panic=-1 reboot=warm kho=on kho_scratch=128M,64M,64M",
                   keys={"kho-verify": "full"})],
    runs=[Run(memory="3G", timeout=300, expect_exit=0, checks=[
        NoLine(r"KHOBOOT: error .*"), NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"),
        NoLine(r"Kernel panic - not syncing: .*"), NoLine(r"LINUX_INIT: fail .*"),
        InOrder([r"LINUX_INIT: khotool export ok compatible=kho-v4 .*manifest=full .*",
                 r"LINUX_INIT: reboot warm .*",
                 r"KHOBOOT: kho found compatible=kho-v4 .*",
                 r"KHOBOOT: entry id=linux .* kho-verify=full .*",
                 r"KHOBOOT: manifest source=variable bytes=\d+",
                 r"KHOBOOT: verify level=full entries=\d+ bytes=\d+ us=\d+",
                 r"KHOBOOT: policy handover found=1 usable=1",
                 r"KHOBOOT: manifest consumed",
                 r"KHO: found kexec handover data\.",
                 r"test_kho: KHO restore succeeded"]),
        Custom(report_verify_cost, "verify cost"),
    ])],
)

SCENARIOS = FAULTS + [WIPED] + INTEGRITY + [COST, LINUX_FULL]
