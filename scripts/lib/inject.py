"""Fault injection for the runner's own tests (scripts/test-runner).

BOOTCHAIN_INJECT holds comma-separated point names; code calls point(NAME)
where a failure is worth simulating, and it raises InjectedFault there when
NAME is listed. enabled(NAME) lets code skip a step instead (the reaper's
"forget to clean up" points, which prove the leak check sees what escapes).

Points: ramwatch:connected, ramwatch:before-saved, ramwatch:continued,
ramwatch:line, ramwatch:stopped, jumpwatch:gdb, jumpwatch:breakpoint,
jumpwatch:stopped (the RAM-check watcher threads of scenarios/faults.py),
qemu:running (qemu.run, once QEMU has run about half a second),
reaper:no-kill, reaper:keep-dirs (cleanup skipped).

The variable is read at each call, so unset it and nothing changes.
"""
from __future__ import annotations

import os

ENV = "BOOTCHAIN_INJECT"


class InjectedFault(RuntimeError):
    """A failure raised on purpose at a named point."""


def enabled(name: str) -> bool:
    raw = os.environ.get(ENV, "")
    return bool(raw) and name in (p.strip() for p in raw.split(","))


def point(name: str) -> None:
    if enabled(name):
        raise InjectedFault(f"injected fault at {name}")
