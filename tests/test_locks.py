"""Directory locks, the runner's guard against orphans, one-line messages, the shared CLI options, and
the deterministic switches."""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dualaction_lib.errors import Terminated, UsageError, normalize_progress, one_line
from dualaction_lib.locks import DirLock, LockedError, holder_alive, process_start_tick
from dualaction_lib.workbook.guard import STATE_NAME, TOKEN_ENV, RunnerGuard, tagged_processes


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ----------------------------------------------------------------------------------------------- locks
def test_lock_is_exclusive_records_its_holder_and_is_released(tmp_path: Path):
    with DirLock(tmp_path / "run", "training") as lock:
        info = json.loads(lock.path.read_text())
        assert (info["pid"], info["host"], info["purpose"]) == (os.getpid(), socket.gethostname(), "training")
        assert info["proc_start"] == process_start_tick(os.getpid()) and info["started"]
        with pytest.raises(LockedError, match=rf"run: in use by training \(PID {os.getpid()} on host "):
            DirLock(tmp_path / "run").acquire()
    assert not (tmp_path / "run" / ".lock").exists()


def test_a_failure_inside_releases_the_lock(tmp_path: Path):
    with pytest.raises(KeyboardInterrupt), DirLock(tmp_path):
        raise KeyboardInterrupt
    assert not (tmp_path / ".lock").exists()


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path: Path, capsys):
    pid = dead_pid()
    stale = {"pid": pid, "host": socket.gethostname(), "started": "then", "purpose": "training", "token": "t"}
    (tmp_path / ".lock").write_text(json.dumps(stale))
    assert holder_alive(stale) is False
    with DirLock(tmp_path) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    err = capsys.readouterr().err
    assert f"taking over the lock of PID {pid} on host {socket.gethostname()}" in err
    assert err.count("\n") == 1 and not list(tmp_path.iterdir())  # no leftover


def test_a_reused_pid_is_not_mistaken_for_the_holder(tmp_path: Path):
    """Our own PID, but a different process start tick: the recorded holder is gone."""
    info = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": -1}
    assert holder_alive(info) is False
    assert holder_alive({**info, "proc_start": process_start_tick(os.getpid())}) is True


def test_other_host_refuses_and_unreadable_locks_age(tmp_path: Path):
    far = {"pid": 1, "host": "elsewhere", "started": "now"}
    (tmp_path / ".lock").write_text(json.dumps(far))
    assert holder_alive(far) is None
    with pytest.raises(LockedError, match="on host elsewhere.*if that process is gone, delete .*/.lock"):
        DirLock(tmp_path).acquire()
    (tmp_path / ".lock").write_text("")  # a lock being written right now
    with pytest.raises(LockedError, match="taking this lock right now"):
        DirLock(tmp_path).acquire()
    old = time.time() - 120
    os.utime(tmp_path / ".lock", (old, old))  # … or left empty by a crash long ago
    with DirLock(tmp_path):
        pass


def test_release_never_removes_a_lock_another_process_took(tmp_path: Path):
    lock = DirLock(tmp_path).acquire()
    (tmp_path / ".lock").write_text(json.dumps({"pid": 1, "host": socket.gethostname(), "token": "other"}))
    lock.release()
    assert (tmp_path / ".lock").exists()


# ----------------------------------------------------------------------------------------------- guard
def test_runner_guard_stops_the_orphans_of_a_killed_runner(tmp_path: Path):
    """A dead runner's lock and state file, with its papermill group and its kernel (own session, found by
    the token) still running: the next runner stops both before it starts anything, and says so."""
    token = "deadbeef"
    env = {**os.environ, TOKEN_ENV: token}
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    papermill = subprocess.Popen(sleeper, start_new_session=True, env=env)
    kernel = subprocess.Popen(sleeper, start_new_session=True, env=env)  # not in the state file
    folder = tmp_path / "notebooks"
    folder.mkdir()
    runner = {"pid": dead_pid(), "host": socket.gethostname(), "token": "r"}
    (folder / ".runner.lock").write_text(json.dumps(runner))
    child = {"pid": papermill.pid, "pgid": papermill.pid, "proc_start": process_start_tick(papermill.pid),
             "notebook": str(folder / "a.ipynb"), "folder": str(folder)}  # fmt: skip
    (folder / STATE_NAME).write_text(json.dumps({"token": token, "runner": runner, "children": [child]}))
    time.sleep(0.5)  # let the children exec, so /proc shows their environment
    assert sorted(tagged_processes(token)) == sorted([papermill.pid, kernel.pid])
    lines = []
    try:
        with RunnerGuard({folder}, log=lambda *a, **k: lines.append(a[0])) as guard:
            assert (
                papermill.wait(timeout=15) == -signal.SIGTERM and kernel.wait(timeout=15) == -signal.SIGTERM
            )
            state = json.loads((folder / STATE_NAME).read_text())
            assert state["token"] == guard.token and state["children"] == []
            assert json.loads((folder / ".runner.lock").read_text())["pid"] == os.getpid()
    finally:
        for proc in (papermill, kernel):
            if proc.poll() is None:
                proc.kill()
    assert len(lines) == 1 and "stopping 2 process group(s)" in lines[0] and "a.ipynb" in lines[0]
    assert not (folder / STATE_NAME).exists() and not (folder / ".runner.lock").exists()


