"""systemd-boot's files as they are (docs/systemd-boot.md): khoboot boots
from an ESP that systemd's own tools wrote, without changes.

sdboot-kernel-install: the ESP as `bootctl install` and `kernel-install`
(systemd 252) leave it: EFI/systemd/systemd-bootx64.efi, loader/loader.conf,
loader/random-seed, loader/entries.srel, and three kernels that Debian's
kernel-install itself installs (/<machine-id>/<version>/linux and its
initrd, loader/entries/<machine-id>-<version>.conf), run in a private mount
namespace on a tmpfs so that it writes ESP-relative paths as it does on a
mounted ESP. Plus a unified kernel image at EFI/Linux/<machine-id>.efi,
made as systemd's docs make one (objcopy adds .osrel, .cmdline, .linux and
.initrd to Debian's systemd-stub). Only EFI/BOOT/BOOTX64.EFI is khoboot
(the runner boots that path). By the BLS order (sort-key "debian" for all;
the UKI has no machine-id, which sorts first) the UKI is the default: it
boots cold, produces a KHO state and warm-resets; khoboot boots it again
with the handover, and test_kernel checks the state and the initrd that
came from the UKI's .initrd. The menu (timeout 1s) lists the titles as
systemd-boot would: the kernels' shared title disambiguated by version.

sdboot-saved: `default @saved`. LoaderEntryLastBooted (as systemd-boot
leaves it, "<id>.conf") names the older entry, which boots although the
BLS order puts the other first; LoaderEntryOneShot then boots the other,
which is saved (non-volatile, checked in the variable store), and the next
boot follows it.

sdboot-uki-key: a type #1 entry with the `uki` key boots the UKI's
.linux and .initrd, its `options` replacing the UKI's .cmdline.

sdboot-menu-force: `timeout menu-force`: khoboot shows the menu and waits
(watchdog off) until a key arrives; QEMU's PS/2 keyboard types "2" (QMP
send-key) once the menu is on the serial console, and the second entry in
BLS order boots.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import ovmf_vars, reaper  # noqa: E402
from lib.bootchain import (Count, Custom, EspFile, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioError)
from lib.qmp import QmpClient  # noqa: E402
from lib.tk_cmdline import make_initrd, tk_options  # noqa: E402

TK = "build/x86_64/test_kernel.bzImage"
STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")          # Debian systemd-boot-efi
SD_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
LOADERENTRY = Path("/usr/lib/kernel/install.d/90-loaderentry.install")
MACHINE_ID = "4b686f626f6f74207364626f6f742121"  # any 32 hex digits
SYSTEMD_GUID = uuid.UUID("4a67b082-0a4c-41cf-b6c7-440b29bb8c4f")
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
            Requirement(TK, "test_kernel/build.mk")]
NO_FAIL = [NoLine(r"TEST_KERNEL: check \S+ fail.*"), NoLine(r"TEST_KERNEL: (error|exception) .*"),
           NoLine(r"KHOBOOT: error .*")]


def os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    """os-release(5): KEY=value, values optionally quoted."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.fullmatch(r"([A-Z_]+)=(.*)", line.strip())
        if m:
            v = m.group(2)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            out[m.group(1)] = v
    return out


def make_uki(ctx, out: Path, osrel: Path, cmdline: str, initrd: Path) -> None:
    """A UKI as systemd 252's docs (docs/UNIFIED_KERNEL_IMAGE.md) build one
    without ukify: objcopy adds the sections to systemd-stub."""
    if not STUB.exists():
        raise ScenarioError(f"{STUB} missing (Debian package systemd-boot-efi, scripts/install-deps)")
    cmd_file = ctx.workdir / "uki-cmdline.txt"
    cmd_file.write_text(cmdline)
    r = ctx.run(["objcopy",
                 "--add-section", f".osrel={osrel}", "--change-section-vma", ".osrel=0x20000",
                 "--add-section", f".cmdline={cmd_file}", "--change-section-vma", ".cmdline=0x30000",
                 "--add-section", f".linux={ctx.root / TK}", "--change-section-vma", ".linux=0x2000000",
                 "--add-section", f".initrd={initrd}", "--change-section-vma", ".initrd=0x3000000",
                 str(STUB), str(out)])
    if r.returncode != 0:
        raise ScenarioError(f"objcopy failed: {r.stdout}{r.stderr}")


