"""QEMU + OVMF launcher for one run of a scenario (TCG only: KVM cannot
run OVMF on these machines, environment.md).

Machine: q35, one CPU, the pflash pair (CODE read-only, a per-scenario copy
of VARS that persists across warm resets and across runs), the ESP as a
vvfat disk, COM1 to a file, the firmware debug console (port 0x402) to a
second file, isa-debug-exit at 0xf4 so the guest ends QEMU with a status.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .bootchain import OVMF_CODE, Blob


@dataclass
class RunResult:
    status: int | None      # QEMU exit status, None on timeout
    seconds: float
    serial: str
    cmdline: list[str]
    stderr: str
    stopped: bool = False   # ended early by the stop condition


def command(esp: Path, vars_path: Path, serial_log: Path, debug_log: Path,
            memory: str, reboot: bool, blobs: list[Blob], extra: list[str],
            firmware: str = "ovmf") -> list[str]:
    """firmware "ovmf": the UEFI machine every KHO scenario uses; "seabios":
    QEMU's default BIOS and no ESP, for direct -kernel boots in `extra`."""
    cmd = [
        "qemu-system-x86_64",
        "-machine", "q35,accel=tcg",
        "-smp", "1",
        "-m", memory,
    ]
    if firmware == "ovmf":
        cmd += [
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_path}",
            "-drive", f"format=raw,file=fat:rw:{esp}",
        ]
    cmd += [
        "-serial", f"file:{serial_log}",
        "-debugcon", f"file:{debug_log}", "-global", "isa-debugcon.iobase=0x402",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-display", "none",
        "-net", "none",
        "-no-user-config",
    ]
    if not reboot:
        cmd.append("-no-reboot")
    for b in blobs:
        cmd += ["-device", f"loader,file={b.path},addr={b.addr:#x},force-raw=on"]
    return cmd + list(extra)


def run(cmd: list[str], serial_log: Path, timeout: float,
        stop: Callable[[str], bool] | None = None,
        echo: Callable[[str], None] | None = None) -> RunResult:
    """Runs QEMU until it exits, `timeout` passes (status None), or `stop`
    returns True for the serial output so far (a guest that halted for
    good: status None, stopped=True). `echo`, if given, receives each
    complete serial line as it appears (make demo shows the chain live)."""
    start = time.monotonic()
    echoed = 0  # bytes of the serial log already passed to `echo`

    def echo_new(final: bool = False) -> None:
        nonlocal echoed
        if not echo or not serial_log.exists():
            return
        text = serial_log.read_text(errors="replace")
        end = len(text) if final else text.rfind("\n", echoed) + 1
        for line in text[echoed:end].splitlines():
            echo(line.rstrip("\r"))
        echoed = max(echoed, end)

    # Own process group so a timeout kills QEMU and nothing else; output
    # goes to files so a chatty QEMU can never block on a full pipe.
    with open(serial_log.with_suffix(".qemu-out"), "w+") as out_f:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out_f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        stopped = False
        status = None
        while True:
            try:
                status = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            echo_new()
            if time.monotonic() - start > timeout:
                break
            if stop and serial_log.exists() and stop(serial_log.read_text(errors="replace")):
                stopped = True
                break
        if status is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        echo_new(final=True)
        out_f.seek(0)
        out = out_f.read()
    serial_log.with_suffix(".qemu-out").unlink()
    err = ""
    secs = time.monotonic() - start
    serial = serial_log.read_text(errors="replace") if serial_log.exists() else ""
    return RunResult(status, secs, serial, cmd, (out or "") + (err or ""), stopped)
