"""Scale: synthetic kho-v4 states of 10^2..10^6 separate preserved ranges
booted through khoboot, into test_kernel (which checks every block) or into
the real KHO Linux (the peer figure). `scripts/bench-boot` (`make
bench-boot`) builds its states with `scale_scenario()`; the only scenario
registered here, `synth-1m-scattered`, is not in the default suite.

Layout: `khotool synth --orders 0-0 --cluster 1 --no-edge-blocks`: every
order-0 block is followed by a gap of 1-16 pages, so no two blocks touch
and the state is exactly blocks + 1 ranges (the metadata area, FDT +
manifest + radix pages, is the other one). Blocks alternate between an
arena below 4 GiB and one above it, so a 10^6-range state spans about
38 GiB. synth has no option for a smaller gap or for blocks of orders 0
and 9 only; with orders 0-9 the span per range would be 1.7x larger.

Guest RAM: synth's blob files are dense (zero-filled gaps) and QEMU keeps
a heap copy of every `-device loader` file for resets, so a state of
10^6 ranges would need twice its 38 GiB span in host memory. These
scenarios instead back guest RAM with a file (`memory-backend-file`,
share=off) made from the blobs on disk: the guest reads state pages
through the page cache (reclaimable), its own writes stay private. The
guest sees as much RAM as the state spans (rounded up to 1 GiB, at least
3 GiB).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (Entry, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioError)
from lib.tk_cmdline import tk_options  # noqa: E402

TK = "build/x86_64/test_kernel.bzImage"
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
            Requirement(TK, "test_kernel/build.mk"),
            Requirement("build/host/khotool")]
KHO_CHECKS = ["boot-params", "cmdline", "descriptor", "setup-data", "fdt", "scratch-table", "placement",
              "manifest", "scratch", "map", "preserved-ram", "contents"]
NO_FAIL = [NoLine(r"TEST_KERNEL: check \S+ fail.*"), NoLine(r"TEST_KERNEL: (error|exception) .*"),
           NoLine(r"KHOBOOT: error .*")]

GIB = 1 << 30
# q35 with -m >= 2.75 GiB: RAM [0, 2 GiB) and [4 GiB, 2 GiB + -m).
LOW_RAM = 2 * GIB
HIGH_BASE = 4 * GIB
# Arenas: synth's default low arena (clear of what OVMF writes) and RAM
# above 4 GiB up to 60 GiB (test_kernel identity-maps 64 GiB).
ARENAS = "0x10000000-0x70000000,0x100000000-0xf00000000"
# 256 MiB per scratch region: the real kernel's early allocations (its
# image, memmap for up to ~10 GiB, swiotlb below 4 GiB) must fit in scratch.
SCRATCH = "0x40000000:0x10000000,0x120000000:0x10000000"


def synth_args(ranges: int, seed: int) -> list[str]:
    """khotool synth options for a kho-v4 state of exactly `ranges`
    coalesced ranges (blocks + the metadata area)."""
    if ranges < 2:
        raise ValueError("a state has at least the metadata range and one block")
    return ["--format", "kho-v4", "--blocks", str(ranges - 1), "--orders", "0-0", "--cluster", "1",
            "--no-edge-blocks", "--arena", ARENAS, "--scratch", SCRATCH, "--seed", str(seed)]


def guest_memory(state: dict, at_least: int = 3 * GIB) -> int:
    """The smallest -m (whole GiB, >= `at_least`) whose RAM holds every blob."""
    top = max(b["addr"] + b["size"] for b in state["blobs"])
    need = LOW_RAM + max(0, top - HIGH_BASE)
    return max(at_least, -(-need // GIB) * GIB)


def ram_offset(phys: int) -> int:
    """Offset in the RAM backend file of guest-physical `phys` (q35)."""
    if phys < LOW_RAM:
        return phys
    if phys < HIGH_BASE:
        raise ScenarioError(f"blob at 0x{phys:x} is in the PCI hole")
    return phys - HIGH_BASE + LOW_RAM


def write_ram_file(ctx, state: dict, out: Path, memory: int) -> Path:
    """A file of `memory` bytes holding the blobs at their guest offsets,
    made from the largest blob in place (fallocate --insert-range puts the
    hole below it without copying) and the others copied in, each removed
    once used: the disk holds the state's span once, in few extents (the
    root file system discards on unlink, extent by extent, so a file
    sparse page by page would take minutes to delete)."""
    blobs = sorted(state["blobs"], key=lambda b: b["size"], reverse=True)
    ram = ctx.workdir / "guest-ram.bin"
    (out / blobs[0]["file"]).rename(ram)
    shift = ram_offset(blobs[0]["addr"])
    if shift:
        ctx.run(["fallocate", "--insert-range", "--offset", "0", "--length", str(shift), ram])
    for b in blobs[1:]:
        src = out / b["file"]
        off = ram_offset(b["addr"])
        if off % 4096:
            raise ScenarioError(f"blob {b['file']} not page aligned")
        ctx.run(["dd", f"if={src}", f"of={ram}", "bs=1M", f"seek={off}", "oflag=seek_bytes",
                 "conv=notrunc", "status=none"], timeout=3600)
        src.unlink()
    with open(ram, "r+b") as f:
        f.truncate(memory)
    return ram


def backend_args(ram: Path, memory: int) -> list[str]:
    # share=off: guest writes stay in QEMU's private pages; the file is
    # only read (page cache, reclaimable).
    return ["-object", f"memory-backend-file,id=khoram,size={memory},mem-path={ram},share=off",
            "-machine", "memory-backend=khoram"]


def scale_prepare(ranges: int, seed: int, check_blocks: bool, at_least: int = 3 * GIB):
    """Runs synth, writes the guest RAM file, names the state in every
    entry (kho-fdt, kho-scratch) and sets the run's memory (the state's
    span, at least `at_least`)."""
    def prepare(ctx):
        out = ctx.workdir / "synth"
        proc = ctx.khotool("synth", "--out", str(out), *synth_args(ranges, seed), timeout=3600)
        (ctx.workdir / "synth.txt").write_text(proc.stdout)
        state = json.loads((out / "state.json").read_text())
        ctx.data["synth"] = state
        memory = guest_memory(state, at_least)
        ram = write_ram_file(ctx, state, out, memory)
        run = ctx.scenario.runs[0]
        run.memory = f"{memory // GIB}G"
        run.qemu_args += backend_args(ram, memory)
        for e in ctx.scenario.entries:
            e.keys.update(state["entry_keys"])
        (ctx.workdir / "scale.txt").write_text(
            f"ranges={ranges} blocks={state['blocks']} map_blocks={state['map_blocks']} "
            f"memory={run.memory} written={state['written_bytes']}\n")
        run.checks.append(Line(rf"KHOBOOT: kho found compatible=kho-v4 fdt=0x{state['fdt']:x} "
                               rf"blocks={state['map_blocks']} .* ranges={ranges} .*"))
        if check_blocks:
            run.checks.append(Line(rf"TEST_KERNEL: check map ok .* blocks={state['map_blocks']} "
                                   rf"matched={state['blocks']} missing=0 .*"))
    return prepare


def scale_scenario(name: str, ranges: int, seed: int = 1000, timeout: float = 600,
                   default: bool = False) -> Scenario:
    """test_kernel consumes a state of `ranges` ranges and checks every block."""
    checks = NO_FAIL + [
        Line(r"KHOBOOT: reserve ok .*"),
        Line(r"KHOBOOT: kernel .* in=scratch"),
        InOrder([rf"TEST_KERNEL: check {c} ok .*" for c in KHO_CHECKS] + [r"TEST_KERNEL: result pass"]),
    ]
    return Scenario(
        name=name, description=f"{ranges} separate preserved ranges (order-0 blocks, gaps of 1-16 pages) "
                               f"through khoboot, verified block by block by test_kernel",
        default=default,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("c", compat="kho-v4"))],
        requires=REQUIRES, prepare=scale_prepare(ranges, seed, check_blocks=True),
        runs=[Run(timeout=timeout, reboot=False, checks=checks)],
    )


def baseline_scenario(name: str, memory: int) -> Scenario:
    """No state: test_kernel booted cold with `memory` bytes of RAM; its
    final UEFI map is the firmware's own plus khoboot's kernel and boot
    data, the reference for a state's map."""
    return Scenario(
        name=name, description=f"no KHO state, -m {memory // GIB}G: the map a plain boot hands over",
        default=False,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("n"))],
        requires=REQUIRES,
        runs=[Run(memory=f"{memory // GIB}G", timeout=300, reboot=False,
                  checks=NO_FAIL + [Line(r"KHOBOOT: kho none"), Line(r"KHOBOOT: exit ok .*")])],
    )


