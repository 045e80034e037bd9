"""Debian bookworm's stock kernel booted through khoboot (issue 3's
"Done when" checks), with the probe initramfs (scripts/build-initramfs-probe)
reporting what the kernel received.

The KHO state is synthetic and small, generated here from
docs/kho-abi.md (sections 3, 5, 9.1) independently of the loader: a
kho-v4 root FDT with a "memblock" sub-FDT naming one reserve_mem region,
and a 6-level radix tree preserving a few blocks. It is written into guest
RAM with QEMU's loader device in 0x10000000-0x7b000000, which OVMF leaves
alone (docs/firmware-facts.md 2.2), and named with the entry's static keys.

Bookworm's 6.1 has no KHO: it keeps the SETUP_KEXEC_KHO node in
/sys/kernel/boot_params/setup_data but does not use it, so its
decompressor's KASLR does not know scratch. The KHO scenario therefore
boots it with `nokaslr`, which makes the kernel run where the loader put
it (inside scratch); a KHO-enabled kernel restricts KASLR to scratch itself
(arch/x86/boot/compressed/kaslr.c process_kho_entries()).

Run `python3 scripts/scenarios/stock_linux.py synth OUT.bin` to write the
state blob for manual QEMU runs (it goes at STATE_BASE).
"""
from __future__ import annotations

import glob
import re
import struct
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (Blob, Count, Custom, Entry, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioError, ScenarioSkip)
from lib import kho_abi, ovmf_vars  # noqa: E402
from lib.kho_kernel import kho_kernel  # noqa: E402

PAGE = 4096
STATE_BASE = 0x20000000          # root FDT page, then sub-FDT and radix pages
SCRATCH = (0x40000000, 0x10000000)  # 256 MiB, 2 MiB aligned
RESERVE_MEM = ("probe", 0x22000000, 0x100000)  # name, start, size (one order-8 block)
# Preserved blocks (phys, order): one page, a 2 MiB block, the reserve_mem region.
BLOCKS = [(0x21000000, 0), (0x21200000, 9), (RESERVE_MEM[1], 8)]
TAGS = ("KHOBOOT", "PROBE")


# --- an independent KHO state encoder -----------------------------------------

def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def fdt_blob(root) -> bytes:
    """root = (name, [(prop, bytes)], [children]) -> a version 17 FDT."""
    st, strings, offs = bytearray(), bytearray(), {}

    def stroff(n):
        if n not in offs:
            offs[n] = len(strings)
            strings.extend(n.encode() + b"\0")
        return offs[n]

    def node(n):
        name, props, children = n
        st.extend(struct.pack(">I", 1) + _pad4(name.encode() + b"\0"))
        for p, v in props:
            st.extend(struct.pack(">III", 3, len(v), stroff(p)) + _pad4(v))
        for c in children:
            node(c)
        st.extend(struct.pack(">I", 2))

    node(root)
    st.extend(struct.pack(">I", 9))
    off_rsv, off_struct = 40, 56
    off_strings = off_struct + len(st)
    total = off_strings + len(strings)
    hdr = struct.pack(">10I", 0xD00DFEED, total, off_struct, off_strings, off_rsv, 17, 16, 0,
                      len(strings), len(st))
    return hdr + b"\0" * 16 + bytes(st) + bytes(strings)


def u64(v: int) -> bytes:
    return struct.pack("<Q", v)  # KHO properties are CPU-native u64


def cstr(s: str) -> bytes:
    return s.encode() + b"\0"


