"""Secure Boot and measured boot through khoboot (issue 16), on Debian's
Secure Boot OVMF: OVMF_CODE_4M.snakeoil.fd with OVMF_VARS_4M.snakeoil.fd,
whose PK, KEK and db hold the test certificate
/usr/share/ovmf/PkKek-1-snakeoil.pem. Binaries are signed here with sbsign
and that key, as `make sign` does.

The kernel is Debian bookworm's stock kernel (the stock-linux-* scenarios'
kernel and probe initramfs, scripts/scenarios/stock_linux.py), not
test_kernel: test_kernel is a bare bzImage without a PE/COFF header, so
neither sbsign nor the firmware's LoadImage() can handle it, while
Debian's kernel is a real EFI-stub PE image, has TPM drivers
(TCG_TIS, TCG_CRB) and locks itself down when boot_params says Secure Boot
(LOCK_DOWN_IN_EFI_SECURE_BOOT): every check here is on what a real kernel
does. Its Debian signature is removed (sbattach --remove) so that "unsigned"
means unsigned; "signed" means signed with the snakeoil key.

Scenarios:
  secureboot-kho              signed khoboot + signed kernel: verified, KHO
                              handover, the kernel reports Secure Boot and lockdown
  secureboot-unsigned-kernel  refused with one error line, no handover
  secureboot-tampered-kernel  signed, then one byte flipped: refused
  secureboot-unsigned-loader  the firmware refuses khoboot itself
  tpm-measured-kho            + swtpm: the event log Linux reads replays to
                              its PCRs, and khoboot's digests equal sha256 of
                              the same files and state computed here
  secureboot-luo              the real KHO Linux chain with everything signed:
                              LUO through khotool reboot, whose handoff image
                              a locked-down kernel kexecs only when signed
  secureboot-export-locked-down  khotool export under lockdown: refused
                              (/dev/mem), one line, no descriptor
  secureboot-unsigned-kernel-halt  the same refusal under kho-on-error halt
  state-variable-attributes   a descriptor variable without runtime access: refused
"""
from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import reaper  # noqa: E402
from lib.bootchain import (Count, Custom, InOrder, Line, NoLine, Requirement, Run,  # noqa: E402
                           Scenario, ScenarioError)
from scenarios import stock_linux as stock  # noqa: E402

SNAKEOIL_KEY = "/usr/share/ovmf/PkKek-1-snakeoil.key"   # password "snakeoil"
SNAKEOIL_CERT = "/usr/share/ovmf/PkKek-1-snakeoil.pem"
SNAKEOIL_VARS = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
FIRMWARE = "ovmf-secureboot"
TAGS = ("KHOBOOT", "PROBE")

REQUIRES = stock.REQUIRES + [
    Requirement(SNAKEOIL_VARS), Requirement(SNAKEOIL_KEY),
    Requirement("/usr/bin/sbsign"), Requirement("/usr/bin/sbattach"),
]


# --- signing ---------------------------------------------------------------------

def _key(ctx) -> Path:
    """The snakeoil key without its password, for sbsign."""
    key = ctx.workdir / "db.key"
    if not key.exists():
        ctx.run(["openssl", "pkey", "-in", SNAKEOIL_KEY, "-passin", "pass:snakeoil", "-out", key])
    return key


def _sign(ctx, src, out: Path) -> Path:
    ctx.run(["sbsign", "--key", _key(ctx), "--cert", SNAKEOIL_CERT, "--output", out, src])
    ctx.run(["sbverify", "--cert", SNAKEOIL_CERT, out])
    return out


def _unsigned(ctx, src, out: Path) -> Path:
    shutil.copyfile(src, out)
    ctx.run(["sbattach", "--remove", out])
    return out


def flip_byte(path: Path) -> int:
    """One bit of one byte in the middle of the file (the compressed
    kernel, covered by the Authenticode hash); returns its offset."""
    b = bytearray(path.read_bytes())
    off = len(b) // 2
    b[off] ^= 0x01
    path.write_bytes(bytes(b))
    return off


