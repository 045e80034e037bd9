"""`make image` booted as a disk: scripts/make-image builds a GPT disk
image with a FAT32 ESP written by mtools (no QEMU vvfat anywhere), QEMU
attaches it as a virtio disk, and OVMF boots khoboot from the ESP's
removable-media path as it would from a USB stick.

image-tk-handover: test_kernel on the image's entry produces a KHO state
and resets warm; the firmware boots the same disk, khoboot hands the state
on and test_kernel checks every preserved block (plan "p,c").

image-khotool-bootnext: an ESP laid out as systemd-boot leaves it
(systemd-boot at EFI/BOOT/BOOTX64.EFI and EFI/systemd/, loader.conf, a
type 1 entry) gets khoboot through the real `khotool install --no-nvram`;
make-image --esp-dir copies it into a disk image. The variable store gets
the Boot#### option efibootmgr would write (HD() of the partition sgdisk
reports, File(\EFI\khoboot\khobootx64.efi)) and BootNext naming it, as
`khotool reboot` sets it: the firmware starts khoboot from its own path
beside systemd-boot, khoboot boots the shared entry, and BootNext is
consumed.
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (Count, Custom, InOrder, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioError)
from lib.tk_cmdline import tk_options  # noqa: E402
from lib import ovmf_vars  # noqa: E402

TK = "build/x86_64/test_kernel.bzImage"
LOADER = "build/x86_64/khoboot.efi"
REQUIRES = [Requirement(LOADER, "efi/build.mk"), Requirement(TK, "test_kernel/build.mk")]
BLOCKS = 32


def prepare(ctx):
    """The image exactly as `make image` makes it."""
    img = ctx.workdir / "disk.img"
    cmd = [str(ctx.root / "scripts/make-image"), "--out", str(img), "--kernel", str(ctx.root / TK),
           "--loader", str(ctx.root / LOADER),
           "--options", tk_options("p,c", format="kho-v4", compat="kho-v4", blocks=BLOCKS)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ScenarioError(f"make-image failed: {r.stderr.strip()}")
    for run in ctx.scenario.runs:
        run.qemu_args += ["-drive", f"if=virtio,format=raw,file={img}"]
    ctx.data["command"] = ctx.workdir / "run1-command.txt"


def booted_from_the_image(ctx_holder):
    def fn(_lines):
        cmd = ctx_holder["command"].read_text()
        if "fat:" in cmd:
            return "QEMU was given a vvfat drive"
        if "if=virtio,format=raw,file=" not in cmd:
            return "the image is not attached as a virtio disk"
        return None
    return Custom(fn, "booted from the disk image alone (no vvfat)")


class _Holder(dict):
    pass


def scenario() -> Scenario:
    holder = _Holder()

    def prep(ctx):
        prepare(ctx)
        holder["command"] = ctx.data["command"]

    return Scenario(
        name="image-tk-handover",
        description="make image's GPT disk (FAT32 ESP made by mtools) as a virtio disk: test_kernel "
                    "produces a KHO state, warm reset, khoboot hands it on from the same disk",
        requires=REQUIRES, vvfat=False, prepare=prep,
        runs=[Run(timeout=150, checks=[
            NoLine(r"TEST_KERNEL: check \S+ fail.*"), NoLine(r"TEST_KERNEL: (error|exception) .*"),
            NoLine(r"KHOBOOT: error .*"),
            Count(r"KHOBOOT: start .*", 2),
            InOrder([r"KHOBOOT: entry id=linux .*",
                     r"TEST_KERNEL: hop 1 of 2 plan=p,c",
                     rf"TEST_KERNEL: produce state hop=1 format=kho-v4 .*new={BLOCKS} .*",
                     r"TEST_KERNEL: produce reset warm",
                     r"KHOBOOT: kho found compatible=kho-v4 .*",
                     r"KHOBOOT: reserve ok .*",
                     r"KHOBOOT: kernel .* in=scratch",
                     r"TEST_KERNEL: hop 2 of 2 plan=p,c",
                     r"TEST_KERNEL: check contents ok .*",
                     r"TEST_KERNEL: result pass"]),
            booted_from_the_image(holder),
        ])],
    )


# --- khoboot installed beside systemd-boot, reached through BootNext -------------

SDBOOT = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
EFI_GLOBAL = uuid.UUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
OPTION = 0x0100
LOAD_OPTION_ACTIVE = 0x1


def sdboot_esp(ctx, tree: Path) -> None:
    """bootctl install's layout plus one kernel-install style entry."""
    for dst in ("EFI/BOOT/BOOTX64.EFI", "EFI/systemd/systemd-bootx64.efi"):
        (tree / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SDBOOT, tree / dst)
    (tree / "loader/entries").mkdir(parents=True)
    (tree / "loader/loader.conf").write_text("timeout 0\ndefault tk.conf\n")
    (tree / "tk").mkdir()
    shutil.copyfile(ctx.root / TK, tree / "tk/linux")
    (tree / "loader/entries/tk.conf").write_text(
        f"title test_kernel\nversion 1\nlinux /tk/linux\noptions {tk_options('n')}\n")


