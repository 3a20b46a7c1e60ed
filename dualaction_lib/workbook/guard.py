"""The runner's guard: one runner per notebook folder, each notebook in its own process group, no orphans.

- Each papermill child starts in its own session (``start_new_session=True``): Ctrl-C at the terminal
  reaches only the runner, which forwards SIGINT / SIGTERM to every child's process group (papermill then
  shuts its kernel down); a second signal, or children still running 10 s later, get SIGKILL.
- On Linux each child is started with ``PR_SET_PDEATHSIG``: when the runner dies, even by SIGKILL,
  papermill receives SIGTERM, and its kernel (ipykernel polls its parent) exits within a second.
- The runner locks each output folder (``<folder>/.runner.lock``, a :class:`~dualaction_lib.locks.DirLock`)
  and records its children (PID = process group, start tick, notebook) in ``<folder>/.runner.json``.
  Every child's environment carries the runner's token (``DUALACTION_RUNNER_TOKEN``), which the kernel and
  its workers inherit, so they can be found even though the kernel runs in a session of its own.
- A runner that finds the lock of a dead runner takes it over and first stops what that runner left
  behind (its recorded process groups and, on Linux, every process carrying its token): SIGTERM, then
  SIGKILL after 10 s. Only then does any job start, so a second papermill never writes next to an
  orphan. The orphans are stopped, not waited for: their runner is gone, nobody would collect their
  results, and their jobs are incomplete, so this run does them again.
- A live runner's lock is a one-line refusal naming its PID and host.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

from dualaction_lib.io import atomic_write_json
from dualaction_lib.locks import DirLock, process_start_tick

TOKEN_ENV = "DUALACTION_RUNNER_TOKEN"
LOCK_NAME = ".runner.lock"
STATE_NAME = ".runner.json"
GRACE_SECONDS = 10.0

# Runs in the child before papermill: ask the kernel for SIGTERM when the runner dies, then exec.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)  # the runner died before prctl took effect\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


def tagged_processes(token: str) -> list[int]:
    """PIDs of live processes whose environment carries the runner ``token`` (Linux; [] elsewhere)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    needle = f"{TOKEN_ENV}={token}".encode()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or another user's process: not one of ours
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to a process group; False when the group is gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def _recorded_groups(state: dict[str, Any]) -> set[int]:
    """Process groups of a state file's children that still exist and are not someone else's."""
    groups = set()
    for child in state.get("children", []):
        pgid = int(child["pgid"])
        tick = process_start_tick(pgid)
        if tick is not None and child.get("proc_start") not in (None, tick):
            continue  # the leader's PID now belongs to another process
        if _signal_group(pgid, 0):
            groups.add(pgid)
    return groups


def _group_running(pgid: int) -> bool:
    """Whether a process group has a member that is not a zombie (exited, waiting for its parent)."""
    if not _signal_group(pgid, 0):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        state, _, group = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state != "Z":
            return True
    return False


def stop_groups(groups: set[int], grace: float = GRACE_SECONDS) -> set[int]:
    """SIGTERM the groups, SIGKILL what is left after ``grace`` seconds; returns the groups that existed."""
    alive = {g for g in groups if g != os.getpgrp() and _signal_group(g, signal.SIGTERM)}
    deadline = time.monotonic() + grace
    left = set(alive)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = {g for g in left if _group_running(g)}
    for g in left:
        _signal_group(g, signal.SIGKILL)
    return alive


