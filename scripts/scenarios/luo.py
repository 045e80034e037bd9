"""Live Update Orchestrator sessions through the firmware, judged by the
kernel's own selftests (tools/testing/selftests/liveupdate/).

Linux A (kho=on liveupdate=on) runs stage 1 of each test (and, for the
memfd scenarios, preserves memfds full of a position-derived pattern), then
`khotool reboot`: kexec_file_load of the handoff image, whose entry runs
after liveupdate_reboot() has serialised every session; the handoff image
writes the descriptor and manifest and resets warm; OVMF starts khoboot
(BootNext), which boots entry luo-b (LoaderEntryOneShot) with the state;
Linux B runs stage 2 and powers off.

  luo-kexec-simple, luo-multi-session   the selftests of the same names
  luo-memfd-1g                          4 x 256 MiB memfds, byte-exact after
                                        (not default: the next one is the same
                                        chain with more checked)
  luo-memfd-1g-verify-full              the same, khoboot kho-verify=full
  luo-reboot-no-entry                   khotool reboot --entry of a missing
                                        Boot####: one line, nothing changed
  luo-reboot-luo-off                    khotool reboot --luo on a kernel
                                        without liveupdate=on: one line
  luo-handoff-no-kho                    the handoff image started by plain
                                        kexec without KHO: one line, no
                                        descriptor, cold boot
`scripts/luo-chain NAME...` runs any two-stage test by name with
selftest_scenario().
"""
from __future__ import annotations

import json
import re
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import reaper  # noqa: E402
from lib.bootchain import (Count, Custom, Entry, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, Timed)
from lib.gdbstub import GdbStub  # noqa: E402
from lib.kho_kernel import kho_kernel  # noqa: E402
from lib.qmp import QmpClient  # noqa: E402

TAGS = ("KHOBOOT", "KHOBOOT_HANDOFF", "LUO_CHAIN", "LUO_MEMFD", "KHO", "khotool", "reboot", "kexec-file",
        "liveupdate", "WARNING", "BUG", "Kernel panic - not syncing")
HANDOFF = "build/x86_64/khoboot-handoff.bzImage"
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
            Requirement("build/host/khotool-static", "scripts/linux/build.mk"),
            Requirement(HANDOFF, "handoff/build.mk")]
KHO_SCRATCH = "kho_scratch=128M,64M,64M"
LINUX_BASE = f"console=ttyS0,115200 panic=-1 kho=on {KHO_SCRATCH}"
NO_TROUBLE = [NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"), NoLine(r"Kernel panic - not syncing: .*"),
              NoLine(r"LUO_CHAIN: fail .*"), NoLine(r"KHOBOOT_HANDOFF: error .*"),
              NoLine(r"KHOBOOT: error .*")]

def _prepare(ctx, tests: list[str], initramfs_args: list = ()) -> None:
    """The KHO kernel and an initramfs with `tests` (initramfs_args: more
    arguments to build-luo-initramfs, e.g. another --handoff)."""
    bzimage = kho_kernel(ctx)
    out = ctx.workdir / "luo"
    ctx.run(["scripts/linux/build-luo-selftests", "--out", out, *tests])
    initrd = ctx.workdir / "luo-initramfs.cpio.gz"
    ctx.run(["scripts/linux/build-luo-initramfs", "--tests", out, *initramfs_args, "--out", initrd])
    for e in ctx.scenario.entries:
        e.linux = bzimage
        e.initrd = [str(initrd)]


def _entries(tests: list[str], memfd: str = "", reboot_args: str = "", b_keys=None,
             a_options: str = "liveupdate=on", stage: str = "1", base: str = LINUX_BASE) -> list[Entry]:
    common = f"luochain.tests={','.join(tests)}" + (f" luochain.memfd={memfd}" if memfd else "")
    a = Entry("luo-a", linux="(set by prepare)", title="LUO stage 1",
              options=f"{base} {a_options} luochain.stage={stage} luochain.next=luo-b {common}"
                      + (f" luochain.reboot-args={reboot_args}" if reboot_args else ""))
    b = Entry("luo-b", linux="(set by prepare)", title="LUO stage 2",
              options=f"{LINUX_BASE} liveupdate=on luochain.stage=2 {common}", keys=dict(b_keys or {}))
    return [a, b]


