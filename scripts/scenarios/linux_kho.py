"""Real KHO Linux through the firmware (issue 5): the kernel built by
scripts/build-linux-kho (Linux 7.2.13, kho-v4, test_kho built in) hands its
live KHO state to khoboot across a warm reset, and the next kernel's own
test_kho must find everything intact.

The chain, in one QEMU run (RAM and variables survive the warm reset):
OVMF -> khoboot (no descriptor: cold boot) -> Linux A, whose initramfs
(scripts/linux/chain-init.c) waits for test_kho, runs `khotool export`
(descriptor in the KhoHandover variable, integrity manifest in
KhoManifest) and resets warm -> OVMF -> khoboot finds, checks and
protects the state, loads Linux B into scratch -> Linux B prints
"KHO: found kexec handover data." and "test_kho: KHO restore succeeded".
One boot entry serves both kernels; a UEFI variable of the chain init
(KhoChainHop) tells Linux B it is the second hop.

Default VM setup (scripts/linux/README.md, "Which RAM OVMF writes across a
warm reset"): -m 3G puts 1 GiB above 4 GiB, where Linux's page allocator
serves GFP_KERNEL first (ZONE_NORMAL) and where OVMF writes nothing across
the reset; kho_scratch=128M,64M,64M keeps the CMA scratch areas from filling
ZONE_NORMAL (the default 200 % scale took 952 of its 1024 MiB, which
pushed test_kho's folios down to 0x100000 in ZONE_DMA32). The firmware
rewrites 0x900000-0x1704000 and the top of low RAM at every boot.

Cross-checks, each a single QEMU run too: a different kernel for one hop
comes from BootNext (chain-init's khochain.next= writes a Boot#### option
whose load options name the khoboot entry, once):
  tk-state-into-linux   test_kernel produces a kho-v4 state, Linux boots on it
  linux-state-into-tk   Linux A's real state consumed by test_kernel
  linux-kho-clobbered   the same chain with -m 1G, where Linux A's
                        preserved pages sit in RAM the firmware rewrites:
                        it must end in a khoboot error, not in Linux B
  linux-export-refused  khotool export on a kernel without kho=on: one error
                        line, no descriptor left behind
  linux-kho-3hop        Linux A -> B -> C: B, itself booted with A's state,
                        exports its own (khochain.hops=3; found by its
                        sub-FDTs, loader/tools/root_fdt_scan.h), C finds it
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (EXIT_PASS, Count, Custom, Entry, InOrder, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioSkip)
from lib.kho_kernel import kho_kernel  # noqa: E402
from lib.ranges import coalesce, uncovered  # noqa: E402
from lib.tk_cmdline import tk_options  # noqa: E402

TK = "build/x86_64/test_kernel.bzImage"
TAGS = ("KHOBOOT", "LINUX_INIT", "KHO", "test_kho", "__memblock_reserve", "TEST_KERNEL",
        "BIOS-e820", "WARNING", "BUG", "Kernel panic - not syncing")
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
            Requirement("build/host/khotool-static", "scripts/linux/build.mk"),
            Requirement("build/host/linux-chain-init", "scripts/linux/build.mk")]
# scripts/linux/README.md "Default VM setup".
MEMORY = "3G"
KHO_SCRATCH = "kho_scratch=128M,64M,64M"
LINUX_BASE = "console=ttyS0,115200 panic=-1 reboot=warm"
# What OVMF rewrote across a warm reset at -m 3G (scripts/measure-ovmf-ram,
# rounded out to 1 MiB): a preserved range here would be lost.
FIRMWARE_WRITES = [(0x800000, 0x1800000), (0x7b000000, 0x80000000)]

NO_TROUBLE = [NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"), NoLine(r"Kernel panic - not syncing: .*"),
              NoLine(r"LINUX_INIT: fail .*")]

# --- prepare -------------------------------------------------------------------

def _needs_export(ctx) -> None:
    tool = ctx.build / "host" / "khotool-static"
    p = subprocess.run([str(tool), "export", "--help"], capture_output=True, text=True)
    if "unknown command" in p.stderr:
        raise ScenarioSkip("khotool has no 'export' command yet (dispatch in loader/tools/khotool.cpp)")


def _prepare(ctx, export: bool = True, tk: bool = False) -> None:
    if export:
        _needs_export(ctx)
    bzimage = kho_kernel(ctx)
    initrd = ctx.workdir / "chain-initramfs.cpio.gz"
    ctx.run(["scripts/linux/build-chain-initramfs", "--out", initrd])
    for e in ctx.scenario.entries:
        if e.name == "linux":
            e.linux = bzimage
            e.initrd = [str(initrd)]


def _linux_entry(options: str) -> Entry:
    return Entry("linux", linux="(set by prepare)", title="KHO Linux 7.2",
                 options=f"{LINUX_BASE} {options}".strip())


# --- log helpers ------------------------------------------------------------------

def _boots(lines: list[str]) -> list[list[str]]:
    """Protocol lines split at each "KHOBOOT: start" (one list per boot)."""
    out: list[list[str]] = []
    for line in lines:
        if line.startswith("KHOBOOT: start "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def _field(line: str, key: str) -> str | None:
    m = re.search(rf"\b{key}=(\S+)", line)
    return m.group(1) if m else None


def _ranges(lines: list[str], pattern: str) -> list[tuple[int, int]]:
    rx = re.compile(pattern)
    out = []
    for line in lines:
        m = rx.fullmatch(line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16)))
    return out


def _linux_reserved(lines: list[str]) -> list[tuple[int, int]]:
    """Blocks a KHO consumer reserved: memblock=debug prints
    "__memblock_reserve: [start-end] ... kho_preserved_memory_reserve+..."
    (inclusive end) for each block its radix walk finds
    (kernel/liveupdate/kexec_handover.c kho_mem_retrieve())."""
    rx = re.compile(r"__memblock_reserve: \[(0x[0-9a-f]+)-(0x[0-9a-f]+)\] .*"
                    r"kho_preserved_memory_reserve\+.*")
    out = []
    for line in lines:
        m = rx.fullmatch(line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16) + 1))
    return out


def _export_line(lines) -> str | None:
    found = [l for l in lines if l.startswith("LINUX_INIT: khotool export ok ")]
    return found[0] if found else None


# --- checks of the chain ------------------------------------------------------------

def check_reserved_blocks_protected(lines: list[str]) -> str | None:
    boots = _boots(lines)
    if len(boots) < 2:
        return f"{len(boots)} khoboot start(s), expected 2"
    second = boots[1]
    blocks = _linux_reserved(second)
    if not blocks:
        return "Linux B printed no kho_preserved_memory_reserve reservation (memblock=debug)"
    export = _export_line(boots[0])
    if export is None:
        return "no 'LINUX_INIT: khotool export ok' line"
    want = int(_field(export, "blocks"))
    if len(blocks) != want:
        return f"Linux B reserved {len(blocks)} KHO blocks, khotool export decoded {want}"
    # What khotool export said must be kept covers every block...
    protect = _ranges(boots[0], r"LINUX_INIT: khotool protect (0x[0-9a-f]+)-(0x[0-9a-f]+)")
    miss = uncovered(blocks, protect)
    if miss:
        return f"Linux B reserved 0x{miss[0][0]:x}-0x{miss[0][1]:x}, not in khotool export's protect list"
    # ...and khoboot protected every block.
    reserved = _ranges(second, r"KHOBOOT: reserve range (0x[0-9a-f]+)-(0x[0-9a-f]+)")
    if reserved:
        miss = uncovered(blocks, reserved)
        if miss:
            return (f"Linux B reserved 0x{miss[0][0]:x}-0x{miss[0][1]:x}, which khoboot did not "
                    f"protect ({len(miss)} such blocks)")
        print(f"  linux-kho-chain: {len(blocks)} blocks Linux B reserved lie in khoboot's "
              f"{len(reserved)} 'reserve range' allocations", flush=True)
        return None
    # A loader without per-range lines: its totals must equal the export's
    # protect list exactly (same ranges, same bytes).
    ok = [l for l in second if l.startswith("KHOBOOT: reserve ok ")]
    if not ok:
        return "no 'KHOBOOT: reserve ok' line in the second boot"
    total = sum(e - s for s, e in protect)
    if int(_field(ok[0], "ranges")) != len(protect) or int(_field(ok[0], "bytes")) != total:
        return (f"khoboot reserved {_field(ok[0], 'ranges')} ranges / {_field(ok[0], 'bytes')} bytes, "
                f"khotool export listed {len(protect)} / {total}")
    print(f"  linux-kho-chain: no 'KHOBOOT: reserve range' lines; khoboot's totals equal the "
          f"export's {len(protect)} ranges / {total} bytes, which hold all {len(blocks)} blocks",
          flush=True)
    return None


def check_blocks_ram_and_clear(lines: list[str]) -> str | None:
    """Every block Linux B reserved is System RAM in the e820 map khoboot gave
    it (arch/x86/kernel/e820.c prints it as "BIOS-e820: [mem a-b] System
    RAM", inclusive end) and clear of what khoboot placed for that boot (the
    kernel's init_size, the initrd, the boot data block)."""
    boots = _boots(lines)
    if len(boots) < 2:
        return "no second boot"
    second = boots[1]
    ram = coalesce([(s, e + 1) for s, e in _ranges(
        second, r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]\s+System RAM")])
    if not ram:
        return "Linux B printed no System RAM e820 entry"
    placed = []
    for l in second:
        if l.startswith("KHOBOOT: kernel "):
            placed.append(("kernel", int(_field(l, "load"), 16), int(_field(l, "init_size"), 16)))
        elif l.startswith("KHOBOOT: initrd ") and _field(l, "count") != "0":
            placed.append(("initrd", int(_field(l, "addr"), 16), int(_field(l, "size"))))
        elif l.startswith("KHOBOOT: boot-data "):
            placed.append(("boot-data", int(_field(l, "addr"), 16), int(_field(l, "size"))))
    if len(placed) < 2:
        return "khoboot's placement lines (kernel, boot-data) are missing"
    for s, e in _linux_reserved(second):
        if uncovered([(s, e)], ram):
            return f"reserved block 0x{s:x}-0x{e:x} is not System RAM in Linux B's e820"
        for what, a, n in placed:
            if s < a + n and a < e:
                return f"reserved block 0x{s:x}-0x{e:x} overlaps khoboot's {what} 0x{a:x}+0x{n:x}"
    return None


def check_same_state(lines: list[str]) -> str | None:
    boots = _boots(lines)
    export = _export_line(boots[0]) if boots else None
    if export is None or len(boots) < 2:
        return "no export line or no second boot"
    desc = [l for l in boots[1] if l.startswith("KHOBOOT: kho descriptor source=variable ")]
    found = [l for l in boots[1] if l.startswith("KHOBOOT: kho found ")]
    if not desc or not found:
        return "khoboot did not find the descriptor and the state"
    for key, got, want in (("fdt", _field(desc[0], "fdt"), _field(export, "fdt")),
                           ("blocks", _field(found[0], "blocks"), _field(export, "blocks")),
                           ("metadata", _field(found[0], "metadata"), _field(export, "metadata_pages"))):
        if got != want:
            return f"khoboot saw {key}={got}, khotool export wrote {key}={want}"
    return None


def clear_of_firmware(firmware: str, writes: list[tuple[int, int]]):
    """A check: every range khotool export listed lies outside `writes`,
    what `firmware` rewrites across a warm reset in this VM setup."""
    def check(lines: list[str]) -> str | None:
        protect = _ranges(lines, r"LINUX_INIT: khotool protect (0x[0-9a-f]+)-(0x[0-9a-f]+)")
        if not protect:
            return "no 'LINUX_INIT: khotool protect' lines"
        for s, e in protect:
            for a, b in writes:
                if s < b and a < e:
                    return (f"preserved 0x{s:x}-0x{e:x} lies in 0x{a:x}-0x{b:x}, which {firmware} rewrites "
                            f"across a warm reset: the VM setup no longer keeps the state safe")
        return None
    return check


check_clear_of_firmware = clear_of_firmware("OVMF", FIRMWARE_WRITES)


def report_timings(lines: list[str]) -> None:
    boots = _boots(lines)
    if len(boots) < 2:
        return None
    ph = {}
    for l in boots[1]:
        m = re.fullmatch(r"KHOBOOT: phase (\S+) us=(\d+) .*", l)
        if m:
            ph[m.group(1)] = int(m.group(2)) / 1000
    exp = [l for l in boots[0] if l.startswith("LINUX_INIT: export exit=0 ")]
    parts = [f"{k}={v:.1f}ms" for k, v in ph.items()]
    if exp:
        parts.append(f"export={_field(exp[0], 'ms')}ms")
    print(f"  linux-kho-chain: khoboot on the real state: {' '.join(parts)}", flush=True)
    return None


def check_foreign_counts(lines: list[str]) -> str | None:
    """test_kernel walked the real radix tree with its own decoder: the
    blocks and map pages it counted must equal what khotool export decoded
    in Linux A and what khoboot decoded after the reset (three independent
    decoders of one state). test_kernel's command line is fixed before
    Linux A runs, so the comparison is made here, not in the kernel."""
    boots = _boots(lines)
    export = _export_line(lines)
    found = [l for l in boots[1] if l.startswith("KHOBOOT: kho found ")] if len(boots) > 1 else []
    walked = [l for l in lines if l.startswith("TEST_KERNEL: check map ok ")]
    if export is None or not found or not walked:
        return "missing the export line, khoboot's 'kho found' line or test_kernel's map check"
    tk_blocks, tk_meta = _field(walked[0], "blocks"), _field(walked[0], "metadata-pages")
    for who, blocks, meta in (("khotool export", _field(export, "blocks"), _field(export, "metadata_pages")),
                              ("khoboot", _field(found[0], "blocks"), _field(found[0], "metadata"))):
        if blocks != tk_blocks or meta != tk_meta:
            return (f"test_kernel walked blocks={tk_blocks} metadata-pages={tk_meta}, "
                    f"{who} decoded blocks={blocks} metadata={meta}")
    print(f"  linux-state-into-tk: test_kernel, khoboot and khotool export agree: "
          f"blocks={tk_blocks} map pages={tk_meta}", flush=True)
    return None


CHAIN_ORDER = [
    r"KHOBOOT: kho none",
    r"KHOBOOT: boot entry=linux mode=cold .*",
    r"LINUX_INIT: start role=first hop1=export kho_in=no efi=yes .*",
    r"LINUX_INIT: kho_test preserved .*",
    r"LINUX_INIT: khotool export ok compatible=kho-v4 fdt=0x[0-9a-f]+ .*manifest=full .*",
    r"LINUX_INIT: export ok",
    r"LINUX_INIT: reboot warm .*",
    r"KHOBOOT: start .*",
    r"KHOBOOT: kho descriptor source=variable fdt=0x[0-9a-f]+ scratch=3 flags=0x[0-9a-f]+",
    r"KHOBOOT: kho found compatible=kho-v4 .*",
    r"KHOBOOT: reserve ok .*",
    r"KHOBOOT: kernel .* in=scratch",
    r"KHOBOOT: descriptor consumed",
    r"KHOBOOT: boot entry=linux mode=kho .*",
    r"KHO: found kexec handover data\.",
    r"test_kho: KHO restore succeeded",
    r"LINUX_INIT: start role=consumer .*kho_in=yes .*",
    r"LINUX_INIT: consumer kho_in=yes fdt_magic=ok subtrees=kexec-metadata,kho_test",
    r"LINUX_INIT: done .*",
]

# A state the firmware overwrote across the reset: refused, Linux B cold.
CLOBBERED_ORDER = [
    r"LINUX_INIT: khotool export ok compatible=kho-v4 .*",
    r"LINUX_INIT: reboot warm .*",
    r"KHOBOOT: start .*",
    r"KHOBOOT: kho descriptor source=variable .*",
    r"KHOBOOT: error (kho-stale|kho-conflict|kho-integrity|kho-bad-[a-z]+|kho-out-of-ram) .*",
    r"KHOBOOT: policy cold-boot found=1 usable=0",
    r"KHOBOOT: boot entry=linux mode=cold .*",
    r"LINUX_INIT: start role=consumer .*",
    r"LINUX_INIT: consumer kho_in=no",
    r"LINUX_INIT: done .*",
]


SCENARIOS = [
    Scenario(
        name="linux-kho-chain",
        description="real KHO Linux 7.2 -> khotool export -> warm reset -> OVMF -> khoboot -> "
                    "Linux B: KHO found, test_kho restore succeeded, every block Linux B "
                    "reserved was protected by khoboot",
        entries=[_linux_entry(f"kho=on {KHO_SCRATCH} memblock=debug")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx),
        runs=[Run(memory=MEMORY, timeout=300, expect_exit=0, checks=NO_TROUBLE + [
            InOrder(CHAIN_ORDER),
            Count(r"KHOBOOT: start .*", 2),
            Count(r"KHO: found kexec handover data\.", 1),
            NoLine(r"KHOBOOT: error .*"),
            NoLine(r"test_kho: KHO restore failed"),
            Custom(check_same_state, "khoboot saw the state khotool exported"),
            Custom(check_reserved_blocks_protected, "every block Linux B reserved was protected"),
            Custom(check_blocks_ram_and_clear, "reserved blocks are RAM, clear of the placement"),
            Custom(check_clear_of_firmware, "the state avoids what OVMF rewrites"),
            Custom(report_timings, "timings"),
        ])],
    ),
    Scenario(
        name="linux-kho-3hop",
        description="three real KHO kernels through the firmware: Linux A preserves (test_kho), "
                    "B restores it and exports the state it preserves in its turn (found by its "
                    "sub-FDTs: B shows no kho/out/fdt), C finds that one",
        entries=[_linux_entry(f"kho=on {KHO_SCRATCH} khochain.hops=3")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx),
        runs=[Run(memory=MEMORY, timeout=420, expect_exit=0, checks=NO_TROUBLE + [
            InOrder([r"LINUX_INIT: khotool export ok compatible=kho-v4 .*",
                     r"LINUX_INIT: reboot warm .*",
                     r"KHOBOOT: boot entry=linux mode=kho .*",
                     r"KHO: found kexec handover data\.",
                     r"test_kho: KHO restore succeeded",
                     r"LINUX_INIT: consumer kho_in=yes fdt_magic=ok subtrees=kexec-metadata,kho_test",
                     r"LINUX_INIT: hop 2 of 3: export again",
                     r"LINUX_INIT: khotool root-fdt 0x[0-9a-f]+ found by its 1 sub-FDT\(s\) in RAM .*",
                     r"LINUX_INIT: khotool export ok compatible=kho-v4 .*",
                     r"LINUX_INIT: reboot warm .*",
                     r"KHOBOOT: kho found compatible=kho-v4 .*",
                     r"KHOBOOT: boot entry=linux mode=kho .*",
                     r"KHO: found kexec handover data\.",
                     r"LINUX_INIT: consumer kho_in=yes fdt_magic=ok subtrees=kexec-metadata",
                     r"LINUX_INIT: done .*"]),
            Count(r"KHOBOOT: start .*", 3),
            Count(r"KHO: found kexec handover data\.", 2),
            NoLine(r"KHOBOOT: error .*"),
            Custom(check_clear_of_firmware, "every hop's state avoids what OVMF rewrites"),
        ])],
    ),
    Scenario(
        name="linux-kho-clobbered",
        description="the same chain with -m 1G: Linux A's preserved pages sit in low RAM that "
                    "OVMF rewrites across the reset; khoboot must refuse the state with an "
                    "error and boot Linux B cold, never hand over a corrupted state",
        entries=[_linux_entry("kho=on memblock=debug")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx),
        runs=[Run(memory="1G", timeout=300, expect_exit=0, checks=NO_TROUBLE + [
            InOrder(CLOBBERED_ORDER),
            NoLine(r"KHO: found kexec handover data\."),
            NoLine(r"test_kho: KHO restore .*"),
        ])],
    ),
    Scenario(
        name="linux-export-refused",
        description="Linux without kho=on: khotool export prints one error line naming the "
                    "missing debugfs file, and no descriptor is left (a stale one planted "
                    "before is gone too); the chain stops instead of resetting",
        entries=[_linux_entry("khochain.stale=1")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx),
        runs=[Run(memory=MEMORY, timeout=180, expect_exit=0, checks=[
            InOrder([r"LINUX_INIT: start role=first hop1=export kho_in=no efi=yes .*",
                     r"LINUX_INIT: stale descriptor planted",
                     r"LINUX_INIT: kho_test skipped: no /sys/kernel/debug/kho/out",
                     r"LINUX_INIT: khotool khotool: error io: /sys/kernel/debug/kho/out/fdt: "
                     r"No such file or directory \(kho=on\? debugfs mounted\?\)",
                     r"LINUX_INIT: export exit=1 .*",
                     r"LINUX_INIT: export fail descriptor=absent",
                     r"LINUX_INIT: power-off .*"]),
            Count(r"LINUX_INIT: khotool .*", 1),
            Count(r"KHOBOOT: start .*", 1),
            NoLine(r"LINUX_INIT: reboot warm .*"),
        ])],
    ),
    Scenario(
        name="tk-state-into-linux",
        description="test_kernel produces a kho-v4 state, khoboot hands it to the real KHO "
                    "Linux: the kernel finds it, reserves every block khoboot decoded, boots "
                    "on without a warning",
        entries=[_linux_entry("khochain.hop1=none khochain.next=tk memblock=debug"),
                 Entry("tk", linux=TK, title="test_kernel",
                       options=tk_options("np", format="kho-v4", blocks=48))],
        requires=REQUIRES + [Requirement(TK, "test_kernel/build.mk")], tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, export=False),
        runs=[Run(memory=MEMORY, timeout=300, expect_exit=0, checks=NO_TROUBLE + [
            InOrder([r"LINUX_INIT: start role=first hop1=none .*",
                     r"LINUX_INIT: boot-next entry=tk option=Boot4B48",
                     r"LINUX_INIT: reboot warm .*",
                     r"KHOBOOT: start .*",
                     r"KHOBOOT: entry id=tk .*",
                     r"TEST_KERNEL: produce descriptor ok.*",
                     r"KHOBOOT: start .*",
                     r"KHOBOOT: kho found compatible=kho-v4 .*",
                     r"KHOBOOT: boot entry=linux mode=kho .*",
                     r"KHO: found kexec handover data\.",
                     r"LINUX_INIT: start role=consumer .*kho_in=yes .*",
                     r"LINUX_INIT: consumer kho_in=yes fdt_magic=ok .*",
                     r"LINUX_INIT: done .*"]),
            Count(r"KHOBOOT: start .*", 3),
            NoLine(r"KHOBOOT: error .*"),
            NoLine(r"TEST_KERNEL: check \S+ fail.*"),
            Custom(lambda lines: _tk_blocks_reserved(lines), "Linux reserved every block"),
        ])],
    ),
    Scenario(
        name="linux-state-into-tk",
        description="Linux A's real kho-v4 state consumed by test_kernel in foreign mode "
                    "(tk.foreign=1): the real radix tree walked by test_kernel's own decoder, "
                    "every block RAM in e820 and untouched by the placement, block and map-page "
                    "counts equal to khotool export's and khoboot's",
        entries=[_linux_entry(f"kho=on {KHO_SCRATCH} khochain.next=tk"),
                 Entry("tk", linux=TK, title="test_kernel",
                       options=tk_options("c", compat="kho-v4", foreign=1))],
        requires=REQUIRES + [Requirement(TK, "test_kernel/build.mk")], tags=TAGS,
        prepare=lambda ctx: _prepare(ctx),
        runs=[Run(memory=MEMORY, timeout=300, expect_exit=EXIT_PASS, checks=NO_TROUBLE + [
            InOrder([r"LINUX_INIT: khotool export ok compatible=kho-v4 .*",
                     r"LINUX_INIT: boot-next entry=tk option=Boot4B48",
                     r"LINUX_INIT: reboot warm .*",
                     r"KHOBOOT: start .*",
                     r"KHOBOOT: kho found compatible=kho-v4 .*",
                     r"KHOBOOT: entry id=tk .*",
                     r"KHOBOOT: boot entry=tk mode=kho .*",
                     r"TEST_KERNEL: check setup-data ok .*",
                     r"TEST_KERNEL: check fdt ok .*",
                     r"TEST_KERNEL: check scratch-table ok .*",
                     r"TEST_KERNEL: check placement ok .*",
                     r"TEST_KERNEL: check map ok real map decoded radix walked: .*",
                     r"TEST_KERNEL: check preserved-ram ok .*",
                     r"TEST_KERNEL: info foreign-state checks-run=boot-params,cmdline,descriptor,"
                     r"setup-data,fdt,scratch-table,placement,map,preserved-ram not-run=.*",
                     r"TEST_KERNEL: result pass"]),
            NoLine(r"KHOBOOT: error .*"),
            NoLine(r"TEST_KERNEL: check \S+ fail.*"),
            # A foreign state has no manifest or digests: these must not run.
            NoLine(r"TEST_KERNEL: check (manifest|scratch|contents) .*"),
            Custom(check_foreign_counts, "test_kernel's walk agrees with khotool export and khoboot"),
        ])],
    ),
]


def _tk_blocks_reserved(lines: list[str]) -> str | None:
    boots = _boots(lines)
    if len(boots) < 3:
        return f"{len(boots)} khoboot starts, expected 3"
    found = [l for l in boots[2] if l.startswith("KHOBOOT: kho found ")]
    blocks = _linux_reserved(boots[2])
    if not found:
        return "khoboot found no state in the third boot"
    if len(blocks) != int(_field(found[0], "blocks")):
        return f"Linux reserved {len(blocks)} KHO blocks, khoboot decoded {_field(found[0], 'blocks')}"
    reserved = _ranges(boots[2], r"KHOBOOT: reserve range (0x[0-9a-f]+)-(0x[0-9a-f]+)")
    if reserved:
        miss = uncovered(blocks, reserved)
        if miss:
            return f"Linux reserved 0x{miss[0][0]:x}-0x{miss[0][1]:x}, which khoboot did not protect"
    return None
