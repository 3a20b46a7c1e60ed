"""prepare: frames + TV-L1 flow JPEGs, naming, resumability, sharding, bad videos, fps/size, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from tiny_data import IDS, TINY, checked_splits
from torch.utils.data import DataLoader

from dualaction_lib.data import collate_videos, detect_naming
from dualaction_lib.data.extract import ExtractSettings, prepare, read_marker, shard_items
from dualaction_lib.data.layouts import MMACTION2, load_index
from dualaction_lib.data.synthetic import make_synthetic, write_video


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("raw"), TINY)


# Cheap TV-L1 for tests that check bookkeeping, not flow quality.
FAST = {"nscales": 1, "warps": 1, "outer_iterations": 2, "inner_iterations": 3, "median_filtering": 1}


def _prepare(raw: Path, out: Path, shard=(0, 1), **settings):
    s = ExtractSettings(**{"short_side": None, **settings})
    return prepare("synthetic", raw, out, s, spec=TINY, shard=shard, workers=1, progress=False)


@pytest.fixture(scope="module")
def extracted(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("frames")
    return out, _prepare(raw, out)


def test_outputs_counts_direction_and_splits(raw, extracted):
    tmp_path, report = extracted
    assert (report.total, report.extracted, report.frames, report.flows, report.skipped) == (6, 6, 48, 42, [])
    folder = tmp_path / IDS[1]
    names = sorted(p.name for p in folder.glob("*.jpg"))
    assert names == [f"{i:05d}.jpg" for i in range(1, 9)] + [
        f"TVL1jpg_{a}_{i:05d}.jpg" for a in "xy" for i in range(1, 8)
    ]
    assert read_marker(folder)["frames"] == 8 and read_marker(folder)["flows"] == 7
    assert cv2.imread(str(folder / "00001.jpg")).shape == (32, 32, 3)
    for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt"):
        assert (tmp_path / "splits" / name).read_bytes() == (raw / "splits" / name).read_bytes()
    saved = json.loads((tmp_path / "prepare_report.json").read_text())
    assert saved["extracted"] == 6 and saved["settings"]["rounding"] == "round"
    # Motion direction survives extraction: flow-x of TranslateRight is above zero (127.5).
    right = np.mean([cv2.imread(str(p), 0).mean() for p in (tmp_path / IDS[4]).glob("TVL1jpg_x_*.jpg")])
    left = np.mean([cv2.imread(str(p), 0).mean() for p in (tmp_path / IDS[1]).glob("TVL1jpg_x_*.jpg")])
    assert right > 132 and left < 123


def test_resume_skips_done_and_redoes_half_written(raw, extracted, tmp_path):
    shutil.copytree(extracted[0], tmp_path, dirs_exist_ok=True)
    half = tmp_path / IDS[2]
    (half / ".done.json").unlink()
    (half / "00003.jpg").unlink()
    (half / "junk.tmp").write_text("left by a crash")
    report = _prepare(raw, tmp_path)
    assert (report.extracted, report.already_done) == (1, 5)
    assert not (half / "junk.tmp").exists() and (half / "00003.jpg").is_file()
    with pytest.raises(ValueError, match="rounding='round'"):
        _prepare(raw, tmp_path, rounding="truncate")


def test_bad_videos_are_skipped_and_reported(raw, tmp_path):
    root = tmp_path / "raw"
    shutil.copytree(raw, root)
    videos = root / "videos"
    (videos / f"{IDS[0]}.avi").write_bytes(np.random.default_rng(0).bytes(5000))  # corrupt
    write_video(videos / f"{IDS[3]}.avi", np.zeros((1, 32, 32, 3), np.uint8), 25.0)  # 1 frame
    (videos / f"{IDS[5]}.avi").unlink()  # listed but missing
    report = _prepare(root, tmp_path / "out", flow_params=FAST)
    assert report.extracted == 3 and report.total == 6
    reasons = {s["video_id"]: s["reason"] for s in report.skipped}
    assert set(reasons) == {IDS[0], IDS[3], IDS[5]}
    assert "1 decodable frame" in reasons[IDS[3]] and "no video file" in reasons[IDS[5]]
    assert all(s["kind"] == "bad_input" for s in report.skipped) and not report.errors
    saved = json.loads(Path(report.report_path).read_text())
    assert saved["num_skipped"] == 3 and not (tmp_path / "out" / IDS[0]).exists()


def test_shards_are_disjoint_and_complete(raw, tmp_path):
    items = list(range(11))
    shards = [shard_items(items, (i, 3)) for i in range(3)]
    assert sorted(sum(shards, [])) == items and sum(map(len, shards)) == 11
    with pytest.raises(ValueError):
        shard_items(items, (3, 3))
    reports = [_prepare(raw, tmp_path, shard=(i, 2), flow_params=FAST) for i in range(2)]
    assert [r.extracted for r in reports] == [3, 3]
    assert sorted(p.name for p in tmp_path.glob("prepare_report*.json")) == [
        "prepare_report_shard0of2.json",
        "prepare_report_shard1of2.json",
    ]
    assert all((tmp_path / i / ".done.json").is_file() for i in IDS)


def test_fps_short_side_naming_and_no_dropped_pairs(tmp_path):
    # 20 frames at 50 fps whose brightness encodes the source index; decoded at 25 fps -> every 2nd.
    frames = np.stack([np.full((32, 48, 3), 10 * i + 5, np.uint8) for i in range(20)])
    write_video(tmp_path / "videos/Cls/clip.avi", frames, fps=50.0)
    report = prepare(
        "folder",
        tmp_path / "videos",
        tmp_path / "out",
        ExtractSettings(fps=25.0, short_side=16, naming="mmaction2", rounding="truncate"),
        workers=1,
        progress=False,
    )
    folder = tmp_path / "out/Cls/clip"
    assert report.extracted == 1 and read_marker(folder)["frames"] == 10
    assert detect_naming(tmp_path / "out") is MMACTION2
    first, second = (cv2.imread(str(folder / f"img_{i:05d}.jpg")) for i in (0, 1))
    assert first.shape == (16, 24, 3) and abs(int(second.mean()) - 25) <= 3  # source frame 2
    full = prepare(
        "folder",
        tmp_path / "videos",
        tmp_path / "all",
        ExtractSettings(fps=None, short_side=None, flow_batch=8),
        workers=1,
        progress=False,
    )
    assert (full.frames, full.flows) == (20, 19)  # 19 pairs over 3 flow batches of 8: none dropped


def test_cli_prepare_synthetic_then_load_a_batch(tmp_path):
    from dualaction_lib.__main__ import main

    args = [
        "prepare",
        "--dataset",
        "synthetic",
        "--root",
        str(tmp_path / "raw"),
        "--out",
        str(tmp_path / "fr"),
    ]
    args += ["--num-classes", "2", "--train-per-class", "2", "--test-per-class", "1", "--num-frames", "8"]
    args += ["--frame-size", "32", "--data.prepare_workers", "2", "--no-progress"]
    assert main(args) == 0
    assert json.loads((tmp_path / "raw/spec.json").read_text())["frame_size"] == [32, 32]
    train, test, _ = checked_splits(tmp_path / "fr", "rgb+flow", clip_len=4, crop_size=28, short_side=32)
    assert (len(train), len(test)) == (4, 2)
    assert load_index("ucf101", tmp_path / "fr/splits", 1)[1] == ["TranslateLeft", "TranslateRight"]
    torch.manual_seed(0)
    batch = next(iter(DataLoader(train, batch_size=4, shuffle=True, num_workers=2)))
    assert batch["rgb"].shape == (4, 3, 4, 28, 28) and batch["flow"].shape == (4, 2, 4, 28, 28)
    batch = next(iter(DataLoader(test, batch_size=2, collate_fn=collate_videos)))
    assert batch["rgb"].shape[1:] == (3, 4, 28, 28) and batch["num_clips"].tolist() == [1, 1]
    assert main(args) == 0  # rerun: everything already done
    report = json.loads((tmp_path / "fr/prepare_report.json").read_text())
    assert (report["already_done"], report["extracted"]) == (6, 0)


def test_real_ucf_and_hmdb_folder_layouts(tmp_path):
    from test_data_layouts import write_hmdb, write_ucf

    from dualaction_lib.data.extract import collect_jobs, find_splits_dir

    ucf = tmp_path / "UCF-101"
    splits = write_ucf(tmp_path / "ucfTrainTestlist")  # next to the video folder, as downloaded
    assert find_splits_dir(ucf) == splits
    ids = sorted({e.video_id for k in (1, 2, 3) for e in load_index("ucf101", splits, k)[0]})
    for video_id in ids[1:]:
        (ucf / f"{video_id}.avi").parent.mkdir(parents=True, exist_ok=True)
        (ucf / f"{video_id}.avi").write_bytes(b"")
    jobs, missing = collect_jobs("ucf101", ucf, splits)
    assert [j.video_id for j in jobs] == ids[1:] and [m["video_id"] for m in missing] == ids[:1]
    assert jobs[0].path == ucf / f"{ids[1]}.avi"
    # --root may also be the folder above the archive's UCF-101/, next to ucfTrainTestlist/
    jobs_from_parent, _ = collect_jobs("ucf101", tmp_path, find_splits_dir(tmp_path))
    assert [j.path for j in jobs_from_parent] == [j.path for j in jobs]
    # a root that holds none of the listed videos is refused in one line naming it, not extracted as empty
    refusal = r"none of the \d+ videos listed in .*ucfTrainTestlist is there"
    with pytest.raises(FileNotFoundError, match=refusal):
        collect_jobs("ucf101", tmp_path / "ucfTrainTestlist", splits)
    hmdb = tmp_path / "hmdb51_org"
    write_hmdb(hmdb / "testTrainMulti_7030_splits")
    (hmdb / "cartwheel").mkdir(parents=True)
    (hmdb / "cartwheel/April_09_cartwheel_u_nm_np1_ba_goo_0.avi").write_bytes(b"")
    jobs, missing = collect_jobs("hmdb51", hmdb, find_splits_dir(hmdb))
    assert [j.video_id for j in jobs] == ["cartwheel/April_09_cartwheel_u_nm_np1_ba_goo_0"]
    assert len(missing) == 3 * 6 - 1  # every video used by some split (tags 1/2 in splits 1..3)