def _chain_order(tests: list[str]) -> list[str]:
    return ([rf"LUO_CHAIN: stage1 done {t}" for t in tests] +
            [r"KHOBOOT_HANDOFF: start .*",
             r"KHOBOOT_HANDOFF: state kho-v4 .*",
             r"KHOBOOT_HANDOFF: manifest level=full .*",
             r"KHOBOOT_HANDOFF: descriptor written",
             r"KHOBOOT_HANDOFF: reset warm",
             r"KHOBOOT: start .*",
             r"KHOBOOT: boot entry=luo-b mode=kho .*",
             r"LUO_CHAIN: stage2 begin .*"] +
            [rf"LUO_CHAIN: stage2 pass {t}" for t in tests] +
            [r"LUO_CHAIN: done"])


def _at(times: list, pattern: str, after: float = -1.0) -> float | None:
    rx = re.compile(pattern)
    return next((t for t, l in times if t > after and rx.search(l)), None)


def blackout(lines: list[str], times: list) -> str | None:
    """Prints the blackout of a live update through the firmware, from the
    runner's clock on the serial lines (0.2 s resolution) and khoboot's own
    entry-to-jump time: `khotool reboot` started (stage 1 is done) -> stage
    2 starts, split into khotool's checks, kernel shutdown + kexec, the
    handoff image, the firmware, khoboot and Linux B's boot."""
    t0 = _at(times, r"LUO_CHAIN: reboot ")
    t_kexec = _at(times, r"reboot: kexec into the handoff image")
    t_ho = _at(times, r"KHOBOOT_HANDOFF: start ")
    t_reset = _at(times, r"KHOBOOT_HANDOFF: reset warm")
    t_kb = _at(times, r"KHOBOOT: start ", after=t_reset or 0)
    t_jump = _at(times, r"KHOBOOT: jump ", after=t_kb or 0)
    t2 = _at(times, r"LUO_CHAIN: stage2 begin ")
    if None in (t0, t_kexec, t_ho, t_reset, t_kb, t_jump, t2):
        return None  # the chain checks say what is missing
    jump = [l for l in lines if l.startswith("KHOBOOT: jump ")]
    us = re.search(r"\bus=(\d+)", jump[-1]) if jump else None
    kb = f"{int(us.group(1)) / 1e6:.2f}" if us else f"{t_jump - t_kb:.1f}"
    print(f"  luo blackout {t2 - t0:.1f} s: khotool reboot checks {t_kexec - t0:.1f} s, kernel shutdown + "
          f"kexec {t_ho - t_kexec:.1f} s, handoff "
          f"{t_reset - t_ho:.1f} s, firmware {t_kb - t_reset:.1f} s, khoboot {kb} s (entry to jump), "
          f"Linux B to stage 2 {t2 - t_jump:.1f} s", flush=True)
    return None


def kexec_blackout(lines: list[str], times: list) -> str | None:
    """The reference: stage 1 done -> stage 2 start through kexec alone."""
    t0 = _at(times, r"LUO_CHAIN: reboot ")
    t_k = _at(times, r"kexec-file: kexec ")
    t2 = _at(times, r"LUO_CHAIN: stage2 begin ")
    if None not in (t0, t_k, t2):
        print(f"  luo blackout through kexec {t2 - t0:.1f} s: reading the entry {t_k - t0:.1f} s, "
              f"kexec + Linux B to stage 2 {t2 - t_k:.1f} s", flush=True)
    return None


def selftest_scenario(test: str, name: str = "", default: bool = True, memory: str = "3G") -> Scenario:
    """A two-stage selftest through the firmware, by its program name;
    the scenario is called `name` (default luo-<test without luo_>)."""
    tests = [test]
    return Scenario(
        name=name or f"luo-{test.removeprefix('luo_').replace('_', '-')}",
        description=f"the kernel's LUO selftest {test}: stage 1 in Linux A, khotool reboot "
                    f"(handoff, warm reset, OVMF, khoboot), stage 2 in Linux B",
        entries=_entries(tests), requires=REQUIRES, tags=TAGS, default=default,
        prepare=lambda ctx: _prepare(ctx, tests),
        runs=[Run(memory=memory, timeout=600, expect_exit=0, checks=NO_TROUBLE + [
            InOrder(_chain_order(tests)),
            Count(r"KHOBOOT: start .*", 2),
            Timed(blackout, "blackout"),
        ])],
    )