def load_option(part: int, start: int, size: int, part_guid: uuid.UUID, path: str, label: str) -> bytes:
    """EFI_LOAD_OPTION (UEFI 2.10 section 3.1.3) whose file path is
    HD(part,GPT,guid,start,size)/File(path): the Hard Drive Media Device
    Path (section 10.3.5.1: MBR type 2 = GPT, signature type 2 = GUID) and
    the File Path Media Device Path (10.3.5.4), then End."""
    hd = struct.pack("<BBHIQQ16sBB", 4, 1, 42, part, start, size, part_guid.bytes_le, 2, 2)
    name = (path + "\0").encode("utf-16-le")
    file_node = struct.pack("<BBH", 4, 4, 4 + len(name)) + name
    end = struct.pack("<BBH", 0x7F, 0xFF, 4)
    dp = hd + file_node + end
    return struct.pack("<IH", LOAD_OPTION_ACTIVE, len(dp)) + (label + "\0").encode("utf-16-le") + dp


def partition(img: Path) -> tuple[uuid.UUID, int, int]:
    """Partition 1's unique GUID, first sector and length, as sgdisk reads them."""
    info = subprocess.run(["sgdisk", "--info=1", str(img)], capture_output=True, text=True).stdout
    guid = re.search(r"Partition unique GUID: ([0-9A-F-]{36})", info)
    first = re.search(r"First sector: (\d+)", info)
    last = re.search(r"Last sector: (\d+)", info)
    if not (guid and first and last):
        raise ScenarioError(f"sgdisk --info=1: {info.strip()}")
    return uuid.UUID(guid.group(1)), int(first.group(1)), int(last.group(1)) - int(first.group(1)) + 1


def run_checked(cmd: list[str], what: str) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ScenarioError(f"{what} failed: {(r.stderr or r.stdout).strip()}")
    return r.stdout


def prepare_bootnext(ctx):
    tree = ctx.workdir / "sdboot-esp"
    sdboot_esp(ctx, tree)
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    run_checked([str(ctx.root / "build/host/khotool"), "install", "--esp", str(tree), "--no-nvram",
                 "--loader", str(ctx.root / LOADER)], "khotool install")
    changed = [str(p.relative_to(tree)) for p, b in before.items() if p.read_bytes() != b]
    if changed:
        raise ScenarioError(f"khotool install changed systemd-boot's files: {changed}")
    img = ctx.workdir / "disk.img"
    run_checked([str(ctx.root / "scripts/make-image"), "--out", str(img), "--esp-dir", str(tree)], "make-image")
    guid, start, size = partition(img)
    option = load_option(1, start, size, guid, "\\EFI\\khoboot\\khobootx64.efi", "khoboot")
    ovmf_vars.add_variable(ctx.vars_path, f"Boot{OPTION:04X}", EFI_GLOBAL, option)
    ovmf_vars.add_variable(ctx.vars_path, "BootNext", EFI_GLOBAL, struct.pack("<H", OPTION))
    for run in ctx.scenario.runs:
        run.qemu_args += ["-drive", f"if=virtio,format=raw,file={img}"]
    ctx.data["vars"] = ctx.vars_path


def boot_next_consumed(holder):
    def fn(_lines):
        live = [v for v in ovmf_vars.variables(holder["vars"])
                if v.live and v.guid == EFI_GLOBAL and v.name == "BootNext"]
        return "BootNext still set after the boot" if live else None
    return Custom(fn, "BootNext consumed by the firmware")


def bootnext_scenario() -> Scenario:
    holder = _Holder()

    def prep(ctx):
        prepare_bootnext(ctx)
        holder["vars"] = ctx.data["vars"]

    return Scenario(
        name="image-khotool-bootnext",
        description="khotool install beside systemd-boot on a GPT disk image; the firmware's BootNext "
                    "names khoboot's Boot#### option: khoboot boots the shared BLS entry",
        requires=REQUIRES + [Requirement("build/host/khotool", "Makefile"), Requirement(SDBOOT)],
        vvfat=False, prepare=prep,
        runs=[Run(timeout=90, reboot=False, checks=[
            NoLine(r"TEST_KERNEL: check \S+ fail.*"), NoLine(r"KHOBOOT: error .*"),
            Count(r"KHOBOOT: start .*", 1),
            InOrder([r"KHOBOOT: entry id=tk .*",
                     r"KHOBOOT: boot entry=tk mode=cold .*",
                     r"TEST_KERNEL: hop 1 of 1 plan=n",
                     r"TEST_KERNEL: result pass"]),
            boot_next_consumed(holder),
        ])],
    )


SCENARIOS = [scenario(), bootnext_scenario()]