def _prepare(ctx, kernel: str, loader_signed: bool = True, state: bool = True):
    """kernel: "signed", "unsigned" or "tampered"."""
    stock._prepare(ctx, state)          # Debian kernel, probe initramfs, the state blob
    shutil.copyfile(SNAKEOIL_VARS, ctx.vars_path)
    entry = ctx.scenario.entries[0]
    unsigned = _unsigned(ctx, entry.linux, ctx.workdir / "vmlinuz.unsigned")
    if kernel == "unsigned":
        entry.linux = str(unsigned)
    else:
        entry.linux = str(_sign(ctx, unsigned, ctx.workdir / "vmlinuz"))
        if kernel == "tampered":
            ctx.data["flipped"] = flip_byte(Path(entry.linux))
    ctx.data["kernel"] = Path(entry.linux)
    if loader_signed:
        ctx.scenario.loader = str(_sign(ctx, ctx.root / ctx.scenario.loader, ctx.workdir / "BOOTX64.EFI"))


# --- checks ----------------------------------------------------------------------

SECURE_LINUX = [
    # Linux's own report of boot_params.secure_boot (arch/x86/kernel/setup.c)
    # and the lockdown it implies (LOCK_DOWN_IN_EFI_SECURE_BOOT).
    Line(r"PROBE: dmesg .*Secure boot enabled"),
    Line(r"PROBE: dmesg .*Kernel is locked down from EFI Secure Boot.*"),
    Line(r"PROBE: lockdown .*\[integrity\].*"),
]
REFUSED = [
    Count(r"KHOBOOT: error .*", 1),
    Line(r"KHOBOOT: secureboot mode=enabled verify=firmware tpm=0"),
    Line(r"KHOBOOT: error image-unverified /khoboot-test/\S+ refused by firmware: LoadImage status "
         r"0x[0-9a-f]+ .*"),
    Line(r"KHOBOOT: exit reason=image-unverified"),
    NoLine(r"KHOBOOT: secureboot kernel=.*"),
    NoLine(r"KHOBOOT: handover .*"),
    NoLine(r"KHOBOOT: jump .*"),
    NoLine(r"PROBE: .*"),
]


def _refused_run():
    # The boot manager would go on to its next boot option; the run is
    # cut at khoboot's last line.
    return Run(timeout=120, expect_exit=None, firmware=FIRMWARE, checks=REFUSED,
               interrupt_on=[r"KHOBOOT: exit reason=.*"])


def _entry(**keys):
    return stock._entry("console=ttyS0 panic=-1 nokaslr", **keys)


# --- TPM ---------------------------------------------------------------------------

def _start_swtpm(ctx, run_index):
    """swtpm as a TPM 2.0 behind QEMU's tpm-tis (its control socket);
    ended with the scenario's reaper scope."""
    state = ctx.workdir / "tpm"
    state.mkdir(exist_ok=True)
    sock = ctx.workdir / "swtpm.sock"
    reaper.current().spawn(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}",
                            "--ctrl", f"type=unixio,path={sock}", "--log", f"file={state}/log,level=1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if sock.exists():
            return
        time.sleep(0.05)
    raise ScenarioError("swtpm did not create its socket")


# QEMU's TPM TIS device backed by that swtpm; @WORK@ becomes the scenario's
# work directory in prepare.
TPM_ARGS = ["-chardev", "socket,id=chrtpm,path=@WORK@/swtpm.sock",
            "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0"]


def _probe_log(lines) -> bytes:
    chunks = [l.split()[2] for l in lines if l.startswith("PROBE: tpm-log ") and l != "PROBE: tpm-log-end"]
    return bytes.fromhex("".join(chunks))


def parse_event_log(log: bytes):
    """TCG PC Client PFP crypto-agile log, independently of tpm2-tools:
    the first event is SHA1-format (the Spec ID event, whose algorithm list
    gives the digest sizes), the rest TCG_PCR_EVENT2. Yields
    (pcr, type, {alg_id: digest}, event data)."""
    # pcrIndex, eventType, SHA1 digest[20], eventSize, event
    size = struct.unpack_from("<I", log, 28)[0]
    spec = log[32:32 + size]
    n_algs = struct.unpack_from("<I", spec, 24)[0]
    sizes = {}
    for i in range(n_algs):
        alg, sz = struct.unpack_from("<HH", spec, 28 + 4 * i)
        sizes[alg] = sz
    off = 32 + size
    while off + 12 <= len(log):
        pcr, etype, count = struct.unpack_from("<III", log, off)
        if etype == 0 and count == 0:
            break
        off += 12
        digests = {}
        for _ in range(count):
            alg = struct.unpack_from("<H", log, off)[0]
            digests[alg] = log[off + 2:off + 2 + sizes[alg]]
            off += 2 + sizes[alg]
        esize = struct.unpack_from("<I", log, off)[0]
        data = log[off + 4:off + 4 + esize]
        off += 4 + esize
        yield pcr, etype, digests, data


