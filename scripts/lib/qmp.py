"""A minimal QMP client (QEMU's JSON monitor on a unix socket, -qmp
unix:PATH,server=on,wait=off): connect, capabilities, commands.

Every wait is bounded and can be cancelled: a watcher thread that talks to
QEMU must end soon after QEMU does, or after the runner gives up on the
run, so the runner can join it (scripts/lib/reaper.py).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path


class QmpError(RuntimeError):
    pass


class QmpClient:
    def __init__(self, path: Path, connect_timeout: float = 30, timeout: float = 60,
                 cancel: threading.Event | None = None):
        """Connects to QEMU's QMP socket (retrying while QEMU starts up),
        reads the greeting and leaves capabilities negotiation done.
        `timeout` bounds each reply; `cancel` set means stop waiting."""
        self.cancel = cancel or threading.Event()
        self.timeout = timeout
        self.buf = b""
        self.sock = self._connect(path, connect_timeout)
        try:
            self._line(timeout)                  # the greeting
            self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def _connect(self, path: Path, timeout: float) -> socket.socket:
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(path))
                return sock
            except OSError:
                sock.close()
            if self.cancel.is_set():
                raise QmpError("QMP: cancelled before the socket came up")
            if time.monotonic() > deadline:
                raise QmpError(f"QMP socket {path} never came up")
            time.sleep(0.05)

    def _line(self, timeout: float) -> dict:
        """The next JSON line; EOF (QEMU gone) and silence both raise."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.cancel.is_set():
                raise QmpError("QMP: no reply" if left <= 0 else "QMP: cancelled")
            self.sock.settimeout(min(left, 0.5))   # wakes up to look at `cancel`
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise QmpError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, name: str, timeout: float | None = None, **args):
        """Runs a command and returns its "return" value; events are skipped."""
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._line(self.timeout if timeout is None else timeout)
            if "event" in reply:
                continue
            if "error" in reply:
                raise QmpError(f"QMP {name}: {reply['error'].get('desc')}")
            return reply.get("return")

    def quit(self) -> None:
        """Ends QEMU (exit status 0). QEMU may close the socket before its
        reply arrives; either way it is on its way out."""
        try:
            self.execute("quit", timeout=5)
        except (QmpError, OSError):
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
