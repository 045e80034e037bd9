"""systemd's Boot Loader Interface (loader/boot_loader_interface.h), read
back from the booted Linux: efivarfs shows each variable as 4 attribute
bytes then its data, and the checks here hold them against the published
formats (systemd docs/BOOT_LOADER_INTERFACE.md: UTF-16LE NUL-terminated
strings, decimal microseconds, LoaderEntries NUL-separated,
LoaderFeatures a little-endian uint64) with expectations written here.

khoboot runs from a GPT disk this module writes (protective MBR, both GPT
headers, one EFI System Partition with a partition GUID chosen here), so
that LoaderDevicePartUUID has a GPT partition to name: QEMU's vvfat disk,
which the runner always attaches first, has an MBR. That first disk's
BOOTX64.EFI is not an EFI image, so OVMF fails it and boots the GPT disk
next. The kernel is Debian's stock one (stock_linux.py) with the probe
initramfs plus a small archive whose /init prints every variable under
systemd's vendor GUID as hex (later archives replace earlier files).

bli-variables: every variable khoboot sets, byte for byte where the value
is known (entries, selection, default, partition GUID, image path,
features) and by format otherwise (versions, times).
bli-one-shot: LoaderEntryOneShot in the variable store names the second
entry: that boot selects it and the variable is gone (from efivarfs and
from the store); the next boot is the default entry again.
bli-os-default: a non-volatile LoaderEntryDefault (the OS's setting)
replaces loader.conf's default and is left as it is.
"""
from __future__ import annotations

import re
import struct
import sys
import uuid
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import esp as esp_mod, ovmf_vars  # noqa: E402
from lib.bootchain import Custom, Entry, InOrder, Line, NoLine, Requirement, Run, Scenario  # noqa: E402
from scenarios.stock_linux import TAGS, _prepare  # noqa: E402

LOADER = "build/x86_64/khoboot.efi"
SYSTEMD_GUID = uuid.UUID("4a67b082-0a4c-41cf-b6c7-440b29bb8c4f")
PART_GUID = uuid.UUID("6b686f62-6f6f-7420-8000-00000000b11e")  # LoaderDevicePartUUID, expected
ESP_TYPE = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
SECTOR = 512
OPTIONS = "console=ttyS0 panic=-1"
ATTR_NV = 1

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /bin /proc /sys /dev
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Console loglevel 1: a kernel message (a TCG clocksource warning, say)
# printed in the middle of a long "PROBE: bli" line would garble it.
echo 1 > /proc/sys/kernel/printk
for m in /lib/modules/*.ko; do [ -f "$m" ] && insmod "$m" 2>/dev/null; done
echo "PROBE: start kernel=$(uname -r)"
mkdir -p /sys/firmware/efi/efivars
mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
for v in /sys/firmware/efi/efivars/*-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f; do
  [ -e "$v" ] || continue
  n=${v##*/}
  echo "PROBE: bli ${n%%-*} $(od -An -v -tx1 "$v" | tr -d ' \n')"
