"""`make image` booted as a disk: scripts/make-image builds a GPT disk
image with a FAT32 ESP written by mtools (no QEMU vvfat anywhere), QEMU
attaches it as a virtio disk, and OVMF boots khoboot from the ESP's
removable-media path as it would from a USB stick.

image-tk-handover: test_kernel on the image's entry produces a KHO state
and resets warm; the firmware boots the same disk, khoboot hands the state
on and test_kernel checks every preserved block (plan "p,c").
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (Count, Custom, InOrder, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioError)
from lib.tk_cmdline import tk_options  # noqa: E402

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


SCENARIOS = [scenario()]
