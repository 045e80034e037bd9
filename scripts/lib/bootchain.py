"""Scenario model of the boot-chain runner (scripts/bootchain).

A *scenario* is one whole boot chain through real firmware: an ESP built
from the build outputs, a private copy of the OVMF variable store, and one
or more QEMU processes ("runs") in sequence. Two runs of one scenario share
that variable store but not RAM, so a second run is a cold power cycle;
warm resets inside one run keep both RAM and variables.

The runner asserts on *protocol lines* only, never on free text: a protocol
line is a serial line that starts with one of the scenario's tags followed
by ": " (by default ``KHOBOOT: `` from the loader and ``TEST_KERNEL: `` from
test_kernel; see docs/architecture.md section 4).

Writing scenarios (the plug-in format)
--------------------------------------
Every ``scripts/scenarios/*.py`` module is imported in name order; each
defines ``SCENARIOS``, a list of :class:`Scenario` objects (names unique
across all modules). Nothing else is required; a module may import from
this package (``from lib.bootchain import ...``; ``scripts/`` is on
``sys.path``). Example::

    from lib.bootchain import Scenario, Run, Entry, Line, InOrder, EXIT_PASS

    SCENARIOS = [Scenario(
        name="cold-boot",
        description="no descriptor: test_kernel sees no KHO node",
        entries=[Entry("tk", linux="build/x86_64/test_kernel.bzImage",
                       options="tk.plan=n")],
        runs=[Run(timeout=60, expect_exit=EXIT_PASS, checks=[
            Line(r"KHOBOOT: boot .*"),
            InOrder([r"TEST_KERNEL: check setup-data ok .*",
                     r"TEST_KERNEL: result pass"]),
        ])],
    )]

Fields (all but ``name`` optional):

* ``Scenario.entries``: BLS entries written to ``/loader/entries/NAME.conf``
  (keys ``title``, ``linux``, ``initrd``, ``options`` and the loader's own
  keys ``kho``, ``kho-on-error``, ``kho-fdt``, ``kho-scratch``, ... passed
  through from ``Entry.keys``). ``linux``/``initrd`` are host paths
  (relative to the repository root or absolute); the runner copies each
  file onto the ESP under ``/khoboot-test/`` and writes that ESP path into
  the entry. The first entry is the default (``loader.conf`` ``default``).
* ``Scenario.esp_files``: extra :class:`EspFile` (host path -> ESP path).
* ``Scenario.loader``: the loader binary (default build/x86_64/khoboot.efi),
  installed as ``/EFI/BOOT/BOOTX64.EFI``.
* ``Scenario.requires``: :class:`Requirement` list. A missing output whose
  producing part (``provided_by``, e.g. ``efi/build.mk``) is not in the tree
  yet makes the scenario SKIP with the reason; a missing output of a part
  that *is* in the tree is a FAIL (the build is broken).
* ``Scenario.prepare(ctx)``: optional hook run before the ESP is built. It
  gets a :class:`Context` (``ctx.workdir`` private scratch directory,
  ``ctx.root``, ``ctx.build``, ``ctx.scenario`` a deep copy it may edit,
  ``ctx.khotool(*args)`` and ``ctx.run(cmd)`` helpers, ``ctx.data`` a dict
  for the scenario's own use). It typically generates RAM blobs with
  ``khotool synth`` and adds :class:`Blob` objects to runs and keys to
  entries. Raise :class:`ScenarioError` to fail with a reason or
  :class:`ScenarioSkip` to skip.
* ``Scenario.runs``: :class:`Run` list, one QEMU process each, in order.
  ``Run.memory`` (``-m``), ``Run.timeout`` seconds (hard kill), ``Run.reboot``
  (False adds ``-no-reboot`` so a reset ends the run), ``Run.blobs``
  (``-device loader,file=,addr=,force-raw=on``: QEMU rewrites them at every
  reset), ``Run.qemu_args`` (extra arguments), ``Run.expect_exit`` (QEMU's
  exit status; isa-debug-exit at 0xf4 turns a guest write of v into
  ``(v << 1) | 1``, so test_kernel's pass/fail are EXIT_PASS/EXIT_FAIL;
  ``None`` accepts any), ``Run.checks`` (assertions on this run's log),
  ``Run.before(ctx, run_index)`` optional hook run just before QEMU starts
  (e.g. to edit the variable store at ``ctx.vars_path``), ``Run.stop_on``
  regular expressions: a protocol line matching one means the guest will
  do nothing more (default: ``KHOBOOT: halt .*``), so the run ends there
  and fails with that line instead of waiting for the timeout.
  ``Run.interrupt_on`` regular expressions: a protocol line matching one
  ends the run on purpose (QEMU killed mid-boot, as a power cut would), and
  the run passes if its checks do.
  ``Run.firmware`` is "ovmf" (default), "ovmf-secureboot" (Debian's SMM
  Secure Boot build; the scenario's prepare hook puts a VARS with keys at
  ``ctx.vars_path``, scripts/scenarios/secureboot.py) or "seabios" (QEMU's BIOS without
  pflash or ESP, for direct ``-kernel`` boots given in ``qemu_args``).
* ``Scenario.tags``: protocol-line tags this scenario asserts on
  (default ``("KHOBOOT", "TEST_KERNEL")``; the real-Linux scenarios add their
  init's tag).
* ``Scenario.default``: True if part of the default suite (``make test``);
  False for slow or optional scenarios, run by name or with ``--all``.
* ``Scenario.timeout``: optional cap on the whole scenario's wall time.

Checks (:class:`Line`, :class:`NoLine`, :class:`Count`, :class:`InOrder`,
:class:`Custom`) take Python regular expressions that must match a *whole*
protocol line (``re.fullmatch``). :class:`Custom` takes a function of the
list of protocol lines returning None (ok) or a failure reason.

Results: the runner prints ``PASS NAME`` or ``FAIL NAME: reason`` (or
``SKIP NAME: reason``) per scenario, then ``N passed, N failed, N skipped``,
exits non-zero on any failure, and keeps every log of failed scenarios
(serial, firmware debug console, QEMU stderr, the command lines) under
``build/bootchain-logs/NAME/`` or ``--keep-logs DIR``.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

# isa-debug-exit (iobase 0xf4): QEMU exits with (value << 1) | 1.
# test_kernel writes 0x10 on pass and 0x11 on fail (test_kernel/qemu_exit.h).
EXIT_PASS = (0x10 << 1) | 1  # 33
EXIT_FAIL = (0x11 << 1) | 1  # 35

DEFAULT_TAGS = ("KHOBOOT", "TEST_KERNEL")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
# arm64: QEMU virt + AAVMF (qemu-efi-aarch64), Run.firmware "aavmf".
AAVMF_CODE = "/usr/share/AAVMF/AAVMF_CODE.fd"
AAVMF_VARS = "/usr/share/AAVMF/AAVMF_VARS.fd"


class ScenarioError(Exception):
    """Raised by hooks: the scenario fails with this message."""


class ScenarioSkip(Exception):
    """Raised by hooks: the scenario is skipped with this message."""


@dataclass
class Requirement:
    path: str                 # build output, relative to the repository root
    provided_by: str = ""     # source file of the part that builds it


@dataclass
class Entry:
    name: str
    linux: str
    options: str = ""
    initrd: list[str] = field(default_factory=list)
    title: str = ""
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class EspFile:
    src: str
    dst: str


@dataclass
class Blob:
    path: str
    addr: int


# --- checks -------------------------------------------------------------------

class Check:
    def evaluate(self, lines: list[str]) -> Optional[str]:
        raise NotImplementedError


def _first_match(pattern: re.Pattern, lines: list[str], start: int = 0) -> int:
    for i in range(start, len(lines)):
        if pattern.fullmatch(lines[i]):
            return i
    return -1


@dataclass
class Line(Check):
    """At least one protocol line matches."""
    pattern: str

    def evaluate(self, lines):
        if _first_match(re.compile(self.pattern), lines) < 0:
            return f"no line matches /{self.pattern}/"
        return None


@dataclass
class NoLine(Check):
    """No protocol line matches."""
    pattern: str

    def evaluate(self, lines):
        i = _first_match(re.compile(self.pattern), lines)
        if i >= 0:
            return f"unexpected line {lines[i]!r}"
        return None


@dataclass
class Count(Check):
    """Exactly n protocol lines match."""
    pattern: str
    n: int

    def evaluate(self, lines):
        p = re.compile(self.pattern)
        got = sum(1 for line in lines if p.fullmatch(line))
        if got != self.n:
            return f"{got} lines match /{self.pattern}/, expected {self.n}"
        return None


@dataclass
class InOrder(Check):
    """Each pattern matches a line after the previous pattern's match."""
    patterns: list[str]

    def evaluate(self, lines):
        pos = 0
        for pat in self.patterns:
            i = _first_match(re.compile(pat), lines, pos)
            if i < 0:
                after = f" after line {pos}" if pos else ""
                return f"no line matches /{pat}/{after}"
            pos = i + 1
        return None