done
echo "PROBE: done"
sync
poweroff -f
"""


# --- a newc archive with the /init above ------------------------------------------

def cpio_init() -> bytes:
    """One-file newc archive (Linux Documentation/driver-api/early-userspace/
    buffer-format.rst): /init, then the trailer."""
    out = bytearray()

    def entry(name: str, mode: int, data: bytes, ino: int):
        nb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0)
        out.extend(b"070701" + "".join(f"{v:08x}" for v in fields).encode() + nb)
        out.extend(b"\0" * (-(110 + len(nb)) % 4))
        out.extend(data + b"\0" * (-len(data) % 4))
    entry("init", 0o100755, INIT.encode(), 1)
    entry("TRAILER!!!", 0, b"", 2)
    return bytes(out)


# --- a GPT disk with one FAT ESP --------------------------------------------------------

def gpt_disk(fat: bytes, part_guid: uuid.UUID) -> bytes:
    """UEFI 2.10 section 5.3: protective MBR, primary header and entries at
    LBA 1 and 2, the partition from LBA 2048, backup entries and header at
    the end."""
    assert len(fat) % SECTOR == 0
    first = 2048
    last = first + len(fat) // SECTOR - 1
    total = last + 1 + 33
    entries = bytearray(128 * 128)
    name = "ESP".encode("utf-16-le").ljust(72, b"\0")
    entries[0:128] = struct.pack("<16s16sQQQ72s", ESP_TYPE.bytes_le, part_guid.bytes_le, first, last, 0, name)
    entries_crc = zlib.crc32(entries)
    disk_guid = uuid.UUID("6b686f62-6f6f-7420-8000-0000000d15c0")

    def header(my_lba: int, alt_lba: int, entries_lba: int) -> bytes:
        def pack(crc):
            return struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, crc, 0, my_lba, alt_lba,
                               34, total - 34, disk_guid.bytes_le, entries_lba, 128, 128, entries_crc)
        return pack(zlib.crc32(pack(0))).ljust(SECTOR, b"\0")

    mbr = bytearray(SECTOR)
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\x02\0", 0xEE, b"\xff\xff\xff", 1, min(total - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    disk = bytearray(total * SECTOR)
    disk[0:SECTOR] = mbr
    disk[SECTOR:2 * SECTOR] = header(1, total - 1, 2)
    disk[2 * SECTOR:34 * SECTOR] = entries
    disk[first * SECTOR:(last + 1) * SECTOR] = fat
    disk[(total - 33) * SECTOR:(total - 1) * SECTOR] = entries
    disk[(total - 1) * SECTOR:] = header(total - 1, 1, total - 33)
    return bytes(disk)


def fat_image(ctx, tree: Path, mib: int = 48) -> bytes:
    img = ctx.workdir / "esp-part.img"
    img.unlink(missing_ok=True)
    ctx.run(["mkfs.vfat", "-C", "-F", "32", str(img), str(mib * 1024)])
    ctx.run(["mcopy", "-s", "-i", str(img)] + [str(p) for p in sorted(tree.iterdir())] + ["::/"])
    return img.read_bytes()


# --- the variables as the booted OS sees them ----------------------------------------

def bli_vars(lines) -> tuple[dict[str, tuple[int, bytes]], list[str]]:
    """name -> (attributes, data) from the 'PROBE: bli NAME HEX' lines, and
    the 'PROBE: bli' lines that are not of that form (garbled on the way)."""
    out, garbled = {}, []
    for l in lines:
        if not l.startswith("PROBE: bli "):
            continue
        m = re.fullmatch(r"PROBE: bli (\w+) ((?:[0-9a-f]{2}){4,})", l)
        if not m:
            garbled.append(l)
            continue
        raw = bytes.fromhex(m.group(2))
        out[m.group(1)] = (struct.unpack_from("<I", raw)[0], raw[4:])
    return out, garbled


def u16(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def text_of(data: bytes) -> str | None:
    """A UTF-16LE NUL-terminated string, exactly one NUL at the end."""
    if len(data) < 2 or len(data) % 2 or data[-2:] != b"\0\0":
        return None
    s = data[:-2].decode("utf-16-le", "replace")
    return None if "\0" in s else s


def check_variables(selected: str, default: str, entries: list[str], os_default: bool = False):
    """os_default: LoaderEntryDefault is the OS's non-volatile setting,
    left as it was; otherwise khoboot's volatile report."""
    def fn(lines):
        v, garbled = bli_vars(lines)
        if garbled:
            return f"{len(garbled)} garbled 'PROBE: bli' line(s), first {garbled[0]!r}"
        exact = {
            "LoaderEntries": b"".join(u16(e) for e in entries),
            "LoaderEntrySelected": u16(selected),
            "LoaderEntryDefault": u16(default),
            "LoaderDevicePartUUID": u16(str(PART_GUID).upper()),
            "LoaderImageIdentifier": u16("\\EFI\\BOOT\\BOOTX64.EFI"),
            "LoaderFeatures": struct.pack("<Q", (1 << 2) | (1 << 3)),
        }
        formats = {
            "LoaderInfo": r"khoboot \S+",
            "LoaderFirmwareInfo": r"EDK II \d+\.\d{2,}",
            "LoaderFirmwareType": r"UEFI \d+\.\d{2,}",
            "LoaderTimeInitUSec": r"[1-9][0-9]*",
            "LoaderTimeExecUSec": r"[1-9][0-9]*",
        }
        for name in list(exact) + list(formats):
            if name not in v:
                warned = [l for l in lines if l.startswith("KHOBOOT: warn ")]
                return f"{name} not in efivarfs (have {sorted(v)}; khoboot's warnings: {warned or 'none'})"
            attrs, data = v[name]
            if name == "LoaderEntryDefault" and os_default:
                if not attrs & ATTR_NV:
                    return f"{name}: attributes {attrs:#x}, the OS's non-volatile setting was replaced"
            elif attrs & ATTR_NV:
                return f"{name}: attributes {attrs:#x}, a boot loader's report is volatile"
            if name in exact and data != exact[name]:
                return f"{name} = {data.hex()}, expected {exact[name].hex()}"
            if name in formats:
                s = text_of(data)
                if s is None or not re.fullmatch(formats[name], s):
                    return f"{name} = {data.hex()}, not a UTF-16 string matching {formats[name]}"
        init = int(text_of(v["LoaderTimeInitUSec"][1]))
        exe = int(text_of(v["LoaderTimeExecUSec"][1]))
        if exe < init:
            return f"LoaderTimeExecUSec {exe} before LoaderTimeInitUSec {init}"
        if "LoaderEntryOneShot" in v:
            return "LoaderEntryOneShot still set in the booted OS"
        return None
    return Custom(fn, f"Boot Loader Interface variables (selected {selected})")


