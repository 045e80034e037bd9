"""Executes scenarios (scripts/lib/bootchain.py has the model): discovery of
scripts/scenarios/*.py, one private work directory per scenario, the ESP,
the variable store copy, the QEMU runs in sequence and the checks.

Each scenario runs in a reaper scope (scripts/lib/reaper.py): its QEMU
processes, watcher threads and work directory are ended on every path,
Ctrl-C and SIGTERM included, and whatever escapes is reported at the end
of the suite as "FAIL <scenario>: leaked ...", counted as a failure."""
from __future__ import annotations

import importlib.util
import re
import shutil
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from . import esp as esp_mod
from . import qemu, reaper
from .bootchain import (AAVMF_VARS, OVMF_VARS, Context, Run, Scenario, ScenarioError, ScenarioSkip, Timed,
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
        self.leaks: list[reaper.Leak] = []    # reported as failures at the end of the suite
        self.last: Outcome | None = None      # the scenario in progress or last run

    def note(self, msg: str) -> None:
        print(f"  {msg}", flush=True)

    def execute(self, template: Scenario) -> Outcome:
        """Runs one scenario in its own reaper scope. On every way out
        (pass, fail, an exception, Ctrl-C, SIGTERM) its processes are
        killed, its watcher threads joined, its logs saved and its
        directory removed before this returns or the interruption goes
        on; what escaped that is added to self.leaks."""
        start = time.monotonic()
        scope = reaper.Scope(template.name)
        self.last = Outcome(template.name, "FAIL", "interrupted")
        work: Path | None = None
        try:
            with reaper.active(scope):
                work = scope.mkdtemp(prefix=f"bootchain-{template.name}-")
                self.last = self._guarded(template, work, start, scope)
        except (KeyboardInterrupt, reaper.Terminated) as e:
            why = e if isinstance(e, reaper.Terminated) else "SIGINT"
            self.last = Outcome(template.name, "FAIL", f"interrupted by {why}")
            raise
        finally:
            self._finish(scope, self.last, work, start)
        return self.last

    def _guarded(self, template: Scenario, work: Path, start: float, scope: reaper.Scope) -> Outcome:
        """_execute with every exception turned into an outcome (never
        KeyboardInterrupt or reaper.Terminated: those end the suite)."""
        try:
            return self._execute(template, work, start, scope)
        except ScenarioSkip as e:
            return Outcome(template.name, "SKIP", str(e))
        except ScenarioError as e:
            return Outcome(template.name, "FAIL", str(e))
        except Exception as e:
            tb = traceback.format_exc().strip().splitlines()[-1]
            return Outcome(template.name, "FAIL", f"runner error: {tb or e}")

    def _finish(self, scope: reaper.Scope, outcome: Outcome, work: Path | None, start: float) -> None:
        """Cleanup that a second Ctrl-C or SIGTERM cannot cut short."""
        with reaper.deferred_signals():
            scope.stop()                 # nothing may write into `work` while it is copied
            outcome.seconds = time.monotonic() - start
            if work is not None:
                try:
                    self._save_logs(outcome, work)
                except Exception as e:   # still remove the directory below
                    self.note(f"{outcome.name}: saving logs failed: {type(e).__name__}: {e}")
            for leak in scope.close():
                self.note(f"{leak.owner}: leaked {leak.what} (now killed/removed)")
                self.leaks.append(leak)

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

    def _execute(self, template: Scenario, work: Path, start: float, scope: reaper.Scope) -> Outcome:
        skip, fail = _missing_requirements(self.root, template)
        if fail:
            raise ScenarioError("missing build output " + ", ".join(fail))
        if skip:
            raise ScenarioSkip("missing " + ", ".join(skip))
        s = instantiate(template)
        vars_path = work / "OVMF_VARS.fd"
        arm64 = any(r.firmware == "aavmf" for r in s.runs)
        shutil.copyfile(AAVMF_VARS if arm64 else OVMF_VARS, vars_path)
        ctx = Context(root=self.root, build=self.build, workdir=work, scenario=s,
                      vars_path=vars_path, verbose=self.verbose)
        if s.prepare:
            t = time.monotonic()
            s.prepare(ctx)
            self.note(f"{s.name}: prepared in {time.monotonic() - t:.1f}s")
        esp = work / "esp" if s.vvfat else None
        if esp:
            esp_mod.build_esp(self.root, esp, s.loader, s.entries, s.esp_files)
        for i, r in enumerate(s.runs, 1):
            if s.timeout is not None and time.monotonic() - start > s.timeout:
                raise ScenarioError(f"scenario time limit {s.timeout:.0f}s exceeded before run {i}")
            res, lines = self._run(ctx, esp, r, i, scope)
            where = f"run {i}: " if len(s.runs) > 1 else ""
            why = _judge(r, res, lines)
            if why:
                raise ScenarioError(where + why)
        return Outcome(s.name, "PASS")

    def _run(self, ctx: Context, esp: Path | None, r: Run, i: int,
             scope: reaper.Scope) -> tuple[qemu.RunResult, list[str]]:
        """One QEMU process: its before hook (which may start watchers),
        QEMU until it ends, then the watchers joined; (result, protocol lines)."""
        s, work = ctx.scenario, ctx.workdir
        scope.new_run()              # its watchers may wait (and abort) again
        if r.before:
            r.before(ctx, i)
        serial = work / f"run{i}-serial.log"
        debug = work / f"run{i}-firmware.log"
        cmd = qemu.command(esp, ctx.vars_path, serial, debug, r.memory, r.reboot, r.blobs,
                           r.qemu_args, r.firmware)
        (work / f"run{i}-command.txt").write_text(" ".join(cmd) + "\n")
        stops = [re.compile(p) for p in r.stop_on + r.interrupt_on]
        interrupts = [re.compile(p) for p in r.interrupt_on]

        def halted(text: str) -> bool:
            return any(p.fullmatch(l) for l in s.protocol_lines(text) for p in stops)

        def show_line(line: str) -> None:
            for p in s.protocol_lines(line):
                print(f"    | {p}", flush=True)

        res = qemu.run(cmd, serial, r.timeout, halted, show_line if self.show else None)
        scope.cancel.set()           # QEMU is gone: its watchers stop waiting,
        scope.join_threads()         # and their verdicts are written before checks read them
        if res.stderr.strip():
            (work / f"run{i}-qemu-stderr.log").write_text(res.stderr)
        self.note(f"{s.name}: run {i}/{len(s.runs)} exit={res.status} in {res.seconds:.1f}s")
        lines = s.protocol_lines(res.serial)
        (work / f"run{i}-protocol.txt").write_text("\n".join(lines) + "\n")
        # Cut off on purpose (Run.interrupt_on): judged by its checks alone.
        res.interrupted = res.stopped and any(p.fullmatch(l) for l in lines for p in interrupts)
        return res, lines


def _judge(r: Run, res: qemu.RunResult, lines: list[str]) -> str | None:
    """Why a run failed, or None."""
    for c in r.checks:
        if isinstance(c, Timed):
            c.line_times = res.line_times
    if res.aborted:              # a watcher failed and ended the run: its reason, not a timeout's
        return res.aborted
    if res.interrupted:
        return next((why for why in (c.evaluate(lines) for c in r.checks) if why), None)
    if res.stopped:
        return f"guest stopped: {lines[-1] if lines else '?'}"
    if res.status is None:
        return f"timeout after {r.timeout:.0f}s (last: {lines[-1] if lines else 'no protocol line'})"
    for c in r.checks:
        why = c.evaluate(lines)
        if why:
            return why
    if r.expect_exit is not None and res.status != r.expect_exit:
        fails = [l for l in lines if " fail" in l or "error" in l][:2]
        detail = f" ({'; '.join(fails)})" if fails else ""
        return f"QEMU exit status {res.status}, expected {r.expect_exit}{detail}"
    return None


def _parse(argv: list[str]):
    import argparse
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
    return ap.parse_args(argv)


def _choose(scenarios: list[Scenario], args) -> tuple[list[Scenario], list[str]]:
    import fnmatch
    if not args.names:
        return [s for s in scenarios if s.default or args.all], []
    chosen = [s for s in scenarios if any(fnmatch.fnmatchcase(s.name, n) for n in args.names)]
    unknown = [n for n in args.names if not any(fnmatch.fnmatchcase(s.name, n) for s in scenarios)]
    return chosen, unknown


class _Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def fail(self, name: str, reason: str) -> None:
        self.failed += 1
        print(f"FAIL {name}: {reason}", flush=True)

    def outcome(self, o: Outcome) -> None:
        if o.verdict == "PASS":
            self.passed += 1
            print(f"PASS {o.name}", flush=True)
        elif o.verdict == "SKIP":
            self.skipped += 1
            print(f"SKIP {o.name}: {o.reason}", flush=True)
        else:
            self.fail(o.name, o.reason)
        print(f"  {o.name}: {o.seconds:.1f}s wall", flush=True)


def _run_suite(ex: Executor, chosen: list[Scenario], tally: _Tally) -> int:
    """Runs the scenarios; returns 0, or the signal number that stopped
    the suite (the scenario it interrupted is reported as failed)."""
    current = None
    try:
        for s in chosen:
            current = s.name
            o = ex.execute(s)
            current = None
            tally.outcome(o)
    except (KeyboardInterrupt, reaper.Terminated) as e:
        signum = e.signum if isinstance(e, reaper.Terminated) else signal.SIGINT
        if current is not None:
            last = ex.last if ex.last and ex.last.name == current else None
            tally.outcome(last or Outcome(current, "FAIL", "interrupted"))
        print(f"  suite stopped by {signal.Signals(signum).name}", flush=True)
        return signum
    return 0


def _report_leaks(ex: Executor, tally: _Tally) -> None:
    """The end-of-suite check: what each scenario's cleanup found escaped,
    plus anything still alive or present now; one FAIL line per scenario."""
    with reaper.deferred_signals():
        leaks = ex.leaks + reaper.suite_leaks()
    by_owner: dict[str, list[str]] = {}
    for leak in leaks:
        by_owner.setdefault(leak.owner, []).append(leak.what)
    for owner, what in by_owner.items():
        tally.fail(owner, "leaked " + "; ".join(what))


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    args = _parse(argv)
    scenarios, errors = discover(root / "scripts" / "scenarios")
    if args.list:
        for s in scenarios:
            flag = "" if s.default else " [not default]"
            print(f"{s.name}{flag}: {s.description}")
        for e in errors:
            print(f"ERROR {e}")
        return 1 if errors else 0

    chosen, unknown = _choose(scenarios, args)
    return run_scenarios(root, chosen, unknown, errors, args.keep_logs, args.verbose, args.show)


def run_scenarios(root: Path, chosen: list[Scenario], unknown: list[str] = (), errors: list[str] = (),
                  keep_logs: Path | None = None, verbose: bool = False, show: bool = False) -> int:
    """Runs `chosen` in order and prints one PASS/FAIL/SKIP line each, then
    "N passed, N failed"; the exit status of the suite. Also for scripts
    that make their scenarios themselves (scripts/luo-chain)."""
    reaper.install()
    for d in reaper.remove_stale():
        print(f"  removed {d}: its runner died without cleaning up", flush=True)
    ex = Executor(root, keep_logs.resolve() if keep_logs else None,
                  root / "build" / "bootchain-logs", verbose, show)
    tally = _Tally()
    suite_start = time.monotonic()
    for e in errors:
        tally.fail("scenario-module", e)
    for n in unknown:
        tally.fail(n, "no such scenario")
    stopped_by = _run_suite(ex, chosen, tally)
    _report_leaks(ex, tally)
    print(f"  suite wall time {time.monotonic() - suite_start:.1f}s", flush=True)
    tail = f", {tally.skipped} skipped" if tally.skipped else ""
    print(f"{tally.passed} passed, {tally.failed} failed{tail}", flush=True)
    if stopped_by:
        return 128 + stopped_by
    return 1 if tally.failed else 0
