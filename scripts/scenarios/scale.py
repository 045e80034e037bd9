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

Guest RAM: QEMU keeps a heap copy of every `-device loader` file for
resets, and synth's blob files span the state with its gaps (38 GiB for
10^6 ranges). These scenarios instead back guest RAM with a sparse file
in tmpfs (`memory-backend-file`, share=on) into which the blobs' data
pages are moved: host memory holds the state's written pages (4 GiB for
10^6 order-0 blocks) and what the guest writes. The guest sees as much
RAM as the state spans (rounded up to 1 GiB, at least 3 GiB).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (OVMF_VARS, Entry, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioError, ScenarioSkip)
from lib import reaper  # noqa: E402
from lib.tk_cmdline import tk_options  # noqa: E402

# The synthetic-state scenarios' requirements and checks, shared.
from scenarios.synth_states import KHO_CHECKS, NO_FAIL, REQUIRES, TK  # noqa: E402

GIB = 1 << 30
SHM = "/dev/shm"
RAM_PREFIX = "bootchain-scale-"
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


def ram_dir(ctx) -> Path:
    """A directory in tmpfs (/dev/shm) owned by the scenario's reaper
    scope, for the state and guest RAM. synth writes only the pages it
    fills, so its files are sparse page by page; on the root file system
    (ext4 mounted with discard) deleting a 10^6-range state's file took
    minutes, one discard per extent. In tmpfs the written pages are RAM
    (4 GiB for 10^6 order-0 blocks) and removal is immediate. A runner
    killed by SIGKILL leaves it behind: `scripts/bench-boot` removes such
    directories at its start (remove_stale_ram())."""
    saved = tempfile.tempdir
    tempfile.tempdir = SHM
    try:
        return reaper.current().mkdtemp(prefix=f"{RAM_PREFIX}{ctx.scenario.name}-")
    finally:
        tempfile.tempdir = saved


def remove_stale_ram() -> list[str]:
    """ram_dir()s whose runner is dead."""
    saved = tempfile.tempdir
    tempfile.tempdir = SHM
    try:
        return reaper.remove_stale(RAM_PREFIX)
    finally:
        tempfile.tempdir = saved


def data_segments(fd: int) -> list[tuple[int, int]]:
    """[start, end) of every data extent of a sparse file (SEEK_DATA)."""
    size, off, out = os.fstat(fd).st_size, 0, []
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:   # only a hole is left
                break
            raise
        off = os.lseek(fd, start, os.SEEK_HOLE)
        out.append((start, off))
    return out


def move_data(src: Path, dst_fd: int, dst_off: int) -> None:
    """Copies the data extents of `src` to `dst_off` on in `dst_fd`, last
    first, cutting `src` short behind each: the pages are never held twice."""
    with open(src, "r+b") as f:
        fd = f.fileno()
        for start, end in reversed(data_segments(fd)):
            for at in range(start, end, 16 << 20):
                n = min(end - at, 16 << 20)
                os.pwrite(dst_fd, os.pread(fd, n, at), dst_off + at)
            os.ftruncate(fd, start)
    src.unlink()