SHA256 = 0x000B
EV_EVENT_TAG = 6


def _tagged(tag: int, text: str) -> bytes:
    return struct.pack("<II", tag, len(text)) + text.encode()


def _tpm_checks(ctx):
    """Built in prepare: the expected digests come from the files on the
    host and the state blob written here, never from khoboot's output."""
    work = ctx.workdir
    kernel = ctx.data["kernel"].read_bytes()
    initrd = Path(ctx.scenario.entries[0].initrd[0]).read_bytes()
    fdt_page = (work / "kho-state.bin").read_bytes()[:stock.PAGE]
    scratch = struct.pack("<QQ", *stock.SCRATCH)

    def expected(lines):
        cmdline = [l for l in lines if l.startswith("PROBE: cmdline ")]
        if not cmdline:
            raise ValueError("no PROBE: cmdline line")
        # /proc/cmdline as the kernel got it (the probe prints it verbatim)
        given = cmdline[0][len("PROBE: cmdline "):].encode()
        return [
            (4, _tagged(0x4b484f01, "khoboot kernel"), hashlib.sha256(kernel).digest()),
            (9, _tagged(0x8F3B22EC, "Linux initrd"), hashlib.sha256(initrd).digest()),
            (12, _tagged(0x8F3B22ED, "khoboot command line"), hashlib.sha256(given).digest()),
            (12, _tagged(0x4b484f03, "KHO root FDT"), hashlib.sha256(fdt_page).digest()),
            (12, _tagged(0x4b484f04, "KHO scratch table"), hashlib.sha256(scratch).digest()),
        ]

    def digests_match(lines):
        log = _probe_log(lines)
        if not log:
            return "no binary_bios_measurements from the kernel (PROBE: tpm-log)"
        try:
            events = list(parse_event_log(log))
        except (struct.error, KeyError) as e:
            return f"event log of {len(log)} bytes does not parse: {e}"
        ours = [(p, d, dg[SHA256]) for p, t, dg, d in events
                if t == EV_EVENT_TAG and d[:4] in {struct.pack("<I", x) for x in
                                                   (0x4b484f01, 0x8F3B22EC, 0x8F3B22ED, 0x4b484f03, 0x4b484f04)}]
        want = expected(lines)
        if ours != want:
            got = [(p, d[8:].decode(errors="replace"), h.hex()[:16]) for p, d, h in ours]
            exp = [(p, d[8:].decode(), h.hex()[:16]) for p, d, h in want]
            return f"khoboot's events {got} != expected {exp}"
        return None

    def replay_matches(lines):
        log = _probe_log(lines)
        path = work / "binary_bios_measurements"
        path.write_bytes(log)
        proc = subprocess.run(["tpm2_eventlog", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            return f"tpm2_eventlog failed: {proc.stderr.strip()[-200:]}"
        (work / "tpm2_eventlog.yaml").write_text(proc.stdout)
        replay = _replayed_sha256(proc.stdout)
        pcrs = {int(l.split()[2]): l.split()[3].lower() for l in lines if l.startswith("PROBE: pcr-sha256 ")}
        if not replay or not pcrs:
            return f"replay {len(replay)} PCRs, kernel {len(pcrs)} PCRs"
        for n in (4, 9, 12):
            if n not in replay:
                return f"tpm2_eventlog replays no PCR {n}"
        bad = [f"PCR {n}: replay {v[:16]} kernel {pcrs.get(n, '?')[:16]}" for n, v in sorted(replay.items())
               if pcrs.get(n) != v]
        return "; ".join(bad) or None

    return [Custom(digests_match, "khoboot's digests equal host sha256 of the same bytes"),
            Custom(replay_matches, "tpm2_eventlog replay equals the kernel's PCRs")]


def _replayed_sha256(yaml_text: str) -> dict[int, str]:
    """The "pcrs: sha256:" block tpm2_eventlog ends with: `  N : 0x<hex>`."""
    out, in_block = {}, False
    for line in yaml_text.splitlines():
        if re.match(r"^\s*sha256:\s*$", line):
            in_block = True
            continue
        if in_block:
            m = re.match(r"^\s*(\d+)\s*:\s*0x([0-9A-Fa-f]+)\s*$", line)
            if not m:
                in_block = False
                continue
            out[int(m.group(1))] = m.group(2).lower()
    return out


def _prepare_tpm(ctx):
    _prepare(ctx, "signed")
    run = ctx.scenario.runs[0]
    run.qemu_args = [a.replace("@WORK@", str(ctx.workdir)) for a in run.qemu_args]
    run.checks += _tpm_checks(ctx)


SCENARIOS = [
    Scenario(
        name="secureboot-kho",
        description="Secure Boot on (snakeoil db): signed khoboot, signed Debian kernel verified "
                    "by the firmware's db check, KHO state handed over; Linux reports Secure "
                    "Boot enabled and locks itself down",
        entries=[_entry(**stock.STATIC_KEYS)], requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, "signed"),
        runs=[Run(timeout=180, expect_exit=0, firmware=FIRMWARE, checks=stock.COMMON + SECURE_LINUX + [
            Line(r"KHOBOOT: secureboot mode=enabled verify=firmware tpm=0"),
            InOrder([r"KHOBOOT: policy handover found=1 usable=1",
                     r"KHOBOOT: secureboot kernel=/khoboot-test/\S+ verified by=firmware",
                     r"KHOBOOT: handover setup_data=.*",
                     r"KHOBOOT: jump .*"]),
            Count(r"PROBE: setup_data .* type=10 .*", 1),
            Custom(stock.check_kho_node_matches, "type-10 node equals logged kho_data"),
        ])],
    ),
    Scenario(
        name="secureboot-unsigned-kernel",
        description="Secure Boot on, the kernel carries no signature: one image-unverified "
                    "error, no handover, back to the boot manager",
        entries=[_entry(**stock.STATIC_KEYS)], requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, "unsigned"),
        runs=[_refused_run()],
    ),
    Scenario(
        name="secureboot-tampered-kernel",
        description="Secure Boot on, the signed kernel with one flipped byte: refused",
        entries=[_entry(**stock.STATIC_KEYS)], requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, "tampered"),
        runs=[_refused_run()],
    ),
    Scenario(
        name="secureboot-unsigned-loader",
        description="Secure Boot on, khoboot unsigned: the firmware refuses to start it "
                    "(no KHOBOOT line at all)",
        entries=[_entry(**stock.STATIC_KEYS)], requires=REQUIRES, tags=TAGS + ("BdsDxe",),
        prepare=lambda ctx: _prepare(ctx, "signed", loader_signed=False),
        runs=[Run(timeout=120, expect_exit=None, firmware=FIRMWARE,
                  interrupt_on=[r"BdsDxe: failed to load .*Access Denied"], checks=[
                      Line(r"BdsDxe: failed to load Boot\d+ .*: Access Denied"),
                      NoLine(r"KHOBOOT: .*"),
                  ])],
    ),
    Scenario(
        name="tpm-measured-kho",
        description="Secure Boot and a TPM (swtpm): khoboot measures kernel (PCR 4), initrd "
                    "(9), command line and KHO root FDT and scratch table (12); Linux's event "
                    "log replays (tpm2_eventlog) to its PCRs and each digest is the host's sha256",
        entries=[_entry(**stock.STATIC_KEYS)],
        requires=REQUIRES + [Requirement("/usr/bin/swtpm"), Requirement("/usr/bin/tpm2_eventlog")],
        tags=TAGS, prepare=_prepare_tpm,
        runs=[Run(timeout=240, expect_exit=0, firmware=FIRMWARE, before=_start_swtpm,
                  qemu_args=list(TPM_ARGS), checks=stock.COMMON + [
                      Line(r"KHOBOOT: secureboot mode=enabled verify=firmware tpm=1"),
                      InOrder([r"KHOBOOT: measure pcr=4 tag=0x4b484f01 bytes=\d+ khoboot kernel",
                               r"KHOBOOT: measure pcr=9 tag=0x8f3b22ec bytes=\d+ Linux initrd",
                               r"KHOBOOT: measure pcr=12 tag=0x8f3b22ed bytes=\d+ khoboot command line",
                               r"KHOBOOT: measure pcr=12 tag=0x4b484f03 bytes=4096 KHO root FDT",
                               r"KHOBOOT: measure pcr=12 tag=0x4b484f04 bytes=16 KHO scratch table",
                               r"KHOBOOT: jump .*"]),
                      Line(r"PROBE: tpm-log-end"),
                  ])],
    ),
]