def kernel_install(ctx, tree: Path, versions: list[str], cmdline: str) -> None:
    """Debian's kernel-install (systemd 252) with its loader-entry plugin,
    BOOT_ROOT a tmpfs mounted in a private mount namespace (it writes paths
    relative to the ESP's mount point), the result copied to `tree`."""
    conf = ctx.workdir / "kernel-conf"
    conf.mkdir(exist_ok=True)
    (conf / "install.conf").write_text("layout=bls\n")
    (conf / "cmdline").write_text(cmdline + "\n")
    fake_initrd = ctx.workdir / "kernel-install-initrd.img"
    fake_initrd.write_bytes(os.urandom(4096))
    mnt = ctx.workdir / "esp-mount"
    mnt.mkdir(exist_ok=True)
    adds = " && ".join(f"kernel-install add {v} {ctx.root / TK} {fake_initrd}" for v in versions)
    script = (f"mount -t tmpfs khoboot-esp {mnt} && mkdir -p {mnt}/loader/entries && "
              f"echo type1 > {mnt}/loader/entries.srel && {adds} && cp -a {mnt}/. {tree}/")
    env = dict(os.environ, BOOT_ROOT=str(mnt), MACHINE_ID=MACHINE_ID, KERNEL_INSTALL_CONF_ROOT=str(conf),
               KERNEL_INSTALL_PLUGINS=str(LOADERENTRY))
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise ScenarioError(f"kernel-install in a private mount namespace failed: {r.stdout}{r.stderr}")


def add_tree(ctx, tree: Path) -> None:
    for f in sorted(tree.rglob("*")):
        if f.is_file():
            ctx.scenario.esp_files.append(EspFile(str(f), "/" + str(f.relative_to(tree))))


# --- sdboot-kernel-install ----------------------------------------------------------------

VERSIONS = ["5.10.0-21-amd64", "6.1.0-9-amd64", "6.1.0-10-amd64"]
UKI = f"{MACHINE_ID}.efi"


def prepare_kernel_install(ctx) -> None:
    tree = ctx.workdir / "sd-esp"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    kernel_install(ctx, tree, VERSIONS, "console=ttyS0 " + tk_options("n"))
    # What `bootctl install` (systemd 252) adds: its binary, the seed, loader.conf
    # (its commented defaults, then a user's edits).
    (tree / "EFI/systemd").mkdir(parents=True)
    shutil.copyfile(SD_BOOT, tree / "EFI/systemd/systemd-bootx64.efi")
    (tree / "loader/random-seed").write_bytes(os.urandom(32))
    (tree / "loader/loader.conf").write_text("#timeout 3\n#console-mode keep\ntimeout 1s\nconsole-mode keep\n"
                                             "editor no\n")
    initrd = ctx.workdir / "uki-initrd.bin"
    value = make_initrd(initrd, 200 * 1024, 15)
    (tree / "EFI/Linux").mkdir(parents=True)
    make_uki(ctx, tree / "EFI/Linux" / UKI, Path("/etc/os-release"), tk_options("np,c", format="kho-v4",
             blocks=16, initrd=value), initrd)
    add_tree(ctx, tree)


def menu_titles() -> list:
    """The menu as systemd-boot 252 builds it from these files: the UKI
    first (no machine-id), then the kernels newest first; the shared title
    (PRETTY_NAME, which kernel-install writes too) gets the version."""
    osr = os_release()
    pretty = osr.get("PRETTY_NAME") or osr.get("NAME") or osr["ID"]
    uki_version = osr.get("IMAGE_VERSION") or osr.get("VERSION") or osr.get("VERSION_ID")
    want = [f"{pretty} ({uki_version})"] + [f"{pretty} ({v})" for v in reversed(VERSIONS)]
    return [InOrder([re.escape(f"KHOBOOT: menu {i} {t}") + ("( \\(default\\))?" if i > 1 else r" \(default\)")
                     for i, t in enumerate(want, 1)])]