def store_has_no_one_shot(ctx):
    def fn(_lines):
        live = [x for x in ovmf_vars.variables(ctx.vars_path)
                if x.live and x.guid == SYSTEMD_GUID and x.name == "LoaderEntryOneShot"]
        return "LoaderEntryOneShot still live in the variable store" if live else None
    return Custom(fn, "LoaderEntryOneShot consumed")


# --- scenarios --------------------------------------------------------------------------

ENTRIES = ["debian", "other"]
# LoaderEntries lists them in the menu's order, the Boot Loader
# Specification's (docs/systemd-boot.md): without sort-keys, ids newest
# first, and `systemd-analyze compare-versions other debian` says "other > debian".
MENU_ORDER = ["other", "debian"]


def prepare(ctx, one_shot: str | None = None, os_default: str | None = None):
    _prepare(ctx, False)  # Debian's kernel and the probe initramfs into the entries
    init = ctx.workdir / "bli-init.cpio"
    init.write_bytes(cpio_init())
    entries = []
    for e in ctx.scenario.entries:
        e.initrd = e.initrd + [str(init)]
        entries.append(e)
    tree = ctx.workdir / "gpt-esp"
    esp_mod.build_esp(ctx.root, tree, LOADER, entries, [])
    (ctx.workdir / "gpt.img").write_bytes(gpt_disk(fat_image(ctx, tree), PART_GUID))
    # The runner's vvfat ESP comes first: its BOOTX64.EFI is no image, so
    # OVMF goes on to the GPT disk.
    bogus = ctx.workdir / "not-an-image.efi"
    bogus.write_bytes(b"not a PE image\n" * 64)
    ctx.scenario.loader = str(bogus)
    for r in ctx.scenario.runs:
        r.qemu_args += ["-drive", f"format=raw,file={ctx.workdir / 'gpt.img'}"]
    if os_default:
        def set_default(c, run_index):
            if run_index == 1:
                ovmf_vars.add_variable(c.vars_path, "LoaderEntryDefault", SYSTEMD_GUID, u16(os_default))
        ctx.scenario.runs[0].before = set_default
    if one_shot:
        def before(c, run_index):
            if run_index == 1:
                ovmf_vars.add_variable(c.vars_path, "LoaderEntryOneShot", SYSTEMD_GUID, u16(one_shot))
        ctx.scenario.runs[0].before = before
        ctx.scenario.runs[0].checks.append(store_has_no_one_shot(ctx))


def entries():
    return [Entry(name, linux="(set by prepare)", title=name, options=OPTIONS) for name in ENTRIES]


def booted(entry: str) -> list:
    return [InOrder([rf"KHOBOOT: entry id={entry} .*", rf"KHOBOOT: boot entry={entry} mode=cold .*",
                     r"PROBE: start kernel=.*", r"PROBE: done"]),
            NoLine(r"KHOBOOT: error .*")]


REQUIRES = [Requirement(LOADER, "efi/build.mk")]

SCENARIOS = [
    Scenario(
        name="bli-variables",
        description="the Boot Loader Interface variables read back from efivarfs in the booted "
                    "Linux, checked against the published formats (khoboot on a GPT ESP)",
        entries=entries(), requires=REQUIRES, tags=TAGS,
        prepare=prepare,
        runs=[Run(timeout=180, expect_exit=0, checks=booted("debian") + [
            Line(r"KHOBOOT: entry-source loader.conf"),
            check_variables("debian", "debian", MENU_ORDER)])],
    ),
    Scenario(
        name="bli-one-shot",
        description="LoaderEntryOneShot names the second entry: it boots once, the variable is "
                    "deleted, the next boot is the default entry again",
        entries=entries(), requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: prepare(ctx, one_shot="other"),
        runs=[Run(timeout=180, expect_exit=0, checks=booted("other") + [
                  Line(r"KHOBOOT: entry-source one-shot"),
                  check_variables("other", "debian", MENU_ORDER)]),
              Run(timeout=180, expect_exit=0, checks=booted("debian") + [
                  Line(r"KHOBOOT: entry-source loader.conf"),
                  check_variables("debian", "debian", MENU_ORDER)])],
    ),
    Scenario(
        name="bli-os-default",
        description="LoaderEntryDefault set by the OS (non-volatile) names the second entry: it "
                    "replaces loader.conf's default and is left as the OS wrote it",
        entries=entries(), requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: prepare(ctx, os_default="other"),
        runs=[Run(timeout=180, expect_exit=0, checks=booted("other") + [
            Line(r"KHOBOOT: entry-source os-default"),
            check_variables("other", "other", MENU_ORDER, os_default=True)])],
    ),
]
