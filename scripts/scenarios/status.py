"""KhoBootStatus read back in the booted OS (issue 14, "a KHO status that
lasts"): khoboot writes what each boot did into the KhoBootStatus variable
(loader/boot_attempt.h format_boot_status()); `khotool status` reads it
through efivarfs (loader/tools/status.h).

status-linux-handover: the linux-kho-chain boot chain (scripts/scenarios/
linux_kho.py: Linux A exports its KHO state, warm reset, khoboot hands it
to Linux B), with khochain.status=1 so that Linux B's init runs
`khotool status --json` (scripts/linux/chain-init.c). The JSON must say
what the same boot's serial log says: outcome handover (the "boot ...
mode=kho" line), no error, entry "linux", and exactly the phases, with
their microseconds, of the second boot's "KHOBOOT: phase" lines logged
before the variable was written (boot-params and exit come after it).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import Count, Custom, InOrder, NoLine, Run, Scenario  # noqa: E402
from scenarios.linux_kho import (KHO_SCRATCH, MEMORY, NO_TROUBLE, REQUIRES, TAGS,  # noqa: E402
                                 _boots, _linux_entry, _prepare)

PHASE = re.compile(r"KHOBOOT: phase (\S+) us=(\d+) at_us=(\d+) .*")
JUMP = re.compile(r"KHOBOOT: jump .* us=(\d+) .*")
# khoboot writes KhoBootStatus, then consumes the descriptor and logs this
# (loader/boot_flow.cpp finish_boot()): the phases logged before it are
# the ones the variable can hold; boot-params and exit come after.
STATUS_WRITTEN = "KHOBOOT: descriptor consumed"


def status_json(lines: list[str]) -> tuple[dict | None, str | None]:
    """The JSON `khotool status --json` printed in Linux B, relayed by
    chain-init as "LINUX_INIT: khotool <line>" lines after the consumer
    start line."""
    out, consumer = [], False
    for line in lines:
        if line.startswith("LINUX_INIT: start role=consumer "):
            consumer = True
        elif consumer and line.startswith("LINUX_INIT: khotool "):
            out.append(line[len("LINUX_INIT: khotool "):])
    if not out:
        return None, "Linux B printed no 'LINUX_INIT: khotool' line (khotool status --json)"
    try:
        return json.loads("\n".join(out)), None
    except ValueError as e:
        return None, f"khotool status --json is not JSON ({e}): {out[:3]}"


def check_status_matches_serial(lines: list[str]) -> str | None:
    got, why = status_json(lines)
    if why:
        return why
    boots = _boots(lines)
    if len(boots) < 2:
        return f"{len(boots)} khoboot start(s), expected 2"
    second = boots[1]
    modes = [m.group(1) for l in second if (m := re.fullmatch(r"KHOBOOT: boot entry=\S+ mode=(\S+) .*", l))]
    if modes != ["kho"]:
        return f"the second boot's 'boot' lines give modes {modes}, expected one handover (mode=kho)"
    errors = [l for l in second if l.startswith("KHOBOOT: error ")]
    want_error = errors[0].split()[2] if errors else None
    if STATUS_WRITTEN not in second:
        return f"no '{STATUS_WRITTEN}' line in the second boot"
    before = second[:second.index(STATUS_WRITTEN)]
    phases = [(m.group(1), int(m.group(2)), int(m.group(3))) for l in before if (m := PHASE.fullmatch(l))]
    jumps = [int(m.group(1)) for l in second if (m := JUMP.fullmatch(l))]
    if not phases or len(jumps) != 1:
        return f"the second boot logged {len(phases)} phase lines before the status, {len(jumps)} jump lines"
    wrong = []
    for key, want in (("version", 1), ("outcome", "handover"), ("error", want_error), ("entry", "linux")):
        if got.get(key) != want:
            wrong.append(f"{key}={got.get(key)!r} (serial: {want!r})")
    got_phases = [(p.get("name"), p.get("us")) for p in got.get("phases", [])]
    if got_phases != [(n, us) for n, us, _ in phases]:
        wrong.append(f"phases {got_phases}, serial {[(n, us) for n, us, _ in phases]}")
    # Measured when the variable is written: after the last phase it holds,
    # no later than the jump line's own figure.
    jump = got.get("entry_to_jump_us")
    if not isinstance(jump, int) or not phases[-1][2] <= jump <= jumps[0]:
        wrong.append(f"entry_to_jump_us={jump!r} not between the last phase's at_us={phases[-1][2]} "
                     f"and the jump line's us={jumps[0]}")
    if wrong:
        return "khotool status --json disagrees with the serial log: " + "; ".join(wrong)
    print(f"  status-linux-handover: outcome=handover, {len(phases)} phases "
          f"({', '.join(f'{n}={us}us' for n, us, _ in phases)}), entry_to_jump_us={jump} "
          f"(jump line: us={jumps[0]}): the same as the serial log", flush=True)
    return None


SCENARIOS = [
    Scenario(
        name="status-linux-handover",
        description="real KHO Linux chain; Linux B runs khotool status --json, which must give "
                    "the outcome (handover), error, entry and phase timings that khoboot logged "
                    "on serial for the same boot",
        entries=[_linux_entry(f"kho=on {KHO_SCRATCH} khochain.status=1")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx),
        runs=[Run(memory=MEMORY, timeout=300, expect_exit=0, checks=NO_TROUBLE + [
            InOrder([r"LINUX_INIT: khotool export ok .*",
                     r"LINUX_INIT: reboot warm .*",
                     r"KHOBOOT: start .*",
                     r"KHOBOOT: boot entry=linux mode=kho .*",
                     r"LINUX_INIT: start role=consumer .*kho_in=yes .*",
                     r"LINUX_INIT: status exit=0 .*",
                     r"LINUX_INIT: done .*"]),
            Count(r"KHOBOOT: start .*", 2),
            Custom(check_status_matches_serial, "khotool status --json matches the serial log"),
        ])],
    ),
]