def _memfd_scenario(name: str, b_keys: dict, verify_line: str, description: str,
                    default: bool = True) -> Scenario:
    return Scenario(
        name=name, description=description, default=default,
        entries=_entries([], memfd="1024,4", b_keys=b_keys), requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, []),
        runs=[Run(memory="4G", timeout=900, expect_exit=0, checks=NO_TROUBLE + [
            InOrder([r"LUO_MEMFD: preserved files=4 bytes=1073741824",
                     r"KHOBOOT_HANDOFF: descriptor written",
                     r"KHOBOOT: start .*",
                     verify_line,
                     r"KHOBOOT: boot entry=luo-b mode=kho .*",
                     r"LUO_MEMFD: verified files=4 bytes=1073741824",
                     r"LUO_CHAIN: done"]),
            NoLine(r"LUO_MEMFD: (mismatch|fail) .*"),
            Timed(blackout, "blackout"),
        ])],
    )


class FlipAfterManifest:
    """Changes the state after the handoff image wrote its manifest: QEMU
    pauses at the handoff's warm reset (-action reboot=shutdown,
    shutdown=pause); over the GDB stub the watcher reads the manifest the
    handoff logged, flips one byte in the middle of its first data range,
    then restores the reset action and resets (QMP). What the firmware path
    must then do: refuse the state (kho-integrity), never hand it on."""

    def __init__(self, ctx, run: Run):
        self.work = ctx.workdir
        self.qmp_path, self.gdb_path = ctx.workdir / "qmp.sock", ctx.workdir / "gdb.sock"
        self.result = ctx.workdir / "flip.json"
        run.qemu_args += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                          "-gdb", f"unix:{self.gdb_path},server=on,wait=off",
                          "-action", "reboot=shutdown,shutdown=pause"]
        run.before = self.start

    def start(self, ctx, run_index: int) -> None:
        self.scope = reaper.current()
        self.scope.start_thread(self._main, "FlipAfterManifest")

    def _line(self, rx: str, timeout: float = 600) -> re.Match:
        deadline = time.monotonic() + timeout
        serial = self.work / "run1-serial.log"
        while time.monotonic() < deadline:
            text = serial.read_text(errors="replace") if serial.exists() else ""
            m = re.search(rx, text)
            if m:
                return m
            if self.scope.cancel.wait(0.1):
                break
        raise RuntimeError(f"no serial line /{rx}/")

    def _main(self) -> None:
        verdict = {"ok": False}
        qmp = gdb = None
        try:
            addr = int(self._line(r"KHOBOOT_HANDOFF: manifest level=full addr=(0x[0-9a-f]+)").group(1), 16)
            self._line(r"KHOBOOT_HANDOFF: reset warm")
            qmp = QmpClient(self.qmp_path, cancel=self.scope.cancel)
            deadline = time.monotonic() + 60
            while qmp.execute("query-status")["status"] != "shutdown":
                if time.monotonic() > deadline:
                    raise RuntimeError("QEMU did not pause at the handoff's reset")
                time.sleep(0.1)
            gdb = GdbStub(self.gdb_path, cancel=self.scope.cancel)
            head = bytes.fromhex(gdb.command(f"m{addr:x},20"))
            count = struct.unpack_from("<I", head, 16)[0]
            table = bytes.fromhex(gdb.command(f"m{addr + 32:x},{count * 24:x}"))
            entries = [struct.unpack_from("<QQII", table, i * 24) for i in range(count)]
            # abi/integrity_manifest.h: kind 1 = preserved data, 0 = metadata
            # (root FDT, sub-blobs, map pages). A data range can hold a
            # metadata page too (the root FDT is a preserved block); flip in
            # the largest one that holds none, so only the manifest's data
            # check can notice: the memfd's pages.
            meta = [(e[0], e[0] + e[1]) for e in entries if e[3] == 0]
            data = [e for e in entries if e[3] == 1 and not any(a < e[0] + e[1] and e[0] < b for a, b in meta)]
            if not data:
                raise RuntimeError("no preserved data range clear of the state's metadata")
            start, size, _crc, _kind = max(data, key=lambda e: e[1])
            target = start + size // 2
            old = bytes.fromhex(gdb.command(f"m{target:x},1"))[0]
            if gdb.command(f"M{target:x},1:{old ^ 0xff:02x}") != "OK":
                raise RuntimeError("gdb stub refused the write")
            gdb.command("D")
            qmp.execute("set-action", reboot="reset", shutdown="poweroff")
            qmp.execute("system_reset")
            qmp.execute("cont")
            verdict = {"ok": True, "addr": target}
        except Exception as exc:  # reported by the check, never lost
            verdict = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
        finally:
            self.result.write_text(json.dumps(verdict))
            for c in (gdb, qmp):
                if c is not None:
                    c.close()


