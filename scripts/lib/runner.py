"""Executes scenarios (scripts/lib/bootchain.py has the model): discovery of
scripts/scenarios/*.py, one private work directory per scenario, the ESP,
the variable store copy, the QEMU runs in sequence and the checks."""
from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from . import esp as esp_mod
from . import qemu
from .bootchain import (OVMF_VARS, Context, Scenario, ScenarioError, ScenarioSkip,
                        instantiate)


@dataclass
class Outcome:
    name: str
    verdict: str          # PASS, FAIL, SKIP
    reason: str = ""
    seconds: float = 0.0


def discover(scenario_dir: Path) -> tuple[list[Scenario], list[str]]:
    """All scenarios in name order of their modules; also import errors."""
    found: list[Scenario] = []
    errors: list[str] = []
    seen: set[str] = set()
    for path in sorted(scenario_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            spec = importlib.util.spec_from_file_location(f"scenarios.{path.stem}", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        except Exception as e:  # a broken module is a failure, never silent
            errors.append(f"{path.name}: {type(e).__name__}: {e}")
            continue
        for s in getattr(mod, "SCENARIOS", []):
            if s.name in seen:
                errors.append(f"{path.name}: duplicate scenario name {s.name}")
                continue
            seen.add(s.name)
            found.append(s)
    return found, errors


def _missing_requirements(root: Path, s: Scenario) -> tuple[list[str], list[str]]:
    skip, fail = [], []
    reqs = list(s.requires)
    for r in reqs:
        if (root / r.path).exists():
            continue
        if r.provided_by and not (root / r.provided_by).exists():
            skip.append(f"{r.path} ({r.provided_by} not in the tree yet)")
        else:
            fail.append(r.path)
    return skip, fail


class Executor:
    def __init__(self, root: Path, keep_logs: Path | None, fail_logs: Path, verbose: bool,
                 show: bool = False):
        self.root = root
        self.show = show
        self.build = root / "build"
        self.keep_logs = keep_logs
        self.fail_logs = fail_logs
        self.verbose = verbose

    def note(self, msg: str) -> None:
        print(f"  {msg}", flush=True)

    def execute(self, template: Scenario) -> Outcome:
        start = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f"bootchain-{template.name}-"))
        outcome = Outcome(template.name, "PASS")
        try:
            outcome = self._execute(template, work, start)
        except ScenarioSkip as e:
            outcome = Outcome(template.name, "SKIP", str(e))
        except ScenarioError as e:
            outcome = Outcome(template.name, "FAIL", str(e))
        except Exception as e:
            tb = traceback.format_exc().strip().splitlines()[-1]
            outcome = Outcome(template.name, "FAIL", f"runner error: {tb or e}")
        outcome.seconds = time.monotonic() - start
        self._save_logs(outcome, work)
        shutil.rmtree(work, ignore_errors=True)
        return outcome

    def _save_logs(self, outcome: Outcome, work: Path) -> None:
        dest = None
        if self.keep_logs is not None:
            dest = self.keep_logs / outcome.name
        elif outcome.verdict == "FAIL":
            dest = self.fail_logs / outcome.name
        if dest is None:
            return
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for f in work.glob("*"):
            # logs and small descriptions; blobs and the ESP are rebuilt
            if f.is_file() and (f.suffix in (".log", ".txt", ".json", ".sh", ".conf")):
                shutil.copy(f, dest / f.name)
        esp_entries = work / "esp" / "loader" / "entries"
        if esp_entries.is_dir():
            for f in esp_entries.glob("*.conf"):
                shutil.copy(f, dest / f"entry-{f.name}")
        (dest / "outcome.txt").write_text(
            f"{outcome.verdict} {outcome.name}: {outcome.reason}\n")
        if outcome.verdict == "FAIL":
            self.note(f"logs kept in {dest}")

    def _execute(self, template: Scenario, work: Path, start: float) -> Outcome:
        skip, fail = _missing_requirements(self.root, template)
        if fail:
            raise ScenarioError("missing build output " + ", ".join(fail))
        if skip:
            raise ScenarioSkip("missing " + ", ".join(skip))
        s = instantiate(template)
        vars_path = work / "OVMF_VARS.fd"
        shutil.copyfile(OVMF_VARS, vars_path)
        ctx = Context(root=self.root, build=self.build, workdir=work, scenario=s,
                      vars_path=vars_path, verbose=self.verbose)
        if s.prepare:
            t = time.monotonic()
            s.prepare(ctx)
            self.note(f"{s.name}: prepared in {time.monotonic() - t:.1f}s")
        esp = work / "esp"
        esp_mod.build_esp(self.root, esp, s.loader, s.entries, s.esp_files)
        for i, r in enumerate(s.runs, 1):
            if s.timeout is not None and time.monotonic() - start > s.timeout:
                raise ScenarioError(f"scenario time limit {s.timeout:.0f}s exceeded before run {i}")
            if r.before:
                r.before(ctx, i)
            serial = work / f"run{i}-serial.log"
            debug = work / f"run{i}-firmware.log"
            cmd = qemu.command(esp, vars_path, serial, debug, r.memory, r.reboot, r.blobs,
                               r.qemu_args, r.firmware)
            (work / f"run{i}-command.txt").write_text(" ".join(cmd) + "\n")
            stops = [re.compile(p) for p in r.stop_on]

            def halted(text: str, s=s, stops=stops) -> bool:
                return any(p.fullmatch(l) for l in s.protocol_lines(text) for p in stops)

            def show_line(line: str, s=s) -> None:
                for p in s.protocol_lines(line):
                    print(f"    | {p}", flush=True)

            res = qemu.run(cmd, serial, r.timeout, halted, show_line if self.show else None)
            if res.stderr.strip():
                (work / f"run{i}-qemu-stderr.log").write_text(res.stderr)
            self.note(f"{s.name}: run {i}/{len(s.runs)} exit={res.status} in {res.seconds:.1f}s")
            lines = s.protocol_lines(res.serial)
            (work / f"run{i}-protocol.txt").write_text("\n".join(lines) + "\n")
            where = f"run {i}: " if len(s.runs) > 1 else ""
            if res.stopped:
                raise ScenarioError(f"{where}guest stopped: {lines[-1] if lines else '?'}")
            if res.status is None:
                last = lines[-1] if lines else "no protocol line"
                raise ScenarioError(f"{where}timeout after {r.timeout:.0f}s (last: {last})")
            for c in r.checks:
                why = c.evaluate(lines)
                if why:
                    raise ScenarioError(where + why)
            if r.expect_exit is not None and res.status != r.expect_exit:
                fails = [l for l in lines if " fail" in l or "error" in l][:2]
                detail = f" ({'; '.join(fails)})" if fails else ""
                raise ScenarioError(f"{where}QEMU exit status {res.status}, "
                                    f"expected {r.expect_exit}{detail}")
        return Outcome(s.name, "PASS")


