"""The GPU-hours estimate: a run's steps by hand, one timed step per run shape, the workbook flags."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dualaction_lib import plan_runs, workbook
from dualaction_lib.__main__ import main
from dualaction_lib.config import load_config
from dualaction_lib.engine import estimate

ROOT = Path(__file__).resolve().parent.parent


def test_steps_per_run_from_the_split_sizes(tmp_path: Path) -> None:
    absent = {"data.frames_root": str(tmp_path / "none"), "data.val_fraction": 0.25}
    smoke = load_config("smoke", **absent)
    assert estimate.train_videos(smoke) == 4 * 3 - 3  # 4 classes × 3 videos, ⌊12 · 0.25⌋ held out
    assert estimate.steps_per_run(smoke) == 2 * 3  # 2 epochs × ⌈9 / 4⌉
    paper = load_config("paper_ucf101_16f", **{"data.frames_root": str(tmp_path / "none")})
    videos = 9537 - int(9537 * paper.data.val_fraction)  # UCF-101 trainlist01
    assert estimate.steps_per_run(paper) == paper.optim.epochs * -(-videos // paper.optim.batch_size)


def test_a_timed_step_on_the_cpu_is_scaled_to_the_runs_batch(monkeypatch) -> None:
    cfg = load_config("smoke", method="ds", device="cpu")
    timing = estimate.time_train_step(cfg, steps=1)  # a tiny model: the full batch is timed too
    assert (timing.batch, timing.timed_batch, timing.device, timing.peak_memory_mb) == (4, 4, "cpu", None)
    assert timing.seconds > 0 and timing.clips_per_second == pytest.approx(4 / timing.seconds)
    monkeypatch.setattr(estimate, "FULL_BATCH_SECONDS", 0.0)  # as if the full batch were too slow
    scaled = estimate.time_train_step(cfg, steps=1)
    assert (scaled.batch, scaled.timed_batch) == (4, 2), "two clips timed, scaled to four"


class FakeTiming:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.device = seconds, "fake:0"


def _plan(tmp_path: Path) -> Path:
    plan = {
        "name": "tiny",
        "parameters": {"preset": "smoke", "out_dir": str(tmp_path / "runs"), "interactive": False},
        "steps": [
            {"name": "teacher", "notebook": "notebooks/03_distillation_training.ipynb",
             "grid": {"method": ["flow"], "seed": [0]}},
            {"name": "students", "notebook": "notebooks/03_distillation_training.ipynb",
             "grid": {"method": ["rgb", "ds"], "seed": [1, 2]}, "needs": ["teacher"]},
            {"name": "tables", "notebook": "notebooks/05_ablation_tables.ipynb", "needs": ["students"]},
        ],
    }  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def test_estimate_times_each_run_shape_once(tmp_path: Path) -> None:
    jobs = workbook.expand_plan(workbook.load_plan(_plan(tmp_path)), ROOT)
    timed = []

    def time_step(cfg):
        timed.append(cfg.method)
        return FakeTiming({"flow": 1.0, "rgb": 2.0, "ds": 3.0}[cfg.method])

    rows = plan_runs.estimate_jobs(jobs, time_step)
    assert timed == ["flow", "rgb", "ds"], "seeds of one method share the timed step"
    steps = estimate.steps_per_run(load_config("smoke"))
    assert [(r.step, r.runs, r.steps) for r in rows] == [("teacher", 1, steps), ("students", 4, 4 * steps)]
    assert rows[0].hours == pytest.approx(1.0 * steps / 3600)
    assert rows[1].hours == pytest.approx((2 * 2.0 + 2 * 3.0) * steps / 3600)
    assert rows[1].seconds_per_step == 3.0
    text = plan_runs.estimate_text(rows).splitlines()
    assert text[0].startswith("GPU-hours estimate (one timed training step per run shape on fake:0")
    assert text[1].split() == ["step", "runs", "s/step", "steps", "hours"]
    assert text[-1] == f"total: 5 runs, {(1 + 10) * steps / 3600:.2f} device-hours on fake:0"
    assert plan_runs.estimate_text([]) == "GPU-hours estimate: no training run left to do"


def test_estimate_only_prints_and_runs_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(estimate, "time_train_step", lambda cfg: FakeTiming(0.5))
    plan = _plan(tmp_path)
    assert main(["workbook", "--plan", str(plan), "--root", str(ROOT), "--estimate-only"]) == 0
    out = capsys.readouterr().out
    assert "total: 5 runs" in out and "fake:0" in out
    assert not (tmp_path / "runs").exists(), "nothing trained, no notebook run"
    assert main(["workbook", "--plan", str(plan), "--estimate-only", "--no-estimate"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
