"""The engine's data door: training batches never hold one clip, a too-small training split is refused in
one line, and students of one seed see the same clips whatever their modality."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from fakes import FakeVideos, smoke

from dualaction_lib.config import ConfigError, load_config
from dualaction_lib.data.synthetic import SyntheticSpec, make_synthetic
from dualaction_lib.engine import data as edata
from dualaction_lib.engine import train
from dualaction_lib.engine.modeling import load_run_model
from dualaction_lib.errors import UserError


def _run_data(train_videos: int, val: int = 0) -> edata.RunData:
    entries = [SimpleNamespace(video_id=f"c/v{i}", label=i % 2) for i in range(train_videos)]
    return edata.RunData(
        classes=["a", "b"],
        listed={"train": 6, "test": 2},
        left_out={"train": [{}] * (6 - train_videos - val), "test": []},
        train=FakeVideos(entries, "rgb", "train"),
        test=FakeVideos(entries, "rgb", "test"),
        val=FakeVideos(entries[:val], "rgb", "test") if val else None,
        train_scores=None,
        where="split 1 of f/splits",
        frames_root=Path("f"),
    )


def _runtime(world: int = 1, rank: int = 0) -> SimpleNamespace:
    return SimpleNamespace(world_size=world, rank=rank, device=torch.device("cpu"))


@pytest.mark.parametrize(
    ("videos", "batch", "sizes"),
    [(9, 4, [4, 4]), (5, 4, [4]), (3, 4, [3]), (2, 4, [2]), (4, 4, [4]), (8, 3, [3, 3])],
)
def test_no_training_batch_holds_one_clip(tmp_path, videos, batch, sizes):
    """The incomplete last batch is dropped (9 = 4 + 4 + 1, 5 = 4 + 1) unless the split fits in one."""
    cfg = smoke(tmp_path, **{"optim.batch_size": batch})
    loader = edata.train_loader(_run_data(videos), cfg, _runtime())
    assert [len(b["label"]) for b in loader] == sizes


def test_two_processes_each_get_two_clips_or_a_refusal(tmp_path):
    cfg = smoke(tmp_path, **{"optim.batch_size": 4})
    shards = [
        [len(b["label"]) for b in edata.train_loader(_run_data(3), cfg, _runtime(2, r))] for r in (0, 1)
    ]
    assert shards == [[2], [2]]  # 3 clips padded to 4 by the sampler: 2 per process
    with pytest.raises(
        UserError, match=r"has 2 usable video\(s\) .*batch of two per process \(2 processes\)"
    ):
        edata.train_loader(_run_data(2), cfg, _runtime(2))


def test_a_training_split_of_one_clip_is_refused_in_one_line(tmp_path):
    cfg = smoke(tmp_path)
    with pytest.raises(UserError) as err:
        edata.train_loader(_run_data(1, val=1), cfg, _runtime())
    assert str(err.value) == (
        "the training split of split 1 of f/splits has 1 usable video(s) to train on (4 of 6 listed left "
        "out, 1 held out for validation): too few for a batch of two, and BatchNorm cannot train on one "
        "clip; add training videos or repair the left-out ones (`python -m dualaction_lib check f`)"
    )


def test_a_batch_size_of_one_per_process_is_refused(tmp_path):
    cfg = smoke(tmp_path, **{"optim.batch_size": 3})
    with pytest.raises(
        ConfigError, match=r"^optim\.batch_size: 3 gives 1 clip per batch and process \(2 proc"
    ):
        edata.train_loader(_run_data(8), cfg, _runtime(2))


def test_a_ucf_folder_with_five_of_six_training_videos_skipped_ends_in_one_line(tmp_path):
    """A new user's case: prepare skipped 5 of the 6 training videos; train must say so, not fail in
    BatchNorm ("Expected more than 1 value per channel when training"), and leave no run folder."""
    spec = SyntheticSpec(
        num_classes=2, videos_per_class_train=3, videos_per_class_test=1, num_frames=8, frame_size=(32, 32)
    )
    raw = make_synthetic(tmp_path / "UCF-101", spec, progress=False)
    trainlist = (raw / "splits" / "trainlist01.txt").read_text().split()
    for line in [w for w in trainlist if w.endswith(".avi")][1:]:
        (raw / "videos" / line).write_bytes(b"not a video")  # prepare skips what it cannot decode
    python = [sys.executable, "-m", "dualaction_lib"]
    frames, runs = tmp_path / "frames", tmp_path / "runs"
    prepare = [*python, "prepare", "--dataset", "ucf101", "--root", str(raw), "--out", str(frames)]
    prepare += ["--data.short_side", "0", "--data.prepare_workers", "1", "--no-progress"]
    done = subprocess.run(prepare, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    args = ["train", "--preset", "smoke", "--method", "rgb", "--data.dataset", "ucf101"]
    args += ["--data.frames_root", str(frames), "--data.val_fraction", "0", "--out_dir", str(runs)]
    args += ["--model.init", "scratch", "--model.pretrained", ""]
    proc = subprocess.run([*python, *args], capture_output=True, text=True, timeout=300)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"error: the training split of split 1 of {frames / 'splits'} has 1 usable")
    assert "(5 of 6 listed left out)" in errors[0] and "Traceback" not in proc.stderr
    assert not (runs / "smoke" / "rgb_seed0").exists()  # refused before the run folder is written


def test_ds_at_alpha_zero_and_rgb_of_one_seed_end_with_identical_weights(tmp_path):
    """Exact pairing: with α = 0 the distillation terms add zero gradient, so DS trains exactly as RGB
    does if both see the same clips, crops, flips and batch order. Identical to the bit on one CPU
    thread (the same float operations in the same order)."""
    dirs = {
        "data.root": str(tmp_path / "raw"),
        "data.frames_root": str(tmp_path / "frames"),
        "out_dir": str(tmp_path / "runs"),
        "model.init": "scratch",
        "model.pretrained": "",
        "optim.epochs": 2,
    }
    rgb = train(load_config("smoke", method="rgb", seed=1, **dirs))
    ds = train(load_config("smoke", method="ds", seed=1, **{**dirs, "distill.alpha": 0.0}))
    a, b = load_run_model(rgb).state_dict(), load_run_model(ds).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    start = load_config("smoke", method="rgb", seed=2, **{**dirs, "out_dir": str(tmp_path / "other")})
    other = load_run_model(train(start)).state_dict()
    assert not all(torch.equal(a[k], other[k]) for k in a)  # another seed: other weights (not vacuous)
