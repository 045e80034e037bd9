"""QEMU sessions that stop at chosen moments of a boot chain, on top of the
runner's launcher (scripts/lib/qemu.py command()): a QMP socket, the guest's
reset turned into a pause so RAM can be saved exactly as the previous kernel
left it, and waits on serial protocol lines.

Used by scripts/measure-ovmf-ram (RAM before the warm reset vs. when
khoboot starts) and by the cross-check scenarios in
scripts/scenarios/linux_kho.py (RAM of one hop carried into the next run).

QEMU facts relied on (7.2): ``-action reboot=shutdown,shutdown=pause``
turns a guest reset into a paused VM in run state "shutdown" (RAM intact);
QMP ``set-action`` changes that at run time, after which ``system_reset``
and ``cont`` start the firmware again; ``pmemsave`` writes guest-physical
memory to a file.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import qemu as runner_qemu  # noqa: E402

PAGE = 4096


class QemuError(Exception):
    pass


def ram_layout(memory_bytes: int) -> list[tuple[int, int]]:
    """Guest-physical RAM ranges [start, end) of a q35 machine: above
    0xb0000000 bytes of RAM QEMU splits at 2 GiB and puts the rest at 4 GiB
    (hw/i386/pc_q35.c pc_q35_init(), gigabyte-aligned split)."""
    low = 0x80000000 if memory_bytes >= 0xB0000000 else 0xB0000000
    if memory_bytes <= low:
        return [(0, memory_bytes)]
    return [(0, low), (1 << 32, (1 << 32) + memory_bytes - low)]


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([KMGT]?)", text.strip().upper())
    if not m:
        raise ValueError(f"bad size {text!r}")
    return int(m.group(1)) << {"": 20, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]


class Session:
    """One QEMU process with QMP; serial to a file that is polled."""

    def __init__(self, cmd: list[str], workdir: Path, serial_log: Path, pause_on_reset: bool):
        self.qmp_path = workdir / "qmp.sock"
        self.serial_log = serial_log
        if self.qmp_path.exists():
            self.qmp_path.unlink()
        extra = ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if pause_on_reset:
            extra += ["-action", "reboot=shutdown,shutdown=pause"]
        self.cmd = cmd + extra
        self.stderr_path = workdir / "qemu-session-stderr.log"
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=open(self.stderr_path, "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.start = time.monotonic()
        self.sock = None
        self.buf = b""
        self.events: list[dict] = []
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(self.qmp_path))
                break
            except OSError:
                self.sock.close()
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise QemuError(f"QMP socket never came up: {self._stderr_tail()}")
                time.sleep(0.05)
        self._read()  # greeting
        self.command("qmp_capabilities")

    def _stderr_tail(self) -> str:
        try:
            return " | ".join(self.stderr_path.read_text().strip().splitlines()[-3:])
        except OSError:
            return ""

    def _read(self) -> dict:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QemuError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name: str, **arguments):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise QemuError(f"QMP {name}: {reply['error'].get('desc')}")
            return reply.get("return")

    def hmp(self, text: str) -> str:
        return self.command("human-monitor-command", **{"command-line": text})

    def serial(self) -> str:
        try:
            return self.serial_log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_line(self, pattern: str, timeout: float, after: int = 0) -> tuple[str, int]:
        """Waits until a serial line (from byte offset `after`) contains a
        match of `pattern`; returns (line, end offset of that line)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.serial()
            for m in re.finditer(r"[^\n]*\n", text[after:]):
                if rx.search(m.group(0)):
                    return m.group(0).rstrip("\r\n"), after + m.end()
            if self.proc.poll() is not None:
                raise QemuError(f"QEMU exited ({self.proc.returncode}) before /{pattern}/")
            if time.monotonic() > deadline:
                raise QemuError(f"timeout after {timeout:.0f}s waiting for /{pattern}/")
            time.sleep(0.02)

    def status(self) -> str:
        return self.command("query-status")["status"]

    def wait_paused(self, timeout: float) -> None:
        """Waits for the pause a guest reset becomes under pause_on_reset."""
        deadline = time.monotonic() + timeout
        while self.status() != "shutdown":
            if time.monotonic() > deadline:
                raise QemuError("the guest never reset")
            time.sleep(0.05)

    def reset_and_continue(self) -> None:
        """From the paused reset: a real reset (RAM kept) and run again."""
        self.command("set-action", reboot="reset", shutdown="poweroff")
        self.command("system_reset")
        self.command("cont")

    def pmemsave(self, start: int, size: int, path: Path) -> None:
        self.command("pmemsave", val=start, size=size, filename=str(path))

    def close(self) -> int | None:
        try:
            if self.proc.poll() is None:
                try:
                    self.command("quit")
                except (QemuError, OSError):
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        finally:
            if self.sock:
                self.sock.close()
        return self.proc.returncode

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None


def launch(esp: Path, vars_path: Path, workdir: Path, memory: str, pause_on_reset: bool,
           extra: list[str] | None = None, blobs=None, firmware: str = "ovmf") -> Session:
    serial = workdir / "session-serial.log"
    debug = workdir / "session-firmware.log"
    for p in (serial, debug):
        if p.exists():
            p.unlink()
    cmd = runner_qemu.command(esp, vars_path, serial, debug, memory, True, blobs or [], extra or [], firmware)
    return Session(cmd, workdir, serial, pause_on_reset)