@dataclass
class Custom(Check):
    """fn(lines) -> None or a failure reason."""
    fn: Callable[[list[str]], Optional[str]]
    label: str = "custom check"

    def evaluate(self, lines):
        return self.fn(lines)


@dataclass
class Timed(Check):
    """fn(lines, line_times) -> None or a failure reason; line_times holds
    (seconds since QEMU started, raw serial line) for every serial line,
    as the runner first saw it (set by the runner before evaluation)."""
    fn: Callable[[list[str], list], Optional[str]]
    label: str = "timed check"
    line_times: list = field(default_factory=list)

    def evaluate(self, lines):
        return self.fn(lines, self.line_times)


# --- runs and scenarios ---------------------------------------------------------

@dataclass
class Run:
    memory: str = "3G"
    timeout: float = 90.0
    reboot: bool = True
    blobs: list[Blob] = field(default_factory=list)
    qemu_args: list[str] = field(default_factory=list)
    expect_exit: Optional[int] = EXIT_PASS
    checks: list[Check] = field(default_factory=list)
    before: Optional[Callable[["Context", int], None]] = None
    stop_on: list[str] = field(default_factory=lambda: [r"KHOBOOT: halt .*"])
    firmware: str = "ovmf"   # "ovmf-secureboot", or "seabios": no UEFI, no ESP (direct -kernel boots);
                             # "aavmf": arm64 (qemu-system-aarch64 -M virt, AAVMF)
    # A protocol line matching one cuts the run off on purpose (QEMU is
    # killed: a power cut, or a hang the watchdog resets); the run is then
    # judged by its checks alone.
    interrupt_on: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    description: str = ""
    entries: list[Entry] = field(default_factory=list)
    esp_files: list[EspFile] = field(default_factory=list)
    loader: str = "build/x86_64/khoboot.efi"
    requires: list[Requirement] = field(default_factory=list)
    prepare: Optional[Callable[["Context"], None]] = None
    runs: list[Run] = field(default_factory=list)
    tags: tuple[str, ...] = DEFAULT_TAGS
    default: bool = True
    timeout: Optional[float] = None
    # False: no vvfat ESP; the scenario attaches its own boot disk (a real
    # FAT file system in a disk image) through Run.qemu_args.
    vvfat: bool = True

    def protocol_lines(self, text: str) -> list[str]:
        """The protocol lines of a serial log, in order, without CR/LF."""
        prefixes = tuple(f"{t}: " for t in self.tags)
        out = []
        for raw in text.splitlines():
            line = raw.rstrip("\r")
            # Firmware may leave escape sequences or partial output ahead of
            # a tag on the same line; a tag is recognised anywhere after them.
            for p in prefixes:
                i = line.find(p)
                if i >= 0 and (i == 0 or not line[i - 1].isalnum()):
                    out.append(line[i:])
                    break
        return out


@dataclass
class Context:
    """Handed to prepare/before hooks."""
    root: Path
    build: Path
    workdir: Path
    scenario: Scenario
    vars_path: Path
    data: dict = field(default_factory=dict)
    verbose: bool = False

    def run(self, cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
        """Runs a host command in the repository root; fails the scenario
        (ScenarioError with its stderr tail) if it exits non-zero."""
        proc = subprocess.run([str(c) for c in cmd], cwd=self.root, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ScenarioError(f"{Path(str(cmd[0])).name} exited {proc.returncode}: "
                                + " | ".join(tail))
        return proc

    def khotool(self, *args, timeout: float = 600) -> subprocess.CompletedProcess:
        """Runs build/host/khotool (or $KHOTOOL, to try another build)."""
        tool = Path(os.environ["KHOTOOL"]) if os.environ.get("KHOTOOL") else self.build / "host" / "khotool"
        if not tool.exists():
            raise ScenarioError(f"missing build output {tool}")
        return self.run([tool, *args], timeout=timeout)


def instantiate(s: Scenario) -> Scenario:
    """A private deep copy for one execution (hooks may edit it freely)."""
    return copy.deepcopy(s)


def scenario_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(Scenario)]