class RunnerGuard:
    """Held by :func:`~dualaction_lib.workbook.execute.run_plan` while it runs a plan's notebooks."""

    def __init__(self, folders: set[Path], log: Any = print) -> None:
        self.folders = sorted(set(folders))
        self.log = log
        self.token = uuid.uuid4().hex
        self.locks = [DirLock(f, "a workbook runner", LOCK_NAME) for f in self.folders]
        self.children: dict[int, dict[str, Any]] = {}  # pid (= its process group) → record
        self.stop_signal: int | None = None
        self._stop_time = 0.0
        self._killed = False
        self._announced = False
        self._mutex = threading.RLock()  # the signal handler runs in the main thread, maybe mid-update
        self._handlers: dict[int, Any] = {}

    # ------------------------------------------------------------------------ enter / leave
    def __enter__(self) -> RunnerGuard:
        try:
            for lock in self.locks:
                lock.acquire()
                self._stop_orphans(lock.directory)
                self._write_state(lock.directory)
        except BaseException:
            self._release()
            raise
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        with self._mutex:
            leftover = {record["pgid"] for record in self.children.values()}
        stop_groups(leftover | self._token_groups())
        self._release()

    def _release(self) -> None:
        for lock in self.locks:
            if lock.held:
                (lock.directory / STATE_NAME).unlink(missing_ok=True)
            lock.release()

    def _stop_orphans(self, folder: Path) -> None:
        """Stop the processes a dead runner left in ``folder`` (its lock was just taken over)."""
        path = folder / STATE_NAME
        if not path.exists():
            return
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            state = {}
        groups = _recorded_groups(state)
        if state.get("token"):
            groups |= {g for g in map(_group_of, tagged_processes(state["token"])) if g is not None}
        if groups:
            notebooks = sorted({Path(c.get("notebook", "?")).name for c in state.get("children", [])})
            self.log(
                f"[workbook] stopping {len(groups)} process group(s) {sorted(groups)} left running by an "
                f"earlier runner ({state.get('runner', {}).get('pid', '?')}, gone) on {notebooks}; "
                f"their jobs run again",
                flush=True,
            )
            stop_groups(groups)
        path.unlink(missing_ok=True)

    def _write_state(self, folder: Path) -> None:
        children = [c for c in self.children.values() if c["folder"] == str(folder)]
        runner = {"pid": os.getpid(), "proc_start": process_start_tick(os.getpid())}
        atomic_write_json(folder / STATE_NAME, {"token": self.token, "runner": runner, "children": children})

    # ------------------------------------------------------------------------ children
    def launch(
        self, command: list[str], output: Path, log: IO, env: dict[str, str]
    ) -> subprocess.Popen | None:
        """Start ``command`` (``python -m papermill …``) in its own session; None once stopping."""
        argv = list(command)
        if sys.platform.startswith("linux"):
            argv = [command[0], "-c", _LAUNCHER, str(os.getpid()), *command[1:]]
        with self._mutex:
            if self.stop_signal is not None:
                return None
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**env, TOKEN_ENV: self.token},
            )
            folder = str(output.parent)
            self.children[proc.pid] = {
                "pid": proc.pid,
                "pgid": proc.pid,  # a session leader leads its process group
                "proc_start": process_start_tick(proc.pid),
                "notebook": str(output),
                "folder": folder,
            }
            self._write_state(Path(folder))
        return proc

    def finished(self, proc: subprocess.Popen) -> None:
        with self._mutex:
            record = self.children.pop(proc.pid, None)
            if record is not None:
                self._write_state(Path(record["folder"]))

    # ------------------------------------------------------------------------ signals
    @property
    def stopping(self) -> bool:
        return self.stop_signal is not None

    def _on_signal(self, signum: int, frame: object) -> None:
        # No printing here: the main thread may be inside print() (re-entering it raises).
        if self.stop_signal is None:
            self.stop_signal, self._stop_time = signum, time.monotonic()
            self.forward(signum)
        else:
            self.forward(signal.SIGKILL)  # asked twice: no more grace

    def forward(self, signum: int) -> None:
        """Send ``signum`` to every child's group; SIGTERM / SIGKILL also to the kernels' own groups."""
        with self._mutex:
            groups = {record["pgid"] for record in self.children.values()}
        if signum != signal.SIGINT:  # SIGINT lets papermill shut its kernel down cleanly
            groups |= self._token_groups()
        for pgid in groups:
            if pgid != os.getpgrp():
                _signal_group(pgid, signum)
        self._killed = self._killed or signum == signal.SIGKILL

    def poll(self) -> None:
        """Called by the runner's loop: say that it stops, SIGKILL children still running after the grace."""
        if not self.stopping:
            return
        if not self._announced:
            self._announced = True
            name = signal.Signals(self.stop_signal).name
            self.log(f"[workbook] {name}: stopping the running notebooks", flush=True)
        if not self._killed and time.monotonic() - self._stop_time > GRACE_SECONDS:
            self.forward(signal.SIGKILL)

    def _token_groups(self) -> set[int]:
        return {g for g in map(_group_of, tagged_processes(self.token)) if g is not None}