# The real KHO Linux as consumer: no initramfs, so it panics at the root
# mount (panic=-1 resets, -no-reboot ends QEMU) after it has reserved
# every preserved range in memblock; its printk timestamps give the time.
LINUX_OPTIONS = "console=ttyS0,115200 panic=-1 kho=on printk.time=1"
LINUX_TAGS = ("KHOBOOT", "KHO", "Kernel panic - not syncing", "WARNING", "BUG")


def linux_kernel(ctx) -> str:
    """The cached KHO kernel (scripts/build-linux-kho prints its path)."""
    proc = ctx.run(["scripts/build-linux-kho"], timeout=3 * 3600)
    return proc.stdout.strip().splitlines()[-1]


def peer_scenario(name: str, ranges: int, seed: int = 2000, timeout: float = 900,
                  at_least: int = 3 * GIB) -> Scenario:
    """The real KHO Linux 7.2 consumes a synthetic state of `ranges` ranges
    (guest RAM at least `at_least`, so that a small state can be booted
    with the RAM of a large one: the baseline of the same boot)."""
    inner = scale_prepare(ranges, seed, check_blocks=False, at_least=at_least)

    def prepare(ctx):
        kernel = linux_kernel(ctx)
        for e in ctx.scenario.entries:
            e.linux = kernel
        inner(ctx)
    return Scenario(
        name=name, description=f"the real KHO Linux reserves {ranges} synthetic preserved ranges",
        default=False, tags=LINUX_TAGS,
        entries=[Entry("linux", linux="(set by prepare)", title="KHO Linux 7.2", options=LINUX_OPTIONS)],
        requires=[Requirement("build/x86_64/khoboot.efi", "efi/build.mk"), Requirement("build/host/khotool")],
        prepare=prepare,
        runs=[Run(timeout=timeout, reboot=False, expect_exit=None, stop_on=[r"KHOBOOT: halt .*"],
                  checks=[NoLine(r"KHOBOOT: error .*"), NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"),
                          Line(r"KHOBOOT: boot entry=linux mode=kho .*"),
                          Line(r"KHO: found kexec handover data\.")])],
    )


SCENARIOS = [
    # Slow under TCG (a 38 GiB state span, 4 GiB of pattern checked):
    # run by name, never in the default suite.
    scale_scenario("synth-1m-scattered", 1_000_000, seed=1006, timeout=3600),
]