def _integrity_prepare(ctx) -> None:
    _prepare(ctx, [])
    watcher = FlipAfterManifest(ctx, ctx.scenario.runs[0])
    ctx.scenario.runs[0].checks.append(Custom(lambda lines: _flipped(watcher, lines), "a byte was flipped"))


def _flipped(watcher: FlipAfterManifest, lines: list[str]) -> str | None:
    v = json.loads(watcher.result.read_text()) if watcher.result.exists() else {"reason": "watcher wrote nothing"}
    if not v.get("ok"):
        return f"flip watcher: {v.get('reason')}"
    print(f"  luo-integrity: flipped the byte at 0x{v['addr']:x} after the manifest was written", flush=True)
    err = [l for l in lines if l.startswith("KHOBOOT: error kho-integrity ")]
    m = re.search(r"(0x[0-9a-f]+)-(0x[0-9a-f]+) changed", err[0]) if err else None
    if not m or not int(m.group(1), 16) <= v["addr"] < int(m.group(2), 16):
        return f"khoboot's kho-integrity line does not name the range of 0x{v['addr']:x}: {err[:1]}"
    return None


NO_CRASH = [NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"), NoLine(r"Kernel panic - not syncing: .*"),
            NoLine(r"LUO_CHAIN: fail .*")]
NOTHING_LEFT = r"BootNext=absent LoaderEntryOneShot=absent KhoHandover=absent"

