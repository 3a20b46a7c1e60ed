"""A run refused before its first step leaves nothing behind that blocks the corrected command.

Tried as a new user would, through the command line's entry (``dualaction_lib.__main__.main``) on the
tiny synthetic set (``tests/tiny_data.py``): a train refused for its data settings, then the same command
with the setting fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tiny_data import TINY

from dualaction_lib.__main__ import main
from dualaction_lib.rundir import RunDir


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> Path:
    """A preset file on the tiny set: two classes, training groups g01 and g08, one epoch from scratch."""
    root = tmp_path_factory.mktemp("refused")
    spec = {
        "num_classes": TINY.num_classes,
        "videos_per_class_train": TINY.videos_per_class_train,
        "videos_per_class_test": TINY.videos_per_class_test,
        "num_frames": TINY.num_frames,
        "frame_size": list(TINY.frame_size),
    }
    config = {
        "base": "smoke",
        "out_dir": str(root / "runs"),
        "data": {"root": str(root / "raw"), "frames_root": str(root / "frames"), "synthetic": spec},
        "model": {"init": "scratch"},
        "optim": {"epochs": 1},
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_train_refused_for_its_data_settings_leaves_the_corrected_command_free(preset, capsys) -> None:
    command = ["train", "--preset", str(preset), "--method", "rgb", "--no-progress"]
    run = RunDir(preset.parent / "runs" / "tiny" / "rgb_seed0")
    # Every 10th UCF group is held out at 0.1: neither g01 nor g08, so no validation video.
    assert main([*command, "--data.val_fraction", "0.1"]) == 2  # a setting to correct
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1, errors
    assert errors[0].startswith("error: data.val_fraction: 0.1 holds out no training video"), errors
    assert not run.path.exists(), "a refused run leaves no folder"
    # Fixed (every 2nd group: g08 is held out): the same command trains, unhindered by the refusal.
    assert main([*command, "--data.val_fraction", "0.5"]) == 0
    assert capsys.readouterr().out.strip() == str(run.path)
    assert run.is_complete() and run.identity()["method"] == "rgb"
    assert run.read_eval()["num_val_videos"] == 2  # g08 of both classes


def test_a_refused_rerun_keeps_the_completed_run(preset, capsys) -> None:
    """A run that exists is not touched by a command refused for its config (another learning rate)."""
    run = RunDir(preset.parent / "runs" / "tiny" / "rgb_seed0")
    before = {p.name: p.stat().st_mtime_ns for p in run.path.iterdir()}
    argv = [
        "train",
        "--preset",
        str(preset),
        "--method",
        "rgb",
        "--no-progress",
        "--data.val_fraction",
        "0.5",
    ]
    assert main([*argv, "--optim.lr", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {run.path}: holds a run with another config (keys differ: optim.lr); overwrite it with "
        f"--fresh (resume=False), or choose another --name"
    )
    assert {p.name: p.stat().st_mtime_ns for p in run.path.iterdir()} == before
