"""QEMU + OVMF launcher for one run of a scenario (TCG only: KVM cannot
run OVMF on these machines, docs/firmware-facts.md).

Machine: q35, one CPU, the pflash pair (CODE read-only, a per-scenario copy
of VARS that persists across warm resets and across runs), the ESP as a
vvfat disk, COM1 to a file, the firmware debug console (port 0x402) to a
second file, isa-debug-exit at 0xf4 so the guest ends QEMU with a status.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import inject, reaper
from .bootchain import AAVMF_CODE, OVMF_CODE, Blob

# Debian's OVMF built with SMM and Secure Boot; the "snakeoil" VARS beside
# it enrols the test key /usr/share/ovmf/PkKek-1-snakeoil.pem in PK, KEK, db.
OVMF_CODE_SECUREBOOT = "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd"


@dataclass
class RunResult:
    status: int | None      # QEMU exit status, None on timeout
    seconds: float
    serial: str
    cmdline: list[str]
    stderr: str
    stopped: bool = False   # ended early by the stop condition
    aborted: str | None = None  # ended early: a watcher thread failed (why)
    interrupted: bool = False   # stopped by a Run.interrupt_on line (the runner sets it)
    # (seconds since QEMU started, line) for each complete serial line, as
    # first seen by the runner's poll (every 0.2 s): wall-clock spans across
    # resets, where no guest clock runs through (scripts/scenarios/luo.py).
    line_times: list = field(default_factory=list)


def com2_args(log: Path) -> list[str]:
    """A second serial port, COM2 (I/O 0x2f8, IRQ 3), logged to `log`: QEMU
    gives each -serial the next ISA serial slot in order, and command()
    always wires COM1 first, so these go in ``Run.qemu_args`` (appended
    after it). For scenarios that check output on a UART other than COM1
    (scripts/scenarios/consoles.py)."""
    return ["-serial", f"file:{log}"]


def command(esp: Path | None, vars_path: Path, serial_log: Path, debug_log: Path,
            memory: str, reboot: bool, blobs: list[Blob], extra: list[str],
            firmware: str = "ovmf") -> list[str]:
    """firmware "ovmf": the UEFI machine every KHO scenario uses;
    "ovmf-secureboot": Debian's Secure Boot OVMF (SMM, its CODE image; the
    scenario supplies a VARS with keys, e.g. OVMF_VARS_4M.snakeoil.fd);
    "seabios": QEMU's default BIOS and no ESP, for direct -kernel boots in
    `extra`; "aavmf": arm64 (aavmf_command())."""
    if firmware == "aavmf":
        return aavmf_command(esp, vars_path, serial_log, memory, reboot, blobs, extra)
    secure = firmware == "ovmf-secureboot"
    cmd = [
        "qemu-system-x86_64",
        # A Secure Boot OVMF keeps its variable store behind SMM, so that
        # the OS cannot write db/PK directly: SMM on, pflash SMM-only.
        "-machine", "q35,smm=on,accel=tcg" if secure else "q35,accel=tcg",
        "-smp", "1",
        "-m", memory,
    ]
    if secure:
        cmd += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    if firmware in ("ovmf", "ovmf-secureboot"):
        code = OVMF_CODE_SECUREBOOT if secure else OVMF_CODE
        cmd += [
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_path}",
        ]
        if esp is not None:  # None: the caller's own boot disk is in `extra`
            cmd += ["-drive", f"format=raw,file=fat:rw:{esp}"]
    cmd += [
        "-serial", f"file:{serial_log}",
        "-debugcon", f"file:{debug_log}", "-global", "isa-debugcon.iobase=0x402",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-display", "none",
        "-net", "none",
        "-no-user-config",
    ]
    return _finish(cmd, reboot, blobs, extra)


def _finish(cmd: list[str], reboot: bool, blobs: list[Blob], extra: list[str]) -> list[str]:
    """What both machines end with: -no-reboot unless resets are wanted,
    the RAM blobs (QEMU's loader device), the scenario's extra arguments."""
    if not reboot:
        cmd.append("-no-reboot")
    for b in blobs:
        cmd += ["-device", f"loader,file={b.path},addr={b.addr:#x},force-raw=on"]
    return cmd + list(extra)


def aavmf_command(esp: Path, vars_path: Path, serial_log: Path, memory: str, reboot: bool,
                  blobs: list[Blob], extra: list[str]) -> list[str]:
    """arm64: QEMU virt (RAM from 0x40000000), Cortex-A57 under TCG, AAVMF
    in the pflash pair, the ESP as a vvfat virtio disk, the PL011 to a file.
    acpi=off: AAVMF then installs QEMU's device tree as the EFI DTB table,
    so the kernel boots from a device tree (with ACPI it would take the
    ACPI tables and never unflatten /chosen into /proc/device-tree). No
    debug-exit device: the guest powers off (PSCI SYSTEM_OFF), QEMU exits
    0 with -no-reboot; a warm reset is PSCI SYSTEM_RESET."""
    cmd = [
        "qemu-system-aarch64",
        "-machine", "virt,acpi=off,accel=tcg",
        "-cpu", "cortex-a57",
        "-smp", "1",
        "-m", memory,
        "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={AAVMF_CODE}",
        "-drive", f"if=pflash,format=raw,unit=1,file={vars_path}",
        "-drive", f"format=raw,file=fat:rw:{esp},if=none,id=esp",
        "-device", "virtio-blk-pci,drive=esp",
        "-serial", f"file:{serial_log}",
        "-display", "none",
        "-net", "none",
        "-no-user-config",
    ]
    return _finish(cmd, reboot, blobs, extra)


class _Echo:
    """Notes when each complete serial line first appears and passes it to
    `echo` (make demo shows the chain live); the rest of the log when the
    run is over."""

    def __init__(self, serial_log: Path, echo: Callable[[str], None] | None):
        self.serial_log, self.echo, self.done = serial_log, echo, 0
        self.start = time.monotonic()
        self.times: list[tuple[float, str]] = []

    def __call__(self, final: bool = False) -> None:
        if not self.serial_log.exists():
            return
        with open(self.serial_log, "rb") as f:
            f.seek(self.done)
            raw = f.read()
        end = len(raw) if final else raw.rfind(b"\n") + 1
        now = time.monotonic() - self.start
        for line in raw[:end].decode(errors="replace").splitlines():
            self.times.append((now, line.rstrip("\r")))
            if self.echo:
                self.echo(line.rstrip("\r"))
        self.done += end


def _wait(proc, serial_log: Path, timeout: float, stop, echo_new: _Echo, scope) -> tuple:
    """Polls until QEMU exits, the timeout passes, `stop` fires or a
    watcher aborts the scope: (status, stopped, aborted reason)."""
    start = time.monotonic()
    while True:
        try:
            return proc.wait(timeout=0.2), False, None
        except subprocess.TimeoutExpired:
            pass
        inject.point("qemu:running")
        echo_new()
        if scope.aborted():
            return None, False, scope.aborted()
        if time.monotonic() - start > timeout:
            return None, False, None
        if stop and serial_log.exists() and stop(serial_log.read_text(errors="replace")):
            return None, True, None


def run(cmd: list[str], serial_log: Path, timeout: float,
        stop: Callable[[str], bool] | None = None,
        echo: Callable[[str], None] | None = None) -> RunResult:
    """Runs QEMU until it exits, `timeout` passes (status None), `stop`
    returns True for the serial output so far (a guest that halted for
    good: status None, stopped=True) or a watcher thread of the current
    reaper scope aborts (status None, aborted=its reason). `echo`, if
    given, receives each complete serial line as it appears.

    QEMU is killed (and waited for) on every way out, an exception or
    Ctrl-C included: it runs in its own session, so nothing else would."""
    start = time.monotonic()
    scope = reaper.current()
    echo_new = _Echo(serial_log, echo)
    out_path = serial_log.with_suffix(".qemu-out")
    # Output goes to a file so a chatty QEMU can never block on a full pipe.
    with open(out_path, "w+") as out_f:
        proc = scope.spawn(cmd, stdin=subprocess.DEVNULL, stdout=out_f, stderr=subprocess.STDOUT)
        try:
            status, stopped, aborted = _wait(proc, serial_log, timeout, stop, echo_new, scope)
        finally:
            scope.kill(proc)
            out_path.unlink(missing_ok=True)   # open: still readable below
        echo_new(final=True)
        out_f.seek(0)
        out = out_f.read()
    serial = serial_log.read_text(errors="replace") if serial_log.exists() else ""
    return RunResult(status, time.monotonic() - start, serial, cmd, out, stopped, aborted,
                     line_times=echo_new.times)
