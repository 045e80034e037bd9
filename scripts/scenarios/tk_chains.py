"""Boot chains of khoboot and test_kernel alone (no synthetic input): a
cold boot, a three-hop chain with warm resets, a stale descriptor after a
cold power cycle. test_kernel's plan (tk.plan=, one word per hop) says what
each boot does; its hop counter lives in a UEFI variable, so a chain that
lost its state fails instead of starting over.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (Count, Entry, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, EXIT_PASS)
from lib.tk_cmdline import initrd_hook, tk_options  # noqa: E402

TK = "build/x86_64/test_kernel.bzImage"
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
            Requirement(TK, "test_kernel/build.mk")]
NO_FAIL = [NoLine(r"TEST_KERNEL: check \S+ fail.*"), NoLine(r"TEST_KERNEL: (error|exception) .*"),
           NoLine(r"KHOBOOT: error .*")]


def tk_entry(plan: str, **keys) -> Entry:
    return Entry("tk", linux=TK, title="test_kernel", options=tk_options(plan, **keys))


def consumer_checks(n_hops_consuming: int) -> list:
    names = ["boot-params", "cmdline", "descriptor", "setup-data", "fdt", "scratch-table", "placement",
             "manifest", "scratch", "map", "preserved-ram", "contents"]
    return [Count(rf"TEST_KERNEL: check {n} ok .*", n_hops_consuming) for n in names
            if n not in ("boot-params", "cmdline", "descriptor", "setup-data")]


def chain_scenario(name: str, fmt: str, compat: str, blocks: int, default: bool = True,
                   initrd: int = 0) -> Scenario:
    kept = blocks - blocks // 4
    return Scenario(
        name=name, default=default,
        description=f"producer -> consumer+producer -> consumer with warm resets in one QEMU "
                    f"process ({fmt}): every check passes at hops 2 and 3",
        entries=[tk_entry("np,cp,c", format=fmt, compat=compat, blocks=blocks)],
        requires=REQUIRES,
        prepare=initrd_hook(initrd, 3) if initrd else None,
        runs=[Run(timeout=150, checks=NO_FAIL + consumer_checks(2) + [
            Count(r"TEST_KERNEL: check initrd ok .*", 3 if initrd else 0),
            Count(r"KHOBOOT: start .*", 3),
            Count(r"TEST_KERNEL: produce reset warm", 2),
            Count(r"KHOBOOT: kho descriptor source=variable .*", 2),
            Count(r"KHOBOOT: descriptor consumed", 2),
            InOrder([r"TEST_KERNEL: hop 1 of 3 plan=np,cp,c",
                     r"TEST_KERNEL: check setup-data ok 0 .*",
                     rf"TEST_KERNEL: produce state hop=1 format={fmt} .*kept=0 new={blocks} retired=0 .*",
                     r"TEST_KERNEL: produce descriptor ok .*",
                     rf"KHOBOOT: kho found compatible={compat} .*",
                     r"KHOBOOT: reserve ok .*",
                     r"KHOBOOT: kernel .* in=scratch",
                     r"TEST_KERNEL: hop 2 of 3 plan=np,cp,c",
                     rf"TEST_KERNEL: check manifest ok valid .*hop=1 .*entries={blocks} retired=0",
                     r"TEST_KERNEL: check contents ok .*",
                     rf"TEST_KERNEL: produce state hop=2 .*kept={kept} new={blocks} retired={blocks // 4} .*",
                     rf"KHOBOOT: kho found compatible={compat} .*",
                     r"TEST_KERNEL: hop 3 of 3 plan=np,cp,c",
                     rf"TEST_KERNEL: check manifest ok valid .*hop=2 .*entries={kept + blocks} "
                     rf"retired={blocks // 4}",
                     r"TEST_KERNEL: check map ok .*retired-present=0 .*",
                     r"TEST_KERNEL: result pass"]),
            Count(r"TEST_KERNEL: result pass", 1),
        ])],
    )


SCENARIOS = [
    Scenario(
        name="cold-boot",
        description="no descriptor, no entry keys: khoboot boots cold, test_kernel sees no KHO node",
        entries=[tk_entry("n")],
        requires=REQUIRES,
        runs=[Run(timeout=60, reboot=False, checks=NO_FAIL + [
            Line(r"KHOBOOT: kho none"),
            Line(r"KHOBOOT: handover none"),
            InOrder([r"TEST_KERNEL: hop 1 of 1 plan=n",
                     r"TEST_KERNEL: check boot-params ok .*",
                     r"TEST_KERNEL: check cmdline ok .*",
                     r"TEST_KERNEL: check descriptor ok .*",
                     r"TEST_KERNEL: check setup-data ok 0 SETUP_KEXEC_KHO node\(s\), expected 0.*",
                     r"TEST_KERNEL: result pass"]),
        ])],
    ),
    chain_scenario("chain-3hop-kho-v4", "kho-v4", "kho-v4", 48, initrd=300 * 1024),
    chain_scenario("chain-3hop-kho-v1-512", "kho-v1-512", "kho-v1", 40),
    chain_scenario("chain-3hop-kho-v1", "kho-v1", "kho-v1", 40, default=False),
    chain_scenario("chain-3hop-kho-v3", "kho-v3", "kho-v3", 40, default=False),
    Scenario(
        name="stale-descriptor",
        description="test_kernel produces a state and powers off; QEMU restarts with the same "
                    "variable store (RAM gone): khoboot finds the descriptor stale, consumes it "
                    "and boots cold",
        entries=[tk_entry("nP,n", format="kho-v4", blocks=16)],
        requires=REQUIRES,
        runs=[
            Run(timeout=60, reboot=False, checks=NO_FAIL + [
                InOrder([r"TEST_KERNEL: hop 1 of 2 plan=nP,n",
                         r"TEST_KERNEL: produce state hop=1 .*",
                         r"TEST_KERNEL: produce descriptor ok .*",
                         r"TEST_KERNEL: produce power-off",
                         r"TEST_KERNEL: result pass"]),
            ]),
            Run(timeout=60, reboot=False, checks=[
                NoLine(r"TEST_KERNEL: check \S+ fail.*"),
                InOrder([r"KHOBOOT: kho descriptor source=variable .*flags=0x2",
                         r"KHOBOOT: error kho-stale FDT page 0x[0-9a-f]+ crc32 .*",
                         r"KHOBOOT: policy cold-boot found=1 usable=0",
                         r"KHOBOOT: handover none",
                         r"KHOBOOT: descriptor consumed",
                         r"TEST_KERNEL: hop 2 of 2 plan=nP,n",
                         r"TEST_KERNEL: check descriptor ok .*",
                         r"TEST_KERNEL: check setup-data ok 0 .*",
                         r"TEST_KERNEL: result pass"]),
            ]),
        ],
    ),
]