# --- the real KHO Linux chain, everything signed ----------------------------------

def _prepare_kho_linux(ctx):
    """linux-kho-chain's setup (scripts/scenarios/linux_kho.py), then the
    KHO kernel and khoboot signed and the Secure Boot VARS in place."""
    from scenarios import linux_kho
    linux_kho._prepare(ctx)
    shutil.copyfile(SNAKEOIL_VARS, ctx.vars_path)
    entry = ctx.scenario.entries[0]
    entry.linux = str(_sign(ctx, entry.linux, ctx.workdir / "bzImage"))
    ctx.scenario.loader = str(_sign(ctx, ctx.root / ctx.scenario.loader, ctx.workdir / "BOOTX64.EFI"))


# The KHO kernel locks itself down when Secure Boot is on
# (LOCK_DOWN_IN_EFI_SECURE_BOOT); what lockdown refuses it reports as
# "Lockdown: PROGRAM: WHAT is restricted" (security/lockdown/lockdown.c).
# A scenario that also tags "khotool" sees the line from that tag on.
def lockdown_refused(what: str) -> str:
    return rf"(?:Lockdown: )?khotool: {what} is restricted; see man kernel_lockdown\.7"


def _export_locked_down_scenario():
    from scenarios import linux_kho as lk
    return Scenario(
        name="secureboot-export-locked-down",
        description="Secure Boot on, khoboot and the KHO kernel signed: Linux A is locked down, so "
                    "khotool export cannot read the state through /dev/mem; one error line, no "
                    "descriptor left, no reset (with Secure Boot the route is khotool reboot: "
                    "secureboot-luo)",
        entries=[lk._linux_entry(f"kho=on {lk.KHO_SCRATCH}")],
        requires=lk.REQUIRES + REQUIRES[1:], tags=lk.TAGS + ("secureboot", "Lockdown"),
        prepare=_prepare_kho_linux,
        runs=[Run(memory=lk.MEMORY, timeout=300, expect_exit=0, firmware=FIRMWARE, checks=lk.NO_TROUBLE + [
            InOrder([r"KHOBOOT: secureboot kernel=/khoboot-test/bzImage verified by=firmware",
                     r"KHOBOOT: boot entry=linux mode=cold .*",
                     r"secureboot: Secure boot enabled",
                     r"LINUX_INIT: kho_test preserved .*",
                     lockdown_refused("/dev/mem,kmem,port"),
                     r"LINUX_INIT: khotool khotool: error io: /dev/mem: .*Operation not permitted.*",
                     r"LINUX_INIT: export exit=1 .*",
                     r"LINUX_INIT: export fail descriptor=absent",
                     r"LINUX_INIT: power-off .*"]),
            Count(r"LINUX_INIT: khotool khotool: error .*", 1),
            Count(r"KHOBOOT: start .*", 1),
            NoLine(r"LINUX_INIT: reboot warm .*"),
        ])],
    )


