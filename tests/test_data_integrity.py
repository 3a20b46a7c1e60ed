"""Bad data on the data side: partial decodes, the output fingerprint, one-line refusals of prepare."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dualaction_lib.data.extract import ExtractSettings, prepare, read_marker
from dualaction_lib.data.prepared import SettingsMismatchError
from dualaction_lib.data.synthetic import SyntheticSpec, make_synthetic, write_video

TINY = SyntheticSpec(
    num_classes=2, videos_per_class_train=2, videos_per_class_test=1, num_frames=8, frame_size=(32, 32)
)
IDS = [
    "TranslateLeft/v_TranslateLeft_g01_c01",
    "TranslateLeft/v_TranslateLeft_g08_c01",
    "TranslateLeft/v_TranslateLeft_g09_c01",
    "TranslateRight/v_TranslateRight_g01_c01",
    "TranslateRight/v_TranslateRight_g08_c01",
    "TranslateRight/v_TranslateRight_g09_c01",
]
FAST = {"nscales": 1, "warps": 1, "outer_iterations": 2, "inner_iterations": 3, "median_filtering": 1}


def settings(**kw) -> ExtractSettings:
    return ExtractSettings(**{"short_side": None, "flow_params": FAST, **kw})


def run_prepare(root: Path, out: Path, **kw):
    return prepare("ucf101", root, out, settings(**kw), workers=1, progress=False)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dualaction_lib", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("raw"), TINY, progress=False)


@pytest.fixture(scope="module")
def extracted(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frames")
    run_prepare(raw, out)
    return out


@pytest.fixture
def copy(extracted, tmp_path) -> Path:
    return Path(shutil.copytree(extracted, tmp_path / "frames"))


# --------------------------------------------------------------------------- partial decodes


def test_a_truncated_mjpg_is_reported_partial_and_keeps_only_clean_frames(tmp_path):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (40, 32, 48, 3), dtype=np.uint8)
    write_video(tmp_path / "full/Cls/clip.avi", frames, 25.0)
    data = (tmp_path / "full/Cls/clip.avi").read_bytes()
    (tmp_path / "cut/Cls").mkdir(parents=True)
    (tmp_path / "cut/Cls/clip.avi").write_bytes(data[: int(len(data) * 0.6)])
    common = dict(workers=1, progress=False)
    full = prepare("folder", tmp_path / "full", tmp_path / "out_full", settings(fps=None), **common)
    cut = prepare("folder", tmp_path / "cut", tmp_path / "out_cut", settings(fps=None), **common)
    assert full.frames == 40 and not full.partial
    assert cut.extracted == 1 and not cut.skipped and len(cut.partial) == 1
    item = cut.partial[0]
    assert item["video_id"] == "Cls/clip" and item["frames_declared"] == 40
    assert 20 <= item["frames_decoded"] < 24 and item["frames"] == item["frames_decoded"] == cut.frames
    saved = json.loads(Path(cut.report_path).read_text())
    assert saved["num_partial"] == 1 and saved["partial"][0]["frames_declared"] == 40
    # Every kept frame is the clean decode: byte for byte the frame extracted from the whole file.
    folder_full, folder_cut = tmp_path / "out_full/Cls/clip", tmp_path / "out_cut/Cls/clip"
    for i in range(1, cut.frames + 1):
        assert (folder_cut / f"{i:05d}.jpg").read_bytes() == (folder_full / f"{i:05d}.jpg").read_bytes()
    assert not (folder_cut / f"{cut.frames + 1:05d}.jpg").exists()  # the damaged one was dropped
    marker = read_marker(folder_cut)
    assert marker["partial"] and marker["frames_declared"] == 40
    # A rerun keeps listing it as partial (from the marker).
    again = prepare("folder", tmp_path / "cut", tmp_path / "out_cut", settings(fps=None), **common)
    assert again.already_done == 1 and again.partial == cut.partial


# --------------------------------------------------------------------------- the output fingerprint


def test_a_rerun_with_other_settings_is_refused_naming_each(raw, copy):
    before = (copy / "prepare_report.json").read_text()
    with pytest.raises(SettingsMismatchError, match=r"jpeg_quality=95 \(this run: 50\)") as err:
        run_prepare(raw, copy, jpeg_quality=50)
    assert "\n" not in str(err.value) and "use another --out" in str(err.value)
    assert (copy / "prepare_report.json").read_text() == before  # the report still tells the truth
    with pytest.raises(SettingsMismatchError) as err:
        run_prepare(raw, copy, bound=30, naming="mmaction2", rounding="truncate")
    for text in ("bound=20.0 (this run: 30.0)", "naming='mars'", "rounding='round'"):
        assert text in str(err.value)
    with pytest.raises(SettingsMismatchError, match=r"flow_params="):
        run_prepare(raw, copy, flow_params={**FAST, "nscales": 2})
    # Without the report, each video's marker refuses it, naming the folder.
    (copy / "prepare_report.json").unlink()
    with pytest.raises(SettingsMismatchError, match=rf"{IDS[0]} was prepared .*jpeg_quality=95"):
        run_prepare(raw, copy, jpeg_quality=50)
    # Defaults spelled out are the same fingerprint.
    assert run_prepare(raw, copy, flow_params={**FAST, "tau": 0.25}).already_done == 6


def test_cli_prepare_refuses_another_jpeg_quality(raw, copy):
    proc = cli(
        "prepare", "--dataset", "ucf101", "--root", str(raw), "--out", str(copy), "--jpeg-quality", "50"
    )
    assert proc.returncode != 0
    message = next(line for line in proc.stderr.splitlines() if "jpeg_quality=95 (this run: 50)" in line)
    assert str(copy) in message and "use another --out" in message


# --------------------------------------------------------------------------- refusals through the CLI


def _break_class_ind_missing(splits: Path) -> str:
    (splits / "classInd.txt").unlink()
    return r"classInd\.txt not found: .*--splits"


def _break_class_with_space(splits: Path) -> str:
    (splits / "classInd.txt").write_text("1 Translate Left\n2 TranslateRight\n")
    return r"classInd\.txt:1: class name 'Translate Left' contains spaces"


def _break_label_out_of_range(splits: Path) -> str:
    path = splits / "trainlist01.txt"
    path.write_text(path.read_text().replace(".avi 2", ".avi 7"))
    return r"trainlist01\.txt:3: label 7 is out of range 1\.\.2"


def _break_empty_test_list(splits: Path) -> str:
    (splits / "testlist01.txt").write_text("")
    return r"testlist01\.txt: no videos listed"


@pytest.mark.parametrize(
    "breakage",
    [_break_class_ind_missing, _break_class_with_space, _break_label_out_of_range, _break_empty_test_list],
)
def test_prepare_refuses_bad_split_files_in_one_line(raw, tmp_path, breakage):
    from dualaction_lib.__main__ import main

    root = Path(shutil.copytree(raw, tmp_path / "raw"))
    pattern = breakage(root / "splits")
    with pytest.raises((OSError, ValueError), match=pattern) as err:
        main(["prepare", "--dataset", "ucf101", "--root", str(root), "--out", str(tmp_path / "out")])
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_prepare_refuses_another_bound_in_one_line(raw, copy):
    from dualaction_lib.__main__ import main

    args = ["prepare", "--dataset", "ucf101", "--root", str(raw), "--out", str(copy), "--short-side", "0"]
    with pytest.raises(SettingsMismatchError, match=r"bound=20\.0 \(this run: 30\.0\)") as err:
        main([*args, "--bound", "30", "--no-progress"])
    assert "\n" not in str(err.value) and str(copy) in str(err.value)