def main(argv: list[str]) -> int:
    import argparse
    import fnmatch

    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(prog="bootchain", description=(
        "Runs boot-chain scenarios (QEMU + OVMF + khoboot) and asserts on "
        "protocol lines. Without NAME: the default suite."))
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--keep-logs", metavar="DIR", type=Path,
                    help="keep every scenario's logs in DIR/NAME (default: failures only, "
                         "in build/bootchain-logs)")
    ap.add_argument("--all", action="store_true", help="also run non-default scenarios")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--show", action="store_true",
                    help="print each run's protocol lines live, as the guest writes them")
    ap.add_argument("names", nargs="*", metavar="NAME", help="scenario names (shell globs)")
    args = ap.parse_args(argv)

    scenarios, errors = discover(root / "scripts" / "scenarios")
    if args.list:
        for s in scenarios:
            flag = "" if s.default else " [not default]"
            print(f"{s.name}{flag}: {s.description}")
        for e in errors:
            print(f"ERROR {e}")
        return 1 if errors else 0

    if args.names:
        chosen = [s for s in scenarios if any(fnmatch.fnmatchcase(s.name, n) for n in args.names)]
        unknown = [n for n in args.names
                   if not any(fnmatch.fnmatchcase(s.name, n) for s in scenarios)]
    else:
        chosen = [s for s in scenarios if s.default or args.all]
        unknown = []

    ex = Executor(root, args.keep_logs.resolve() if args.keep_logs else None,
                  root / "build" / "bootchain-logs", args.verbose, args.show)
    passed = failed = skipped = 0
    suite_start = time.monotonic()
    for e in errors:
        print(f"FAIL scenario-module: {e}", flush=True)
        failed += 1
    for n in unknown:
        print(f"FAIL {n}: no such scenario", flush=True)
        failed += 1
    for s in chosen:
        o = ex.execute(s)
        if o.verdict == "PASS":
            passed += 1
            print(f"PASS {o.name}", flush=True)
        elif o.verdict == "SKIP":
            skipped += 1
            print(f"SKIP {o.name}: {o.reason}", flush=True)
        else:
            failed += 1
            print(f"FAIL {o.name}: {o.reason}", flush=True)
        print(f"  {o.name}: {o.seconds:.1f}s wall", flush=True)
    print(f"  suite wall time {time.monotonic() - suite_start:.1f}s", flush=True)
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}", flush=True)
    return 1 if failed else 0
