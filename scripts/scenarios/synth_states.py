"""Synthetic KHO states (`khotool synth`) written into guest RAM with QEMU's
loader device before the firmware runs, named to khoboot with the entry's
static keys (kho-fdt, kho-scratch), and checked block by block by
test_kernel in consumer mode (its manifest sub-blob lists every block's
seed and digest).

The states stay in RAM OVMF leaves alone (synth's default arenas; see
test_kernel/README.md "Guest RAM and OVMF"). QEMU rewrites loader blobs at
every reset, so these scenarios are single boots.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.bootchain import (EXIT_FAIL, Blob, Count, Entry, InOrder, Line, NoLine,  # noqa: E402
                           Requirement, Run, Scenario)
from lib import kho_abi, ovmf_vars  # noqa: E402
from lib.tk_cmdline import initrd_hook, tk_options  # noqa: E402

TK = "build/x86_64/test_kernel.bzImage"
REQUIRES = [Requirement("build/x86_64/khoboot.efi", "efi/build.mk"),
            Requirement(TK, "test_kernel/build.mk"),
            Requirement("build/host/khotool")]
NO_FAIL = [NoLine(r"TEST_KERNEL: check \S+ fail.*"), NoLine(r"TEST_KERNEL: (error|exception) .*"),
           NoLine(r"KHOBOOT: error .*")]
KHO_CHECKS = ["boot-params", "cmdline", "descriptor", "setup-data", "fdt", "scratch-table", "placement",
              "manifest", "scratch", "map", "preserved-ram", "contents"]


# The descriptor variable's name and vendor GUID (abi/khoboot_vendor.h).
DESCRIPTOR_VARIABLE = kho_abi.DESCRIPTOR_VARIABLE
DESCRIPTOR_GUID = kho_abi.VENDOR_GUID


def synth_prepare(args: list[str], consumer_passes: bool = True, via: str = "entry"):
    """Runs khotool synth ARGS, loads its blobs in the first run, names the
    state to khoboot (via="entry": synth's kho-fdt/kho-scratch keys in
    every entry; via="variable": synth's descriptor written into the
    variable store before the first run), and asserts khoboot decoded
    exactly the blocks synth encoded (and, if `consumer_passes`, that
    test_kernel matched them all)."""
    def inject_descriptor(ctx, _run_index):
        data = (ctx.workdir / "synth" / "descriptor.bin").read_bytes()
        ovmf_vars.add_variable(ctx.vars_path, DESCRIPTOR_VARIABLE, DESCRIPTOR_GUID, data)

    def prepare(ctx):
        out = ctx.workdir / "synth"
        proc = ctx.khotool("synth", "--out", str(out), *args)
        (ctx.workdir / "synth.txt").write_text(proc.stdout)
        state = json.loads((out / "state.json").read_text())
        ctx.data["synth"] = state
        run = ctx.scenario.runs[0]
        run.blobs += [Blob(str(out / b["file"]), b["addr"]) for b in state["blobs"]]
        if via == "entry":
            for e in ctx.scenario.entries:
                e.keys.update(state["entry_keys"])
        else:
            run.before = inject_descriptor
        run.checks.append(Line(rf"KHOBOOT: kho descriptor source={via} fdt=0x{state['fdt']:x} .*"))
        compat = state["format"].replace("kho-v1-512", "kho-v1")
        if state["format"] != "multikernel-v1":
            run.checks.append(Line(rf"KHOBOOT: kho found compatible={compat} fdt=0x{state['fdt']:x} "
                                   rf"blocks={state['map_blocks']} .*"))
            if consumer_passes:
                run.checks.append(Line(rf"TEST_KERNEL: check map ok .* blocks={state['map_blocks']} "
                                       rf"matched={state['blocks']} missing=0 .*"))
    return prepare


def then(*hooks):
    def run_all(ctx):
        for h in hooks:
            h(ctx)
    return run_all


def synth_scenario(name: str, description: str, args: list[str], compat: str, timeout: float = 90,
                   memory: str = "3G", default: bool = True, via: str = "entry",
                   initrd: int = 0) -> Scenario:
    checks = NO_FAIL + [
        Line(r"KHOBOOT: reserve ok .*"),
        Line(r"KHOBOOT: kernel .* in=scratch"),
        InOrder([rf"TEST_KERNEL: check {c} ok .*" for c in KHO_CHECKS] + [r"TEST_KERNEL: result pass"]),
    ]
    return Scenario(
        name=name, description=description, default=default,
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("c", compat=compat))],
        requires=REQUIRES,
        prepare=then(synth_prepare(args, via=via), initrd_hook(initrd, 7)) if initrd else synth_prepare(args, via=via),
        runs=[Run(timeout=timeout, memory=memory, reboot=False,
                  checks=checks + ([Line(r"TEST_KERNEL: check initrd ok loaded intact .*"),
                                    Line(r"TEST_KERNEL: check placement ok .*initrd inside scratch")]
                                   if initrd else []))],
    )


def corrupt_one_block(ctx):
    """After synth: flips one byte in the middle of a data block's pattern in
    its blob, as a firmware or loader overwrite would."""
    state = ctx.data["synth"]
    out = ctx.workdir / "synth"
    for line in (out / state["blocks_file"]).read_text().splitlines():
        phys, order, kind = line.split()
        if kind == "data" and int(order) == 0 and int(phys, 16) < (1 << 32):
            target = int(phys, 16) + 0x7a3
            break
    for b in state["blobs"]:
        if b["addr"] <= target < b["addr"] + b["size"]:
            with open(out / b["file"], "r+b") as f:
                f.seek(target - b["addr"])
                byte = f.read(1)[0]
                f.seek(target - b["addr"])
                f.write(bytes([byte ^ 0x40]))
            (ctx.workdir / "corruption.txt").write_text(f"flipped bit 6 at 0x{target:x}\n")
            # test_kernel must name the 8-byte word that changed
            ctx.scenario.runs[0].checks.append(
                Line(rf"TEST_KERNEL: check contents fail .* first=0x{target & ~7:x} .*"))
            return
    raise RuntimeError("no order-0 data block below 4 GiB in any blob")


SCENARIOS = [
    synth_scenario("synth-kho-v4", "2000 blocks of orders 0-10 above and below 4 GiB, some "
                   "against scratch edges, kho-v4 radix map, a 1 MiB initrd",
                   ["--format", "kho-v4"], "kho-v4", initrd=1 << 20),
    synth_scenario("synth-kho-v4-variable", "a synthetic kho-v4 state named by its handover "
                   "descriptor in the variable store (FDT CRC flag) instead of entry keys",
                   ["--format", "kho-v4", "--blocks", "1000", "--seed", "13"], "kho-v4", via="variable"),
    synth_scenario("synth-kho-v3", "the same layout as kho-v3 (blob-size required)",
                   ["--format", "kho-v3", "--seed", "3"], "kho-v3"),
    synth_scenario("synth-kho-v2", "the same layout as kho-v2 (no blob-size)",
                   ["--format", "kho-v2", "--seed", "2"], "kho-v2"),
    synth_scenario("synth-kho-v1-page", "kho-v1 chunk list with PAGE_SIZE bitmaps (6.17.9+)",
                   ["--format", "kho-v1", "--seed", "4"], "kho-v1"),
    synth_scenario("synth-kho-v1-512", "kho-v1 chunk list with 512-byte bitmaps (6.16-6.17.8)",
                   ["--format", "kho-v1-512", "--seed", "5"], "kho-v1"),
    # >= 100,000 blocks through the loader, each verified by test_kernel.
    # Largest orders first, no gaps: the blocks coalesce into a few ranges.
    synth_scenario("synth-100k-blocks", "100000 preserved blocks (orders 0-4) through the "
                   "loader, verified block by block by test_kernel",
                   ["--format", "kho-v4", "--blocks", "100000", "--orders", "0-4", "--full-order", "0",
                    "--cluster", "0", "--by-order", "--seed", "100"], "kho-v4", timeout=240),
    # The same count with gaps: ~1600 separate ranges to protect (the
    # loader's placement storage then comes from the pool), and interleaved
    # orders: ~26000 ranges (slow under TCG: not in the default suite).
    synth_scenario("synth-100k-clustered", "100000 blocks in runs of ~64 (about 1600 ranges)",
                   ["--format", "kho-v4", "--blocks", "100000", "--orders", "0-4", "--full-order", "0",
                    "--cluster", "64", "--by-order", "--seed", "101"], "kho-v4", timeout=240),
    synth_scenario("synth-100k-scattered", "100000 blocks with interleaved orders (about 26000 ranges)",
                   ["--format", "kho-v4", "--blocks", "100000", "--orders", "0-4", "--full-order", "0",
                    "--cluster", "64", "--seed", "102"], "kho-v4", timeout=240),
    synth_scenario("synth-100k-isolated", "100000 order-0 pages in runs of about two: "
                   "about 50000 separate ranges protected per free region, verified block by block",
                   ["--format", "kho-v4", "--blocks", "100000", "--orders", "0-0", "--cluster", "2",
                    "--seed", "103"], "kho-v4", timeout=240),
    # Orders 0..20: an order-20 block is 4 GiB, so this guest has 10 GiB
    # (q35: 2 GiB below 4 GiB, 8 GiB from 4 GiB to 12 GiB).
    synth_scenario("synth-orders-0-20", "every order 0..20 (an order-20 block is 4 GiB) with -m 10G",
                   ["--format", "kho-v4", "--blocks", "200", "--orders", "0-20", "--full-order", "6",
                    "--arena", "0x10000000-0x70000000,0x100000000-0x300000000",
                    "--scratch", "0x40000000:0x4000000,0x50000000:0x4000000", "--seed", "20"],
                   "kho-v4", timeout=120, memory="10G", default=False),
    Scenario(
        name="synth-multikernel",
        description="multikernel-v1 FDT named by kho-fdt alone: handed over with scratch 0/0",
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("m"))],
        requires=REQUIRES, prepare=synth_prepare(["--format", "multikernel-v1"]),
        runs=[Run(timeout=60, reboot=False, checks=NO_FAIL + [
            Line(r"KHOBOOT: kho found compatible=multikernel-v1 .*"),
            InOrder([r"TEST_KERNEL: check setup-data ok 1 .*scratch=0x0/0x0",
                     r"TEST_KERNEL: check fdt ok valid .*compatible=multikernel-v1 .*",
                     r"TEST_KERNEL: check multikernel ok instance DTB intact .*",
                     r"TEST_KERNEL: check preserved-ram ok .*",
                     r"TEST_KERNEL: result pass"]),
        ])],
    ),
    Scenario(
        name="synth-multikernel-variable",
        description="multikernel-v1 named by a descriptor with the multikernel flag and no scratch",
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("m"))],
        requires=REQUIRES, prepare=synth_prepare(["--format", "multikernel-v1"], via="variable"),
        runs=[Run(timeout=60, reboot=False, checks=NO_FAIL + [
            Line(r"KHOBOOT: kho descriptor source=variable .*scratch=0 flags=0x3"),
            Line(r"KHOBOOT: descriptor consumed"),
            InOrder([r"TEST_KERNEL: check descriptor ok .*",
                     r"TEST_KERNEL: check setup-data ok 1 .*scratch=0x0/0x0",
                     r"TEST_KERNEL: check multikernel ok instance DTB intact .*",
                     r"TEST_KERNEL: result pass"]),
        ])],
    ),
    # The checks must be able to fail: a state whose bytes changed after
    # the producer wrote them still goes through the loader (it does not
    # read preserved pages), and test_kernel names the first bad word.
    Scenario(
        name="synth-corrupt-block",
        description="one flipped bit in a preserved block: test_kernel's contents check fails at "
                    "that address (and only that check)",
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("c", compat="kho-v4"))],
        requires=REQUIRES,
        prepare=then(synth_prepare(["--format", "kho-v4", "--blocks", "500", "--seed", "11"]),
                     corrupt_one_block),
        runs=[Run(timeout=90, reboot=False, expect_exit=EXIT_FAIL, checks=[
            Line(r"KHOBOOT: reserve ok .*"),
            Count(r"TEST_KERNEL: check \S+ fail .*", 1),
            Line(r"TEST_KERNEL: check contents fail preserved bytes changed .*corrupt=1 digest-mismatch=1 .*"),
            Line(r"TEST_KERNEL: result fail"),
        ])],
    ),
    Scenario(
        name="synth-wrong-compat",
        description="test_kernel expects kho-v3 but the state is kho-v4: the fdt check fails and "
                    "nothing after it runs",
        entries=[Entry("tk", linux=TK, title="test_kernel", options=tk_options("c", compat="kho-v3"))],
        requires=REQUIRES,
        prepare=synth_prepare(["--format", "kho-v4", "--blocks", "50", "--seed", "12"], consumer_passes=False),
        runs=[Run(timeout=90, reboot=False, expect_exit=EXIT_FAIL, checks=[
            Line(r"TEST_KERNEL: check fdt fail root compatible differs .*compatible=kho-v4 expected=kho-v3"),
            NoLine(r"TEST_KERNEL: check (map|contents) .*"),
            Line(r"TEST_KERNEL: result fail"),
        ])],
    ),
]