def write_ram_file(ctx, state: dict, out: Path, memory: int) -> Path:
    """A sparse file of `memory` bytes holding the blobs at their guest
    offsets (q35), each blob removed as it is moved in."""
    ram = out.parent / "guest-ram.bin"
    fd = os.open(ram, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(fd, memory)
        for b in state["blobs"]:
            off = ram_offset(b["addr"])
            if off + b["size"] > memory:
                raise ScenarioError(f"blob {b['file']} ends past the guest's RAM")
            move_data(out / b["file"], fd, off)
    finally:
        os.close(fd)
    return ram


def backend_args(ram: Path, memory: int) -> list[str]:
    # share=on: a private mapping of 38 GiB would be charged to the host's
    # commit limit in full (QEMU: "unable to map backing store"); a shared
    # one is the tmpfs file's pages. The guest's own writes go to the file,
    # which is removed with the scenario's directory.
    return ["-object", f"memory-backend-file,id=khoram,size={memory},mem-path={ram},share=on",
            "-machine", "memory-backend=khoram"]


def scale_prepare(ranges: int, seed: int, check_blocks: bool, at_least: int = 3 * GIB):
    """Runs synth, writes the guest RAM file, names the state in every
    entry (kho-fdt, kho-scratch) and sets the run's memory (the state's
    span, at least `at_least`)."""
    def prepare(ctx):
        out = ram_dir(ctx) / "synth"
        proc = ctx.khotool("synth", "--out", str(out), *synth_args(ranges, seed), timeout=3600)
        (ctx.workdir / "synth.txt").write_text(proc.stdout)
        state = json.loads((out / "state.json").read_text())
        ctx.data["synth"] = state
        memory = guest_memory(state, at_least)
        ram = write_ram_file(ctx, state, out, memory)
        for e in ctx.scenario.entries:
            e.keys.update(state["entry_keys"])
        # Every run boots the same state: the entry names it, nothing
        # consumes it, and no guest writes to preserved pages (khoboot
        # protects them, test_kernel only reads them).
        for run in ctx.scenario.runs:
            run.memory = f"{memory // GIB}G"
            run.qemu_args += backend_args(ram, memory)
            run.checks.append(Line(rf"KHOBOOT: kho found compatible=kho-v4 fdt=0x{state['fdt']:x} "
                                   rf"blocks={state['map_blocks']} .* ranges={ranges} .*"))
            if check_blocks:
                run.checks.append(Line(rf"TEST_KERNEL: check map ok .* blocks={state['map_blocks']} "
                                       rf"matched={state['blocks']} missing=0 .*"))
        (ctx.workdir / "scale.txt").write_text(
            f"ranges={ranges} blocks={state['blocks']} map_blocks={state['map_blocks']} "
            f"memory={memory // GIB}G written={state['written_bytes']}\n")
    return prepare


def fresh_variables(ctx, _run_index) -> None:
    """Each boot of a state starts as the first did: test_kernel counts
    its hops in a UEFI variable, so the store is the firmware's own again."""
    shutil.copyfile(OVMF_VARS, ctx.vars_path)


def scale_scenario(name: str, ranges: int, seed: int = 1000, timeout: float = 600,
                   default: bool = False, boots: int = 1) -> Scenario:
    """test_kernel consumes a state of `ranges` ranges and checks every
    block, `boots` times (one QEMU run each)."""
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
        runs=[Run(timeout=timeout, reboot=False, checks=list(checks), before=fresh_variables if i else None)
              for i in range(boots)],
    )


def empty_ram(memory: int):
    """Guest RAM as a state's boot gets it, without the state: the same
    file backend (an anonymous 38 GiB -m is refused by the host's
    overcommit heuristic)."""
    def prepare(ctx):
        ram = ram_dir(ctx) / "guest-ram.bin"
        with open(ram, "wb") as f:
            f.truncate(memory)
        for run in ctx.scenario.runs:
            run.qemu_args += backend_args(ram, memory)
    return prepare


def baseline_scenario(name: str, memory: int) -> Scenario:
    """No state: test_kernel booted cold with `memory` bytes of RAM; its
    final UEFI map is the firmware's own plus khoboot's kernel and boot
    data, the reference for a state's map."""
    return Scenario(
        name=name, description=f"no KHO state, -m {memory // GIB}G: the map a plain boot hands over",
        default=False,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("n"))],
        requires=REQUIRES, prepare=empty_ram(memory),
        runs=[Run(memory=f"{memory // GIB}G", timeout=300, reboot=False,
                  checks=NO_FAIL + [Line(r"KHOBOOT: kho none"), Line(r"KHOBOOT: exit ok .*")])],
    )


# The real KHO Linux as consumer: no initramfs, so it panics at the root
# mount (panic=-1 resets, -no-reboot ends QEMU) after it has reserved
# every preserved range in memblock; its printk timestamps give the time
# (earlyprintk: the console alone showed nothing of a boot under TCG).
LINUX_OPTIONS = "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 kho=on printk.time=1"
LINUX_TAGS = ("KHOBOOT", "KHO", "Kernel panic - not syncing", "WARNING", "BUG")


def linux_kernel(ctx) -> str:
    """The cached KHO kernel; a benchmark never starts its build (minutes,
    or a second build beside one in progress): skipped until it exists."""
    proc = ctx.run(["scripts/build-linux-kho", "--status"])
    words = proc.stdout.split()
    if len(words) < 2 or words[0] != "cached":
        raise ScenarioSkip("the KHO kernel is not built yet: run scripts/build-linux-kho")
    return words[1]


def host_tsc_khz() -> int:
    """Under TCG the guest's TSC is the host's. Linux's early calibration
    against the PIT often fails under TCG, and then every printk before
    time_init() reads 0.000000, the reservation included: the kernel is
    told the rate instead (tsc_early_khz=)."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return round(float(line.split(":")[1]) * 1000)
    raise ScenarioError("no 'cpu MHz' in /proc/cpuinfo for tsc_early_khz=")


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
            e.options += f" tsc_early_khz={host_tsc_khz()}"
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

