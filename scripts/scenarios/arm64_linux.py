"""The real KHO chain on arm64 (issue 13): a KHO-enabled arm64 Linux 7.2,
cross-built from the same linux-source as the x86-64 one
(scripts/build-linux-kho --arch arm64, scripts/linux/kho-arm64.config),
hands its live state to khoboot across a warm reset of QEMU virt + AAVMF,
and the next kernel, started through its EFI stub with the state in
/chosen/linux,kho-fdt and linux,kho-scratch, must find it intact.

The chain, in one QEMU run (RAM and variables survive the reset):
AAVMF -> khoboot (no descriptor: cold boot) -> Linux A (kho=on, test_kho),
whose initramfs (scripts/linux/chain-init.c and khotool, both cross-built
static for arm64 by scripts/linux/build.mk) runs `khotool export`
(KhoHandover + KhoManifest) and resets warm (reboot=warm: EFI
ResetSystem(EfiResetWarm), which AAVMF turns into PSCI SYSTEM_RESET) ->
AAVMF -> khoboot finds, checks, verifies and protects the state, loads
Linux B into scratch -> Linux B: "KHO: found kexec handover data." and
"test_kho: KHO restore succeeded"; every block it reserves (memblock=debug)
is one khoboot protected.

Where the state lands: Linux's page allocator serves the lowest free pages
of the highest zone first. The kernel has DMA zones below 4 GiB
(kho-arm64.config), so with -m 4G test_kho's folios and KHO's own pages
start just above 4 GiB, clear of the bottom of RAM (QEMU's DTB for the
firmware, AAVMF's early memory) and of the top (AAVMF's runtime and boot
memory), which are written again at every reset (docs/firmware-facts.md
9.2). check_clear_of_firmware fails if that stops being true, and
khoboot's full verification (kho-verify=full) refuses a state the firmware
touched, as arm64-linux-kho-clobbered shows.

  arm64-linux-kho-chain  Linux A -> khoboot -> Linux B, the checks above
  arm64-linux-3hop       Linux A -> B -> C: B, itself booted with A's state,
                         exports the state it preserves in its turn
                         (khochain.hops=3; khotool export finds its root FDT
                         by its sub-FDTs, loader/tools/root_fdt_scan.h) and
                         C finds it
  arm64-linux-kho-clobbered  (not default: depends on where Linux A's
                         pages fall) the same chain with -m 2G: all RAM is below
                         4 GiB, Linux A's preserved pages start at the bottom
                         of RAM, which QEMU (its DTB for the firmware) and
                         AAVMF write again at the reset; khoboot must refuse
                         the state and boot Linux B cold

The consumer that checks preserved bytes (arm64-synth-verify): khotool
synth's kho-v4 state (2000 blocks, orders 0-10, each filled with its
address-dependent pattern) placed in RAM by QEMU's loader device, handed by
khoboot to the same KHO kernel, whose /init (scripts/arm64/ram-verify.c)
reads every data block through /dev/mem and compares its CRC-32 with the
one computed here from the RAM images QEMU loaded. arm64-synth-verify-bad
flips one byte of one block in the image QEMU loads (khoboot's default
verification reads metadata only, so the state is handed over): the
consumer must name that block.
"""
from __future__ import annotations

import json
import re
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib import newc  # noqa: E402
from lib.bootchain import (Blob, Count, Custom, Entry, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario)
from lib.kho_kernel import kho_kernel  # noqa: E402
from lib.ranges import coalesce, uncovered  # noqa: E402
import arm64  # noqa: E402
import linux_kho  # noqa: E402

TAGS = ("KHOBOOT", "LINUX_INIT", "KHO", "test_kho", "__memblock_reserve", "efi", "WARNING", "BUG",
        "Kernel panic - not syncing")
A64_TOOLS = "build/aarch64-linux"
REQUIRES = [Requirement("build/aarch64/khoboot.efi", "efi/aarch64/build.mk"),
            Requirement(f"{A64_TOOLS}/khotool-static", "scripts/linux/build.mk"),
            Requirement(f"{A64_TOOLS}/linux-chain-init", "scripts/linux/build.mk")]