def _prepare_luo(ctx):
    """The LUO chain (scripts/scenarios/luo.py) with everything signed:
    khoboot, the KHO kernel, and the handoff image `khotool reboot`
    kexecs (make sign's job); an unsigned copy of the handoff image goes in
    the initramfs too, for the first try that lockdown must refuse."""
    from scenarios import luo
    handoff = ctx.root / luo.HANDOFF
    signed = _sign(ctx, handoff, ctx.workdir / "khoboot-handoff.bzImage")
    luo._prepare(ctx, ["luo_kexec_simple"], ["--handoff", signed,
                                             "--extra", f"{handoff}=khoboot-handoff-unsigned.bzImage"])
    kernel = _sign(ctx, ctx.scenario.entries[0].linux, ctx.workdir / "bzImage")
    for e in ctx.scenario.entries:     # both LUO entries boot the same kernel
        e.linux = str(kernel)
    shutil.copyfile(SNAKEOIL_VARS, ctx.vars_path)
    ctx.scenario.loader = str(_sign(ctx, ctx.root / ctx.scenario.loader, ctx.workdir / "BOOTX64.EFI"))


def _luo_scenario():
    from scenarios import luo
    tests = ["luo_kexec_simple"]
    return Scenario(
        name="secureboot-luo",
        description="LUO through the firmware with Secure Boot on: khoboot, the KHO kernel and the "
                    "handoff image signed; Linux A is locked down, its kexec_file_load refuses the "
                    "unsigned handoff image (one line, nothing left) and takes the signed one; "
                    "khoboot verifies Linux B, which finds its LUO session",
        entries=luo._entries(tests, a_options="liveupdate=on luochain.first-try=--esp,/esp,--boot-entry,"
                             "luo-b,--handoff,/khoboot-handoff-unsigned.bzImage"),
        requires=luo.REQUIRES + REQUIRES[1:],
        tags=luo.TAGS + ("secureboot", "Lockdown"),
        prepare=_prepare_luo,
        runs=[Run(memory="3G", timeout=600, expect_exit=0, firmware=FIRMWARE, checks=luo.NO_TROUBLE + [
            InOrder([r"secureboot: Secure boot enabled",
                     r"LUO_CHAIN: stage1 done luo_kexec_simple",
                     lockdown_refused("kexec of unsigned images"),
                     r"khotool: error kexec: kexec_file_load\(/khoboot-handoff-unsigned\.bzImage\): "
                     r"Operation not permitted",
                     rf"LUO_CHAIN: first-try rc=1 {luo.NOTHING_LEFT}"] + luo._chain_order(tests)[1:]),
            InOrder([r"KHOBOOT: start .*",
                     r"KHOBOOT: secureboot kernel=/khoboot-test/bzImage verified by=firmware",
                     r"KHOBOOT: boot entry=luo-b mode=kho .*"]),
            Count(r"KHOBOOT: secureboot mode=enabled verify=firmware tpm=0", 2),
            Count(r"secureboot: Secure boot enabled", 2),
            Count(r"khotool: error .*", 1),
        ])],
    )