def synth_state(blocks=None, base=None, reserve_mem=None):
    """Returns (blob bytes placed at `base` (STATE_BASE), protected page
    ranges). arm64.py places the same state in arm64 RAM."""
    blocks = BLOCKS if blocks is None else blocks
    STATE_BASE = globals()["STATE_BASE"] if base is None else base  # noqa: N806
    RESERVE_MEM = globals()["RESERVE_MEM"] if reserve_mem is None else reserve_mem  # noqa: N806
    pages = {}  # phys -> bytearray(PAGE)
    next_page = [STATE_BASE + 2 * PAGE]

    def new_page():
        p = next_page[0]
        next_page[0] += PAGE
        pages[p] = bytearray(PAGE)
        return p

    # docs/kho-abi.md 5, 4 KiB pages: 6 levels, key = order bit | phys >> (12 + order).
    root = new_page()
    for phys, order in blocks:
        key = (1 << (52 - order)) | (phys >> (12 + order))
        table = root
        for level in range(5, 0, -1):
            idx = (key >> ((level - 1) * 9 + 15)) & 511
            child = struct.unpack_from("<Q", pages[table], idx * 8)[0]
            if not child:
                child = new_page()
                struct.pack_into("<Q", pages[table], idx * 8, child)
            table = child
        bit = key & 0x7FFF
        pages[table][bit // 8] |= 1 << (bit % 8)

    name, start, size = RESERVE_MEM
    memblock = fdt_blob(("", [("compatible", cstr("memblock-v1"))], [
        (name, [("compatible", cstr("reserve-mem-v1")), ("start", u64(start)), ("size", u64(size))], [])]))
    sub_addr = STATE_BASE + PAGE
    kho = fdt_blob(("", [("compatible", cstr("kho-v4")), ("preserved-memory-map", u64(root))], [
        ("memblock", [("preserved-data", u64(sub_addr)), ("blob-size", u64(len(memblock)))], [])]))
    assert len(kho) <= PAGE and len(memblock) <= PAGE
    end = next_page[0]
    blob = bytearray(end - STATE_BASE)
    blob[0:len(kho)] = kho
    blob[PAGE:PAGE + len(memblock)] = memblock
    for p, b in pages.items():
        blob[p - STATE_BASE:p - STATE_BASE + PAGE] = b
    protected = [(STATE_BASE, end)] + [(p, p + (PAGE << o)) for p, o in blocks]
    return bytes(blob), protected


def synth_multikernel() -> bytes:
    """A multikernel-v1 root FDT (docs/kho-abi.md 10) with a tiny instance DTB."""
    dtb = fdt_blob(("", [("compatible", cstr("khoboot,probe-instance"))], []))
    return fdt_blob(("", [("compatible", cstr("multikernel-v1"))],
                     [("multikernel", [("dtb-data", dtb)], [])]))


def descriptor(fdt_page: bytes, scratch) -> bytes:
    """The handover descriptor (scripts/lib/kho_abi.py) naming the state at
    STATE_BASE, with the CRC-32 of its root FDT page."""
    fdt_page = fdt_page[:PAGE].ljust(PAGE, b"\0")
    return kho_abi.pack_descriptor(STATE_BASE, scratch, kho_abi.FLAG_FDT_CRC, zlib.crc32(fdt_page))


# --- helpers for the checks ---------------------------------------------------------

def _field(line: str, key: str):
    m = re.search(rf"\b{key}=(\S+)", line)
    return m.group(1) if m else None


def _e820_ram(lines):
    """RAM as the kernel took it from e820: /sys/firmware/memmap, or
    /proc/iomem's System RAM on kernels without CONFIG_FIRMWARE_MEMMAP."""
    out = []
    for l in lines:
        if l.startswith("PROBE: e820 ") and l.endswith("type=System RAM"):
            out.append((int(_field(l, "start"), 16), int(_field(l, "end"), 16) + 1))
    if not out:
        for l in lines:
            if l.startswith("PROBE: iomem-ram "):
                s, e = (int(x, 16) for x in l.split()[-1].split("-"))
                out.append((s, e + 1))
    # Adjacent entries may split one range (e.g. around setup_data).
    out.sort()
    merged = []
    for s, e in out:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def check_kho_node_matches(lines):
    logged = [l for l in lines if l.startswith("KHOBOOT: handover setup_data=")]
    nodes = [l for l in lines if l.startswith("PROBE: setup_data ") and " type=10 " in l]
    if len(logged) != 1:
        return f"{len(logged)} 'KHOBOOT: handover setup_data=' lines, expected 1"
    if len(nodes) != 1:
        return f"{len(nodes)} setup_data nodes of type 10 in the kernel, expected 1"
    want = _field(logged[0], "kho_data")
    got = _field(nodes[0], "data")
    if got != want:
        return f"kernel's type-10 data {got} != logged kho_data {want}"
    if _field(nodes[0], "len") != "32":
        return f"type-10 node is {_field(nodes[0], 'len')} bytes, expected 32"
    return None


def check_protected_is_ram(lines):
    ram = _e820_ram(lines)
    if not ram:
        return "no System RAM lines from /sys/firmware/memmap or /proc/iomem"
    _, protected = synth_state()
    for s, e in protected:
        if not any(a <= s and e <= b for a, b in ram):
            return f"protected 0x{s:x}-0x{e:x} is not inside System RAM"
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


def check_efivars(lines):
    m = [l for l in lines if l.startswith("PROBE: efi runtime=")]
    if not m or _field(m[0], "runtime") != "yes" or int(_field(m[0], "efivars")) == 0:
        return f"EFI runtime services not usable: {m[0] if m else 'no PROBE: efi line'}"
    return None


# --- scenarios ------------------------------------------------------------------------

def _prepare(ctx, with_state: bool, blocks=None, multikernel=False):
    try:
        vmlinuz = ctx.run(["scripts/fetch-debian-kernel"]).stdout.strip().splitlines()[-1]
    except ScenarioError as e:
        raise ScenarioSkip(f"Debian kernel not available: {e}")
    root = Path(vmlinuz).parent.parent
    modules = glob.glob(str(root / "lib/modules/*/kernel/fs/efivarfs/efivarfs.ko"))
    initrd = ctx.workdir / "probe-initramfs.cpio.gz"
    ctx.run(["scripts/build-initramfs-probe", "--out", initrd] +
            [a for m in modules for a in ("--module", m)])
    for e in ctx.scenario.entries:
        e.linux = vmlinuz
        e.initrd = [str(initrd)]
    if multikernel:
        path = ctx.workdir / "multikernel.bin"
        path.write_bytes(synth_multikernel())
        for run in ctx.scenario.runs:
            run.blobs.append(Blob(str(path), STATE_BASE))
    elif with_state:
        blob, _ = synth_state(blocks)
        path = ctx.workdir / "kho-state.bin"
        path.write_bytes(blob)
        for run in ctx.scenario.runs:
            run.blobs.append(Blob(str(path), STATE_BASE))


def _prepare_kho_linux(ctx):
    """The KHO-enabled kernel of scripts/build-linux-kho (built on a
    machine's first run, cached after) with this module's state."""
    _prepare(ctx, True)
    for e in ctx.scenario.entries:
        e.linux = kho_kernel(ctx)


def _write_descriptor(ctx, run_index):
    if run_index == 1:  # runs count from 1
        blob, _ = synth_state()
        ovmf_vars.add_variable(ctx.vars_path, kho_abi.DESCRIPTOR_VARIABLE, kho_abi.VENDOR_GUID,
                               descriptor(blob, [SCRATCH]))


def _entry(options: str, **keys) -> "Entry":
    return Entry("debian", linux="(set by prepare)", options=options,
                 keys={k.replace("_", "-"): v for k, v in keys.items()})


STATIC_KEYS = {"kho_fdt": hex(STATE_BASE), "kho_scratch": f"{SCRATCH[0]:#x}:{SCRATCH[1]:#x}"}
COMMON = [
    Line(r"KHOBOOT: start version=\S+ tsc=\d+ tsc_khz=\d+ clock=(acpi-pm|stall)"),
    InOrder([r"KHOBOOT: phase config us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: phase place us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: phase load us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: phase boot-params us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: phase exit us=\d+ at_us=\d+ tsc=\d+",
             r"KHOBOOT: jump entry=0x[0-9a-f]+ boot_params=0x[0-9a-f]+ us=\d+ tsc=\d+",
             r"PROBE: start kernel=.*",
             r"PROBE: done"]),
    Custom(check_efivars, "efivarfs lists variables"),
]
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk")]
# A page OVMF keeps as ACPI NVS with -m 3G on q35 (top of low RAM).
FIRMWARE_PAGE = 0x7F77E000
COLD_FALLBACK = [
    Line(r"KHOBOOT: policy cold-boot found=1 usable=0"),
    Line(r"KHOBOOT: handover none"),
    NoLine(r"PROBE: setup_data .* type=10 .*"),
]


def _timing_record(name):
    """A check that only records the loader's own time (never asserts on it):
    khoboot's `jump us=`, or systemd-boot's LoaderTimeExecUSec -
    LoaderTimeInitUSec (its own TSC clock; it records them only when the
    CPU does not report a hypervisor, hence -cpu ...,-hypervisor)."""
    def record(lines):
        us = None
        for l in lines:
            if l.startswith("KHOBOOT: jump "):
                us = int(_field(l, "us"))
        init = [l for l in lines if "LoaderTimeInitUSec" in l and "efivar-text" in l]
        exe = [l for l in lines if "LoaderTimeExecUSec" in l and "efivar-text" in l]
        if us is None and init and exe:
            us = int(exe[0].split()[-1]) - int(init[0].split()[-1])
        if us is None:
            return "no loader timing in the log"
        out = Path(__file__).resolve().parents[2] / "build" / "loader-timing.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as f:
            f.write(f"{name} entry_to_kernel_us={us}\n")
        print(f"  {name}: loader entry to kernel {us} us")
        return None
    return record

SCENARIOS = [
    Scenario(
        name="stock-linux-cold",
        description="Debian's stock kernel, no KHO state: boots to the probe, no type-10 node, "
                    "EFI runtime services work, efifb takes over the GOP framebuffer",
        entries=[_entry("console=ttyS0 panic=-1", frobnicate="yes")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, False),
        runs=[Run(timeout=150, expect_exit=0, checks=COMMON + [
            Line(r"KHOBOOT: warn /loader/entries/debian\.conf:\d+: unknown key 'frobnicate' ignored"),
            Line(r"KHOBOOT: framebuffer \d+x\d+ base=0x[0-9a-f]+"),
            Line(r"PROBE: dmesg \[ *[0-9.]+\] fb0: EFI VGA frame buffer device"),
            Line(r"KHOBOOT: kho none"),
            Line(r"KHOBOOT: handover none"),
            NoLine(r"PROBE: setup_data .* type=10 .*"),
        ])],
    ),
    Scenario(
        name="stock-linux-kho",
        description="Debian's stock kernel with a synthetic kho-v4 state (static keys): one "
                    "type-10 node equal to what khoboot logged, protected ranges are e820 RAM, "
                    "the kernel runs inside scratch",
        entries=[_entry("console=ttyS0 panic=-1 nokaslr", **STATIC_KEYS)],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, True),
        runs=[Run(timeout=150, expect_exit=0, checks=COMMON + [
            Line(r"KHOBOOT: kho found compatible=kho-v4 .*blocks=3 .*"),
            Line(r"KHOBOOT: reserve ok ranges=\d+ bytes=\d+ preserved=\d+"),
            Line(r"KHOBOOT: kernel .* in=scratch"),
            Line(r"KHOBOOT: cmdline .*\bkho=on\b.*"),
            Line(r"KHOBOOT: cmdline .*\breserve_mem=1M:4096:probe\b.*"),
            Count(r"PROBE: setup_data .* type=10 .*", 1),
            Custom(check_kho_node_matches, "type-10 node equals logged kho_data"),
            Custom(check_protected_is_ram, "protected ranges are e820 RAM"),
            Custom(check_kernel_in_scratch, "kernel code inside scratch"),
        ])],
    ),
    Scenario(
        name="stock-linux-kho-variable",
        description="the same state named by the handover descriptor variable: found before "
                    "anything is allocated, handed over, and consumed (the kernel's efivarfs "
                    "no longer lists it)",
        entries=[_entry("console=ttyS0 panic=-1 nokaslr")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, True),
        runs=[Run(timeout=150, expect_exit=0, before=_write_descriptor, checks=COMMON + [
            InOrder([r"KHOBOOT: kho descriptor source=variable fdt=0x20000000 scratch=1 flags=0x2",
                     r"KHOBOOT: kho found compatible=kho-v4 .*blocks=3 .*",
                     r"KHOBOOT: reserve ok .*",
                     r"KHOBOOT: phase kho .*",
                     r"KHOBOOT: phase config .*",
                     r"KHOBOOT: handover setup_data=.*",
                     r"KHOBOOT: descriptor consumed"]),
            Custom(check_kho_node_matches, "type-10 node equals logged kho_data"),
            Custom(check_kernel_in_scratch, "kernel code inside scratch"),
            NoLine(rf"PROBE: efivar {kho_abi.DESCRIPTOR_VARIABLE}-.*"),
        ])],
    ),
    Scenario(
        name="stock-linux-kho-off",
        description="same state, entry says kho off: cold boot, no type-10 node",
        entries=[_entry("console=ttyS0 panic=-1", kho="off", **STATIC_KEYS)],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, True),
        runs=[Run(timeout=150, expect_exit=0, checks=COMMON + [
            Line(r"KHOBOOT: policy cold-boot found=0 usable=0"),
            Line(r"KHOBOOT: handover none"),
            NoLine(r"KHOBOOT: cmdline .*\bkho=on\b.*"),
            NoLine(r"PROBE: setup_data .* type=10 .*"),
        ])],
    ),
    Scenario(
        name="stock-linux-kho-conflict",
        description="a preserved page the firmware owns (ACPI NVS): the conflict is reported "
                    "with range and owner, kho-on-error cold-boot boots without a handover",
        entries=[_entry("console=ttyS0 panic=-1", kho_on_error="cold-boot", **STATIC_KEYS)],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, True, BLOCKS + [(FIRMWARE_PAGE, 0)]),
        runs=[Run(timeout=150, expect_exit=0, checks=COMMON + COLD_FALLBACK + [
            Line(rf"KHOBOOT: error kho-conflict {FIRMWARE_PAGE:#x}-{FIRMWARE_PAGE + PAGE:#x} "
                 r"owner=(?!Conventional)\S+"),
            NoLine(r"KHOBOOT: reserve ok .*"),
        ])],
    ),
    Scenario(
        name="stock-linux-kho-small-scratch",
        description="scratch (32 MiB) smaller than the kernel's init_size: the error says how "
                    "much was needed and free, then the cold-boot policy applies",
        entries=[_entry("console=ttyS0 panic=-1", kho_fdt=hex(STATE_BASE),
                        kho_scratch=f"{SCRATCH[0]:#x}:32M")],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, True),
        runs=[Run(timeout=150, expect_exit=0, checks=COMMON + COLD_FALLBACK + [
            Line(r"KHOBOOT: reserve ok .*"),
            Line(r"KHOBOOT: error no-space kernel needs 0x[0-9a-f]+ bytes aligned 0x200000 above "
                 r"0x1000000; free scratch: largest 0x2000000, total 0x2000000"),
        ])],
    ),
    Scenario(
        name="stock-linux-multikernel",
        description="a multikernel-v1 FDT (static kho-fdt, no scratch) is handed over with "
                    "scratch 0/0 and the kernel placed in free RAM",
        entries=[_entry("console=ttyS0 panic=-1", kho_fdt=hex(STATE_BASE))],
        requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, False, multikernel=True),
        runs=[Run(timeout=150, expect_exit=0, checks=COMMON + [
            Line(r"KHOBOOT: kho found compatible=multikernel-v1 .*"),
            Line(r"KHOBOOT: policy handover found=1 usable=1"),
            Line(r"KHOBOOT: handover setup_data=0x[0-9a-f]+ kho_data=0000002000000000"
                 r"0010000000000000" + "0" * 32),
            Count(r"PROBE: setup_data .* type=10 .*", 1),
            Custom(check_kho_node_matches, "type-10 node equals logged kho_data"),
        ])],
    ),
    Scenario(
        name="kho-linux-synthetic-state",
        description="a KHO-enabled Linux 7.2 (scripts/build-linux-kho) takes the synthetic state: "
                    "'KHO: found kexec handover data', the reserve_mem region revived, and its "
                    "KASLR keeps the kernel inside scratch (no nokaslr)",
        entries=[_entry("console=ttyS0 panic=-1", **STATIC_KEYS)],
        requires=REQUIRES, tags=TAGS,
        prepare=_prepare_kho_linux,
        runs=[Run(timeout=150, expect_exit=0, checks=COMMON + [
            Line(r"KHOBOOT: kernel .* in=scratch"),
            Line(r"PROBE: dmesg \[ *[0-9.]+\] KHO: found kexec handover data\."),
            Line(r"PROBE: dmesg \[ *[0-9.]+\] Revived memory reservation 'probe' from KHO"),
            Count(r"PROBE: setup_data .* type=10 .*", 1),
            Custom(check_kho_node_matches, "type-10 node equals logged kho_data"),
            Custom(check_protected_is_ram, "protected ranges are e820 RAM"),
            Custom(check_kernel_in_scratch, "kernel code inside scratch"),
        ])],
    ),
    # Loader time, khoboot against systemd-boot, same kernel and initrd
    # (not in the default suite; figures go to build/loader-timing.txt).
    Scenario(
        name="timing-khoboot",
        description="records khoboot's entry-to-jump time (cold boot)",
        entries=[_entry("console=ttyS0 panic=-1")],
        requires=REQUIRES, tags=TAGS, default=False,
        prepare=lambda ctx: _prepare(ctx, False),
        runs=[Run(timeout=150, expect_exit=0, qemu_args=["-cpu", "qemu64,-hypervisor"],
                  checks=[Custom(_timing_record("khoboot"), "timing")])],
    ),
    Scenario(
        name="timing-systemd-boot",
        description="records systemd-boot's LoaderTimeExecUSec - LoaderTimeInitUSec",
        loader="/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
        entries=[_entry("console=ttyS0 panic=-1")],
        requires=[Requirement("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")], tags=TAGS,
        default=False,
        prepare=lambda ctx: _prepare(ctx, False),
        runs=[Run(timeout=150, expect_exit=0, qemu_args=["-cpu", "qemu64,-hypervisor"],
                  checks=[Custom(_timing_record("systemd-boot"), "timing")])],
    ),
]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "synth":
        blob, protected = synth_state()
        Path(sys.argv[2]).write_bytes(blob)
        print(f"addr=0x{STATE_BASE:x} size={len(blob)} scratch=0x{SCRATCH[0]:x}:0x{SCRATCH[1]:x}")
        for s, e in protected:
            print(f"protect 0x{s:x}-0x{e:x}")
    else:
        print(__doc__)
