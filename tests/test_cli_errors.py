"""Every user-facing refusal of ``python -m dualaction_lib``: one line on stderr, naming the key or file,
no traceback, the documented exit code (1 could not complete, 2 wrong command line / config / plan).

Most cases call ``dualaction_lib.__main__.main`` in this process (milliseconds each); a representative
subset runs the real CLI in a child process, where import-time warnings or a stray traceback would show;
``--debug``, ``DUALACTION_DEBUG``, Ctrl-C (130) and SIGTERM (143) are checked on child processes too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dualaction_lib.__main__ import main
from dualaction_lib.config import load_config
from dualaction_lib.engine import train

ROOT = Path(__file__).resolve().parent.parent
TINY_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "x = 1", "outputs": []},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@dataclass
class Ctx:
    """What a case needs: the smoke data and one trained run (shared), and a fresh folder of its own."""

    tmp: Path
    data: list[str]  # --data.root R --data.frames_root F --out_dir O (the shared smoke data)
    run: Path  # a trained smoke rgb run (read-only: cases that damage it work on a copy)

    @property
    def group(self) -> str:
        """The runs' folder under out_dir: smoke-frames, as the data are not the preset's own."""
        return self.run.parent.name

    def copy_run(self, name: str = "copy") -> Path:
        """A copy of the trained run at <tmp>/runs/<group>/<name>, its config moved there too."""
        out = self.tmp / "runs" / self.group / name
        shutil.copytree(self.run, out)
        config = yaml.safe_load((out / "config.yaml").read_text())
        config.update(out_dir=str(self.tmp / "runs"), name=name)
        (out / "config.yaml").write_text(yaml.safe_dump(config))
        return out

    def plan(self, text: str | dict, name: str = "plan.yaml") -> str:
        path = self.tmp / name
        path.write_text(text if isinstance(text, str) else yaml.safe_dump(text))
        (self.tmp / "tiny.ipynb").write_text(json.dumps(TINY_NOTEBOOK))
        return str(path)

    def out(self) -> list[str]:
        """The shared data, but runs written to this case's own folder."""
        return [*self.data[:4], "--out_dir", str(self.tmp / "runs")]


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cli_smoke")
    dirs = {"data.root": str(root / "raw"), "data.frames_root": str(root / "frames")}
    scratch = {"optim.epochs": 1, "model.init": "scratch", "variant": "scratch"}  # as _train asks for it
    run = train(load_config("smoke", method="rgb", out_dir=str(root / "runs"), **dirs, **scratch))
    data = ["--data.root", dirs["data.root"], "--data.frames_root", dirs["data.frames_root"]]
    return {"data": [*data, "--out_dir", str(root / "runs")], "run": run}


@pytest.fixture
def ctx(shared, tmp_path) -> Ctx:
    return Ctx(tmp_path, shared["data"], shared["run"])


def truncate(path: Path, keep: int = 100) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def live_lock(directory: Path, host: str | None = None) -> int:
    """A lock held by a live process (this one) or by a process on another host; returns the PID."""
    directory.mkdir(parents=True, exist_ok=True)
    info = {"pid": os.getpid(), "host": host or socket.gethostname(), "started": "2026-01-01T00:00:00"}
    (directory / ".lock").write_text(json.dumps({**info, "purpose": "training", "token": "x"}))
    return os.getpid()


def _train(c: Ctx, *extra: str) -> list[str]:
    # from scratch: these cases are about refusals, not about the pretraining stage
    return [
        "train",
        "--preset",
        "smoke",
        "--method",
        "rgb",
        "--optim.epochs",
        "1",
        "--model.init",
        "scratch",
    ] + [
        *c.out(),
        *extra,
    ]


def _without(c: Ctx, name: str) -> Path:
    run = c.copy_run()
    (run / name).unlink()
    return run


def _truncated(c: Ctx, name: str, unfinished: bool = False) -> Path:
    run = c.copy_run()
    truncate(run / name)
    if unfinished:  # a run killed before its evaluation: train resumes from the checkpoint
        (run / "eval.json").unlink()
        (run / "scores.pt").unlink()
    return run


def _corrupt_config(c: Ctx) -> Path:
    run = c.copy_run()
    (run / "config.yaml").write_text("method: [rgb\n")
    return run


def _resume_other_config(c: Ctx) -> list[str]:
    c.copy_run()
    return _train(c, "--name", "copy", "--optim.lr", "0.5")


def _resume_truncated(c: Ctx) -> list[str]:
    _truncated(c, "checkpoint.pt", unfinished=True)
    return _train(c, "--name", "copy")


