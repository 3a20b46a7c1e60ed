"""Bad data on the data side: prepare's skips left out everywhere, partial decodes, the output
fingerprint, and the data check (library and ``python -m dualaction_lib check``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_data import IDS, TINY, checked_splits

from dualaction_lib.data import DataWarning
from dualaction_lib.data.check import DataCheckError, check_videos, listed_videos, refuse_left_out
from dualaction_lib.data.extract import ExtractSettings, prepare, read_marker
from dualaction_lib.data.prepared import SettingsMismatchError
from dualaction_lib.data.synthetic import make_synthetic, write_video

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


# --------------------------------------------------------------------------- skipped means skipped


@pytest.fixture(scope="module")
def with_bad_videos(raw, tmp_path_factory) -> tuple[Path, object]:
    """Three bad inputs: random bytes, zero bytes (both unreadable), and listed but missing."""
    root = Path(shutil.copytree(raw, tmp_path_factory.mktemp("bad") / "raw"))
    videos = root / "videos"
    (videos / f"{IDS[0]}.avi").write_bytes(np.random.default_rng(0).bytes(5000))
    (videos / f"{IDS[3]}.avi").write_bytes(b"")
    (videos / f"{IDS[5]}.avi").unlink()
    out = root.parent / "frames"
    return out, run_prepare(root, out)


def test_videos_prepare_skipped_are_left_out_with_one_warning(with_bad_videos):
    out, report = with_bad_videos
    assert len(report.skipped) == 3 and (out / "splits" / "trainlist01.txt").is_file()
    assert IDS[0] in (out / "splits" / "testlist01.txt").read_text()  # still listed: the splits are copied
    pattern = r"^3 of 6 listed videos left out \(3 skipped by prepare\); see .*prepare_report\.json$"
    with pytest.warns(DataWarning, match=pattern) as seen:
        train, test, result = checked_splits(out, "rgb+flow", clip_len=4, crop_size=28, short_side=32)
    assert len(seen) == 1
    assert (len(train), len(test)) == (3, 0)  # g01 videos are the test split: both were bad
    assert sorted(result.left_out_ids()) == [IDS[0], IDS[3], IDS[5]]
    assert {item.kind for item in result.left_out} == {"skipped"}
    assert train[0]["rgb"].shape == (3, 4, 28, 28)  # what is left loads
    strict = r"^3 of 6 listed videos are unusable: .*: skipped by prepare: .*; run `python -m dualaction_lib"
    with pytest.raises(DataCheckError, match=strict) as err:
        refuse_left_out(result.left_out, 6, out)  # data.missing: error
    assert "\n" not in str(err.value)


def test_skipped_videos_are_not_problems_for_the_check(with_bad_videos, capsys):
    from dualaction_lib.__main__ import main

    out, _ = with_bad_videos
    assert main(["check", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sum("skipped by prepare: " in line for line in lines) == 3
    assert "0 problem(s) in 0 video(s); 3 skipped by prepare" in lines[-1]


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


# --------------------------------------------------------------------------- the data check


def test_check_names_every_missing_truncated_or_inconsistent_file(copy):
    first = copy / IDS[0]
    (first / "TVL1jpg_x_00003.jpg").unlink()
    data = (copy / IDS[1] / "00002.jpg").read_bytes()
    (copy / IDS[1] / "00002.jpg").write_bytes(data[: len(data) // 2])
    (copy / IDS[2] / "00004.jpg").write_bytes(b"")
    (copy / IDS[3] / ".done.json").unlink()
    shutil.copy(copy / IDS[4] / "00008.jpg", copy / IDS[4] / "00009.jpg")
    result = check_videos(copy, [(i, None) for i in IDS])
    found = {item.video_id: (item.kind, item.problems) for item in result.left_out}
    assert set(found) == set(IDS[:5]) and result.videos == 6
    assert found[IDS[0]] == (
        "damaged",
        [f"{first / 'TVL1jpg_x_00003.jpg'}: missing (its done marker counts it)"],
    )
    assert found[IDS[1]][1] == [f"{copy / IDS[1] / '00002.jpg'}: truncated JPEG (no end-of-image marker)"]
    assert found[IDS[2]][1] == [f"{copy / IDS[2] / '00004.jpg'}: empty file (0 bytes)"]
    assert found[IDS[3]][0] == "unfinished" and "no .done.json" in found[IDS[3]][1][0]
    assert "1 frame file(s) beyond the 8 its done marker declares (first 00009)" in found[IDS[4]][1][0]
    # RGB-only readers do not need the flow file that is gone.
    assert IDS[0] not in check_videos(copy, [(IDS[0], "rgb")]).left_out_ids()


def test_check_full_decodes_and_the_cli_prints_one_line_per_problem(copy, capsys):
    from dualaction_lib.__main__ import main

    assert main(["check", str(copy)]) == 0
    assert "check: 6 videos, 132 files" in capsys.readouterr().out
    garbage = b"\xff\xd8" + b"\x00\x01" * 50 + b"\xff\xd9"  # right markers, nothing decodable between
    (copy / IDS[5] / "TVL1jpg_y_00007.jpg").write_bytes(garbage)
    (copy / IDS[2] / "00001.jpg").unlink()
    assert check_videos(copy, [(IDS[5], None)]).left_out == []  # fast: the markers are fine
    full = check_videos(copy, [(IDS[5], None)], "full")
    assert full.left_out[0].problems == [f"{copy / IDS[5] / 'TVL1jpg_y_00007.jpg'}: cannot decode JPEG"]
    assert main(["check", str(copy), "--full"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[:-1] == [
        f"{copy / IDS[2] / '00001.jpg'}: missing (its done marker counts it)",
        f"{copy / IDS[5] / 'TVL1jpg_y_00007.jpg'}: cannot decode JPEG",
    ]
    assert "2 problem(s) in 2 video(s)" in lines[-1]
    proc = cli("check", str(copy))
    assert proc.returncode == 1 and f"{copy / IDS[2] / '00001.jpg'}: missing" in proc.stdout


def test_check_of_frames_without_splits_or_markers(tmp_path):
    """Folders written by other tools (denseflow, 0-based, no markers): checked from their files."""
    from test_data_datasets import write_video as write_frames

    from dualaction_lib.data.layouts import MMACTION2

    write_frames(tmp_path, "Cls/v_a", 5, MMACTION2)
    folder = write_frames(tmp_path, "Cls/v_b", 5, MMACTION2)
    (folder / "flow_y_00002.jpg").unlink()
    assert listed_videos(tmp_path) == ["Cls/v_a", "Cls/v_b"]
    result = check_videos(tmp_path, [(v, None) for v in listed_videos(tmp_path)])
    assert [item.video_id for item in result.left_out] == ["Cls/v_b"]
    assert result.left_out[0].problems == [f"{folder}: flow-y file with index 00002 is missing"]


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
def test_prepare_refuses_bad_split_files_in_one_line(raw, tmp_path, breakage, capsys):
    from dualaction_lib.__main__ import main

    root = Path(shutil.copytree(raw, tmp_path / "raw"))
    pattern = breakage(root / "splits")
    code = main(["prepare", "--dataset", "ucf101", "--root", str(root), "--out", str(tmp_path / "out")])
    lines = capsys.readouterr().err.splitlines()
    assert code != 0 and len(lines) == 1 and re.search(pattern, lines[0]), lines
    assert not (tmp_path / "out").exists()


def test_prepare_refuses_another_bound_in_one_line(raw, copy, capsys):
    from dualaction_lib.__main__ import main

    args = [
        "prepare",
        "--dataset",
        "ucf101",
        "--root",
        str(raw),
        "--out",
        str(copy),
        "--data.short_side",
        "0",
    ]
    code = main([*args, "--data.flow_bound", "30", "--no-progress"])
    lines = capsys.readouterr().err.splitlines()
    assert code != 0 and len(lines) == 1 and str(copy) in lines[0], lines
    assert re.search(r"bound=20\.0 \(this run: 30\.0\)", lines[0])


def test_loaders_refuse_another_flow_bound_in_one_line(copy):
    pattern = (
        r"extracted with flow bound 20\.0, the data set is read with 30\.0; set data\.flow_bound to 20\.0"
    )
    with pytest.raises(ValueError, match=pattern) as err:
        checked_splits(copy, "flow", bound=30.0, clip_len=4, crop_size=28, short_side=32)
    assert "\n" not in str(err.value)
