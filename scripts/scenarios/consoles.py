"""khoboot's output on every console a lab reads (issue 14, "Consoles";
loader/consoles.h, efi/log.h).

console-com2: QEMU with a second serial port (COM2, I/O 0x2f8, as a BMC's
serial-over-LAN would use) and loader.conf naming it
(`khoboot-uart io:0x2f8,115200`). khoboot programs the UART, replays the
lines it wrote before loader.conf was read, and writes every later line
there as well. The check: the KHOBOOT protocol lines on COM2 are exactly
those on COM1, in order, and neither port shows a line twice (OVMF's own
serial console drives COM1 too, and khoboot must not add its copy there).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import Custom, Entry, EspFile, InOrder, Line, Run, Scenario  # noqa: E402
from lib.qemu import com2_args  # noqa: E402
from lib.tk_cmdline import tk_options  # noqa: E402
from scenarios.synth_states import REQUIRES, TK  # noqa: E402


def khoboot_lines(text: str) -> list[str]:
    out = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        i = line.find("KHOBOOT: ")
        if i >= 0:
            out.append(line[i:])
    return out


def doubled(lines: list[str]) -> str | None:
    for a, b in zip(lines, lines[1:]):
        if a == b:
            return a
    return None


def same_lines_on_com2(ctx):
    def fn(lines):
        com1 = [l for l in lines if l.startswith("KHOBOOT: ")]
        log = ctx.workdir / "com2.log"
        com2 = khoboot_lines(log.read_text(errors="replace")) if log.exists() else []
        if not com2:
            return ("no KHOBOOT line on COM2: khoboot did not act on khoboot-uart "
                    "(efi/log.h log_set_uart() wired after loader.conf is read?)")
        for name, got in (("COM1", com1), ("COM2", com2)):
            twice = doubled(got)
            if twice:
                return f"{name} shows a line twice in a row: {twice!r}"
        if com2 != com1:
            diff = next((i for i, (a, b) in enumerate(zip(com1, com2)) if a != b), min(len(com1), len(com2)))
            return (f"COM2 has {len(com2)} KHOBOOT lines, COM1 {len(com1)}; first difference at line "
                    f"{diff}: COM1 {com1[diff:diff + 1]}, COM2 {com2[diff:diff + 1]}")
        print(f"  console-com2: the same {len(com2)} KHOBOOT lines on COM1 and COM2, none twice",
              flush=True)
        return None
    return Custom(fn, "COM2 carries exactly COM1's KHOBOOT lines")


def prepare(ctx):
    conf = ctx.workdir / "loader.conf"
    conf.write_text("default tk\nkhoboot-uart io:0x2f8,115200\n")
    ctx.scenario.esp_files.append(EspFile(str(conf), "/loader/loader.conf"))
    run = ctx.scenario.runs[0]
    run.qemu_args += com2_args(ctx.workdir / "com2.log")
    run.checks.append(same_lines_on_com2(ctx))


SCENARIOS = [
    Scenario(
        name="console-com2",
        description="loader.conf names COM2 (khoboot-uart io:0x2f8,115200): every KHOBOOT line, "
                    "those before loader.conf was read too, appears on COM2 exactly as on COM1, "
                    "and no line appears twice on either port",
        requires=REQUIRES,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("n"))],
        prepare=prepare,
        runs=[Run(timeout=120, checks=[
            InOrder([r"KHOBOOT: start .*",
                     r"KHOBOOT: console uart=io:0x2f8 baud=115200 replayed=[0-9]+ .*",
                     r"KHOBOOT: boot entry=tk .*"]),
            Line(r"TEST_KERNEL: result pass"),
        ])],
    ),
]
