"""No dead ends (loader/boot_flow.h): with no KHO state at stake, an entry
or configuration error returns to the firmware's boot manager
(`KHOBOOT: exit reason=<why>`, EFI_LOAD_ERROR from efi_main) instead of
halting, and the boot manager goes on to its next boot option.

Each scenario gives QEMU two ESPs. The first (the runner's, boot option
one) holds khoboot with a broken entry; the second, a second vvfat disk
that OVMF enumerates after it, holds khoboot again with a good entry
"next" that boots the test kernel. The scenario passes only if the first
khoboot exits with the expected reason and then a second khoboot starts,
selects "next" and the test kernel reports a pass: the proof that OVMF
ran its next boot option. OVMF's own "failed to start ...: Load Error"
line for the first option, then its "starting" line for another, are
checked on the serial console too.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import esp as esp_mod  # noqa: E402
from lib.bootchain import Custom, Entry, EspFile, InOrder, Line, NoLine, Run, Scenario  # noqa: E402
from lib.tk_cmdline import tk_options  # noqa: E402
from scenarios.synth_states import REQUIRES, TK  # noqa: E402

LOADER = "build/x86_64/khoboot.efi"
TK_ESP = "/khoboot-test/test_kernel.bzImage"  # where build_esp puts TK on the first ESP


def firmware_went_on(ctx) -> Custom:
    """OVMF's BdsDxe prints on the serial console the option that returned
    an error (EDK2 MdeModulePkg BmBoot.c), then starts the next one."""
    def fn(_lines):
        log = ctx.workdir / "run1-serial.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        failed = re.search(r'BdsDxe: failed to start (Boot[0-9A-F]{4}) "[^"]*" from \S+: Load Error', text)
        if not failed:
            return "no 'BdsDxe: failed to start Boot#### ...: Load Error' line on the serial console"
        after = text[failed.end():]
        started = re.search(r"BdsDxe: starting (Boot[0-9A-F]{4}) ", after)
        if not started or started.group(1) == failed.group(1):
            return f"OVMF did not start another boot option after {failed.group(1)} failed"
        return None
    return Custom(fn, "OVMF's boot manager saw the first option fail and started the next")


def dead_end(name: str, description: str, entry_text: str | None, reason: str,
             error: str | None, keys: dict | None = None) -> Scenario:
    """entry_text replaces the first ESP's tk.conf (None: keep the built
    one, with `keys`); the first khoboot must exit with `reason` after the
    error line `error` (a regular expression), then the second ESP boots."""

    def prepare(ctx):
        if entry_text is not None:
            conf = ctx.workdir / "broken-tk.conf"
            conf.write_text(entry_text)
            ctx.scenario.esp_files.append(EspFile(str(conf), "/loader/entries/tk.conf"))
        second = ctx.workdir / "esp-next"
        esp_mod.build_esp(ctx.root, second, LOADER,
                          [Entry("next", linux=TK, title="next boot option", options=tk_options("n"))], [])
        run = ctx.scenario.runs[0]
        run.qemu_args += ["-drive", f"format=raw,file=fat:rw:{second}"]
        run.checks.append(firmware_went_on(ctx))

    first = [error] if error else []
    checks = [
        InOrder([r"KHOBOOT: start version=.*", r"KHOBOOT: watchdog seconds=300 step=boot"] + first + [
            rf"KHOBOOT: exit reason={reason}",
            r"KHOBOOT: start version=.*",
            r"KHOBOOT: entry id=next .*",
            r"KHOBOOT: boot entry=next mode=cold .*",
            r"TEST_KERNEL: result pass"]),
        NoLine(r"KHOBOOT: halt .*"),
        NoLine(r"KHOBOOT: warn LoaderEntryDefault .*"),  # the first loader's report is no setting
        Line(rf"KHOBOOT: exit reason={reason}"),
    ]
    return Scenario(
        name=name, description=description, requires=REQUIRES,
        entries=[Entry("tk", linux=TK, title="broken", options=tk_options("n"), keys=keys or {})],
        prepare=prepare,
        runs=[Run(timeout=120, reboot=False, checks=checks)],
    )


SCENARIOS = [
    dead_end("deadend-config", "an entry without a linux line: khoboot exits to the boot manager, "
             "the next boot option (a second ESP) boots",
             "title broken\noptions console=ttyS0\n", "config",
             r"KHOBOOT: error entry /loader/entries/tk.conf: no 'linux' line"),
    dead_end("deadend-image", "the entry's kernel file is missing: exit, the next option boots",
             "title broken\nlinux /khoboot-test/missing.bzImage\n", "image",
             r"KHOBOOT: error io .*missing\.bzImage.*"),
    dead_end("deadend-initrd", "the entry's initrd is missing: exit, the next option boots",
             f"title broken\nlinux {TK_ESP}\ninitrd /khoboot-test/missing.img\noptions {tk_options('n')}\n",
             "initrd", r"KHOBOOT: error io .*missing\.img.*"),
    dead_end("deadend-kho-required", "kho required and no state: nothing to keep, so exit, "
             "the next option boots", None, "kho-required-missing", None, keys={"kho": "required"}),
]
