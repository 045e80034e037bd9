"""arm64: khoboot on QEMU virt (Cortex-A57, TCG) with AAVMF, handing a KHO
state to Debian bookworm's stock arm64 kernel through the device tree's
/chosen (loader/arm64_handover.h).

The kernel is bookworm's linux-image-*-arm64 (6.1, no KHO), fetched with
apt against a private arm64 list (scripts/fetch-debian-kernel-arm64). It
keeps /chosen properties it does not know, so its /proc/device-tree shows
linux,kho-fdt and linux,kho-scratch as khoboot wrote them; the probe init
(scripts/arm64/probe-init.c, a static arm64 binary) prints their bytes,
the root's cell sizes, and /proc/iomem. The state is the synthetic kho-v4
of stock_linux.py (its own encoder, independent of the loader) placed in
arm64 RAM with QEMU's loader device, named by the entry's static keys.
"""
from __future__ import annotations

import gzip
import importlib.machinery
import json
import re
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib.bootchain import (Blob, Count, Custom, Entry, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioError, ScenarioSkip)
from lib import kho_abi, ovmf_vars  # noqa: E402
import stock_linux  # noqa: E402

PAGE = 4096
RAM = (0x40000000, 0xC0000000)        # virt, -m 2G
STATE_BASE = 0x60000000
RESERVE_MEM = ("probe", 0x62000000, 0x100000)
BLOCKS = [(0x61000000, 0), (0x61200000, 9), (RESERVE_MEM[1], 8)]
SCRATCH = (0x80000000, 0x10000000)    # 256 MiB, 2 MiB aligned
SMALL_SCRATCH = (0x80000000, 0x4000000)  # 64 MiB: less than the stub's footprint
# A page AAVMF keeps for itself with -m 2G (outside every System RAM range
# the kernel reports: its runtime and reserved regions at the top of RAM).
FIRMWARE_PAGE = 0xBFC00000
TAGS = ("KHOBOOT", "PROBE")
REQUIRES = [Requirement("build/aarch64/khoboot.efi", "efi/aarch64/build.mk")]


def _field(line: str, key: str):
    m = re.search(rf"\b{key}=(\S+)", line)
    return m.group(1) if m else None


def state(blocks=None):
    return stock_linux.synth_state(blocks or BLOCKS, base=STATE_BASE, reserve_mem=RESERVE_MEM)


# --- checks -------------------------------------------------------------------

def _cells(value: int, n: int) -> str:
    """`value` as n big-endian 32-bit cells, hex, as /proc/device-tree shows it."""
    return "".join(f"{(value >> (32 * (n - 1 - i))) & 0xffffffff:08x}" for i in range(n))


def check_chosen_matches(lines):
    logged = [l for l in lines if l.startswith("KHOBOOT: handover chosen ")]
    if len(logged) != 1:
        return f"{len(logged)} 'KHOBOOT: handover chosen' lines, expected 1"
    root = [l for l in lines if l.startswith("PROBE: root-cells ")]
    if not root:
        return "no PROBE: root-cells line"
    ac, sc = int(_field(root[0], "address")), int(_field(root[0], "size"))
    if _field(logged[0], "cells") != f"{ac}/{sc}":
        return f"khoboot wrote cells {_field(logged[0], 'cells')}, the kernel's root has {ac}/{sc}"
    for name in ("kho-fdt", "kho-scratch"):
        addr, size = (int(x, 16) for x in _field(logged[0], name).split("+"))
        want = _cells(addr, ac) + _cells(size, sc)
        got = [l for l in lines if l.startswith(f"PROBE: chosen linux,{name} ")]
        if not got:
            return f"no PROBE line for linux,{name}"
        if _field(got[0], "bytes") != want:
            return f"/chosen/linux,{name} is {got[0].split()[-1]}, khoboot logged {want}"
    return None