def kernel_install_checks() -> list:
    return NO_FAIL + menu_titles() + [
        Count(rf"KHOBOOT: entry id={re.escape(UKI)} entries=4 .*", 2),
        Count(rf"KHOBOOT: uki /EFI/Linux/{UKI} linux=.* initrd=0x[0-9a-f]+\+0x32000 cmdline=section", 2),
        Count(r"TEST_KERNEL: check initrd ok .*", 2),
        InOrder([r"TEST_KERNEL: hop 1 of 2 plan=np,c",
                 r"TEST_KERNEL: produce descriptor ok .*",
                 r"TEST_KERNEL: produce reset warm",
                 r"KHOBOOT: kho found compatible=kho-v4 .*",
                 rf"KHOBOOT: entry id={re.escape(UKI)} .*",
                 r"KHOBOOT: policy handover found=1 usable=1",
                 rf"KHOBOOT: kernel file=/EFI/Linux/{UKI} .* in=scratch",
                 r"KHOBOOT: initrd count=1 size=204800 .*",
                 r"KHOBOOT: handover setup_data=.*",
                 r"TEST_KERNEL: hop 2 of 2 plan=np,c",
                 r"TEST_KERNEL: check manifest ok valid .*",
                 r"TEST_KERNEL: check contents ok .*",
                 r"TEST_KERNEL: result pass"]),
        Line(r"KHOBOOT: warn /loader/loader.conf:4: systemd-boot key 'console-mode' not acted on .*"),
    ]


# --- sdboot-saved -------------------------------------------------------------------------------

def u16(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def prepare_saved(ctx, plan: str = "n,n,n") -> None:
    """test_kernel counts its hops in a variable across the runs: one
    word of the plan per run."""
    tree = ctx.workdir / "saved-esp"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "loader/entries").mkdir(parents=True)
    opts = tk_options(plan)
    # BLS order: "linux-6.1" before "linux-5.10" (newest first).
    for name in ("linux-5.10", "linux-6.1"):
        (tree / f"loader/entries/{name}.conf").write_text(
            f"title {name}\nlinux /khoboot-test/test_kernel.bzImage\noptions console=ttyS0 {opts}\n")
    (tree / "loader/loader.conf").write_text("default @saved\ntimeout 0\n")
    shutil.copyfile(ctx.root / TK, ctx.workdir / "test_kernel.bzImage")
    ctx.scenario.esp_files.append(EspFile(str(ctx.workdir / "test_kernel.bzImage"),
                                          "/khoboot-test/test_kernel.bzImage"))
    add_tree(ctx, tree)

    def before(c, run_index):
        if run_index == 1:   # as systemd-boot left it: the id with ".conf"
            ovmf_vars.add_variable(c.vars_path, "LoaderEntryLastBooted", SYSTEMD_GUID, u16("linux-5.10.conf"))
        if run_index == 2:
            ovmf_vars.add_variable(c.vars_path, "LoaderEntryOneShot", SYSTEMD_GUID, u16("linux-6.1"))
    for r in ctx.scenario.runs:
        r.before = before
    if len(ctx.scenario.runs) > 1:
        ctx.scenario.runs[1].checks.append(saved_is(ctx, "linux-6.1"))


def saved_is(ctx, entry: str) -> Custom:
    def fn(_lines):
        live = [x for x in ovmf_vars.variables(ctx.vars_path)
                if x.live and x.guid == SYSTEMD_GUID and x.name == "LoaderEntryLastBooted"]
        if not live:
            return "no LoaderEntryLastBooted in the variable store"
        v = live[-1]
        if not v.attributes & 1:
            return "LoaderEntryLastBooted is not non-volatile"
        if v.data != u16(entry):
            return f"LoaderEntryLastBooted is {v.data!r}, not {entry}"
        return None
    return Custom(fn, f"LoaderEntryLastBooted = {entry}, non-volatile, in the store")


def booted(entry: str) -> list:
    return NO_FAIL + [InOrder([rf"KHOBOOT: entry id={re.escape(entry)} .*",
                               rf"KHOBOOT: boot entry={re.escape(entry)} mode=cold .*",
                               r"TEST_KERNEL: result pass"])]


# --- sdboot-menu-force ---------------------------------------------------------------------------

class KeyAtMenu:
    """Types `key` on QEMU's PS/2 keyboard (QMP send-key) once the serial
    console shows `line`."""

    def __init__(self, ctx, run: Run, line: str, key: str):
        self.sock = ctx.workdir / "qmp-keys.sock"
        self.serial = ctx.workdir / "run1-serial.log"
        self.line = re.compile(line)
        self.key = key
        run.qemu_args += ["-qmp", f"unix:{self.sock},server=on,wait=off"]
        run.before = self.start

    def start(self, ctx, run_index: int) -> None:
        self.scope = reaper.current()
        self.scope.start_thread(self._main, "KeyAtMenu")

    def _main(self) -> None:
        qmp = QmpClient(self.sock, cancel=self.scope.cancel)
        try:
            deadline = time.monotonic() + 120
            while not any(self.line.search(x) for x in self._text().splitlines()):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no line /{self.line.pattern}/ within 120 s")
                if self.scope.cancel.wait(0.1):
                    return
            time.sleep(1.0)  # a little past the line: khoboot is polling the keyboard
            qmp.execute("send-key", keys=[{"type": "qcode", "data": self.key}])
        finally:
            qmp.close()

    def _text(self) -> str:
        return self.serial.read_text(errors="replace") if self.serial.exists() else ""


