"""Checks of `khotool install` / `khotool remove` against ESP directories,
run by scripts/test-khotool.

The firmware side is a fake `efibootmgr` put first on PATH: it keeps the
Boot#### options in a JSON file, prints them in efibootmgr's listing format
and appends every argument vector it was given to a log, so the checks see
exactly what khotool asked of it. A fake `findmnt` answers for the ESP
directory, and a fake sysfs tree says which disk and partition the ESP's
block device is. Expected values come from that setup (disk vdb, partition
3), never from khotool's output.

Another loader's files (systemd-boot's layout as `bootctl install` leaves
it, and the removable-media fallback EFI/BOOT/BOOTX64.EFI) must be
byte-identical after install, upgrade and remove.
"""
import hashlib
import json
import os
import shutil
import subprocess

FAKE_EFIBOOTMGR = r'''#!/usr/bin/env python3
import json, os, sys
state_path, log_path = os.environ["FAKE_EFI_STATE"], os.environ["FAKE_EFI_LOG"]
args = sys.argv[1:]
with open(log_path, "a") as f:
    f.write(json.dumps(args) + "\n")
st = json.load(open(state_path))
opts = {int(k, 16): v for k, v in st["options"].items()}

def value(*names):
    for n in names:
        if n in args:
            return args[args.index(n) + 1]
    return None

if "--create" in args or "--create-only" in args or "-c" in args or "-C" in args:
    n = min(set(range(0x10000)) - set(opts))
    opts[n] = value("--label", "-L")
    if "--create" in args or "-c" in args:
        st["order"].insert(0, n)
elif "--delete-bootnum" in args or "-B" in args:
    n = int(value("--bootnum", "-b"), 16)
    if n not in opts:
        print("Could not delete variable: No such file or directory", file=sys.stderr)
        sys.exit(5)
    del opts[n]
    st["order"] = [o for o in st["order"] if o != n]
elif args:
    print("fake efibootmgr: unexpected arguments %r" % args, file=sys.stderr)
    sys.exit(2)
st["options"] = {"%04X" % k: v for k, v in opts.items()}
json.dump(st, open(state_path, "w"))
print("BootCurrent: 0001")
print("Timeout: 0 seconds")
print("BootOrder: " + ",".join("%04X" % o for o in st["order"]))
for n in sorted(opts):
    if os.environ.get("FAKE_EFI_STYLE") == "17":
        # Version 17 (Debian 12) without -v: the label alone.
        print("Boot%04X* %s" % (n, opts[n]))
    else:
        # Version 18's default listing: label, tab, device path.
        print("Boot%04X* %s\tHD(3,GPT,0,0x800,0x100000)/File(\\EFI\\x.efi)" % (n, opts[n]))
'''

FAKE_FINDMNT = r'''#!/bin/sh
# Answers for every --target with the filesystem the test chose.
[ -n "$FAKE_FINDMNT" ] || exit 1
echo "$FAKE_FINDMNT"
'''

SDBOOT_LAYOUT = {
    "EFI/BOOT/BOOTX64.EFI": b"MZ systemd-boot as the fallback " * 40,
    "EFI/systemd/systemd-bootx64.efi": b"MZ systemd-boot " * 64,
    "EFI/debian/shimx64.efi": b"MZ shim " * 100,
    "EFI/Linux/debian-6.1.0-uki.efi": b"MZ a UKI " * 50,
    "loader/loader.conf": b"timeout 3\ndefault @saved\nconsole-mode keep\n",
    "loader/entries/debian-6.1.0.conf": b"title Debian\nlinux /vmlinuz-6.1.0\noptions root=/dev/vda2\n",
    "loader/random-seed": bytes(range(32)),
}