SCENARIOS = [
    selftest_scenario("luo_kexec_simple"),
    selftest_scenario("luo_multi_session"),
    _memfd_scenario("luo-memfd-1g", {}, r"KHOBOOT: verify level=\S+ .*",
                    "1 GiB of memfds (4 x 256 MiB, position-derived pattern) preserved by LUO in "
                    "Linux A and read back byte-exact in Linux B after the firmware path (not "
                    "default: luo-memfd-1g-verify-full runs the same chain and checks more)",
                    default=False),
    _memfd_scenario("luo-memfd-1g-verify-full", {"kho-verify": "full"}, r"KHOBOOT: verify level=full .*",
                    "the same with khoboot's kho-verify=full: every preserved byte checked against "
                    "the manifest the handoff image wrote after serialisation"),
    Scenario(
        name="luo-reboot-no-entry",
        description="khotool reboot naming a Boot#### that does not exist: one error line, no "
                    "variable left; --dry-run prints the plan and changes nothing; the sessions are "
                    "intact: the real reboot that follows carries them",
        entries=_entries(["luo_kexec_simple"], a_options="liveupdate=on luochain.dry-run=1 luochain.first-try="
                         "--esp,/esp,--boot-entry,luo-b,--entry,00AA"),
        requires=REQUIRES, tags=TAGS, prepare=lambda ctx: _prepare(ctx, ["luo_kexec_simple"]),
        runs=[Run(memory="3G", timeout=600, expect_exit=0, checks=NO_TROUBLE + [
            InOrder([r"khotool: error no-entry: Boot00AA does not exist",
                     rf"LUO_CHAIN: first-try rc=1 {NOTHING_LEFT}",
                     r"reboot: luo on sessions=2",
                     r"reboot: khoboot entry luo-b kernel /esp/khoboot-test/bzImage",
                     r"reboot: abi this kernel kho-v4,luo-v5,memfd-v2 .*",
                     r"reboot: dry run, nothing changed",
                     rf"LUO_CHAIN: dry-run rc=0 {NOTHING_LEFT}",
                     r"KHOBOOT_HANDOFF: descriptor written",
                     r"LUO_CHAIN: stage2 pass luo_kexec_simple"]),
            Count(r"khotool: error .*", 1),
        ])],
    ),
    Scenario(
        name="luo-reboot-luo-off",
        description="khotool reboot --luo on a kernel booted without liveupdate=on (no "
                    "/dev/liveupdate, so no session could survive): one error line, nothing changed",
        entries=_entries([], a_options="", stage="refuse", reboot_args="--luo"),
        requires=REQUIRES, tags=TAGS, prepare=lambda ctx: _prepare(ctx, []),
        runs=[Run(memory="3G", timeout=300, expect_exit=0, checks=NO_CRASH + [
            InOrder([r"khotool: error luo-off: 0 LUO session\(s\) to carry but LUO is off .*",
                     rf"LUO_CHAIN: refused rc=1 {NOTHING_LEFT}"]),
            Count(r"khotool: error .*", 1),
            NoLine(r"KHOBOOT_HANDOFF: .*"),
        ])],
    ),
    Scenario(
        name="luo-handoff-no-kho",
        description="the handoff image kexec'd by a kernel without KHO (no setup_data type 10): "
                    "one error line, no descriptor, a warm reset and a cold boot, no loop",
        entries=_entries([], a_options="", stage="handoff-plain",
                         base="console=ttyS0,115200 panic=-1"),
        requires=REQUIRES, tags=TAGS, prepare=lambda ctx: _prepare(ctx, []),
        runs=[Run(memory="3G", timeout=300, expect_exit=0, checks=NO_CRASH + [
            InOrder([r"KHOBOOT_HANDOFF: start .*",
                     r"KHOBOOT_HANDOFF: error kho-bad-property no KHO node in setup_data: .*",
                     r"KHOBOOT_HANDOFF: reset warm",
                     r"KHOBOOT: start .*",
                     r"KHOBOOT: kho none",
                     r"KHOBOOT: boot entry=luo-a mode=cold .*",
                     rf"LUO_CHAIN: after-handoff {NOTHING_LEFT}"]),
            Count(r"KHOBOOT_HANDOFF: error .*", 1),
            Count(r"KHOBOOT: start .*", 2),
        ])],
    ),
    Scenario(
        name="luo-integrity",
        description="one byte of a preserved memfd page flipped after the handoff wrote its "
                    "manifest (QEMU paused at the warm reset): khoboot refuses the state as "
                    "kho-integrity and boots Linux B cold; nothing is handed on",
        entries=_entries([], memfd="64,1", b_keys={"kho-verify": "full"}),
        requires=REQUIRES, tags=TAGS, prepare=_integrity_prepare,
        runs=[Run(memory="3G", timeout=600, expect_exit=0, checks=NO_CRASH + [
            InOrder([r"KHOBOOT_HANDOFF: descriptor written",
                     r"KHOBOOT: start .*",
                     r"KHOBOOT: error kho-integrity .*",
                     r"KHOBOOT: boot entry=luo-b mode=cold .*",
                     r"LUO_MEMFD: fail retrieve session khoboot-memfd: .*"]),
            NoLine(r"LUO_MEMFD: verified .*"),
            NoLine(r"KHO: found kexec handover data\."),
        ])],
    ),
    Scenario(
        name="luo-kexec-simple-kexec",
        description="reference for the blackout: luo_kexec_simple through the kernel's own "
                    "kexec_file_load straight into Linux B, no firmware",
        entries=_entries(["luo_kexec_simple"], a_options="liveupdate=on luochain.via=kexec"),
        requires=REQUIRES, tags=TAGS, default=False, prepare=lambda ctx: _prepare(ctx, ["luo_kexec_simple"]),
        runs=[Run(memory="3G", timeout=600, expect_exit=0, checks=NO_TROUBLE + [
            InOrder([r"LUO_CHAIN: stage1 done luo_kexec_simple", r"kexec-file: kexec .*",
                     r"LUO_CHAIN: stage2 pass luo_kexec_simple"]),
            Count(r"KHOBOOT: start .*", 1),
            Timed(kexec_blackout, "blackout"),
        ])],
    ),
]