MEMORY = "4G"   # RAM 0x40000000-0x140000000 on virt
KHO_SCRATCH = "kho_scratch=64M,256M,64M"
# efi=debug: the kernel prints the UEFI memory map it got (what khoboot's
# protection looks like to it); memblock=debug: each KHO block it reserves.
LINUX_BASE = f"console=ttyAMA0 panic=-1 reboot=warm kho=on {KHO_SCRATCH} memblock=debug efi=debug"
# What QEMU and AAVMF write at a reset, -m 4G (scripts/measure-ovmf-ram --arch arm64,
# docs/firmware-facts.md 9.2), rounded out: QEMU's DTB at the base of RAM,
# AAVMF's early memory, and the top 256 MiB (its runtime and boot memory).
FIRMWARE_WRITES = [(0x40000000, 0x40200000), (0x44000000, 0x48000000), (0x130000000, 0x140000000)]

NO_TROUBLE = [NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"), NoLine(r"Kernel panic - not syncing: .*"),
              NoLine(r"LINUX_INIT: fail .*"), NoLine(r"KHOBOOT: error .*")]


def _prepare(ctx) -> None:
    image = kho_kernel(ctx, "arm64")
    initrd = ctx.workdir / "chain-initramfs-arm64.cpio.gz"
    ctx.run(["scripts/linux/build-chain-initramfs", "--init", f"{A64_TOOLS}/linux-chain-init",
             "--khotool", f"{A64_TOOLS}/khotool-static", "--out", initrd])
    for e in ctx.scenario.entries:
        e.linux, e.initrd = image, [str(initrd)]


def _entry(options: str = "") -> Entry:
    # kho-verify=full: khoboot checks every exported range against
    # khotool export's manifest, so a page AAVMF rewrote is an error, not a
    # silently corrupted handover.
    return Entry("linux", linux="(set by prepare)", title="KHO Linux 7.2 (arm64)",
                 options=f"{LINUX_BASE} {options}".strip(), keys={"kho-verify": "full"})


check_clear_of_firmware = linux_kho.clear_of_firmware("AAVMF", FIRMWARE_WRITES)