def test_runner_guard_refuses_a_live_runner(tmp_path: Path):
    with RunnerGuard({tmp_path}), pytest.raises(LockedError, match="in use by a workbook runner"):
        RunnerGuard({tmp_path}).__enter__()


# ----------------------------------------------------------------------------------------------- messages
class _Custom(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (UsageError("optim.lr: expected float"), "optim.lr: expected float"),
        (ValueError("weights from x do not fit:\n  missing (2): a, b\n  hint: pass num_classes"),
         "weights from x do not fit: missing (2): a, b; hint: pass num_classes"),
        (FileNotFoundError(2, "No such file or directory", "runs/x"), "runs/x: no such file or directory"),
        (FileNotFoundError("runs/x/scores.pt: no such scores file"), "runs/x/scores.pt: no such scores file"),
        (KeyError("train_loss"), "KeyError: 'train_loss' (rerun with --debug for the traceback)"),
        (_Custom(), "_Custom"),
        (KeyboardInterrupt(), "interrupted (Ctrl-C)"),
        (Terminated(), "stopped by SIGTERM"),
    ],
)  # fmt: skip
def test_one_line(exc, line):
    assert one_line(exc) == line


def test_one_line_cuts_very_long_messages():
    text = one_line(ValueError("x" * 5000))
    assert len(text) <= 800 and text.endswith("(cut; --debug shows the full message)")


# ----------------------------------------------------------------------------------------------- progress
def test_progress_flags_and_the_older_spelling():
    assert normalize_progress(["train", "--progress", "false", "--seed", "1"]) == [
        "train", "--no-progress", "--seed", "1"
    ]  # fmt: skip
    assert normalize_progress(["--progress=yes", "train", "--progress"]) == [
        "--progress",
        "train",
        "--progress",
    ]
    assert normalize_progress(["evaluate", "--progress", "runs/x"]) == ["evaluate", "--progress", "runs/x"]


def test_progress_reaches_every_command(monkeypatch):
    from dualaction_lib import __main__ as cli
    from dualaction_lib.engine import cli as engine_cli

    seen = {}
    monkeypatch.setattr(engine_cli, "_overrides", lambda args, **kw: seen.update(train=kw) or {})
    from dualaction_lib.config import load_config

    smoke = load_config("smoke")  # what every train below loads: the command only passes it on
    monkeypatch.setattr("dualaction_lib.config.load_config", lambda *a, **k: smoke)
    monkeypatch.setattr(importlib.import_module("dualaction_lib.engine.train"), "train", lambda cfg: "run")
    for argv, expected in (
        (["train", "--no-progress"], False),
        (["--no-progress", "train"], False),
        (["train", "--progress", "false"], False),  # the older spelling
        (["train", "--progress"], True),
        (["train"], None),  # the preset decides
    ):
        seen.clear()
        assert cli.main(argv) == 0
        assert seen["train"]["progress"] is expected, argv
    parser = cli.build_parser()
    assert parser.parse_args(["prepare", "--dataset", "folder", "--root", "r", "--out", "o"]).progress is None
    for argv in (["--no-progress", "workbook", "--plan", "p"], ["workbook", "--plan", "p", "--no-progress"]):
        assert parser.parse_args(argv).progress is False


# ----------------------------------------------------------------------------------------------- determinism
def test_deterministic_sets_pytorchs_switches_before_cuda_and_restores_them(monkeypatch):
    from dualaction_lib.engine import distributed as D

    train_module = importlib.import_module("dualaction_lib.engine.train")

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    with D.determinism(True, warn_only=True):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == before
    with D.determinism(True, warn_only=False):
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    with D.determinism(False):
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ

    # train() turns them on before the runtime (the first CUDA call) is set up.
    seen = {}

    def setup_runtime(device, amp):
        seen["env"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
        seen["strict"] = torch.are_deterministic_algorithms_enabled()
        raise RuntimeError("stop here")

    monkeypatch.setattr(train_module.D, "setup_runtime", setup_runtime)
    from dualaction_lib.config import load_config

    with pytest.raises(RuntimeError, match="stop here"):
        train_module.train(load_config("smoke", method="rgb"))
    assert seen == {"env": ":4096:8", "strict": True}
    assert torch.are_deterministic_algorithms_enabled() == before[0]
