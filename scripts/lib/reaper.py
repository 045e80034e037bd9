"""Every process, watcher thread and temporary directory a scenario starts,
ended on every path, and a check that nothing escaped.

A Scope (one per scenario) tracks what is started through it: spawn()
runs a command in its own session, mkdtemp() makes a directory,
start_thread() runs a watcher. close() kills what still runs, joins the
threads, removes the directories, then sweeps: any child process of the
runner, any process started through the scope or naming one of its
directories on its command line, any thread still alive and any
directory still present is a leak. Leaks are killed or removed and
returned, so the runner can fail the scenario they belong to.

Why each piece:
* QEMU runs in its own session, so neither a timeout kill nor cleanup can
  hit the runner; but then Ctrl-C and a signal to the runner's process
  group never reach it either, so the runner must end it itself.
* SIGTERM/SIGHUP raise Terminated (a BaseException, like
  KeyboardInterrupt) instead of killing Python on the spot, so every
  finally block and Scope.close() runs. A second signal during cleanup is
  held until the cleanup is done (deferred_signals()).
* SIGKILL of the runner cannot be caught: spawn() asks the kernel (via
  setpriv --pdeathsig) to SIGKILL the child when the runner dies, and
  each directory holds an owner file (pid and start time) so the next
  runner removes it (remove_stale()).
* The runner becomes a child subreaper, so orphans of its descendants (a
  make started by a hook script that was killed) become its children and
  the sweep finds them instead of init adopting them unseen.
* A watcher thread's uncaught failure aborts the scope: qemu.run ends the
  run at once instead of leaving a VM paused by -S until the timeout.
* pid_max can be 32768: a pid is only trusted while its process is an
  unreaped child or names one of our directories, never from a list of
  pids that may have been reused since.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import inject

JOIN_TIMEOUT = 15.0      # watcher threads end within a second once QEMU is gone
_SETPRIV = shutil.which("setpriv")


class Terminated(BaseException):
    """SIGTERM or SIGHUP reached the runner (unwinds like KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# --- signals ------------------------------------------------------------------

_defer_depth = 0
_pending: int | None = None


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def _handler(signum, _frame) -> None:
    global _pending
    if _defer_depth:
        _pending = signum     # raised when the cleanup in progress is done
        return
    _raise_for(signum)


@contextmanager
def deferred_signals():
    """Holds SIGINT/SIGTERM/SIGHUP (main thread only: Python runs handlers
    there) so a cleanup or a spawn-and-track is never cut in half."""
    global _defer_depth, _pending
    main = threading.current_thread() is threading.main_thread()
    _defer_depth += main
    try:
        yield
    finally:
        _defer_depth -= main
        if main and not _defer_depth and _pending is not None:
            signum, _pending = _pending, None
            _raise_for(signum)


def install() -> None:
    """Signal handlers, the subreaper flag and a last-resort kill at exit;
    called once by the runner's main() (main thread)."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _handler)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass                         # the sweep then sees direct children only
    atexit.register(_kill_all_tracked)


# --- the process table ----------------------------------------------------------

@dataclass
class ProcInfo:
    pid: int
    comm: str
    state: str
    ppid: int
    sid: int
    cmdline: str


def proc_info(pid: int) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None           # ended while we looked
    close = stat.rindex(")")  # the command name may hold spaces and parentheses
    fields = stat[close + 2:].split()
    return ProcInfo(pid, stat[stat.index("(") + 1:close], fields[0], int(fields[1]), int(fields[3]),
                    raw.replace(b"\0", b" ").decode(errors="replace").strip())


def process_table() -> dict[int, ProcInfo]:
    out = {}
    for entry in os.scandir("/proc"):
        info = proc_info(int(entry.name)) if entry.name.isdigit() else None
        if info is not None:
            out[info.pid] = info
    return out


def _signal_if(pid: int, still_ours) -> None:
    """SIGKILL pid through a pidfd, after checking again (on the pidfd's
    process, so a reused pid is never hit) that it is still the one found."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        info = proc_info(pid)
        if info is not None and still_ours(info):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reap_child(pid: int, timeout: float = 10) -> None:
    """Collects an untracked child (an adopted orphan) once it has died;
    bounded, so a process stuck in the kernel cannot hang the runner."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] or time.monotonic() > deadline:
                return
        except ChildProcessError:
            return
        time.sleep(0.02)


# --- what a runner that died by SIGKILL left --------------------------------------

OWNER_FILE = ".bootchain-owner"


def _identity(pid: int) -> str:
    """pid and start time: a pid alone may have been reused since."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return f"{pid} gone"
    return f"{pid} {stat[stat.rindex(')') + 2:].split()[19]}"   # field 22, starttime


def remove_stale(prefix: str = "bootchain-") -> list[str]:
    """Temporary directories whose runner is dead (SIGKILL, the OOM killer:
    no handler runs), and any process still naming one, are removed;
    returns their paths. Directories without an owner file (or unreadable:
    another user's) are left alone, as are those of a live runner."""
    removed = []
    for d in sorted(Path(tempfile.gettempdir()).glob(prefix + "*")):
        try:
            owner = (d / OWNER_FILE).read_text().split()
        except OSError:
            continue
        if len(owner) != 2 or not owner[0].isdigit() or _identity(int(owner[0])) == " ".join(owner):
            continue
        mark = str(d) + os.sep
        for info in process_table().values():
            if mark in info.cmdline:
                _signal_if(info.pid, lambda i: mark in i.cmdline)
        shutil.rmtree(d, ignore_errors=True)
        removed.append(str(d))
    return removed


# --- scopes ------------------------------------------------------------------------

@dataclass
class Leak:
    owner: str       # scenario name ("bootchain" for the runner itself)
    what: str        # "process qemu-system-x86_64 pid 123", "directory /tmp/..."


class Scope:
    def __init__(self, name: str):
        self.name = name
        self.procs: list[subprocess.Popen] = []
        self.dirs: list[Path] = []
        self.threads: list[threading.Thread] = []
        self.cancel = threading.Event()     # watchers stop waiting when set
        self._abort: str | None = None
        self._lock = threading.Lock()

    def spawn(self, cmd: list[str], **kw) -> subprocess.Popen:
        """Popen in a new session (a group kill hits it and nothing else),
        tracked; with setpriv the kernel SIGKILLs it if the runner dies
        unannounced. Call from the main thread: the death signal follows
        the thread that forked."""
        argv = [str(c) for c in cmd]
        if _SETPRIV:
            argv = [_SETPRIV, "--pdeathsig", "KILL", "--", *argv]
        with deferred_signals():        # never a started process we do not track
            proc = subprocess.Popen(argv, start_new_session=True, **kw)
            self.procs.append(proc)
            _ALL_PROCS.append((proc, self.name))
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL its process group and wait. Not SIGTERM first: QEMU's
        state is disposable, and a process that inherited a blocked SIGTERM
        (or is wedged) would ignore it."""
        if inject.enabled("reaper:no-kill"):
            return
        with deferred_signals():
            if proc.returncode is None:     # unreaped: the pid is still ours
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass                        # the sweep reports it

    def mkdtemp(self, prefix: str) -> Path:
        """A tracked temporary directory, marked with the runner's identity
        so a later runner can remove it if this one dies by SIGKILL."""
        with deferred_signals():
            d = Path(tempfile.mkdtemp(prefix=prefix))
            self.dirs.append(d)
            _ALL_DIRS.append((d, self.name))
        (d / OWNER_FILE).write_text(_identity(os.getpid()) + "\n")
        return d

    def start_thread(self, target, name: str) -> threading.Thread:
        """Runs target in a daemon thread (Python never waits for it at
        exit) that close() joins; an exception it lets out aborts the run."""
        def body():
            try:
                target()
            except BaseException as exc:    # noqa: B036 -- reported, never lost
                self.abort(f"{name}: {type(exc).__name__}: {exc}")
        t = threading.Thread(target=body, name=f"{self.name}/{name}", daemon=True)
        with deferred_signals():
            self.threads.append(t)
            t.start()
        return t

    def abort(self, reason: str) -> None:
        """Asks the run in progress to end now (qemu.run polls aborted());
        the first reason wins."""
        with self._lock:
            if self._abort is None:
                self._abort = reason
        self.cancel.set()

    def aborted(self) -> str | None:
        return self._abort

    def new_run(self) -> None:
        """Before each QEMU run (the previous run's watchers are joined)."""
        with self._lock:
            self._abort = None
        self.cancel.clear()

    def join_threads(self, timeout: float = JOIN_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Kills every process, stops and joins every watcher. Idempotent."""
        with deferred_signals():
            self.cancel.set()
            for p in self.procs:
                self.kill(p)
            self.join_threads()

    def close(self) -> list[Leak]:
        """stop(), removes the directories, then returns (and cleans up)
        whatever escaped."""
        with deferred_signals():
            self.stop()
            if not inject.enabled("reaper:keep-dirs"):
                for d in self.dirs:
                    shutil.rmtree(d, ignore_errors=True)
            live = [(p, self.name) for p in self.procs if p.returncode is None]
            leaks = sweep(live, {str(d): self.name for d in self.dirs}, self.name)
            leaks += [Leak(self.name, f"watcher thread {t.name}") for t in self.threads if t.is_alive()]
        return leaks


_ALL_PROCS: list[tuple[subprocess.Popen, str]] = []
_ALL_DIRS: list[tuple[Path, str]] = []
_ROOT = Scope("bootchain")
_stack: list[Scope] = []


def current() -> Scope:
    """The scope of the scenario being executed (the runner's own outside
    any scenario, or when qemu.run is used by another script)."""
    return _stack[-1] if _stack else _ROOT


@contextmanager
def active(scope: Scope):
    _stack.append(scope)
    try:
        yield scope
    finally:
        _stack.remove(scope)


# --- the sweep -----------------------------------------------------------------------

def _owner(info: ProcInfo, sessions: dict[int, str], dirs: dict[str, str], default: str) -> str | None:
    if info.pid == os.getpid() or info.state in ("Z", "X"):
        return None
    if info.sid in sessions:
        return sessions[info.sid]
    for d, name in dirs.items():
        if d + os.sep in info.cmdline:
            return name
    return default if info.ppid == os.getpid() else None


def _tracked_unreaped() -> set[int]:
    return {p.pid for p, _ in _ALL_PROCS if p.returncode is None}


def sweep(live: list[tuple[subprocess.Popen, str]], dirs: dict[str, str], default: str) -> list[Leak]:
    """Leaks: processes in the sessions of `live` (tracked, unreaped:
    (Popen, owner)), naming a directory of `dirs` (path -> owner) or
    children of the runner (charged to `default`); directories of `dirs`
    still present. Kills and removes them; reaps adopted zombies."""
    sessions = {p.pid: owner for p, owner in live}
    tracked = _tracked_unreaped()        # Popen reaps those itself
    leaks = []
    for info in process_table().values():
        owner = _owner(info, sessions, dirs, default)
        untracked_child = info.ppid == os.getpid() and info.pid not in tracked
        if owner is not None:
            name = Path(info.cmdline.split(" ", 1)[0]).name or info.comm
            leaks.append(Leak(owner, f"process {name} pid {info.pid}"))
            _signal_if(info.pid, lambda i, o=owner: _owner(i, sessions, dirs, default) == o)
        if untracked_child and (owner is not None or info.state == "Z"):
            _reap_child(info.pid)
    for p, _ in live:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    for d, owner in dirs.items():
        if os.path.lexists(d):
            leaks.append(Leak(owner, f"directory {d}"))
            shutil.rmtree(d, ignore_errors=True)
    return leaks


def suite_leaks() -> list[Leak]:
    """The end-of-suite check: every scope is closed, so any child, any
    process naming one of the suite's directories, and any of those
    directories still present is a leak (charged to the scenario whose
    directory or process it is, else to "bootchain")."""
    live = [(p, name) for p, name in _ALL_PROCS if p.returncode is None]
    return sweep(live, {str(d): name for d, name in _ALL_DIRS}, _ROOT.name)


def _kill_all_tracked() -> None:
    """atexit: nothing tracked outlives the runner, whatever path led here."""
    for p, _ in _ALL_PROCS:
        if p.returncode is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
