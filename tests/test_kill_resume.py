"""SIGKILL mid-way, rerun, same result: ``prepare`` (identical JPEG bytes), ``train`` (identical weights)
and the workbook runner (every job done once more, never two papermills on one notebook at a time).

Each command runs as the real CLI in a process group of its own, and the whole group is killed, as a
``kill -9`` of a terminal's job would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
import yaml

from dualaction_lib.config import load_config
from dualaction_lib.engine import train
from dualaction_lib.engine.data import ensure_prepared
from dualaction_lib.rundir import RunDir
from dualaction_lib.workbook.guard import STATE_NAME, tagged_processes

pytestmark = pytest.mark.slow


def start(*argv: str) -> subprocess.Popen:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "dualaction_lib", *argv], env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(condition, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"finished before it could be killed:\n{proc.communicate()[1]}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def run(*argv: str) -> subprocess.CompletedProcess:
    proc = start(*argv)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


# ----------------------------------------------------------------------------------------------- prepare
def test_prepare_killed_then_rerun_writes_the_same_jpegs(tmp_path: Path):
    spec = ["--num-classes", "3", "--train-per-class", "3", "--test-per-class", "1", "--num-frames", "10"]
    common = ["--dataset", "synthetic", "--root", str(tmp_path / "raw"), *spec, "--frame-size", "40"]
    common += ["--data.prepare_workers", "2", "--no-progress"]
    run("prepare", *common, "--out", str(tmp_path / "full"))
    killed = tmp_path / "killed"
    proc = start("prepare", *common, "--out", str(killed))
    wait_for(lambda: len(list(killed.glob("*/*/.done.json"))) >= 2, proc)
    kill_group(proc)
    done = len(list(killed.glob("*/*/.done.json")))
    assert done < 12 and not (killed / "prepare_report.json").exists(), "killed mid-way"
    rerun = run("prepare", *common, "--out", str(killed))
    assert f"{done} already done" in rerun.stdout or "already done" in rerun.stdout

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.jpg"))}

    full, again = files(tmp_path / "full"), files(killed)
    assert len(full) == 12 * (10 + 2 * 9) and full.keys() == again.keys()
    assert all(full[name] == again[name] for name in full), "identical JPEG bytes"
    leftovers = [p for p in killed.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers


# ----------------------------------------------------------------------------------------------- train
@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("kill_smoke")
    dirs = {"data.root": str(root / "raw"), "data.frames_root": str(root / "frames")}
    ensure_prepared(load_config("smoke", **dirs))
    return dirs


def test_train_killed_then_rerun_ends_with_the_same_weights(tmp_path: Path, smoke_data):
    settings = {**smoke_data, "optim.epochs": 60, "out_dir": str(tmp_path)}
    args = ["train", "--preset", "smoke", "--method", "rgb", *(f"--{k}={v}" for k, v in settings.items())]
    full = train(load_config("smoke", method="rgb", name="full", **settings))
    run_dir = RunDir.of(load_config("smoke", method="rgb", name="killed", **settings)).path
    proc = start(*args, "--name", "killed")
    wait_for(lambda: (run_dir / "checkpoint.pt").exists(), proc)
    kill_group(proc)
    assert not (run_dir / "eval.json").exists(), "killed mid-way"
    assert (run_dir / ".lock").exists(), "SIGKILL leaves the lock behind"
    resumed = run(*args, "--name", "killed")
    assert "taking over the lock of PID" in resumed.stderr and "resuming" in resumed.stderr
    a = torch.load(full / "checkpoint.pt", weights_only=True)
    b = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == settings["optim.epochs"] - 1
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]), "identical weights"
    assert not (run_dir / ".lock").exists()


# ----------------------------------------------------------------------------------------------- runner
NOTEBOOK_BODY = """\
import fcntl, os, time
from pathlib import Path
Path(out).mkdir(parents=True, exist_ok=True)
held = open(Path(out, f"x{x}.flock"), "w")
try:  # a second kernel on the same job while the first one still runs would find the lock taken
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    Path(out, f"DUPLICATE_x{x}").write_text(str(os.getpid()))
with open(Path(out, "starts.txt"), "a") as log:
    log.write(f"{x} {os.getpid()}\\n")
