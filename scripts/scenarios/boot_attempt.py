"""One try per KHO state (loader/boot_attempt.h): a boot of a state that
never reaches its kernel is not repeated.

attempt-interrupted: a synthetic kho-v4 state named by the descriptor
variable; the first boot is cut off (QEMU killed: a power cut, or a hang the
watchdog resets) while khoboot waits at its menu (loader.conf timeout 3),
after it protected the state and so after it wrote its KhoBootAttempt
record. The next boot, with the
state intact in RAM again, refuses it before reading it
(`error kho-attempt-failed`), consumes the descriptor and the record, and
boots cold as the entry's kho-on-error says; KhoBootStatus says so. A third
boot finds no state at all and records a clean status.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (Blob, Custom, Entry, EspFile, InOrder, Line, NoLine,  # noqa: E402
                           Run, Scenario)
from lib import kho_abi, ovmf_vars  # noqa: E402
from lib.tk_cmdline import tk_options  # noqa: E402
from scenarios.synth_states import (DESCRIPTOR_GUID, DESCRIPTOR_VARIABLE, REQUIRES,  # noqa: E402
                                    TK)
ATTEMPT_VARIABLE = kho_abi.ATTEMPT_VARIABLE
STATUS_VARIABLE = kho_abi.STATUS_VARIABLE


def live(vars_path: Path) -> dict[str, bytes]:
    """khoboot's live variables in the store, by name."""
    return {v.name: v.data for v in ovmf_vars.variables(vars_path)
            if v.live and v.guid == DESCRIPTOR_GUID}


def status_of(vars_path: Path) -> dict[str, str]:
    text = live(vars_path).get(STATUS_VARIABLE, b"").decode("ascii", "replace")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def expect_variables(ctx, present: set[str], absent: set[str], status: dict[str, str]):
    """A check on the variable store after a run (closes over ctx)."""
    def fn(_lines):
        have = live(ctx.vars_path)
        missing = sorted(present - have.keys())
        extra = sorted(absent & have.keys())
        if missing or extra:
            return f"variables: missing {missing}, unexpected {extra}"
        got = status_of(ctx.vars_path)
        wrong = {k: got.get(k) for k, v in status.items() if got.get(k) != v}
        return f"KhoBootStatus {wrong}, expected {status}" if wrong else None
    return Custom(fn, "variable store")


def prepare(ctx):
    out = ctx.workdir / "synth"
    ctx.khotool("synth", "--out", str(out), "--format", "kho-v4", "--blocks", "500", "--seed", "21")
    state = json.loads((out / "state.json").read_text())
    blobs = [Blob(str(out / b["file"]), b["addr"]) for b in state["blobs"]]
    first, second, third = ctx.scenario.runs
    first.blobs += blobs
    second.blobs += blobs   # the state intact in RAM again: refused all the same

    def inject(c, _run_index):
        data = (out / "descriptor.bin").read_bytes()
        ovmf_vars.add_variable(c.vars_path, DESCRIPTOR_VARIABLE, DESCRIPTOR_GUID, data)
    first.before = inject
    conf = ctx.workdir / "loader.conf"
    conf.write_text("default tk\ntimeout 3\n")  # a menu: the first boot is cut off there
    ctx.scenario.esp_files.append(EspFile(str(conf), "/loader/loader.conf"))
    first.checks.append(expect_variables(ctx, {DESCRIPTOR_VARIABLE, ATTEMPT_VARIABLE}, set(), {}))
    second.checks.append(expect_variables(
        ctx, {STATUS_VARIABLE}, {DESCRIPTOR_VARIABLE, ATTEMPT_VARIABLE},
        {"outcome": "cold-boot", "error": "kho-attempt-failed", "entry": "tk"}))
    third.checks.append(expect_variables(
        ctx, {STATUS_VARIABLE}, {DESCRIPTOR_VARIABLE, ATTEMPT_VARIABLE},
        {"outcome": "cold-boot", "error": "none"}))


SCENARIOS = [
    Scenario(
        name="attempt-interrupted",
        description="a boot of a state cut off after khoboot recorded its attempt: the next boot "
                    "refuses the state (kho-attempt-failed) before reading it, consumes it and boots "
                    "cold; KhoBootStatus says why; the boot after that finds no state",
        requires=REQUIRES,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("n"))],
        prepare=prepare,
        runs=[
            Run(timeout=90, reboot=False, expect_exit=None,
                interrupt_on=[r"KHOBOOT: menu 1 test_kernel .*"],
                checks=[InOrder([r"KHOBOOT: watchdog seconds=300 step=boot",
                                 r"KHOBOOT: kho descriptor source=variable .*",
                                 r"KHOBOOT: kho found compatible=kho-v4 .*",
                                 r"KHOBOOT: watchdog seconds=303 step=menu"]),
                        NoLine(r"KHOBOOT: (descriptor consumed|jump) .*")]),
            Run(timeout=90, reboot=False, checks=[
                InOrder([r"KHOBOOT: error kho-attempt-failed the last boot of this state never "
                         r"reached its kernel .*",
                         r"KHOBOOT: descriptor consumed",
                         r"KHOBOOT: policy cold-boot found=1 usable=0",
                         r"KHOBOOT: boot entry=tk mode=cold .*",
                         r"TEST_KERNEL: result pass"]),
                NoLine(r"KHOBOOT: kho (descriptor|found) .*"),
                NoLine(r"KHOBOOT: error (?!kho-attempt-failed).*"),
            ]),
            # test_kernel counts hops in its own variable and calls this
            # third boot an unexpected one: only khoboot's lines count here.
            Run(timeout=90, reboot=False, expect_exit=None, checks=[
                Line(r"KHOBOOT: kho none"),
                NoLine(r"KHOBOOT: error .*"),
                Line(r"KHOBOOT: boot entry=tk mode=cold .*"),
            ]),
        ],
    ),
]