def check_protected_is_ram(lines):
    ram = []
    for l in lines:
        if l.startswith("PROBE: iomem-ram "):
            s, e = (int(x, 16) for x in l.split()[-1].split("-"))
            ram.append((s, e + 1))
    if not ram:
        return "no System RAM in /proc/iomem"
    for s, e in state()[1]:
        if not any(a <= s and e <= b for a, b in ram):
            return f"protected 0x{s:x}-0x{e:x} is not System RAM to the kernel"
    return None


def check_kernel_in_scratch(lines):
    code = [l for l in lines if l.startswith("PROBE: kernel-code ")]
    if not code:
        return "no kernel-code line"
    s, e = (int(x, 16) for x in code[0].split()[-1].split("-"))
    lo, size = SCRATCH
    if not (lo <= s and e < lo + size):
        return f"kernel code 0x{s:x}-0x{e:x} is outside scratch 0x{lo:x}-0x{lo + size:x}"
    return None


# --- preparation ---------------------------------------------------------------

def _probe_initramfs(ctx, efivars=None) -> Path:
    """The probe init as /init; with `efivars` ({name: attributes + data}),
    the variables its first boot writes before a warm reset, the efivarfs
    module, and a marker variable that tells the second boot apart."""
    init = ctx.workdir / "probe-init"
    ctx.run(["aarch64-linux-gnu-gcc", "-static", "-O2", "-o", init, "scripts/arm64/probe-init.c"])
    builder = importlib.machinery.SourceFileLoader(
        "initramfs_probe", str(ctx.root / "scripts" / "build-initramfs-probe")).load_module()
    c = builder.Cpio()
    for d in ("dev", "proc", "sys"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.file("init", init.read_bytes(), 0o755)
    if efivars:
        modules = sorted(Path(ctx.data["image"]).parent.parent.glob(
            "lib/modules/*/kernel/fs/efivarfs/efivarfs.ko"))
        if not modules:
            raise ScenarioError("no efivarfs.ko next to the arm64 kernel")
        for d in ("lib", "lib/modules", "efivar"):
            c.dir(d)
        c.file("lib/modules/efivarfs.ko", modules[0].read_bytes())
        for name, data in efivars.items():
            c.file(f"efivar/{name}", data)
        c.file("efivar-marker", f"KhobootProbeHop-{kho_abi.VENDOR_GUID}\n".encode())
        c.file("efivar-marker-data", NV_BS_RT + b"1")
    out = ctx.workdir / "probe-arm64.cpio.gz"
    out.write_bytes(gzip.compress(c.finish(), mtime=0))
    return out


def _prepare(ctx, with_state=True, blocks=None, efivars=None):
    try:
        image = ctx.run(["scripts/fetch-debian-kernel-arm64"]).stdout.strip().splitlines()[-1]
    except ScenarioError as e:
        raise ScenarioSkip(f"Debian arm64 kernel not available: {e}")
    ctx.data["image"] = image
    initrd = _probe_initramfs(ctx, efivars)
    for e in ctx.scenario.entries:
        e.linux = image
        e.initrd = [str(initrd)]
    if with_state:
        path = ctx.workdir / "kho-state.bin"
        path.write_bytes(state(blocks)[0])
        for run in ctx.scenario.runs:
            run.blobs.append(Blob(str(path), STATE_BASE))


def _prepare_synth(args, memory_arena):
    """A khotool synth state in arm64 RAM, named by synth's entry keys;
    khoboot must decode exactly the blocks synth encoded."""
    def prepare(ctx):
        _prepare(ctx, with_state=False)
        out = ctx.workdir / "synth"
        ctx.khotool("synth", "--out", str(out), "--scratch", f"{SCRATCH[0]:#x}:{SCRATCH[1]:#x}",
                    "--arena", memory_arena, *args)
        st = json.loads((out / "state.json").read_text())
        run = ctx.scenario.runs[0]
        run.blobs += [Blob(str(out / b["file"]), b["addr"]) for b in st["blobs"]]
        for e in ctx.scenario.entries:
            e.keys.update(st["entry_keys"])
        compat = st["format"].replace("kho-v1-512", "kho-v1")
        run.checks.append(Line(rf"KHOBOOT: kho found compatible={compat} fdt=0x{st['fdt']:x} "
                               rf"blocks={st['map_blocks']} .*"))
    return prepare


# Clear of what AAVMF writes at -m 2G / -m 4G (docs/firmware-facts.md 9.1)
# and of scratch.
ARENA_2G = "0x48000000-0x7f000000"
ARENA_4G = "0x48000000-0x7f000000,0xa0000000-0x130000000"
SYNTH_CHECKS = [
    Line(r"KHOBOOT: reserve ok ranges=\d+ bytes=\d+ preserved=\d+"),
    Line(r"KHOBOOT: kernel .* in=scratch"),
    Custom(check_chosen_matches, "/chosen equals what khoboot logged"),
    Custom(check_kernel_in_scratch, "kernel code inside scratch"),
]


def _synth(name, description, args, memory="2G", arena=ARENA_2G, timeout=240):
    run = _run(list(SYNTH_CHECKS))
    run.memory, run.timeout = memory, timeout
    return Scenario(name=name, description=description, loader="build/aarch64/khoboot.efi",
                    entries=[_entry("console=ttyAMA0 panic=-1", scratch=None)],
                    requires=REQUIRES + [Requirement("build/host/khotool", "Makefile")], tags=TAGS,
                    prepare=_prepare_synth(args, arena), runs=[run])


NV_BS_RT = (7).to_bytes(4, "little")  # efivarfs: attributes, then the data


def _descriptor() -> bytes:
    blob = state()[0]
    return kho_abi.pack_descriptor(STATE_BASE, [SCRATCH], kho_abi.FLAG_FDT_CRC, zlib.crc32(blob[:PAGE]))


def _stale_descriptor(ctx, run_index):
    """A descriptor naming a state whose RAM was never written (a cold
    power cycle's outcome): the FDT page CRC cannot match. Debian's
    AAVMF_VARS.fd is blank until AAVMF formats it at its first boot, so the
    variable goes in before the second run."""
    if run_index == 1:
        return
    blob = state()[0]
    desc = kho_abi.pack_descriptor(STATE_BASE, [SCRATCH], kho_abi.FLAG_FDT_CRC, zlib.crc32(blob[:PAGE]))
    ovmf_vars.add_variable(ctx.vars_path, kho_abi.DESCRIPTOR_VARIABLE, kho_abi.VENDOR_GUID, desc)


def _entry(options: str, scratch=SCRATCH, **keys) -> Entry:
    keys = {k.replace("_", "-"): v for k, v in keys.items()}
    if scratch:
        keys.setdefault("kho-fdt", hex(STATE_BASE))
        keys.setdefault("kho-scratch", f"{scratch[0]:#x}:{scratch[1]:#x}")
    return Entry("debian", linux="(set by prepare)", options=options, keys=keys)


def _run(checks, before=None, reboot=False):
    return Run(memory="2G", timeout=240, reboot=reboot, expect_exit=0, firmware="aavmf",
               before=before, checks=COMMON + checks)


def per_hop(check):
    """Applies `check` to each boot of a run (split at khoboot's start line)."""
    def each(lines):
        hops, cur = [], None
        for l in lines:
            if l.startswith("KHOBOOT: start "):
                cur = []
                hops.append(cur)
            if cur is not None:
                cur.append(l)
        for i, hop in enumerate(hops, 1):
            why = check(hop)
            if why:
                return f"boot {i}: {why}"
        return None
    return each


COMMON = [
    Line(r"KHOBOOT: start version=\S+ tsc=\d+ tsc_khz=\d+ clock=cntfrq"),
    InOrder([r"KHOBOOT: phase config us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: phase place us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: phase load us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: phase boot-params us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: jump entry=0x[0-9a-f]+ boot_params=0x[0-9a-f]+ us=\d+ tsc=\d+ fences=\d+",
             r"PROBE: start kernel=\S+-arm64",
             r"PROBE: done"]),
]
COLD = [
    Line(r"KHOBOOT: handover none"),
    NoLine(r"KHOBOOT: cmdline .*\bkho=on\b.*"),
    Line(r"PROBE: chosen linux,kho-fdt absent"),
    Line(r"PROBE: chosen linux,kho-scratch absent"),
]

SCENARIOS = [
    Scenario(
        name="arm64-stock-kho",
        description="arm64 (virt + AAVMF): Debian's stock arm64 kernel with a synthetic kho-v4 "
                    "state: /proc/device-tree/chosen/linux,kho-fdt and linux,kho-scratch hold "
                    "exactly what khoboot logged, in the root's cells; protected ranges are "
                    "System RAM; the kernel runs inside scratch",
        loader="build/aarch64/khoboot.efi",
        entries=[_entry("console=ttyAMA0 panic=-1")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx),
        runs=[_run([
            Line(r"KHOBOOT: kho found compatible=kho-v4 .*blocks=3 .*"),
            Line(r"KHOBOOT: reserve ok ranges=\d+ bytes=\d+ preserved=\d+"),
            Line(r"KHOBOOT: kernel .* in=scratch"),
            Line(r"KHOBOOT: cmdline .*\bkho=on\b.*\breserve_mem=1M:4096:probe\b.*"),
            Line(r"KHOBOOT: handover chosen dtb=0x[0-9a-f]+ source=firmware cells=2/2 .*"),
            Custom(check_chosen_matches, "/chosen equals what khoboot logged"),
            Custom(check_protected_is_ram, "protected ranges are System RAM"),
            Custom(check_kernel_in_scratch, "kernel code inside scratch"),
        ])],
    ),
    _synth("arm64-synth-kho-v4", "arm64: khotool synth's 2000 blocks of orders 0-10 (kho-v4) decoded "
           "exactly, handed over through /chosen", ["--format", "kho-v4"]),
    _synth("arm64-synth-kho-v1", "arm64: the same layout as kho-v1 with PAGE_SIZE bitmaps (6.17.9+)",
           ["--format", "kho-v1"]),
    _synth("arm64-synth-kho-v1-512", "arm64: kho-v1 with 512-byte bitmaps (6.16-6.17.8)",
           ["--format", "kho-v1-512"]),
    _synth("arm64-synth-100k-blocks", "arm64: 100000 preserved blocks (orders 0-4, -m 4G) decoded, "
           "protected and handed over",
           ["--format", "kho-v4", "--blocks", "100000", "--orders", "0-4", "--full-order", "0",
            "--cluster", "0", "--by-order", "--seed", "100"], memory="4G", arena=ARENA_4G),
    Scenario(
        name="arm64-cold-boot",
        description="arm64: no descriptor, no entry keys: khoboot boots the stock kernel cold, "
                    "/chosen has no linux,kho-* property",
        loader="build/aarch64/khoboot.efi",
        entries=[_entry("console=ttyAMA0 panic=-1", scratch=None)],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, with_state=False),
        runs=[_run([Line(r"KHOBOOT: kho none"), Line(r"KHOBOOT: policy cold-boot found=0 usable=0")] + COLD)],
    ),
    Scenario(
        name="arm64-stale-descriptor",
        description="arm64: a descriptor naming RAM that no longer holds its state: kho-stale, "
                    "consumed, cold boot without /chosen/linux,kho-*",
        loader="build/aarch64/khoboot.efi",
        entries=[_entry("console=ttyAMA0 panic=-1", scratch=None)],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, with_state=False),
        runs=[_run([Line(r"KHOBOOT: kho none")] + COLD, before=_stale_descriptor), _run([
            Line(r"KHOBOOT: kho descriptor source=variable fdt=0x60000000 scratch=1 flags=0x2"),
            Line(r"KHOBOOT: error kho-stale .*"),
            Line(r"KHOBOOT: policy cold-boot found=1 usable=0"),
            Line(r"KHOBOOT: descriptor consumed"),
        ] + COLD, before=_stale_descriptor)],
    ),
    Scenario(
        name="arm64-firmware-conflict",
        description="arm64: a preserved page AAVMF owns: kho-conflict names the range and its "
                    "owner, kho-on-error cold-boot boots without a handover",
        loader="build/aarch64/khoboot.efi",
        entries=[_entry("console=ttyAMA0 panic=-1", kho_on_error="cold-boot")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, blocks=BLOCKS + [(FIRMWARE_PAGE, 0)]),
        runs=[_run([
            Line(rf"KHOBOOT: error kho-conflict 0x{FIRMWARE_PAGE:x}-0x{FIRMWARE_PAGE + PAGE:x} owner=\S+.*"),
            Line(r"KHOBOOT: policy cold-boot found=1 usable=0"),
        ] + COLD)],
    ),
    Scenario(
        name="arm64-warm-reset-variable",
        description="arm64: boot 1 hands the state (static keys) to the stock kernel, whose "
                    "init writes the KhoHandover descriptor through efivarfs and resets warm "
                    "(PSCI SYSTEM_RESET); AAVMF runs again, boot 2 finds the descriptor before "
                    "anything is allocated, hands the same state over and consumes it (QEMU's "
                    "loader device writes the state blob again at the reset: RAM retention is "
                    "what scripts/measure-aavmf-ram measures)",
        loader="build/aarch64/khoboot.efi",
        entries=[_entry("console=ttyAMA0 panic=-1")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, efivars={
            f"{kho_abi.DESCRIPTOR_VARIABLE}-{kho_abi.VENDOR_GUID}": NV_BS_RT + _descriptor()}),
        runs=[_run([
            InOrder([r"KHOBOOT: kho descriptor source=entry fdt=0x60000000 scratch=1 flags=0x0",
                     r"KHOBOOT: handover chosen .*",
                     rf"PROBE: efivar-written {kho_abi.DESCRIPTOR_VARIABLE}-.*",
                     r"PROBE: efivar-written KhobootProbeHop-.*",
                     r"KHOBOOT: start .*",
                     r"KHOBOOT: kho descriptor source=variable fdt=0x60000000 scratch=1 flags=0x2",
                     r"KHOBOOT: kho found compatible=kho-v4 .*blocks=3 .*",
                     r"KHOBOOT: handover chosen .*",
                     r"KHOBOOT: descriptor consumed",
                     r"PROBE: chosen linux,kho-fdt bytes=.*"]),
            Count(r"KHOBOOT: handover chosen .*", 2),
            Count(r"PROBE: start kernel=.*", 2),
            Custom(per_hop(check_chosen_matches), "/chosen equals what khoboot logged, both boots"),
            Custom(per_hop(check_kernel_in_scratch), "kernel code inside scratch, both boots"),
        ], reboot=True)],
    ),
    Scenario(
        name="arm64-small-scratch",
        description="arm64: 64 MiB scratch, less than the kernel, its copies and the stub's "
                    "device tree need: the error says so, the state stays protected, the "
                    "cold-boot policy boots without a handover",
        loader="build/aarch64/khoboot.efi",
        entries=[_entry("console=ttyAMA0 panic=-1", scratch=SMALL_SCRATCH)],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx),
        runs=[_run([
            Line(r"KHOBOOT: kho found compatible=kho-v4 .*"),
            Line(r"KHOBOOT: error no-space .*"),
            Line(r"KHOBOOT: policy cold-boot found=1 usable=0"),
        ] + COLD)],
    ),
]