time.sleep(sleep)
Path(out, f"x{x}.json").write_text(str(x))
"""


def sleepy_plan(root: Path, seconds: float) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(f'x: int = 1\nout: str = "out"\nsleep: float = {seconds}')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(NOTEBOOK_BODY)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "sleepy.ipynb")
    plan = {
        "jobs": 1,
        "output_dir": "runs/nb",
        "parameters": {"out": "runs/markers"},
        "steps": [
            {"name": "grid", "notebook": "sleepy.ipynb", "grid": {"x": [1, 2, 3]},
             "done": ["runs/markers/x{x}.json"]},
        ],
    }  # fmt: skip
    path = root / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def state_running(state_path: Path, name: str) -> dict | None:
    """The runner's state file while it lists a child running notebook ``name``, else None."""
    if not state_path.exists():
        return None
    state = json.loads(state_path.read_text())  # written atomically: never half a file
    return state if any(c["notebook"].endswith(name) for c in state["children"]) else None


def test_runner_killed_then_rerun_finishes_every_job_without_a_duplicate(tmp_path: Path):
    plan = sleepy_plan(tmp_path, 3.0)
    state_path = tmp_path / "runs/nb" / STATE_NAME
    proc = start("workbook", "--plan", str(plan), "--root", str(tmp_path))
    wait_for(lambda: state_running(state_path, "sleepy_x2.ipynb") is not None, proc)
    wait_for(lambda: (tmp_path / "runs/markers/starts.txt").read_text().count("\n") >= 2, proc)
    token = state_running(state_path, "sleepy_x2.ipynb")["token"]
    kill_group(proc)  # the runner's group: its papermill and kernel live in their own sessions
    rerun = run("workbook", "--plan", str(plan), "--root", str(tmp_path))  # immediately
    assert "taking over the lock of PID" in rerun.stderr
    table = rerun.stdout[rerun.stdout.index("step ") :]
    assert "1 skipped" in table and "2 ok" in table and "failed" not in table
    markers = tmp_path / "runs/markers"
    assert sorted(p.name for p in markers.glob("x*.json")) == ["x1.json", "x2.json", "x3.json"]
    assert not list(markers.glob("DUPLICATE*")), "two kernels ran the same job at once"
    starts = [line.split()[0] for line in (markers / "starts.txt").read_text().splitlines()]
    assert starts == ["1", "2", "2", "3"]  # x2 was cut and started again; nothing else ran twice
    assert tagged_processes(token) == [], "no process of the killed runner is left"
    assert not (tmp_path / "runs/nb" / ".runner.lock").exists() and not state_path.exists()


def test_sigterm_to_the_runner_stops_its_notebooks_and_exits_143(tmp_path: Path):
    plan = sleepy_plan(tmp_path, 60.0)
    state_path = tmp_path / "runs/nb" / STATE_NAME
    proc = start("workbook", "--plan", str(plan), "--root", str(tmp_path))
    wait_for(lambda: (tmp_path / "runs/markers/starts.txt").exists(), proc)  # the kernel is in the cell
    token = json.loads(state_path.read_text())["token"]
    assert len(tagged_processes(token)) >= 2  # papermill and its kernel
    proc.send_signal(signal.SIGTERM)  # to the runner alone, as a scheduler would
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.splitlines() == [
        "error: stopped by SIGTERM: 3 notebook(s) stopped or not started; rerun the plan to resume them"
    ]
    assert "sleepy_x1.ipynb  stopped" in out and "3 stopped" in out
    status = json.loads((tmp_path / "runs/nb/sleepy_x1.ipynb.status.json").read_text())
    assert status["status"] == "stopped" and "SIGTERM" in status["message"]
    assert tagged_processes(token) == [], "papermill and the kernel stopped with the runner"
    assert not (tmp_path / "runs/nb/.runner.lock").exists() and not state_path.exists()