def prepare_menu_force(ctx) -> None:
    prepare_saved(ctx, "n")
    (ctx.workdir / "saved-esp/loader/loader.conf").write_text("timeout menu-force\n")
    KeyAtMenu(ctx, ctx.scenario.runs[0], r"KHOBOOT: menu 2 linux-5\.10", "2")


# --- sdboot-uki-key --------------------------------------------------------------------------------

def prepare_uki_key(ctx) -> None:
    """A type #1 entry with the `uki` key (systemd 254's, BLS "uki"): the
    UKI's .cmdline asks for a KHO state (tk.plan=c) that is not there; the
    entry's `options` replace it with a cold boot's, so test_kernel passing
    proves which command line was used."""
    tree = ctx.workdir / "uki-key-esp"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "loader/entries").mkdir(parents=True)
    (tree / "images").mkdir()
    initrd = ctx.workdir / "uki-key-initrd.bin"
    value = make_initrd(initrd, 64 * 1024, 16)
    make_uki(ctx, tree / "images/tk.efi", Path("/etc/os-release"), tk_options("c"), initrd)
    (tree / "loader/entries/tk-uki.conf").write_text(
        f"title test_kernel as a UKI\nuki /images/tk.efi\noptions console=ttyS0 {tk_options('n', initrd=value)}\n")
    (tree / "loader/loader.conf").write_text("timeout 0\n")
    add_tree(ctx, tree)


SCENARIOS = [
    Scenario(
        name="sdboot-kernel-install",
        description="an ESP as bootctl install + kernel-install (systemd 252) leave it, three kernels "
                    "and a UKI: BLS order picks the UKI, which boots cold, produces a KHO state, and "
                    "boots again with the handover (its .linux, .initrd, .cmdline)",
        requires=REQUIRES, prepare=prepare_kernel_install,
        runs=[Run(timeout=180, checks=kernel_install_checks())],
    ),
    Scenario(
        name="sdboot-saved",
        description="default @saved: LoaderEntryLastBooted as systemd-boot leaves it picks the older "
                    "entry; a one-shot boot of the other is saved (non-volatile) and followed",
        requires=REQUIRES, prepare=prepare_saved,
        runs=[Run(timeout=90, reboot=False, checks=booted("linux-5.10") + [
                  Line(r"KHOBOOT: default @saved entry=linux-5\.10")]),
              Run(timeout=90, reboot=False, checks=booted("linux-6.1") + [
                  Line(r"KHOBOOT: entry-source one-shot")]),
              Run(timeout=90, reboot=False, checks=booted("linux-6.1") + [
                  Line(r"KHOBOOT: default @saved entry=linux-6\.1")])],
    ),
    Scenario(
        name="sdboot-uki-key",
        description="a type #1 entry with the uki key: the UKI's .linux and .initrd boot, the "
                    "entry's options replace its .cmdline",
        requires=REQUIRES, prepare=prepare_uki_key,
        runs=[Run(timeout=90, reboot=False, checks=booted("tk-uki") + [
            Line(r"KHOBOOT: uki /images/tk\.efi linux=.* initrd=0x[0-9a-f]+\+0x10000 cmdline=section"),
            Line(r"KHOBOOT: initrd count=1 size=65536 .*"),
            Line(r"TEST_KERNEL: check initrd ok .*"),
            Line(r"KHOBOOT: cmdline console=ttyS0 tk\.plan=n .*")])],
    ),
    Scenario(
        name="sdboot-menu-force",
        description="timeout menu-force: the menu waits (watchdog off) for a key; '2' typed on the "
                    "PS/2 keyboard boots the second entry in BLS order",
        requires=REQUIRES, prepare=prepare_menu_force,
        runs=[Run(timeout=150, reboot=False, checks=booted("linux-5.10") + [
            InOrder([r"KHOBOOT: menu 1 linux-6\.1 \(default\)", r"KHOBOOT: menu 2 linux-5\.10",
                     r"KHOBOOT: watchdog seconds=0 step=menu", r"KHOBOOT: menu chose linux-5\.10",
                     r"KHOBOOT: watchdog seconds=300 step=boot"])])],
    ),
]
