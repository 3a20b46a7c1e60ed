"""End to end on the real (tiny) synthetic benchmark: auto-prepare, rgb+flow distillation, torchrun DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dualaction_lib.config import load_config
from dualaction_lib.engine import train
from dualaction_lib.io import read_jsonl

pytest.importorskip("dualaction_lib.data.datasets")


@pytest.fixture(scope="module")
def smoke_dirs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("smoke")
    return {
        "data.root": str(root / "raw"),
        "data.frames_root": str(root / "frames"),
        "out_dir": str(root / "runs"),
    }


@pytest.fixture(scope="module")
def ds_run(smoke_dirs) -> Path:
    """A fresh user's one call: prepares the data, trains the flow teacher, then the DS student."""
    return train(load_config("smoke", method="ds", **smoke_dirs))


def test_train_prepares_data_and_distills(ds_run, smoke_dirs):
    frames = Path(smoke_dirs["data.frames_root"])
    assert (frames / "splits").is_dir() and any(frames.glob("prepare_report*.json"))
    teacher = ds_run.parent / "flow_seed0"
    assert (teacher / "eval.json").exists()
    step = next(r for r in read_jsonl(ds_run / "metrics.jsonl") if r["kind"] == "step")
    assert {"ce", "mae", "gram"} <= set(step) and all(map(lambda v: v == v, step.values()))
    ev = json.loads((ds_run / "eval.json").read_text())
    assert ev["num_videos"] == 8 and ev["num_clips"] >= ev["num_videos"] and ev["protocol"] == "mars"
    scores = torch.load(ds_run / "scores.pt", weights_only=True)
    assert len(scores["classes"]) == 4 and scores["test"]["scores"].shape == (8, 4)
    assert len(scores["val"]["video_ids"]) == 4 and "train" not in scores  # group 10 of each class held out


def test_torchrun_ddp_two_cpu_processes_agree(ds_run, smoke_dirs, tmp_path):
    """torchrun starts 2 gloo processes; both train on their shard and end with identical weights."""
    out = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "dualaction_lib",
        "train",
        "--preset",
        "smoke",
        "--method",
        "rgb",
        "--seed",
        "0",
        "--out_dir",
        str(out),
        "--data.root",
        smoke_dirs["data.root"],
        "--data.frames_root",
        smoke_dirs["data.frames_root"],
        "--eval.train_scores",
        "false",
        "--model.init",
        "scratch",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = out / "smoke-frames" / "rgb_scratch_seed0"  # other data than the preset's: a group apart
    assert proc.stdout.strip().splitlines()[-1] == str(run)
    records = read_jsonl(run / "metrics.jsonl")
    ddp = [r for r in records if r["kind"] == "ddp"]
    assert ddp and ddp[0]["world_size"] == 2 and ddp[0]["agree"], ddp
    assert len({round(c, 6) for c in ddp[0]["checksums"]}) == 1
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [0, 1]
    steps = [r for r in records if r["kind"] == "step"]
    # 8 videos (4 held out) / 2 ranks / 2 per rank = 2 steps per epoch, one record per epoch, by rank 0
    assert [(r["first_step"], r["step"]) for r in steps] == [(0, 1), (2, 3)]
    assert (run / "eval.json").exists() and (run / "checkpoint.pt").exists()


def test_two_runs_give_identical_results(ds_run, smoke_dirs, tmp_path):
    """Same config and seed → the same eval.json (minus timings) and scores, byte for byte in value."""
    runs = []
    for name in ("a", "b"):
        cfg = load_config("smoke", method="mars", seed=1, **{**smoke_dirs, "out_dir": str(tmp_path / name)})
        runs.append(train(cfg))
    results = [json.loads((r / "eval.json").read_text()) for r in runs]
    for r in results:
        r.pop("seconds"), r.pop("train_seconds")
    assert results[0] == results[1]
    scores = [torch.load(r / "scores.pt", weights_only=True) for r in runs]
    for split in ("test", "val"):
        assert torch.equal(scores[0][split]["scores"], scores[1][split]["scores"])


def test_the_frame_cache_changes_speed_not_samples(ds_run, smoke_dirs):
    from dualaction_lib.engine import data as edata

    samples = []
    for cache in (False, True):
        cfg = load_config("smoke", method="ds", **smoke_dirs, **{"data.cache": cache})
        ds = edata.open_run_data(cfg).train  # rgb+flow training clips
        torch.manual_seed(3)
        samples.append([ds[i] for i in (0, 1, 0)])  # the second read of video 0 comes from the cache
    for plain, cached in zip(*samples, strict=True):
        assert torch.equal(plain["rgb"], cached["rgb"]) and torch.equal(plain["flow"], cached["flow"])


def test_two_processes_needing_the_same_frames_prepare_them_once(tmp_path):
    """Two trainings started at once both need the benchmark's frames: one prepares, the other waits for it
    (racing extractors once skipped videos: "File exists" in one, "No such file" in the other)."""
    root = tmp_path / "data"
    code = (
        "import sys; from dualaction_lib.config import load_config; "
        "from dualaction_lib.engine.data import ensure_prepared; "
        f"ensure_prepared(load_config('smoke', **{{'data.root': {str(root)!r}, "
        f"'data.frames_root': {str(root / 'frames')!r}}}))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    report = json.loads((root / "frames" / "prepare_report.json").read_text())
    assert report["num_skipped"] == 0 and report["extracted"] == report["total"], report
    assert report["already_done"] == 0, "one process extracted everything; the other found it prepared"
    assert sum("preparing the synthetic benchmark" in e for e in errors) == 1, errors
    assert sum("waiting: " in e for e in errors) <= 1
    assert not (root / ".prepare.lock").exists(), "the lock is released"