SCENARIOS += [_export_locked_down_scenario(), _luo_scenario()]


# --- policies and variable attributes ------------------------------------------------

def _write_descriptor(attributes: int):
    """Before the run: stock-linux-kho-variable's descriptor, written into
    the variable store with `attributes`."""
    def before(ctx, run_index):
        from lib import kho_abi, ovmf_vars
        blob, _ = stock.synth_state()
        ovmf_vars.add_variable(ctx.vars_path, kho_abi.DESCRIPTOR_VARIABLE, kho_abi.VENDOR_GUID,
                               stock.descriptor(blob, [stock.SCRATCH]), attributes=attributes)
    return before


SCENARIOS += [
    Scenario(
        name="secureboot-unsigned-kernel-halt",
        description="an unsigned kernel under kho-on-error halt: the protected state is kept in "
                    "RAM and the machine halts (image-unverified), nothing handed over",
        entries=[_entry(kho_on_error="halt", **stock.STATIC_KEYS)], requires=REQUIRES, tags=TAGS,
        prepare=lambda ctx: _prepare(ctx, "unsigned"),
        runs=[Run(timeout=120, expect_exit=None, firmware=FIRMWARE, stop_on=[],
                  interrupt_on=[r"KHOBOOT: halt reason=.*"], checks=[
                      Line(r"KHOBOOT: reserve ok .*"),
                      Count(r"KHOBOOT: error .*", 1),
                      Line(r"KHOBOOT: error image-unverified .*"),
                      Line(r"KHOBOOT: halt reason=image-unverified"),
                      NoLine(r"KHOBOOT: handover .*"),
                      NoLine(r"KHOBOOT: exit reason=.*"),
                  ])],
    ),
    Scenario(
        name="state-variable-attributes",
        description="a KhoHandover descriptor with boot-services-only attributes (not what a "
                    "producer in the OS writes): refused before the state is touched, cold boot",
        entries=[_entry()], requires=stock.REQUIRES, tags=TAGS,
        prepare=lambda ctx: stock._prepare(ctx, True),
        runs=[Run(timeout=150, expect_exit=0, before=_write_descriptor(0x3), checks=[
            Line(r"KHOBOOT: error descriptor KhoHandover has attributes 0x3, khoboot requires 0x7 .*"),
            NoLine(r"KHOBOOT: reserve ok .*"),
            Line(r"KHOBOOT: policy cold-boot found=1 usable=0"),
            Line(r"KHOBOOT: handover none"),
            Line(r"KHOBOOT: descriptor consumed"),
            Line(r"PROBE: done"),
        ])],
    ),
]
