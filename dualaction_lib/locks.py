"""Directory locks: one process at a time writes into a run directory (or a plan's notebook folder).

A lock is a file created with ``O_CREAT | O_EXCL`` (of two processes, exactly one creates it) that says
who holds it: PID, host, start time, the process's start tick (so a reused PID is not mistaken for the
holder) and the command line. The holder removes it when it leaves: normally, on an exception, on Ctrl-C
or on SIGTERM (the CLI turns SIGTERM into an exception). After SIGKILL or a crash the file stays behind:
a later process on the same host sees that the holder is gone and takes the lock over with a warning.
A live holder, or one on another host (whose processes cannot be checked), is a one-line refusal
(:class:`LockedError`) naming the PID and host.

    with DirLock(run_dir, purpose="training"):
        ...
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from dualaction_lib.errors import UserError

LOCK_NAME = ".lock"
_YOUNG_SECONDS = 30.0  # an unreadable lock this young may be one being written right now


class LockedError(UserError):
    """Another live process holds the lock (exit code 1); the message names its PID and host."""


def process_start_tick(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), None elsewhere or if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may hold spaces and parentheses: split after its closing ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 of proc(5), counted from field 3


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def holder_alive(info: dict[str, Any]) -> bool | None:
    """True/False for a holder on this host; None when it runs on another host (cannot be checked)."""
    if info.get("host") != socket.gethostname():
        return None
    pid = int(info.get("pid", -1))
    if pid <= 0 or not pid_alive(pid):
        return False
    recorded, current = info.get("proc_start"), process_start_tick(pid)
    return recorded is None or current is None or recorded == current


def describe(info: dict[str, Any]) -> str:
    return f"PID {info.get('pid', '?')} on host {info.get('host', '?')}, since {info.get('started', '?')}"


class DirLock:
    """An exclusive lock on a directory, held by this process between ``acquire`` and ``release``."""

    def __init__(self, directory: str | os.PathLike, purpose: str = "a run", name: str = LOCK_NAME):
        self.directory = Path(directory)
        self.path = self.directory / name
        self.purpose = purpose
        self.token = uuid.uuid4().hex
        self.held = False

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "proc_start": process_start_tick(os.getpid()),
            "purpose": self.purpose,
            "command": " ".join(sys.argv),
            "token": self.token,
        }

    def acquire(self) -> DirLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            try:
                os.write(fd, (json.dumps(self.info(), indent=1) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self.held = True
            return self
        raise LockedError(f"{self.path}: could not take the lock (other processes keep taking it)")

    def _take_over_if_stale(self) -> None:
        """Remove the existing lock file if its holder is gone; raise LockedError if it may be alive."""
        try:
            inode = os.stat(self.path).st_ino
            text = self.path.read_text(encoding="utf-8")
            age = time.time() - os.stat(self.path).st_mtime
        except FileNotFoundError:
            return  # released meanwhile: try again
        try:
            info = json.loads(text)
        except json.JSONDecodeError:
            info = None
        if not isinstance(info, dict):
            if age < _YOUNG_SECONDS:
                raise LockedError(
                    f"{self.path}: another process is taking this lock right now; retry in a moment"
                )
            reason = "an unreadable lock file"
        else:
            alive = holder_alive(info)
            if alive or alive is None:
                raise LockedError(self._refusal(info, alive))
            reason = f"the lock of {describe(info)}, a process that no longer runs"
        print(f"[dualaction] warning: {self.path}: taking over {reason}", file=sys.stderr, flush=True)
        self._remove_if_same(inode)

    def _refusal(self, info: dict[str, Any], alive: bool | None) -> str:
        what = info.get("purpose", "another process")
        if alive is None:
            fix = f"if that process is gone, delete {self.path}"
        else:
            fix = f"wait for it to finish, or stop it (kill {info.get('pid')}) and rerun"
        return f"{self.directory}: in use by {what} ({describe(info)}); {fix}"

    def _remove_if_same(self, inode: int) -> None:
        """Delete the stale file, unless another process replaced it since we judged it (then refuse)."""
        aside = self.path.with_name(f"{self.path.name}.stale.{os.getpid()}.{self.token[:8]}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # another process removed it first
        if os.stat(aside).st_ino == inode:
            aside.unlink()
            return
        # A fresh lock taken by someone else between our check and the rename: put it back (unless a
        # third process has taken the free path meanwhile: then that one holds the lock).
        with contextlib.suppress(FileExistsError):
            os.link(aside, self.path)
        aside.unlink()
        raise LockedError(f"{self.path}: another process took this lock; retry when it is done")

    def release(self) -> None:
        """Remove the lock file if it is still ours (never a lock another process took over)."""
        if not self.held:
            return
        self.held = False
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return
        if isinstance(info, dict) and info.get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def waiting_lock(directory: str | os.PathLike, purpose: str, name: str = LOCK_NAME, poll: float = 2.0):
    """Hold ``directory``'s lock, waiting (one line on stderr) while another live process holds it.

    For work that any of several processes may start but only one may do at a time, after which the
    others find it done (e.g. preparing a data set that two ``train`` processes both need).
    """
    lock, said = DirLock(directory, purpose=purpose, name=name), False
    while True:
        try:
            lock.acquire()
            break
        except LockedError as error:
            if not said:
                print(f"[dualaction] waiting: {error}", file=sys.stderr, flush=True)
                said = True
            time.sleep(poll)
    try:
        yield lock
    finally:
        lock.release()
