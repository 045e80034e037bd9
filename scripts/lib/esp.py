"""ESP layout for one scenario: a directory QEMU serves as a FAT disk
(``-drive format=raw,file=fat:rw:DIR``, QEMU's vvfat).

Layout (the loader's conventions, efi/README.md):
  /EFI/BOOT/BOOTX64.EFI           the loader (removable-media default path,
                                  UEFI 2.10 section 3.5.1.1, so no boot
                                  variable has to be created)
  /loader/loader.conf             "default NAME" (the first entry id)
  /loader/entries/NAME.conf       Boot Loader Specification type #1 entries
  /khoboot-test/...               kernels, initrds and extra files

vvfat presents at most ~500 MiB (FAT16 geometry by default); scenarios keep
large inputs in RAM blobs (-device loader) instead of on the ESP.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from .bootchain import Entry, EspFile, ScenarioError

PAYLOAD_DIR = "khoboot-test"


def _host_path(root: Path, p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() else root / path


def _copy(root: Path, src: str, esp: Path, dst: str) -> str:
    """Copies a host file to the ESP; returns its ESP path ("/a/b")."""
    s = _host_path(root, src)
    if not s.is_file():
        raise ScenarioError(f"missing file for the ESP: {src}")
    d = esp / dst.lstrip("/")
    d.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(s, d)
    return "/" + dst.lstrip("/")


def removable_name(loader: Path) -> str:
    """The removable-media file name for the loader's CPU (UEFI 2.10
    section 3.5.1.1), from its PE header's Machine field."""
    try:
        head = loader.read_bytes()[:4096]
        pe = int.from_bytes(head[0x3c:0x40], "little")
        machine = int.from_bytes(head[pe + 4:pe + 6], "little")
    except (OSError, ValueError):
        return "BOOTX64.EFI"
    return "BOOTAA64.EFI" if machine == 0xAA64 else "BOOTX64.EFI"


def entry_text(entry: Entry, linux: str, initrds: list[str]) -> str:
    lines = [f"title {entry.title or entry.name}", f"linux {linux}"]
    lines += [f"initrd {i}" for i in initrds]
    if entry.options:
        lines.append(f"options {entry.options}")
    for k, v in entry.keys.items():
        lines.append(f"{k} {v}")
    return "\n".join(lines) + "\n"


def build_esp(root: Path, esp: Path, loader: str, entries: list[Entry],
              files: list[EspFile]) -> None:
    if esp.exists():
        shutil.rmtree(esp)
    esp.mkdir(parents=True)
    _copy(root, loader, esp, f"EFI/BOOT/{removable_name(_host_path(root, loader))}")
    (esp / "loader" / "entries").mkdir(parents=True)
    copied: dict[str, str] = {}

    def payload(src: str) -> str:
        if src not in copied:
            name = Path(src).name
            # two different host files with one base name stay apart
            n = sum(1 for v in copied.values() if Path(v).name.endswith(name))
            dst = f"{PAYLOAD_DIR}/{name}" if n == 0 else f"{PAYLOAD_DIR}/{n}-{name}"
            copied[src] = _copy(root, src, esp, dst)
        return copied[src]

    for e in entries:
        text = entry_text(e, payload(e.linux), [payload(i) for i in e.initrd])
        (esp / "loader" / "entries" / f"{e.name}.conf").write_text(text)
    if entries:
        (esp / "loader" / "loader.conf").write_text(
            f"default {entries[0].name}\ntimeout 0\n")
    for f in files:
        _copy(root, f.src, esp, f.dst)
