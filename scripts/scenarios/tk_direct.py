"""test_kernel booted directly by QEMU (-kernel, SeaBIOS): the bzImage's
real-mode entry and 32-bit entry (setup16.S, head32.S), which khoboot never
uses (it enters at +0x200), so that the image stays a complete bzImage any
loader can start. QEMU's own Linux loader reads the setup header, places
the protected-mode part at 1 MiB and starts the setup code in real mode.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import InOrder, NoLine, Requirement, Run, Scenario  # noqa: E402
from lib.tk_cmdline import tk_options  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TK = "build/x86_64/test_kernel.bzImage"

SCENARIOS = [
    Scenario(
        name="tk-bios-entry",
        description="QEMU -kernel with SeaBIOS: 16-bit setup -> 32-bit -> 64-bit entry, e820 from "
                    "INT 15h, command line intact, no KHO node",
        requires=[Requirement(TK, "test_kernel/build.mk")],
        runs=[Run(timeout=30, reboot=False, firmware="seabios",
                  qemu_args=["-kernel", str(ROOT / TK), "-append", tk_options("n", boot="bios")],
                  checks=[
                      NoLine(r"TEST_KERNEL: check \S+ fail.*"),
                      InOrder([r"TEST_KERNEL: boot image=0x100000-0x[0-9a-f]+ .*",
                               r"TEST_KERNEL: hop 1 of 1 plan=n",
                               r"TEST_KERNEL: check boot-params ok sane .*efi=none",
                               r"TEST_KERNEL: check cmdline ok .*",
                               r"TEST_KERNEL: check setup-data ok 0 .*",
                               r"TEST_KERNEL: result pass"]),
                  ])],
    ),
]
