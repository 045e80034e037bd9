"""The RAM-retention probe (loader/ram_probe.h) on OVMF, checked against
an independent measurement of the same warm reset.

probe-ovmf: loader.conf says `khoboot-probe once`. khoboot fills free RAM
with the pattern of abi/ram_probe.h, writes KhoProbeArmed and resets warm;
the next boot compares before it allocates and stores KhoProbeResult.
Around that reset a QMP watcher does what scripts/measure-ovmf-ram does
(same machinery: QEMU pauses at the guest's reset, every RAM range is
saved, the reset proceeds, the VM is stopped at a khoboot line and RAM is
saved again; the dumps are compared page by page), in the same QEMU run, so
both look at exactly one reset:

  - "before" is taken at the reset, after khoboot filled and recorded;
  - "after" is taken at `KHOBOOT: probe check`, which khoboot prints (serial
    only) once it has read its record and the memory map and before it
    reads the first filled page; from there to the result it only reads.

The probe sees the filled pages only. So the check is: the QMP changes
inside the filled ranges, coalesced, equal the probe's ranges (adjacent
entries of different owners merged) range for range, and every sampled
filled page held the pattern in "before" (computed here from the ABI's
formula). What the QMP measurement sees outside the filled ranges (the
firmware's own memory at arm time, the 8 MiB reserve, khoboot's image) is
listed apart, never compared. `khotool probe report --json` is run on the
KhoProbeResult the store holds after the run and must list the same.

probe-clobbered: a synthetic kho-v4 state named by the descriptor
variable, and a KhoProbeResult (packed here) saying the firmware rewrote
0xff00000-0x10001000, which holds the state's root FDT page: khoboot
refuses the state with one `error kho-clobbered` line naming that page and
boots cold, as the entry's kho-on-error says.
"""
from __future__ import annotations

import json
import mmap
import re
import struct
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import inject, ovmf_vars, reaper  # noqa: E402
from lib.bootchain import (Blob, Custom, Entry, EspFile, InOrder, Line, NoLine, Requirement,  # noqa: E402
                           Run, Scenario, ScenarioSkip)
from lib.qmp import QmpClient  # noqa: E402
from lib.tk_cmdline import tk_options  # noqa: E402
from scenarios.synth_states import DESCRIPTOR_GUID, DESCRIPTOR_VARIABLE, REQUIRES, TK  # noqa: E402

PAGE = 4096
MEMORY = "1G"
LAYOUT = [(0, 1 << 30)]          # q35 with 1 GiB: all of it below 2 GiB (kho_qemu.ram_layout)
MUL, XOR, MASK = 0x9E3779B97F4A7C15, 0x4B484F4250524F42, (1 << 64) - 1   # abi/ram_probe.h
RESULT_VARIABLE = "KhoProbeResult"
TYPE_NAMES = ["Reserved", "LoaderCode", "LoaderData", "BootServicesCode", "BootServicesData",
              "RuntimeServicesCode", "RuntimeServicesData", "Conventional", "Unusable", "ACPIReclaim",
              "ACPINVS", "MMIO", "MMIOPortSpace", "PalCode", "Persistent", "Unaccepted"]


def pattern_page(addr: int, salt: int) -> bytes:
    return struct.pack("<512Q", *((((addr + 8 * i) ^ salt) * MUL & MASK) ^ XOR for i in range(512)))