def tree(root):
    """{relative path: sha256} of every file, and the set of directories."""
    files, dirs = {}, set()
    for d, subdirs, names in os.walk(root):
        for s in subdirs:
            dirs.add(os.path.relpath(os.path.join(d, s), root))
        for n in names:
            p = os.path.join(d, n)
            files[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return files, dirs


def others(files):
    return {k: v for k, v in files.items() if not k.startswith("EFI/khoboot/") and k != "loader/loader.conf"}


class Rig:
    """A scratch ESP, fake efibootmgr/findmnt and sysfs under `tmp`."""

    def __init__(self, khotool, loader, tmp, name):
        self.khotool, self.loader = khotool, loader
        self.root = os.path.join(tmp, name)
        shutil.rmtree(self.root, ignore_errors=True)
        self.esp = os.path.join(self.root, "esp")
        self.bin = os.path.join(self.root, "bin")
        self.sysfs = os.path.join(self.root, "sys")
        os.makedirs(self.esp)
        os.makedirs(self.bin)
        for name_, text in (("efibootmgr", FAKE_EFIBOOTMGR), ("findmnt", FAKE_FINDMNT)):
            p = os.path.join(self.bin, name_)
            open(p, "w").write(text)
            os.chmod(p, 0o755)
        # /sys/class/block/vdb3 -> the partition's node under its disk vdb.
        part = os.path.join(self.sysfs, "devices/pci0000:00/0000:00:05.0/virtio2/block/vdb/vdb3")
        os.makedirs(part)
        open(os.path.join(part, "partition"), "w").write("3\n")
        os.makedirs(os.path.join(self.sysfs, "class/block"))
        os.symlink(os.path.relpath(part, os.path.join(self.sysfs, "class/block")),
                   os.path.join(self.sysfs, "class/block/vdb3"))
        self.state = os.path.join(self.root, "nvram.json")
        self.log = os.path.join(self.root, "efibootmgr.log")
        json.dump({"options": {"0000": "UiApp", "0001": "debian"}, "order": [1, 0]}, open(self.state, "w"))
        open(self.log, "w").close()
        self.findmnt = 'TARGET="%s" SOURCE="/dev/vdb3" FSTYPE="vfat"' % self.esp
        self.style = "18"

    def populate(self, layout):
        for rel, data in layout.items():
            p = os.path.join(self.esp, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "wb").write(data)

    def run(self, *args):
        env = dict(os.environ, PATH=self.bin + ":" + os.environ.get("PATH", ""),
                   FAKE_EFI_STATE=self.state, FAKE_EFI_LOG=self.log, FAKE_FINDMNT=self.findmnt,
                   FAKE_EFI_STYLE=self.style)
        return subprocess.run([self.khotool] + list(args), capture_output=True, text=True, env=env)

    def install(self, *extra):
        return self.run("install", "--esp", self.esp, "--loader", self.loader, "--sysfs", self.sysfs, *extra)

    def calls(self):
        return [json.loads(line) for line in open(self.log)]

    def nvram(self):
        return json.load(open(self.state))


def one_error_line(r, kind):
    lines = r.stderr.splitlines()
    return r.returncode == 1 and len(lines) == 1 and lines[0].startswith("khotool: error %s: " % kind)


def check_install_beside_sdboot(report, rig):
    rig.populate(SDBOOT_LAYOUT)
    before, _ = tree(rig.esp)
    r = rig.install()
    after, _ = tree(rig.esp)
    report("install: exit 0", r.returncode == 0, r.stderr)
    report("install: another loader's files byte-identical", others(after) == others(before),
           sorted(set(others(before).items()) ^ set(others(after).items())))
    report("install: loader.conf kept", after.get("loader/loader.conf") == before["loader/loader.conf"])
    want = hashlib.sha256(open(rig.loader, "rb").read()).hexdigest()
    report("install: EFI/khoboot/khobootx64.efi is the loader", after.get("EFI/khoboot/khobootx64.efi") == want)
    want_call = ["--create-only", "--disk", "/dev/vdb", "--part", "3", "--label", "khoboot",
                 "--loader", "\\EFI\\khoboot\\khobootx64.efi"]
    creates = [c for c in rig.calls() if "--create-only" in c or "--create" in c]
    report("install: efibootmgr asked for the ESP's disk and partition", creates == [want_call], creates)
    st = rig.nvram()
    report("install: Boot0002 khoboot, BootOrder untouched",
           st["options"].get("0002") == "khoboot" and st["order"] == [1, 0], st)
    rec = open(os.path.join(rig.esp, "EFI/khoboot/install-record")).read()
    report("install: record names the option", "boot 0002\n" in rec, rec)
    return before


def check_upgrade(report, rig, before):
    rig.style = "17"  # the option is found again in version 17's listing
    newer = os.path.join(rig.root, "newer.efi")
    open(newer, "wb").write(open(rig.loader, "rb").read() + b"\0" * 512)
    r = rig.run("install", "--esp", rig.esp, "--loader", newer, "--sysfs", rig.sysfs)
    after, _ = tree(rig.esp)
    report("upgrade: exit 0, says so", r.returncode == 0 and "upgrad" in r.stdout, r.stdout + r.stderr)
    want = hashlib.sha256(open(newer, "rb").read()).hexdigest()
    report("upgrade: loader replaced in place", after.get("EFI/khoboot/khobootx64.efi") == want)
    creates = [c for c in rig.calls() if "--create-only" in c]
    labels = [v for v in rig.nvram()["options"].values() if v == "khoboot"]
    report("upgrade: the option is kept, not duplicated", len(creates) == 1 and len(labels) == 1, rig.calls())
    report("upgrade: another loader's files byte-identical", others(after) == others(before))
    report("upgrade: no leftover .new file", not any(k.endswith(".new") for k in after))


def check_remove(report, rig, before, before_dirs):
    rig.style = "18"
    r = rig.run("remove", "--esp", rig.esp)
    after, dirs = tree(rig.esp)
    report("remove: exit 0", r.returncode == 0, r.stderr)
    report("remove: option deleted", ["--bootnum", "0002", "--delete-bootnum"] in rig.calls()
           and "0002" not in rig.nvram()["options"], rig.calls())
    report("remove: the ESP is as it was before install", after == before and dirs == before_dirs,
           (sorted(set(after) ^ set(before)), sorted(dirs ^ before_dirs)))
    r = rig.run("remove", "--esp", rig.esp)
    report("remove twice: one error line, exit 1", one_error_line(r, "io"), r.stderr)


def check_empty_esp(report, rig):
    r = rig.install("--no-nvram")
    files, dirs = tree(rig.esp)
    report("empty ESP: install writes loader.conf and the loader",
           r.returncode == 0 and {"loader/loader.conf", "EFI/khoboot/khobootx64.efi"} <= set(files), r.stderr)
    report("empty ESP: --no-nvram calls no efibootmgr", rig.calls() == [], rig.calls())
    r = rig.run("remove", "--esp", rig.esp)
    files, dirs = tree(rig.esp)
    report("empty ESP: remove leaves it empty", r.returncode == 0 and not files and not dirs, (files, dirs))
    # A loader.conf the operator edited after install is theirs.
    rig.install("--no-nvram")
    conf = os.path.join(rig.esp, "loader/loader.conf")
    open(conf, "a").write("timeout 5\n")
    r = rig.run("remove", "--esp", rig.esp)
    report("empty ESP: an edited loader.conf survives remove",
           r.returncode == 0 and os.path.exists(conf) and "timeout 5" in open(conf).read(), r.stdout)


def check_dry_run(report, rig):
    rig.populate(SDBOOT_LAYOUT)
    before = tree(rig.esp)
    r = rig.install("--dry-run")
    report("dry run: nothing changes", r.returncode == 0 and tree(rig.esp) == before, r.stderr)
    report("dry run: no option created", not any("--create-only" in c for c in rig.calls()), rig.calls())
    report("dry run: prints the efibootmgr command",
           "efibootmgr --create-only --disk /dev/vdb --part 3 --label khoboot" in r.stdout, r.stdout)


def check_refusals(report, rig):
    rig.populate(SDBOOT_LAYOUT)
    before = tree(rig.esp)
    readme = os.path.join(rig.root, "README.md")
    open(readme, "w").write("# not a loader\n" * 10)
    r = rig.run("install", "--esp", rig.esp, "--loader", readme, "--no-nvram")
    report("refuse: a loader without MZ, ESP untouched", one_error_line(r, "io") and tree(rig.esp) == before,
           r.stderr)
    rig.findmnt = 'TARGET="%s" SOURCE="/dev/vdb3" FSTYPE="ext4"' % rig.esp
    r = rig.install()
    report("refuse: an ESP that is not FAT, untouched", one_error_line(r, "nvram") and tree(rig.esp) == before,
           r.stderr)
    rig.findmnt = 'TARGET="/" SOURCE="/dev/vdb3" FSTYPE="vfat"'
    r = rig.install()
    report("refuse: a directory that is not the mount point, untouched",
           one_error_line(r, "nvram") and "mount point" in r.stderr and tree(rig.esp) == before, r.stderr)
    os.rename(os.path.join(rig.bin, "efibootmgr"), os.path.join(rig.bin, "efibootmgr.off"))
    env = dict(os.environ, PATH=rig.bin)  # no efibootmgr anywhere on PATH
    r = subprocess.run([rig.khotool, "install", "--esp", rig.esp, "--loader", rig.loader, "--sysfs", rig.sysfs],
                       capture_output=True, text=True, env=env)
    report("refuse: no efibootmgr, one line naming it, untouched",
           one_error_line(r, "nvram") and "efibootmgr" in r.stderr and tree(rig.esp) == before, r.stderr)
    os.rename(os.path.join(rig.bin, "efibootmgr.off"), os.path.join(rig.bin, "efibootmgr"))
    r = rig.run("install", "--loader", rig.loader)
    report("refuse: install without --esp is a usage error", r.returncode == 2 and "--esp" in r.stderr, r.stderr)
    # A record edited to point outside the ESP must not make remove delete it.
    victim = os.path.join(rig.root, "victim")
    open(victim, "w").write("keep me")
    os.makedirs(os.path.join(rig.esp, "EFI/khoboot"), exist_ok=True)
    open(os.path.join(rig.esp, "EFI/khoboot/install-record"), "w").write(
        "khoboot-install 1\nfile ../../victim\n")
    r = rig.run("remove", "--esp", rig.esp)
    report("refuse: a record naming ../ is refused, nothing deleted",
           one_error_line(r, "record") and os.path.exists(victim), r.stderr)


def run(report, khotool, loader, tmp):
    if not os.path.exists(loader):
        report("install checks: loader built", False, "%s missing (run make)" % loader)
        return
    rig = Rig(khotool, loader, tmp, "install-sdboot")
    rig.populate(SDBOOT_LAYOUT)
    before_dirs = tree(rig.esp)[1]
    before = check_install_beside_sdboot(report, rig)
    check_upgrade(report, rig, before)
    check_remove(report, rig, before, before_dirs)
    check_empty_esp(report, Rig(khotool, loader, tmp, "install-empty"))
    check_dry_run(report, Rig(khotool, loader, tmp, "install-dry"))
    check_refusals(report, Rig(khotool, loader, tmp, "install-refuse"))