def _efi_map(lines: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) of each descriptor the kernel printed with
    efi=debug (drivers/firmware/efi/efi-init.c reserve_regions():
    "  0xSTART-0xLAST [Type name|attributes]", inclusive last byte)."""
    out = []
    for line in lines:
        m = re.fullmatch(r"efi:\s+0x([0-9a-f]+)-0x([0-9a-f]+) \[([A-Za-z][A-Za-z ]*?)\s*\|.*", line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16) + 1, m.group(3)))
    return out


def check_blocks_protected(lines: list[str]) -> str | None:
    """Every block Linux B reserved (memblock=debug) is one khotool export
    listed in Linux A, and lies in EfiLoaderData of the UEFI memory map
    Linux B received: khoboot's protection, as the kernel saw it (khoboot
    has no per-range lines on arm64, where it writes no UART itself)."""
    boots = linux_kho._boots(lines)
    if len(boots) < 2:
        return f"{len(boots)} khoboot start(s), expected 2"
    blocks = linux_kho._linux_reserved(boots[1])
    export = linux_kho._export_line(boots[0])
    if not blocks or export is None:
        return "no KHO reservation in Linux B (memblock=debug) or no export line in Linux A"
    if len(blocks) != int(linux_kho._field(export, "blocks")):
        return f"Linux B reserved {len(blocks)} KHO blocks, khotool export decoded {linux_kho._field(export, 'blocks')}"
    protect = linux_kho._ranges(boots[0], r"LINUX_INIT: khotool protect (0x[0-9a-f]+)-(0x[0-9a-f]+)")
    miss = uncovered(blocks, protect)
    if miss:
        return f"Linux B reserved 0x{miss[0][0]:x}-0x{miss[0][1]:x}, not in khotool export's protect list"
    loader_data = coalesce([(s, e) for s, e, t in _efi_map(boots[1]) if t == "Loader Data"])
    if not loader_data:
        return "Linux B printed no EFI memory map (efi=debug)"
    miss = uncovered(blocks, loader_data)
    if miss:
        return f"Linux B reserved 0x{miss[0][0]:x}-0x{miss[0][1]:x}, not EfiLoaderData in the map it received"
    print(f"  arm64-linux-kho-chain: the {len(blocks)} blocks Linux B reserved are in khotool export's "
          f"list and in EfiLoaderData of its UEFI map", flush=True)
    return None


def handed_over(subtrees: str) -> list[str]:
    """From Linux's export to the next kernel's init: khoboot takes the
    exported state after the warm reset and that kernel finds it."""
    return [r"LINUX_INIT: khotool export ok compatible=kho-v4 fdt=0x[0-9a-f]+ .*manifest=full .*",
            r"LINUX_INIT: reboot warm .*",
            r"KHOBOOT: start .*",
            r"KHOBOOT: kho descriptor source=variable fdt=0x[0-9a-f]+ scratch=\d+ flags=0x[0-9a-f]+",
            r"KHOBOOT: kho found compatible=kho-v4 .*",
            r"KHOBOOT: reserve ok .*",
            r"KHOBOOT: kernel .* in=scratch",
            r"KHOBOOT: handover chosen .*",
            r"KHOBOOT: descriptor consumed",
            r"KHOBOOT: boot entry=linux mode=kho .*",
            r"KHO: found kexec handover data\.",
            r"LINUX_INIT: start role=consumer .*kho_in=yes .*",
            rf"LINUX_INIT: consumer kho_in=yes fdt_magic=ok subtrees={subtrees}"]


FIRST_HOP = [r"KHOBOOT: kho none",
             r"KHOBOOT: boot entry=linux mode=cold .*",
             r"LINUX_INIT: start role=first hop1=export kho_in=no efi=yes .*",
             r"LINUX_INIT: kho_test preserved .*"]
# A kernel that was handed a state exports its own: khotool finds the root
# FDT by its sub-FDTs, the kernel shows no kho/out/fdt.
MIDDLE_HOP = [r"LINUX_INIT: hop 2 of 3: export again",
              r"LINUX_INIT: khotool root-fdt 0x[0-9a-f]+ found by its 1 sub-FDT\(s\) in RAM .*"]
# Every handover is checked in full against khotool export's manifest.
VERIFIED = r"KHOBOOT: verify level=full entries=[1-9]\d* bytes=[1-9]\d* us=\d+"

SCENARIOS = [
    Scenario(
        name="arm64-linux-kho-chain",
        description="arm64: real KHO Linux 7.2 -> khotool export -> warm reset (PSCI) -> AAVMF -> "
                    "khoboot (kho-verify=full) -> Linux B through /chosen: KHO found, test_kho "
                    "restore succeeded, every block Linux B reserved was protected by khoboot",
        loader="build/aarch64/khoboot.efi",
        entries=[_entry()], requires=REQUIRES, tags=TAGS, prepare=_prepare,
        runs=[Run(memory=MEMORY, firmware="aavmf", timeout=420, expect_exit=0, checks=NO_TROUBLE + [
            InOrder(FIRST_HOP + handed_over(r"\S*kho_test\S*") + [r"LINUX_INIT: done .*"]),
            InOrder([r"KHO: found kexec handover data\.", r"test_kho: KHO restore succeeded",
                     r"LINUX_INIT: start role=consumer .*"]),
            Count(r"KHOBOOT: start .*", 2),
            Count(VERIFIED, 1),
            Count(r"KHO: found kexec handover data\.", 1),
            NoLine(r"test_kho: KHO restore failed"),
            Custom(linux_kho.check_same_state, "khoboot saw the state khotool exported"),
            Custom(check_blocks_protected, "every block Linux B reserved was protected"),
            Custom(check_clear_of_firmware, "the state avoids what AAVMF rewrites"),
        ])],
    ),
    Scenario(
        name="arm64-linux-3hop",
        description="arm64: three real KHO kernels through the firmware: Linux A preserves "
                    "(test_kho), B restores it and exports the state it preserves in its turn "
                    "(found by its sub-FDTs: B shows no kho/out/fdt), C finds that one; two warm "
                    "resets, khoboot verifies and hands over both",
        loader="build/aarch64/khoboot.efi",
        entries=[_entry("khochain.hops=3")], requires=REQUIRES, tags=TAGS, prepare=_prepare,
        runs=[Run(memory=MEMORY, firmware="aavmf", timeout=600, expect_exit=0, checks=NO_TROUBLE + [
            InOrder(FIRST_HOP + handed_over(r"\S*kho_test\S*") + MIDDLE_HOP
                    + handed_over("kexec-metadata") + [r"LINUX_INIT: done .*"]),
            Count(r"KHOBOOT: start .*", 3),
            Count(VERIFIED, 2),
            Count(r"KHO: found kexec handover data\.", 2),
            Count(r"test_kho: KHO restore succeeded", 1),
            Custom(check_clear_of_firmware, "every hop's state avoids what AAVMF rewrites"),
        ])],
    ),
    Scenario(
        name="arm64-linux-kho-clobbered",
        description="arm64: the real chain with -m 2G, where Linux A's preserved pages sit at the "
                    "bottom of RAM that QEMU and AAVMF write again at the reset: khoboot's full "
                    "verification refuses the state, Linux B boots cold, never on a corrupted state "
                    "(not default: whether a preserved page falls in the 512 KiB QEMU rewrites "
                    "varies from run to run; when none does, the handover is rightly made)",
        default=False,
        loader="build/aarch64/khoboot.efi",
        entries=[_entry()], requires=REQUIRES, tags=TAGS, prepare=_prepare,
        runs=[Run(memory="2G", firmware="aavmf", timeout=420, expect_exit=0, checks=[
            NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"), NoLine(r"Kernel panic - not syncing: .*"),
            InOrder(linux_kho.CLOBBERED_ORDER),
            Line(r"KHOBOOT: error kho-integrity 0x[0-9a-f]+-0x[0-9a-f]+ changed: .*"),
            NoLine(r"KHO: found kexec handover data\."),
            NoLine(r"KHOBOOT: handover chosen .*"),
        ])],
    ),
]


# --- the consumer that checks preserved bytes -----------------------------------------

SYSROOT = "build/aarch64/sysroot"   # efi/aarch64/build.mk: arm64 zlib among its libraries
PAGE = 4096


def _blob_bytes(blobs: list[tuple[int, bytes]], addr: int, end: int):
    """(start, bytes) of [addr, end) inside each RAM image QEMU loads; a
    hole of a sparse image reads as zeros, as QEMU writes it."""
    for base, data in blobs:
        s, e = max(addr, base), min(end, base + len(data))
        if s < e:
            yield s, data[s - base:e - base]


def verify_list(out: Path) -> list[tuple[int, int, int]]:
    """(addr, len, crc32) of every data block's bytes, from synth's
    blocks.txt and the images themselves."""
    st = json.loads((out / "state.json").read_text())
    blobs = [(b["addr"], (out / b["file"]).read_bytes()) for b in st["blobs"]]
    ranges = []
    for line in (out / st["blocks_file"]).read_text().splitlines():
        phys, order, kind = line.split()
        if kind != "data":
            continue
        a = int(phys, 16)
        for s, data in _blob_bytes(blobs, a, a + (PAGE << int(order))):
            ranges.append((s, len(data), zlib.crc32(data)))
    return ranges


def _flip_one_byte(out: Path, ranges) -> int:
    """Flips a byte in the middle block's first page of the image QEMU
    loads; returns that block's address."""
    st = json.loads((out / "state.json").read_text())
    addr = ranges[len(ranges) // 2][0]
    for b in st["blobs"]:
        if b["addr"] <= addr + 100 < b["addr"] + b["size"]:
            f = out / b["file"]
            data = bytearray(f.read_bytes())
            data[addr + 100 - b["addr"]] ^= 0x5a
            f.write_bytes(bytes(data))
            return addr
    raise AssertionError(f"no image holds 0x{addr:x}")


def _prepare_verify(corrupt: bool):
    def prepare(ctx):
        image = kho_kernel(ctx, "arm64")
        tool = ctx.workdir / "ram-verify"
        ctx.run(["aarch64-linux-gnu-gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-static",
                 "-isystem", f"{SYSROOT}/usr/include", "-o", tool, "scripts/arm64/ram-verify.c",
                 f"-L{SYSROOT}/usr/lib/aarch64-linux-gnu", "-lz"])
        out = ctx.workdir / "synth"
        ctx.khotool("synth", "--out", str(out), "--scratch", f"{arm64.SCRATCH[0]:#x}:{arm64.SCRATCH[1]:#x}",
                    "--arena", arm64.ARENA_2G, "--format", "kho-v4")
        ranges = verify_list(out)
        run = ctx.scenario.runs[0]
        if corrupt:
            bad = _flip_one_byte(out, ranges)
            run.checks.append(Line(rf"VERIFY: mismatch addr=0x{bad:x} len=0x[0-9a-f]+ "
                                   rf"crc=0x[0-9a-f]{{8}} want=0x[0-9a-f]{{8}}"))
            run.checks.append(Line(rf"VERIFY: fail bad=1 of {len(ranges)}"))
        else:
            run.checks.append(Line(rf"VERIFY: ok ranges={len(ranges)} bytes={sum(n for _, n, _ in ranges)}"))
        st = json.loads((out / "state.json").read_text())
        run.blobs += [Blob(str(out / b["file"]), b["addr"]) for b in st["blobs"]]
        run.checks.append(Custom(_reserved_all(st["map_blocks"]), "Linux reserved every block synth encoded"))
        a = newc.Archive()
        for d in ("dev", "proc"):
            a.add(d, newc.DIR)
        a.add("dev/console", newc.CHARDEV, rdev=(5, 1))
        a.add("init", newc.FILE, tool.read_bytes())
        a.add("ram-verify.list", newc.FILE,
              "".join(f"{s:x} {n:x} {c:08x}\n" for s, n, c in ranges).encode())
        initrd = ctx.workdir / "ram-verify.cpio.gz"
        initrd.write_bytes(a.packed())
        for e in ctx.scenario.entries:
            e.linux, e.initrd = image, [str(initrd)]
            e.keys.update(st["entry_keys"])
    return prepare


def _reserved_all(blocks: int):
    def check(lines):
        got = len(linux_kho._linux_reserved(lines))
        return None if got == blocks else f"Linux reserved {got} KHO blocks, synth encoded {blocks}"
    return check


def _verify_scenario(name: str, description: str, corrupt: bool) -> Scenario:
    return Scenario(
        name=name, description=description, loader="build/aarch64/khoboot.efi",
        entries=[Entry("linux", linux="(set by prepare)", title="KHO Linux 7.2 (arm64)",
                       options="console=ttyAMA0 panic=-1 memblock=debug")],
        requires=REQUIRES + [Requirement("build/host/khotool", "Makefile")],
        tags=("KHOBOOT", "KHO", "VERIFY", "__memblock_reserve", "WARNING", "BUG", "Kernel panic - not syncing"),
        prepare=_prepare_verify(corrupt),
        runs=[Run(memory=MEMORY, firmware="aavmf", timeout=300, expect_exit=0, checks=[
            NoLine(r"WARNING: .*"), NoLine(r"BUG: .*"), NoLine(r"Kernel panic - not syncing: .*"),
            NoLine(r"KHOBOOT: error .*"), NoLine(r"VERIFY: unreadable .*"),
            InOrder([r"KHOBOOT: kho found compatible=kho-v4 .*",
                     r"KHOBOOT: handover chosen .*",
                     r"KHO: found kexec handover data\.",
                     r"VERIFY: start kernel=\S+ ranges=[1-9]\d*"]),
        ])],
    )


SCENARIOS += [
    _verify_scenario("arm64-synth-verify", "arm64: khotool synth's 2000-block kho-v4 state handed "
                     "through /chosen to the KHO kernel, whose init reads every data block through "
                     "/dev/mem: each CRC-32 equals the host's, from the images QEMU loaded", False),
    _verify_scenario("arm64-synth-verify-bad", "arm64: the same with one byte of one block flipped in "
                     "the image QEMU loads: the consumer names that block and fails", True),
]