def coalesce(pages: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for p in pages:
        if out and out[-1][1] == p:
            out[-1][1] = p + PAGE
        else:
            out.append([p, p + PAGE])
    return out


def parse_result(data: bytes) -> dict:
    """KhoProbeResult (abi/ram_probe.h ResultHeader + ChangedRange), unpacked
    here, CRC checked with zlib."""
    (magic, version, hsize, esize, count, crc, total, salt, filled, changed, franges,
     _) = struct.unpack_from("<8sIIIIIIQQQII", data)
    if magic != b"KKPPBRES" or version != 1 or hsize != 64 or esize != 24 or len(data) != 64 + 24 * count:
        raise ValueError(f"not a KhoProbeResult: {data[:64].hex()}")
    if zlib.crc32(data[:24] + b"\0\0\0\0" + data[28:]) != crc:
        raise ValueError("KhoProbeResult: CRC mismatch")
    ranges = [struct.unpack_from("<QQI", data, 64 + 24 * i) for i in range(count)]
    return {"total": total, "salt": salt, "filled_bytes": filled, "changed_bytes": changed,
            "filled_ranges": franges, "ranges": ranges}


class ProbeWatch:
    """The measure-ovmf-ram procedure around the probe's reset, in one run:
    QMP, pause at the guest's reset, dump, reset, stop at `probe check`,
    dump, continue until the result is stored, quit. The comparison goes
    to probe-qmp.json for the checks."""

    def __init__(self, ctx, run: Run):
        self.work = ctx.workdir
        self.sock = ctx.workdir / "qmp-probe.sock"
        self.result = ctx.workdir / "probe-qmp.json"
        self.scope = None
        run.qemu_args += ["-qmp", f"unix:{self.sock},server=on,wait=off", "-S",
                          "-action", "reboot=shutdown,shutdown=pause"]
        run.before = self.start

    def start(self, ctx, run_index: int) -> None:
        self.scope = reaper.current()
        self.scope.start_thread(self._main, "ProbeWatch")

    def _text(self) -> str:
        p = self.work / "run1-serial.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def _lines(self) -> list[str]:
        out = []
        for raw in self._text().splitlines():
            i = raw.find("KHOBOOT: ")
            if i >= 0:
                out.append(raw[i:].rstrip("\r"))
        return out

    def _wait_line(self, pattern: str, timeout: float) -> str:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self._lines():
                if rx.fullmatch(line):
                    return line
            if time.monotonic() > deadline:
                raise RuntimeError(f"no line /{pattern}/ within {timeout:.0f} s")
            if self.scope.cancel.wait(0.02):
                raise RuntimeError(f"run ended before a line /{pattern}/")

    def _wait_status(self, qmp: QmpClient, want: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while qmp.execute("query-status")["status"] != want:
            if time.monotonic() > deadline:
                raise RuntimeError(f"VM never reached status {want}")
            if self.scope.cancel.wait(0.05):
                raise RuntimeError("run ended")

    def _save(self, qmp: QmpClient, tag: str) -> list[Path]:
        files = []
        for i, (s, e) in enumerate(LAYOUT):
            f = self.work / f"probe-{tag}-{i}.bin"
            qmp.execute("pmemsave", val=s, size=e - s, filename=str(f), timeout=300)
            files.append(f)
        return files

    def _main(self) -> None:
        verdict = {"ok": False, "reason": "watcher did not finish"}
        qmp = None
        try:
            qmp = QmpClient(self.sock, cancel=self.scope.cancel)
            qmp.execute("cont")
            self._wait_line(r"KHOBOOT: probe reset warm", 600)
            self._wait_status(qmp, "shutdown", 120)       # the guest's reset, paused
            t_reset = time.monotonic()
            before = self._save(qmp, "before")
            qmp.execute("set-action", reboot="reset", shutdown="poweroff")
            qmp.execute("system_reset")
            qmp.execute("cont")
            self._wait_line(r"KHOBOOT: probe check .*", 300)
            qmp.execute("stop")
            late = [l for l in self._lines() if l.startswith("KHOBOOT: probe result ")]
            after = self._save(qmp, "after")
            # Compared while the VM stands still: the run's checks read the
            # verdict once test_kernel has ended QEMU.
            measured = self._measure(before, after)
            measured["pattern_bad"] = self._sample_pattern(before)
            qmp.execute("cont")
            self._wait_line(r"KHOBOOT: phase probe .*", 600)  # after KhoProbeResult is written
            verdict = {"ok": True, "late": bool(late), "reset_to_check_s": round(time.monotonic() - t_reset, 1),
                       "lines": self._lines(), **measured}
        except Exception as exc:  # reported by the check, never lost
            verdict = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
            if not self.scope.cancel.is_set():
                self.scope.abort(f"probe watcher: {verdict['reason']}")
        finally:
            self.result.write_text(json.dumps(verdict))
            for f in self.work.glob("probe-*.bin"):
                f.unlink()
            if qmp is not None:
                qmp.close()

    def _sample_pattern(self, before: list[Path]) -> list[str]:
        """The arm's fill as "before" holds it: the first and last page of
        every filled range and every 256th page between, against the ABI's
        formula (a full check in Python would take minutes)."""
        lines = self._lines()
        m = next(re.fullmatch(r"KHOBOOT: probe armed ranges=\d+ bytes=\d+ salt=0x([0-9a-f]+)", l)
                 for l in lines if l.startswith("KHOBOOT: probe armed "))
        salt = int(m.group(1), 16)
        bad = []
        with open(before[0], "rb") as f:
            mb = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            for l in lines:
                r = re.fullmatch(r"KHOBOOT: probe filled 0x(\w+)-0x(\w+)", l)
                if not r:
                    continue
                s, e = int(r.group(1), 16), int(r.group(2), 16)
                for p in sorted({s, e - PAGE, *range(s, e, 256 * PAGE)}):
                    if mb[p:p + PAGE] != pattern_page(p, salt):
                        bad.append(hex(p))
            mb.close()
        return bad

    @staticmethod
    def _measure(before: list[Path], after: list[Path]) -> dict:
        """Changed pages, as scripts/measure-ovmf-ram compare() finds them."""
        changed = []
        for (base, _), b, a in zip(LAYOUT, before, after):
            with open(b, "rb") as fb, open(a, "rb") as fa:
                mb = mmap.mmap(fb.fileno(), 0, access=mmap.ACCESS_READ)
                ma = mmap.mmap(fa.fileno(), 0, access=mmap.ACCESS_READ)
                chunk = 1 << 20
                for off in range(0, min(len(mb), len(ma)), chunk):
                    x, y = mb[off:off + chunk], ma[off:off + chunk]
                    if x == y:
                        continue
                    for p in range(0, len(x), PAGE):
                        if x[p:p + PAGE] != y[p:p + PAGE]:
                            changed.append(base + off + p)
                mb.close()
                ma.close()
        return {"changed_pages": changed}


def probe_agrees(ctx, watch: ProbeWatch) -> Custom:
    def fn(lines):
        if not watch.result.exists():
            return "no verdict from the QMP watcher"
        v = json.loads(watch.result.read_text())
        if not v["ok"]:
            return v["reason"]
        if v["pattern_bad"]:
            return f"filled pages without the pattern at the reset: {v['pattern_bad'][:5]}"
        if v["late"]:
            return "the VM stopped after khoboot's result line: the QMP 'after' dump is not at the check"
        armed = [l for l in v["lines"] if l.startswith("KHOBOOT: probe armed ")]
        m = re.fullmatch(r"KHOBOOT: probe armed ranges=(\d+) bytes=(\d+) salt=0x([0-9a-f]+)", armed[0]) \
            if armed else None
        if not m:
            return "no 'probe armed' line"
        filled = [tuple(int(x, 16) for x in re.fullmatch(r"KHOBOOT: probe filled 0x(\w+)-0x(\w+)", l).groups())
                  for l in v["lines"] if l.startswith("KHOBOOT: probe filled ")]
        if len(filled) != int(m.group(1)) or sum(e - s for s, e in filled) != int(m.group(2)):
            return f"{len(filled)} 'probe filled' lines for {m.group(1)} ranges"
        salt = int(m.group(3), 16)
        inside = [p for p in v["changed_pages"] if any(s <= p < e for s, e in filled)]
        outside = [p for p in v["changed_pages"] if not any(s <= p < e for s, e in filled)]
        qmp_ranges = coalesce(inside)

        store = {x.name: x.data for x in ovmf_vars.variables(ctx.vars_path)
                 if x.live and x.guid == DESCRIPTOR_GUID}
        if RESULT_VARIABLE not in store:
            return f"no {RESULT_VARIABLE} in the variable store"
        if "KhoProbeArmed" in store:
            return "KhoProbeArmed still in the store: the check did not consume it"
        result = parse_result(store[RESULT_VARIABLE])
        if result["total"] != len(result["ranges"]):
            return f"the result lists {len(result['ranges'])} of {result['total']} ranges"
        probe_ranges: list[list[int]] = []
        for s, e, _t in result["ranges"]:
            if probe_ranges and probe_ranges[-1][1] == s:
                probe_ranges[-1][1] = e
            else:
                probe_ranges.append([s, e])

        # khotool probe report, as the booted OS would run it, on the same bytes.
        efivars = ctx.workdir / "efivars"
        efivars.mkdir(exist_ok=True)
        (efivars / f"{RESULT_VARIABLE}-{DESCRIPTOR_GUID}").write_bytes(b"\x07\0\0\0" + store[RESULT_VARIABLE])
        report = json.loads(ctx.khotool("probe", "report", "--json", "--efivars", str(efivars)).stdout)
        listed = [(r["start"], r["end"], r["owner"]) for r in report["ranges"]]
        expect = [(s, e, TYPE_NAMES[t] if t < len(TYPE_NAMES) else "not-in-map") for s, e, t in result["ranges"]]
        if listed != expect:
            return f"khotool probe report lists {listed[:4]}..., the variable holds {expect[:4]}..."

        table = ["| start | end | size | probe owner after the reset | QMP |", "|---|---|---|---|---|"]
        for s, e, t in result["ranges"]:
            ok = any(q[0] <= s and e <= q[1] for q in qmp_ranges)
            table.append(f"| {s:#x} | {e:#x} | {(e - s) >> 10} KiB | {expect[[r[0] for r in expect].index(s)][2]} | "
                         f"{'same' if ok else 'MISSING'} |")
        (ctx.root / "build").mkdir(exist_ok=True)
        summary = {"filled": filled, "salt": salt, "probe": result["ranges"], "qmp_inside": qmp_ranges,
                   "qmp_outside": coalesce(outside), "reset_to_check_s": v["reset_to_check_s"]}
        (ctx.root / "build" / "probe-ovmf.json").write_text(json.dumps(summary, indent=1) + "\n")
        ctx.data["probe"] = {"filled": filled, "ranges": probe_ranges}
        print("  probe vs QMP, inside the filled ranges:\n    " + "\n    ".join(table), flush=True)
        print(f"  QMP outside the filled ranges (not probed): "
              f"{', '.join(f'{s:#x}-{e:#x}' for s, e in coalesce(outside))}", flush=True)
        if probe_ranges != qmp_ranges:
            return (f"probe {[(hex(s), hex(e)) for s, e in probe_ranges]} != "
                    f"QMP {[(hex(s), hex(e)) for s, e in qmp_ranges]} inside the filled ranges")
        if not qmp_ranges:
            return "nothing changed inside the filled ranges: OVMF is known to rewrite some (a fill that did not happen?)"
        if result["filled_bytes"] != int(m.group(2)):
            return f"result says {result['filled_bytes']} bytes filled, the arm line {m.group(2)}"
        return None
    return Custom(fn, "probe agrees with the QMP measurement range for range")


def prepare_ovmf(ctx):
    conf = ctx.workdir / "loader.conf"
    conf.write_text("default tk\nkhoboot-probe once\n")
    ctx.scenario.esp_files.append(EspFile(str(conf), "/loader/loader.conf"))
    watch = ProbeWatch(ctx, ctx.scenario.runs[0])
    ctx.scenario.runs[0].checks.append(probe_agrees(ctx, watch))


def linux_measure_agrees(ctx) -> Custom:
    """scripts/measure-ovmf-ram itself (KHO Linux fills free RAM, QMP dumps
    at the reset and at khoboot's first line), another QEMU run with the
    same -m: its changed pages inside the probe's filled ranges must be the
    probe's ranges. Its fill covers more (Linux frees the firmware's
    boot-services memory), so only the filled ranges are compared."""
    def fn(_lines):
        if "probe" not in ctx.data:
            return "no probe result to compare (the probe check failed)"
        out = ctx.workdir / "measure.json"
        ctx.run(["scripts/measure-ovmf-ram", "--memory", MEMORY, "--json", str(out)], timeout=1200)
        m = json.loads(out.read_text())
        inside = []
        for r in m["ranges"]:
            s, e = int(r["start"], 16), int(r["end"], 16)
            for fs, fe in ctx.data["probe"]["filled"]:
                if max(s, fs) < min(e, fe):
                    inside.append([max(s, fs), min(e, fe)])
        inside.sort()
        merged: list[list[int]] = []
        for s, e in inside:
            if merged and merged[-1][1] == s:
                merged[-1][1] = e
            else:
                merged.append([s, e])
        print(f"  measure-ovmf-ram -m {MEMORY} inside the filled ranges: "
              f"{', '.join(f'{s:#x}-{e:#x}' for s, e in merged)}", flush=True)
        if merged != ctx.data["probe"]["ranges"]:
            return (f"measure-ovmf-ram {[(hex(s), hex(e)) for s, e in merged]} != probe "
                    f"{[(hex(s), hex(e)) for s, e in ctx.data['probe']['ranges']]}")
        return None
    return Custom(fn, "probe agrees with scripts/measure-ovmf-ram (Linux fill) range for range")


def prepare_linux_measure(ctx):
    status = subprocess.run([str(ctx.root / "scripts/build-linux-kho"), "--status"], capture_output=True,
                            text=True).stdout
    if not status.startswith("cached"):   # measure-ovmf-ram would build it: not here
        raise ScenarioSkip(f"no KHO Linux kernel in the cache ({status.strip()[:80]})")
    prepare_ovmf(ctx)
    ctx.scenario.runs[0].checks.append(linux_measure_agrees(ctx))


# --- probe-clobbered ----------------------------------------------------------------

CLOBBERED = (0xFF00000, 0x10001000, 4)   # BootServicesData, over the synthetic state's root FDT page


def pack_result(ranges) -> bytes:
    body = b"".join(struct.pack("<QQII", s, e, t, 0) for s, e, t in ranges)

    def header(crc):
        return struct.pack("<8sIIIIIIQQQII", b"KKPPBRES", 1, 64, 24, len(ranges), crc, len(ranges),
                           0x5000, 1 << 29, sum(e - s for s, e, _ in ranges), 1, 0)
    return header(zlib.crc32(header(0) + body)) + body


def prepare_clobbered(ctx):
    out = ctx.workdir / "synth"
    ctx.khotool("synth", "--out", str(out), "--format", "kho-v4", "--blocks", "50", "--seed", "21")
    state = json.loads((out / "state.json").read_text())
    assert state["fdt"] == 0x10000000, state["fdt"]   # CLOBBERED holds it
    run = ctx.scenario.runs[0]
    run.blobs += [Blob(str(out / b["file"]), b["addr"]) for b in state["blobs"]]

    def inject_vars(c, _run_index):
        ovmf_vars.add_variable(c.vars_path, DESCRIPTOR_VARIABLE, DESCRIPTOR_GUID,
                               (out / "descriptor.bin").read_bytes())
        ovmf_vars.add_variable(c.vars_path, RESULT_VARIABLE, DESCRIPTOR_GUID, pack_result([CLOBBERED]))
    run.before = inject_vars


# --- probe-os: khotool in the booted OS ----------------------------------------------------

OS_INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /bin /proc /sys /dev
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in /lib/modules/*.ko; do [ -f "$m" ] && insmod "$m" 2>/dev/null; done
mkdir -p /sys/firmware/efi/efivars
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
if [ -e /sys/firmware/efi/efivars/KhoProbeResult-GUID ]; then
  echo "PROBE: report $(/khotool probe report --json 2>&1 | tr -d '\n')"
  /khotool probe report 2>&1 | sed 's/^/PROBE: text /'
  echo "PROBE: done"
  sync
  poweroff -f
else
  echo "PROBE: arm rc=$(/khotool probe arm >/dev/null 2>&1; echo $?)"
  sync
  reboot -f
fi
"""


def cpio(files: list[tuple[str, int, bytes]]) -> bytes:
    """newc archive (Linux Documentation/driver-api/early-userspace/
    buffer-format.rst) of (name, mode, data), then the trailer."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(files + [("TRAILER!!!", 0, b"")], 1):
        nb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0)
        out.extend(b"070701" + "".join(f"{v:08x}" for v in fields).encode() + nb)
        out.extend(b"\0" * (-(110 + len(nb)) % 4))
        out.extend(data + b"\0" * (-len(data) % 4))
    return bytes(out)


def prepare_os(ctx):
    from scenarios.stock_linux import _prepare
    _prepare(ctx, False)   # Debian's kernel and the probe initramfs (busybox, efivarfs.ko)
    tool = ctx.root / "build/host/khotool-static"
    init = OS_INIT.replace("GUID", str(DESCRIPTOR_GUID))
    extra = ctx.workdir / "probe-os.cpio"
    extra.write_bytes(cpio([("init", 0o100755, init.encode()), ("khotool", 0o100755, tool.read_bytes())]))
    for e in ctx.scenario.entries:
        e.initrd = e.initrd + [str(extra)]


def report_matches_serial(lines):
    """khotool probe report --json in the OS against khoboot's own serial
    lines of the check (two paths: efivarfs and the UART)."""
    rep = [l for l in lines if l.startswith("PROBE: report ")]
    if not rep:
        return "no 'PROBE: report' line"
    try:
        r = json.loads(rep[-1][len("PROBE: report "):])
    except ValueError as e:
        return f"report is not JSON ({e}): {rep[-1][:200]}"
    serial = [tuple(re.fullmatch(r"KHOBOOT: probe changed 0x(\w+)-0x(\w+) owner=(\S+)", l).groups())
              for l in lines if l.startswith("KHOBOOT: probe changed ")]
    serial = [(int(a, 16), int(b, 16), o) for a, b, o in serial]
    res = re.fullmatch(r"KHOBOOT: probe result filled=(\d+) ranges=(\d+) changed=(\d+) "
                       r"changed-ranges=(\d+) listed=(\d+)",
                       next(l for l in lines if l.startswith("KHOBOOT: probe result ")))
    got = [(x["start"], x["end"], x["owner"]) for x in r["ranges"]]
    if got != serial:
        return f"report ranges {got[:3]}... != serial {serial[:3]}..."
    if (r["filled_bytes"], r["filled_ranges"], r["changed_bytes"], r["changed_ranges"]) != \
            tuple(int(res.group(i)) for i in (1, 2, 3, 4)):
        return f"report totals {r} != {res.group(0)}"
    if not got:
        return "the report lists no changed range"
    return None


SCENARIOS = [
    Scenario(
        name="probe-ovmf",
        description="khoboot-probe once: fill free RAM, warm reset, compare before allocating; the "
                    "changed ranges equal, range for range, what a QMP dump before and after the same "
                    "reset shows inside the filled ranges; khotool probe report lists them",
        requires=REQUIRES,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("n"))],
        prepare=prepare_ovmf,
        timeout=600,
        runs=[Run(memory=MEMORY, timeout=540, checks=[
            InOrder([r"KHOBOOT: entry id=tk .*",
                     r"KHOBOOT: probe armed ranges=\d+ bytes=\d+ salt=0x[0-9a-f]+",
                     r"KHOBOOT: probe reset warm",
                     r"KHOBOOT: start .*",
                     r"KHOBOOT: probe check ranges=\d+ bytes=\d+ salt=0x[0-9a-f]+",
                     r"KHOBOOT: probe result filled=\d+ ranges=\d+ changed=\d+ changed-ranges=\d+ listed=\d+",
                     r"KHOBOOT: phase probe .*",
                     r"KHOBOOT: boot entry=tk mode=cold .*",
                     r"TEST_KERNEL: result pass"]),
            NoLine(r"KHOBOOT: (error|warn probe) .*"),
        ])],
    ),
    Scenario(
        name="probe-vs-measure-ovmf-ram",
        description="probe-ovmf, then scripts/measure-ovmf-ram with the KHO Linux and the same -m "
                    "in another QEMU run: inside the probe's filled ranges both find the same ranges "
                    "(about 3 minutes more; needs scripts/build-linux-kho's kernel)",
        requires=REQUIRES + [Requirement("build/host/khotool-static", "scripts/linux/build.mk"),
                             Requirement("build/host/linux-chain-init", "scripts/linux/build.mk")],
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("n"))],
        prepare=prepare_linux_measure,
        default=False,
        timeout=1800,
        runs=[Run(memory=MEMORY, timeout=540, checks=[
            Line(r"KHOBOOT: probe result .*"),
            NoLine(r"KHOBOOT: (error|warn probe) .*"),
        ])],
    ),
    Scenario(
        name="probe-os",
        description="khotool probe arm in Debian's stock kernel, reboot; khoboot arms, resets warm, "
                    "checks; khotool probe report --json in the next Linux lists what khoboot's serial "
                    "lines say changed",
        requires=REQUIRES + [Requirement("build/host/khotool-static", "scripts/linux/build.mk")],
        entries=[Entry("debian", linux="(set by prepare)", options="console=ttyS0 panic=-1")],
        prepare=prepare_os,
        tags=("KHOBOOT", "PROBE"),
        timeout=600,
        runs=[Run(memory=MEMORY, timeout=540, expect_exit=0, checks=[
            InOrder([r"PROBE: arm rc=0",
                     r"KHOBOOT: probe armed ranges=\d+ bytes=\d+ salt=0x[0-9a-f]+",
                     r"KHOBOOT: probe reset warm",
                     r"KHOBOOT: probe check .*",
                     r"KHOBOOT: probe result .*",
                     r"KHOBOOT: boot entry=debian mode=cold .*",
                     r"PROBE: report .*",
                     r"PROBE: done"]),
            NoLine(r"KHOBOOT: (error|warn probe) .*"),
            Custom(report_matches_serial, "khotool probe report in the OS = khoboot's serial lines"),
        ])],
    ),
    Scenario(
        name="probe-clobbered",
        description="a state whose root FDT page lies in a range KhoProbeResult names: one error "
                    "kho-clobbered line naming the page and the probe range, a cold boot",
        requires=REQUIRES,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("n"))],
        prepare=prepare_clobbered,
        runs=[Run(timeout=120, reboot=False, checks=[
            InOrder([r"KHOBOOT: kho descriptor source=variable fdt=0x10000000 .*",
                     r"KHOBOOT: error kho-clobbered 0x10000000-0x10001000 lies in 0xff00000-0x10001000 "
                     r"\(BootServicesData\), rewritten across the probe's warm reset; 1 part\(s\)",
                     r"KHOBOOT: policy cold-boot found=1 usable=0",
                     r"KHOBOOT: boot entry=tk mode=cold .*",
                     r"TEST_KERNEL: result pass"]),
            NoLine(r"KHOBOOT: error (?!kho-clobbered).*"),
            NoLine(r"KHOBOOT: probe (armed|check) .*"),
        ])],
    ),
]
