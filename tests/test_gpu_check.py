"""bench/gpu_check.py at tiny sizes on the CPU: the GPU day's command, known to work before a GPU sees it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ("layer1", "layer2", "layer3", "layer4", "pool")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gpu_check") / "gpu_check.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        str(ROOT / "bench" / "gpu_check.py"),
        "--device",
        "cpu",
        "--tiny",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    printed = json.loads(done.stdout)
    assert json.loads(out.read_text(encoding="utf-8")) == printed, "--out holds the printed JSON"
    return printed


def test_every_section_ran_without_error(report: dict) -> None:
    assert report["device"] == "cpu" and report["tiny"] is True and report["preset"] == "paper_ucf101_16f"
    for section in ("determinism", "flow", "train_step", "smoke_run", "balance"):
        assert "error" not in report[section], report[section]


def test_flow_backends_agree_on_the_same_pairs(report: dict) -> None:
    flow = report["flow"]
    assert flow["torch"]["epe_vs_truth"] == pytest.approx(flow["opencv"]["epe_vs_truth"], abs=0.05)
    assert flow["epe_torch_vs_opencv"] < 0.05
    ratio = flow["torch"]["pairs_per_second"] / flow["opencv"]["pairs_per_second"]
    assert flow["speedup_torch_over_opencv"] == pytest.approx(ratio)


def test_train_step_times_mars_and_ds(report: dict) -> None:
    for method in ("mars", "ds"):
        step = report["train_step"][method]
        assert step["clips_per_second"] == pytest.approx(step["batch"] / step["seconds_per_step"])
        assert (step["amp"], step["peak_memory_mb"]) == ("off", None), "no AMP and no CUDA memory on a CPU"


def test_the_deterministic_switch_works_and_is_restored(report: dict) -> None:
    d = report["determinism"]
    assert d["enabled_inside"] and d["cudnn_deterministic_inside"] and d["restored_after"]
    assert d["identical_weights"] and d["max_abs_weight_difference"] == 0.0


def test_the_smoke_run_takes_its_30_steps_and_evaluates(report: dict) -> None:
    run = report["smoke_run"]
    assert run["steps"] == run["planned_steps"] >= 30 and run["finite"]
    assert 0.0 <= run["test_video_top1"] <= 1.0


def test_step0_balance_per_term_and_per_level(report: dict) -> None:
    ds, mars = report["balance"]["ds"], report["balance"]["mars"]
    alpha = ds["alpha"]
    for term in ("mae", "gram"):
        assert ds["weighted"][term] == pytest.approx(alpha * ds["value"][term], rel=1e-5)
        parts = sum(ds["level_value"][f"{term}/{level}"] for level in LEVELS)
        assert parts == pytest.approx(ds["value"][term], rel=1e-4), "the levels sum to the term"
    assert set(ds["level_grad_share"]) == {"ce"} | {f"{t}/{lv}" for t in ("mae", "gram") for lv in LEVELS}
    for record in (ds, mars):
        assert math.isclose(sum(record["grad_share"].values()), 1.0, rel_tol=1e-9)
    assert math.isclose(sum(ds["level_grad_share"].values()), 1.0, rel_tol=1e-9)
    assert set(mars["grad_share"]) == {"ce", "mse"} and "level_grad_share" not in mars
