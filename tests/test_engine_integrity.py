"""Bad data on the engine side: the check before training, left-out videos counted in eval.json,
strictness (data.missing: error), empty splits, a teacher with other data settings, one-line refusals
through ``python -m dualaction_lib``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from dualaction_lib.config import load_config, override
from dualaction_lib.data import DataCheckError, DataWarning
from dualaction_lib.data.layouts import SplitFileError, load_index
from dualaction_lib.data.synthetic import make_synthetic
from dualaction_lib.engine import data as edata
from dualaction_lib.engine import evaluate, train
from dualaction_lib.engine.modeling import teacher_data_differences
from dualaction_lib.rundir import RunDir, teacher_run


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dualaction_lib", *args], capture_output=True, text=True, timeout=300
    )


def error_line(proc: subprocess.CompletedProcess, needle: str) -> str:
    """The stderr line holding ``needle``: the message is one line, whatever prints around it."""
    assert proc.returncode != 0, proc.stdout
    return next(line for line in proc.stderr.splitlines() if needle in line)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    """The smoke benchmark with one train and one test video corrupted before prepare (so skipped)."""
    root = tmp_path_factory.mktemp("integrity")
    dirs = {"data.root": str(root / "raw"), "data.frames_root": str(root / "frames")}
    cfg = load_config("smoke", **dirs)
    make_synthetic(root / "raw", edata.synthetic_spec(cfg.data.synthetic))
    entries, _ = load_index("ucf101", root / "raw" / "splits", 1)
    bad = {split: next(e.video_id for e in entries if e.split == split) for split in ("train", "test")}
    for video_id in bad.values():
        (root / "raw" / "videos" / f"{video_id}.avi").write_bytes(np.random.default_rng(0).bytes(4000))
    edata.ensure_prepared(cfg)
    tests = [e.video_id for e in entries if e.split == "test"]
    return {"dirs": dirs, "root": root, "skipped": bad, "damaged": tests[1]}


@pytest.fixture
def damaged(prepared, tmp_path) -> dict:
    """A copy of the frames with one more test video damaged after prepare: a truncated flow JPEG."""
    frames = Path(shutil.copytree(prepared["dirs"]["data.frames_root"], tmp_path / "frames"))
    broken = frames / prepared["damaged"] / "TVL1jpg_x_00002.jpg"
    broken.write_bytes(broken.read_bytes()[:100])
    dirs = {**prepared["dirs"], "data.frames_root": str(frames), "out_dir": str(tmp_path / "runs")}
    return {"dirs": dirs, "file": broken, "frames": frames}


def test_left_out_videos_are_counted_once_and_recorded(prepared, damaged):
    cfg = load_config("smoke", method="flow", **damaged["dirs"], **{"optim.epochs": 1})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = train(cfg)
    data_warnings = [str(w.message) for w in seen if issubclass(w.category, DataWarning)]
    assert data_warnings == [
        "3 of 20 listed videos left out (1 with damaged or missing files, 2 skipped by prepare); see "
        f"{damaged['frames'] / 'prepare_report.json'}; `python -m dualaction_lib check "
        f"{damaged['frames']}` names every file"
    ]
    result = json.loads((run / "eval.json").read_text())
    assert (result["num_videos_listed"], result["num_videos"], result["num_videos_left_out"]) == (8, 6, 2)
    assert result["train_videos_left_out"] == 1
    kinds = {item["video_id"]: (item["kind"], item["reason"]) for item in result["left_out"]}
    assert kinds[prepared["skipped"]["test"]][0] == "skipped"
    assert kinds[prepared["damaged"]] == (
        "damaged",
        f"{damaged['file']}: truncated JPEG (no end-of-image marker)",
    )
    with pytest.warns(DataWarning, match="^3 of 20 listed videos left out") as seen:
        again = evaluate(run)  # re-evaluation leaves out the same videos, with its one warning
    assert len(seen) == 1
    assert (again["num_videos"], again["num_videos_left_out"]) == (6, 2)


def test_strict_runs_refuse_before_any_epoch(damaged):
    cfg = load_config("smoke", method="flow", **damaged["dirs"], **{"data.missing": "error"})
    with pytest.raises(DataCheckError, match=r"^3 of 20 listed videos are unusable: ") as err:
        train(cfg)
    message = str(err.value)
    assert "\n" not in message and f"{damaged['file']}: truncated JPEG" in message
    assert "set data.missing: skip to leave them out" in message
    rd = RunDir.of(cfg)
    assert not rd.metrics_path.exists() and not rd.checkpoint_path.exists()
    # The same run checked at another level is the same run (no config refusal); "off" sees folders only.
    with pytest.raises(DataCheckError, match=r"^2 of 20 listed videos are unusable"):
        train(override(cfg, **{"data.check": "off"}))
    args = [f"--{k}={v}" for k, v in damaged["dirs"].items()]
    proc = cli("train", "--preset", "smoke", "--method", "flow", "--data.missing", "error", *args)
    assert "set data.missing: skip" in error_line(proc, str(damaged["file"]))


def test_an_empty_train_list_is_named_at_prepare_and_at_train(prepared, tmp_path):
    frames = Path(shutil.copytree(prepared["dirs"]["data.frames_root"], tmp_path / "frames"))
    (frames / "splits" / "trainlist01.txt").write_text("")
    dirs = {**prepared["dirs"], "data.frames_root": str(frames), "out_dir": str(tmp_path / "runs")}
    with pytest.raises(SplitFileError, match=r"trainlist01\.txt: no videos listed"):
        train(load_config("smoke", method="rgb", **dirs))
    raw = Path(shutil.copytree(prepared["dirs"]["data.root"], tmp_path / "raw"))
    (raw / "splits" / "trainlist01.txt").write_text("")
    (raw / "splits" / "testlist01.txt").write_text("")  # both empty: the first one read is named
    proc = cli("prepare", "--dataset", "ucf101", "--root", str(raw), "--out", str(tmp_path / "out"))
    assert "no videos listed" in error_line(proc, str(raw / "splits" / "trainlist01.txt"))


def test_evaluate_names_a_missing_run_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"^evaluate: {tmp_path / 'nope'} does not exist"):
        evaluate(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no config.yaml"):
        evaluate(tmp_path / "empty")
    proc = cli("evaluate", str(tmp_path / "nope"))
    assert "pass a folder written by `train`" in error_line(proc, f"{tmp_path / 'nope'} does not exist")


# --------------------------------------------------------------------------- the teacher's data


def test_a_teacher_trained_on_other_data_settings_is_refused(tmp_path):
    cfg = load_config("smoke", method="ds", out_dir=str(tmp_path / "runs"))
    teacher = override(cfg, method="flow", **{"data.clip_len": 8, "data.norm": "kinetics"})
    RunDir(teacher_run(cfg)).write_config(teacher)
    with pytest.raises(ValueError, match="was trained on other data settings: ") as err:
        train(cfg)
    message = str(err.value)
    assert "data.clip_len 8 (student 4)" in message and "data.norm kinetics (student mars)" in message
    assert "\n" not in message and not RunDir.of(cfg).path.exists()  # refused before the student's run starts
    same = override(cfg, method="flow", **{"data.num_workers": 1, "data.flip": False})
    assert teacher_data_differences(cfg, same) == []  # how it loads or augments does not matter


def test_teacher_flow_extracted_with_other_rounding_is_named(tmp_path):
    def root(name: str, rounding: str) -> str:
        folder = tmp_path / name
        folder.mkdir()
        fingerprint = {"fps": 25.0, "bound": 20.0, "rounding": rounding, "flow_params": {}}
        (folder / "prepare_report.json").write_text(json.dumps({"fingerprint": fingerprint}))
        return str(folder)

    student = load_config("smoke", method="ds", **{"data.frames_root": root("a", "round")})
    teacher = override(student, method="flow", **{"data.frames_root": root("b", "truncate")})
    diff = teacher_data_differences(student, teacher)
    assert diff[0].startswith("data.frames_root ") and diff[1:] == [
        "prepare rounding='truncate' (this run: 'round')"
    ]