def _train_locked(c: Ctx, host: str | None = None) -> list[str]:
    live_lock(c.tmp / "runs" / c.group / "busy", host)
    return _train(c, "--name", "busy")


def _evaluate_locked(c: Ctx) -> list[str]:
    live_lock(c.copy_run())
    return ["evaluate", str(c.tmp / "runs" / c.group / "copy")]


def _workbook_locked(c: Ctx) -> list[str]:
    folder = c.tmp / "nb"
    folder.mkdir()
    info = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": "a workbook runner", "token": "x"}
    (folder / ".runner.lock").write_text(json.dumps(info))
    plan = c.plan({"output_dir": "nb", "steps": [{"name": "a", "notebook": "tiny.ipynb"}]})
    return ["workbook", "--plan", plan, "--root", str(c.tmp)]


# (id, argv builder, exit code, substrings the one line must contain)
CASES = [
    # --- the command line itself
    ("no-command", lambda c: [], 2, ["required: command"]),
    ("unknown-command", lambda c: ["nope"], 2, ["invalid choice: 'nope'"]),
    ("prepare-missing-options", lambda c: ["prepare"], 2, ["--dataset", "--root", "--out"]),
    (
        "prepare-bad-dataset",
        lambda c: ["prepare", "--dataset", "kinetics", "--root", "r", "--out", "o"],
        2,
        ["--dataset", "'kinetics'"],
    ),
    (
        "prepare-bad-shard",
        lambda c: ["prepare", "--dataset", "folder", "--root", "r", "--out", "o", "--shard", "5/4"],
        2,
        ["--shard", "5/4"],
    ),
    (
        "prepare-old-flag",
        lambda c: ["prepare", "--dataset", "folder", "--root", "r", "--out", "o", "--rounding", "truncate"],
        2,
        ["--rounding is now --data.flow_rounding"],
    ),
    (
        "prepare-old-workers-flag",
        lambda c: ["prepare", "--dataset", "folder", "--root", "r", "--out", "o", "--workers", "4"],
        2,
        ["--workers is now --data.prepare_workers"],
    ),
    ("train-bad-seed", lambda c: ["train", "--seed", "one"], 2, ["--seed", "'one'"]),
    ("train-stray-word", lambda c: ["train", "--preset", "smoke", "stray"], 2, ["stray", "--key value"]),
    (
        "train-missing-value",
        lambda c: ["train", "--preset", "smoke", "--optim.lr"],
        2,
        ["optim.lr", "missing value"],
    ),
    (
        "evaluate-bad-protocol",
        lambda c: ["evaluate", str(c.run), "--protocol", "tencrop"],
        2,
        ["--protocol", "'tencrop'"],
    ),
    ("fuse-bad-method", lambda c: ["fuse", str(c.run), str(c.run), "--method", "median"], 2, ["--method"]),
    ("fuse-bad-steps", lambda c: ["fuse", str(c.run), str(c.run), "--steps", "0"], 2, ["--steps", "> 0"]),
    ("workbook-without-plan", lambda c: ["workbook"], 2, ["--plan"]),
    # --- config keys, types and value ranges
    (
        "unknown-key",
        lambda c: _train(c, "--optim.lrr", "1"),
        2,
        ["optim.lrr: unknown config key (did you mean lr?)"],
    ),
    ("unknown-section", lambda c: _train(c, "--optimizer.lr", "1"), 2, ["optimizer"]),
    ("wrong-type", lambda c: _train(c, "--optim.lr", "fast"), 2, ["optim.lr: 'fast' is not a valid number"]),
    (
        "wrong-type-bool",
        lambda c: _train(c, "--data.flip", "maybe"),
        2,
        ["data.flip: 'maybe' is not a valid boolean"],
    ),
    ("bad-choice", lambda c: _train(c, "--method", "dss"), 2, ["method: 'dss' is not one of"]),
    (
        "choice-typo",
        lambda c: _train(c, "--optim.scheduler", "plateu"),
        2,
        [
            "optim.scheduler: 'plateu' is not one of 'plateau', 'cosine', 'step' or 'none'",
            "(did you mean plateau?)",
        ],
    ),
    (
        "fuse-unknown-option",
        lambda c: ["fuse", str(c.run), str(c.run), "--optim.lr", "1"],
        2,
        ["unrecognized"],
    ),
    (
        "bad-device",
        lambda c: _train(c, "--device", "tpu"),
        2,
        ["device: got 'tpu'; string should match", "cuda"],
    ),
    (
        "alpha-negative",
        lambda c: _train(c, "--distill.alpha", "-5"),
        2,
        ["distill.alpha: -5 is out of range", ">= 0"],
    ),
    ("lr-zero", lambda c: _train(c, "--optim.lr", "0"), 2, ["optim.lr: 0 is out of range", "> 0"]),
    ("lr-negative", lambda c: _train(c, "--optim.lr", "-0.1"), 2, ["optim.lr: -0.1", "> 0"]),
    ("lr-nan", lambda c: _train(c, "--optim.lr", ".nan"), 2, ["optim.lr: nan", "> 0"]),
    ("clip-len-zero", lambda c: _train(c, "--data.clip_len", "0"), 2, ["data.clip_len: 0", ">= 1"]),
    ("epochs-negative", lambda c: _train(c, "--optim.epochs", "-1"), 2, ["optim.epochs: -1", ">= 0"]),
    ("batch-size-zero", lambda c: _train(c, "--optim.batch_size", "0"), 2, ["optim.batch_size: 0", ">= 1"]),
    (
        "weight-decay-negative",
        lambda c: _train(c, "--optim.weight_decay", "-1e-4"),
        2,
        ["optim.weight_decay: -1e-4", ">= 0"],
    ),
    (
        "momentum-one",
        lambda c: _train(c, "--optim.momentum", "1"),
        2,
        ["optim.momentum: 1 is out of range", ">= 0 and < 1"],
    ),
    ("momentum-negative", lambda c: _train(c, "--optim.momentum", "-0.5"), 2, ["optim.momentum: -0.5"]),
    ("dropout-one", lambda c: _train(c, "--model.dropout", "1.0"), 2, ["model.dropout: 1.0", ">= 0 and < 1"]),
    ("crop-zero", lambda c: _train(c, "--data.crop_size", "0"), 2, ["data.crop_size: 0", ">= 1"]),
    ("scale-above-one", lambda c: _train(c, "--data.scales", "[1.0, 1.5]"), 2, ["data.scales[1]: 1.5"]),
    ("eval-crops", lambda c: _train(c, "--eval.crops", "2"), 2, ["eval.crops: 2 is not one of 1 or 3"]),
    ("split-zero", lambda c: _train(c, "--data.split", "0"), 2, ["data.split: 0", ">= 1 and <= 3"]),
    (
        "nesterov-without-momentum",
        lambda c: _train(c, "--optim.nesterov", "true", "--optim.momentum", "0"),
        2,
        ["optim.nesterov"],
    ),
    (
        "crop-larger-than-frames",
        lambda c: _train(c, "--data.crop_size", "64"),
        2,
        ["data.crop_size: 64 is larger than the frames' short side, 40 px", "--data.allow_upscale true"],
    ),
    (
        "evaluate-crop-larger-than-frames",
        lambda c: ["evaluate", str(c.copy_run()), "--data.crop_size", "64"],
        2,
        ["data.crop_size: 64", "40 px"],
    ),
    ("evaluate-unknown-key", lambda c: ["evaluate", str(c.copy_run()), "--optim.lrr", "1"], 2, ["optim.lrr"]),
    # --- presets and run directories
    ("missing-preset", lambda c: ["train", "--preset", "nope"], 2, ["no preset 'nope'", "smoke"]),
    (
        "corrupt-preset-yaml",
        lambda c: ["train", "--preset", c.plan("optim: {lr: [\n", "bad.yaml")],
        2,
        ["bad.yaml:", "invalid YAML"],
    ),
    (
        "preset-not-a-mapping",
        lambda c: ["train", "--preset", c.plan("- 1\n", "list.yaml")],
        2,
        ["list.yaml: a preset must hold a mapping"],
    ),
    (
        "resume-with-another-config",
        _resume_other_config,
        2,
        ["holds a run with another config (keys differ: optim.lr)", "--fresh"],
    ),
    ("evaluate-missing-run-dir", lambda c: ["evaluate", str(c.tmp / "nope")], 1, ["<tmp>/nope"]),
    ("evaluate-dir-without-config", lambda c: ["evaluate", str(c.tmp)], 1, ["config.yaml"]),
    (
        "evaluate-corrupt-config",
        lambda c: ["evaluate", str(_corrupt_config(c))],
        2,
        ["config.yaml:", "invalid YAML"],
    ),
    (
        "evaluate-without-checkpoint",
        lambda c: ["evaluate", str(_without(c, "checkpoint.pt"))],
        1,
        ["checkpoint.pt: no such file", "train the run first"],
    ),
    (
        "evaluate-truncated-checkpoint",
        lambda c: ["evaluate", str(_truncated(c, "checkpoint.pt"))],
        1,
        ["copy/checkpoint.pt: cannot read this checkpoint", "truncated or corrupt"],
    ),
    (
        "train-resume-truncated-checkpoint",
        _resume_truncated,
        1,
        ["copy/checkpoint.pt: cannot read this checkpoint", "--fresh"],
    ),
    (
        "fuse-missing-run-dir",
        lambda c: ["fuse", str(c.tmp / "nope"), str(c.run)],
        1,
        ["<tmp>/nope: no such run directory"],
    ),
    (
        "fuse-missing-scores",
        lambda c: ["fuse", str(_without(c, "scores.pt")), str(c.run)],
        1,
        ["scores.pt: no such scores file", "evaluate"],
    ),
    (
        "fuse-truncated-scores",
        lambda c: ["fuse", str(_truncated(c, "scores.pt")), str(c.run)],
        1,
        ["copy/scores.pt: cannot read this scores file", "truncated or corrupt"],
    ),
    (
        "missing-teacher",
        lambda c: [*_train(c, "--method", "ds", "--distill.teacher", str(c.tmp / "t"))],
        1,
        ["distill.teacher", "/t is neither"],
    ),
    (
        "non-finite-loss",
        lambda c: _train(c, "--optim.lr", "1e30", "--log_every", "1"),
        1,
        ["non-finite loss in epoch 0", "term 'ce'", "lower optim.lr"],
    ),
    (
        "teacher-not-trained-on-request",
        lambda c: _train(c, "--method", "ds", "--distill.auto_train_teacher", "false"),
        1,
        ["no flow teacher", "--method flow"],
    ),
    (
        "frames-not-extracted",
        lambda c: _train(c, "--data.dataset", "ucf101", "--data.frames_root", str(c.tmp / "none")),
        1,
        ["data.frames_root <tmp>/none", "prepare"],
    ),
    (
        "prepare-missing-root",
        lambda c: [
            "prepare",
            "--dataset",
            "ucf101",
            "--root",
            str(c.tmp / "none"),
            "--out",
            str(c.tmp / "o"),
        ],
        1,
        ["none"],
    ),
    # --- locks
    (
        "train-locked-run-dir",
        _train_locked,
        1,
        ["runs/smoke-frames/busy: in use by training", f"PID {os.getpid()} on host {socket.gethostname()}"],
    ),
    ("evaluate-locked-run-dir", _evaluate_locked, 1, ["copy: in use by training", f"PID {os.getpid()}"]),
    (
        "train-locked-on-another-host",
        lambda c: _train_locked(c, host="elsewhere"),
        1,
        ["on host elsewhere", "if that process is gone, delete", "busy/.lock"],
    ),
    # --- plans and the runner
    (
        "missing-plan",
        lambda c: ["workbook", "--plan", str(c.tmp / "none.yaml")],
        2,
        ["none.yaml: no such plan file"],
    ),
    (
        "corrupt-plan-yaml",
        lambda c: ["workbook", "--plan", c.plan("steps:\n  - name: [a\n")],
        2,
        ["plan.yaml:", "invalid YAML"],
    ),
    (
        "plan-without-steps",
        lambda c: ["workbook", "--plan", c.plan({"name": "x"})],
        2,
        ["plan.yaml: a plan needs a non-empty 'steps' list"],
    ),
    (
        "plan-step-without-notebook",
        lambda c: ["workbook", "--plan", c.plan({"steps": [{"name": "a"}]})],
        2,
        ["plan.yaml: step 1", "'notebook'"],
    ),
    (
        "plan-needs-unknown-step",
        lambda c: [
            "workbook",
            "--plan",
            c.plan({"steps": [{"name": "a", "notebook": "tiny.ipynb", "needs": ["b"]}]}),
        ],
        2,
        ["needs unknown", "'b'"],
    ),
    (
        "plan-missing-notebook",
        lambda c: [
            "workbook",
            "--plan",
            c.plan({"steps": [{"name": "a", "notebook": "gone.ipynb"}]}),
            "--root",
            str(c.tmp),
        ],
        2,
        ["step 'a'", "gone.ipynb does not exist"],
    ),
    (
        "plan-unknown-placeholder",
        lambda c: [
            "workbook",
            "--plan",
            c.plan({"steps": [{"name": "a", "notebook": "tiny.ipynb", "output": "{nope}"}]}),
            "--root",
            str(c.tmp),
        ],
        2,
        ["{nope}", "not a parameter"],
    ),
    (
        "unknown-plan-step",
        lambda c: [
            "workbook",
            "--plan",
            c.plan({"steps": [{"name": "a", "notebook": "tiny.ipynb"}]}),
            "--root",
            str(c.tmp),
            "--only",
            "b",
        ],
        2,
        ["--only: unknown step(s) ['b']", "['a']"],
    ),
    (
        "bad-set",
        lambda c: [
            "workbook",
            "--plan",
            c.plan({"steps": [{"name": "a", "notebook": "tiny.ipynb"}]}),
            "--set",
            "out_dir",
        ],
        2,
        ["--set: expected NAME=VALUE", "'out_dir'"],
    ),
    (
        "bad-set-value",
        lambda c: [
            "workbook",
            "--plan",
            c.plan({"steps": [{"name": "a", "notebook": "t.ipynb"}]}),
            "--set",
            "seeds=[1, 2",
        ],
        2,
        ["--set seeds", "not a valid YAML value"],
    ),
    (
        "figures-corrupt-plan",
        lambda c: ["figures", "--plan", c.plan("steps: [\n"), "--skip-prepare"],
        2,
        ["plan.yaml:", "invalid YAML"],
    ),
    ("workbook-locked", _workbook_locked, 1, ["nb: in use by a workbook runner", f"PID {os.getpid()}"]),
]


