"""The few GDB remote-protocol packets (QEMU -gdb unix:PATH,server=on,
wait=off) it takes to stop a guest at one address: QEMU stops the VM when
a debugger connects; then a breakpoint, continue, wait for the stop,
remove it and detach (which resumes the VM).

Waits are bounded and cancellable for the same reason as scripts/lib/qmp.py:
the watcher thread using it must end soon after QEMU does.
"""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


class GdbError(RuntimeError):
    pass


class GdbStub:
    def __init__(self, path: Path, timeout: float = 10, cancel: threading.Event | None = None):
        self.cancel = cancel or threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError as e:
            self.sock.close()
            raise GdbError(f"gdb stub {path}: {e}") from e
        self.buf = b""

    def send(self, data: str) -> None:
        self.sock.sendall(f"${data}#{sum(data.encode()) & 0xFF:02x}".encode())

    def _take(self) -> str | None:
        """One complete packet from the buffer (acknowledged), if any."""
        i = self.buf.find(b"$")
        j = self.buf.find(b"#", i + 1) if i >= 0 else -1
        if i < 0 or j < 0 or len(self.buf) < j + 3:
            return None
        data = self.buf[i + 1:j].decode(errors="replace")
        self.buf = self.buf[j + 3:]
        self.sock.sendall(b"+")
        return data

    def packet(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            data = self._take()
            if data is not None:
                return data
            left = deadline - time.monotonic()
            if left <= 0:
                raise GdbError("gdb stub: no reply")
            if self.cancel.is_set():
                raise GdbError("gdb stub: cancelled")
            self.sock.settimeout(min(left, 0.5))    # wakes up to look at `cancel`
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                raise GdbError("gdb stub: connection closed")
            self.buf += chunk

    def command(self, data: str, timeout: float = 10) -> str:
        """Sends `data` and returns its reply. Stop notifications (T../S..)
        QEMU sends on its own, e.g. when the connection stopped the VM,
        are skipped unless the command itself asks for a stop reason."""
        self.send(data)
        while True:
            reply = self.packet(timeout)
            if data == "?" or not reply.startswith(("T", "S")):
                return reply

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
