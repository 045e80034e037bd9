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

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (Count, Entry, InOrder, NoLine, Requirement, Run, Scenario,  # noqa: E402
                           Timed)

TAGS = ("KHOBOOT", "KHOBOOT_HANDOFF", "LUO_CHAIN", "LUO_MEMFD", "KHO", "khotool", "reboot",
        "liveupdate", "WARNING", "BUG", "Kernel panic - not syncing")
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
            Requirement("build/host/khotool-static", "scripts/linux/build.mk"),
            Requirement("build/x86_64/khoboot-handoff.bzImage", "handoff/build.mk")]
KHO_SCRATCH = "kho_scratch=128M,64M,64M"
LINUX_BASE = f"console=ttyS0,115200 panic=-1 kho=on {KHO_SCRATCH}"
NO_TROUBLE = [NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"), NoLine(r"Kernel panic - not syncing: .*"),
              NoLine(r"LUO_CHAIN: fail .*"), NoLine(r"KHOBOOT_HANDOFF: error .*"),
              NoLine(r"KHOBOOT: error .*")]

_built: dict[str, str] = {}


def _kernel(ctx) -> str:
    if "bzImage" not in _built:
        proc = ctx.run(["scripts/build-linux-kho"], timeout=3 * 3600)
        _built["bzImage"] = proc.stdout.strip().splitlines()[-1]
    return _built["bzImage"]


def _prepare(ctx, tests: list[str]) -> None:
    bzimage = _kernel(ctx)
    out = ctx.workdir / "luo"
    ctx.run(["scripts/linux/build-luo-selftests", "--out", out, *tests])
    initrd = ctx.workdir / "luo-initramfs.cpio.gz"
    ctx.run(["scripts/linux/build-luo-initramfs", "--tests", out, "--out", initrd])
    for e in ctx.scenario.entries:
        e.linux = bzimage
        e.initrd = [str(initrd)]


def _entries(tests: list[str], memfd: str = "", reboot_args: str = "", b_keys=None,
             a_options: str = "liveupdate=on") -> list[Entry]:
    common = f"luochain.tests={','.join(tests)}" + (f" luochain.memfd={memfd}" if memfd else "")
    a = Entry("luo-a", linux="(set by prepare)", title="LUO stage 1",
              options=f"{LINUX_BASE} {a_options} luochain.stage=1 luochain.next=luo-b {common}"
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


def _memfd_scenario(name: str, b_keys: dict, verify_line: str, description: str) -> Scenario:
    return Scenario(
        name=name, description=description,
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


SCENARIOS = [
    selftest_scenario("luo_kexec_simple"),
    selftest_scenario("luo_multi_session"),
    _memfd_scenario("luo-memfd-1g", {}, r"KHOBOOT: verify level=\S+ .*",
                    "1 GiB of memfds (4 x 256 MiB, position-derived pattern) preserved by LUO in "
                    "Linux A and read back byte-exact in Linux B after the firmware path"),
    _memfd_scenario("luo-memfd-1g-verify-full", {"kho-verify": "full"}, r"KHOBOOT: verify level=full .*",
                    "the same with khoboot's kho-verify=full: every preserved byte checked against "
                    "the manifest the handoff image wrote after serialisation"),
]