def check_one_line(code: int, err: str, expected_code: int, needles: list[str]) -> None:
    lines = err.splitlines()
    assert code == expected_code, err
    assert len(lines) == 1, f"stderr is not one line:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


@pytest.mark.parametrize(("build", "code", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refusal_is_one_line_with_its_exit_code(ctx, capfd, build, code, needles):
    argv = build(ctx)
    capfd.readouterr()
    got = main(argv)
    _, err = capfd.readouterr()
    check_one_line(got, err, code, [n.replace("<tmp>", str(ctx.tmp)) for n in needles])


def test_every_case_has_a_unique_id():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60


# ------------------------------------------------------------------------------------- child processes
def cli(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "DUALACTION_DEBUG"}
    env = {**base, "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dualaction_lib", *argv], capture_output=True, text=True, env=env, timeout=300
    )


SUBPROCESS_CASES = [
    "unknown-key",
    "crop-larger-than-frames",
    "evaluate-missing-run-dir",
    "evaluate-truncated-checkpoint",
    "corrupt-plan-yaml",
    "train-locked-on-another-host",
]


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_refusal_in_a_real_process(ctx, case_id):
    _, build, code, needles = next(c for c in CASES if c[0] == case_id)
    proc = cli(*build(ctx))
    check_one_line(proc.returncode, proc.stderr, code, [n.replace("<tmp>", str(ctx.tmp)) for n in needles])


@pytest.mark.parametrize("how", ["--debug", "DUALACTION_DEBUG=1"])
def test_debug_prints_the_traceback_then_the_line(ctx, how):
    argv = ["evaluate", str(_truncated(ctx, "checkpoint.pt"))]
    proc = cli(*argv, "--debug") if how == "--debug" else cli(*argv, env={"DUALACTION_DEBUG": "1"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("Traceback (most recent call last):")
    assert "CheckpointError" in proc.stderr and "PytorchStreamReader" in proc.stderr
    assert (
        proc.stderr.splitlines()[-1].startswith("error: ") and "checkpoint.pt" in proc.stderr.splitlines()[-1]
    )


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [(signal.SIGINT, 130, "error: interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "error: stopped by SIGTERM")],
)
def test_signal_during_training_exits_with_one_line_and_releases_the_lock(ctx, signum, code, line):
    run = ctx.tmp / "runs" / ctx.group / "long"
    argv = [
        sys.executable,
        "-m",
        "dualaction_lib",
        *_train(ctx, "--name", "long", "--optim.epochs", "100000"),
    ]
    # A shell running jobs in the background ignores SIGINT and its children inherit that: undo it.
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert (run / ".lock").exists(), "training holds the run directory's lock"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.splitlines()[-1] == line and "Traceback" not in err
    assert not (run / ".lock").exists(), "the lock is released on the way out"


def test_prepare_defaults_survive_the_refused_old_flags() -> None:
    """An old flag that shares its new flag's destination must not replace the new flag's default."""
    from dualaction_lib.__main__ import build_parser

    args = build_parser().parse_command(["prepare", "--dataset", "folder", "--root", "r", "--out", "o"])
    assert (args.workers, args.flow_bound, args.flow_rounding) == (2, 20.0, "round")
    assert (args.fps, args.short_side) == (25.0, None)  # None: 256, or the benchmark's own size
