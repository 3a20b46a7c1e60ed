"""VideoDataset on checked records: exact RGB/flow alignment, paired RGB clips, test protocols, DataLoader
workers; the data check's verdict on bad frame folders."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dualaction_lib.data import (
    ClipOptions,
    FrameReadError,
    VideoDataset,
    VideoEntry,
    average_clip_scores,
    collate_videos,
    usable_videos,
)
from dualaction_lib.data.check import DataCheckError, DataWarning, refuse_left_out, warn_left_out
from dualaction_lib.data.layouts import MMACTION2, MMACTION2_FROM_1, get_naming
from dualaction_lib.data.transforms import ACTIVITYNET_MEAN

H, W = 48, 64


def code(position: int) -> int:
    return 10 + 8 * position


def write_video(
    root: Path, video_id: str, frames: int, naming: str = "mars", flows: int | None = None
) -> Path:
    """Frames whose content encodes the position: R = code(p), G = x ramp, B = y ramp;
    flow_x = code(p), flow_y = the same x ramp (so RGB and flow crops/flips can be compared)."""
    n = get_naming(naming)
    folder = root / video_id
    folder.mkdir(parents=True, exist_ok=True)
    x_ramp = np.tile(np.linspace(0, 250, W).astype(np.uint8), (H, 1))
    y_ramp = np.tile(np.linspace(0, 250, H).astype(np.uint8)[:, None], (1, W))
    quality = [cv2.IMWRITE_JPEG_QUALITY, 100]
    for p in range(frames):
        rgb = np.stack([np.full((H, W), code(p), np.uint8), x_ramp, y_ramp], -1)
        cv2.imwrite(str(folder / n.rgb(p)), rgb[..., ::-1], quality)
    for p in range(frames - 1 if flows is None else flows):
        cv2.imwrite(str(folder / n.flow(p, 0)), np.full((H, W), code(p), np.uint8), quality)
        cv2.imwrite(str(folder / n.flow(p, 1)), x_ramp, quality)
    return folder


def dataset(root, entries, modality, mode="train", level="fast", **options) -> VideoDataset:
    """The dataset of the entries the data check finds usable (the others are left out)."""
    records, _ = usable_videos(root, entries, modality, level)
    return VideoDataset(records, modality, mode, ClipOptions(**options))


def verdict(root, modality="rgb+flow") -> list[str]:
    """The data check's problems with the one video Cls/v_a (empty: usable)."""
    records, result = usable_videos(root, [VideoEntry("Cls/v_a", 0, "train")], modality)
    assert len(records) == 1 - len(result.left_out)
    return [p for item in result.left_out for p in item.problems]


def decode(sample: dict) -> tuple[np.ndarray, bool]:
    """Positions (T,) of an rgb+flow train sample, checking alignment; returns (positions, flipped)."""
    rgb = sample["rgb"].numpy() + np.asarray(ACTIVITYNET_MEAN, np.float32)[:, None, None, None]
    flow = sample["flow"].numpy() + 127.5
    positions = np.rint((rgb[0].mean(axis=(1, 2)) - 10) / 8).astype(int)
    assert np.abs(rgb[0] - (10 + 8 * positions)[:, None, None]).max() < 4  # one frame per time step
    green = rgb[1].mean(axis=(0, 1))
    flipped = bool(green[0] > green[-1])
    expect_x = 10 + 8 * positions
    expect_x = 255 - expect_x if flipped else expect_x
    assert np.abs(flow[0] - expect_x[:, None, None]).max() < 3  # same frames, flow-x negated on flip
    assert np.abs(flow[1] - rgb[1]).max() < 4  # same crop, same flip
    return positions, flipped


@pytest.mark.parametrize("naming", ["mars", "mmaction2"])
def test_train_clips_are_aligned(tmp_path, naming):
    write_video(tmp_path, "Cls/v_a", 12, naming)
    ds = dataset(tmp_path, [VideoEntry("Cls/v_a", 3, "train")], "rgb+flow", clip_len=4, crop_size=32)
    assert ds.records[0].naming.name == naming and ds.video_ids == ["Cls/v_a"]
    starts, flips = set(), set()
    for _ in range(60):
        sample = ds[0]
        assert sample["rgb"].shape == (3, 4, 32, 32) and sample["flow"].shape == (2, 4, 32, 32)
        assert sample["label"] == 3 and sample["index"] == 0
        positions, flipped = decode(sample)
        assert (np.diff(positions) == 1).all()
        starts.add(int(positions[0]))
        flips.add(flipped)
    assert starts == set(range(8)) and flips == {True, False}  # 11 flow positions, T = 4


def test_rgb_only_uses_all_frames_and_loops(tmp_path):
    write_video(tmp_path, "Cls/v_a", 3, flows=0)
    ds = dataset(tmp_path, [VideoEntry("Cls/v_a", 0, "train")], "rgb", clip_len=7, crop_size=32)
    rgb = ds[0]["rgb"].numpy()[0] + ACTIVITYNET_MEAN[0]
    assert np.rint((rgb.mean(axis=(1, 2)) - 10) / 8).astype(int).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert set(ds[0]) == {"rgb", "label", "index"}


def test_rgb_training_clips_pair_with_the_distilled_students(tmp_path):
    """With flow in the folder, RGB clips start at the N-1 flow-aligned positions, and under one torch
    seed an RGB dataset draws exactly the RGB clips (frames, crop, flip) of an rgb+flow dataset."""
    write_video(tmp_path, "Cls/v_a", 6)  # 5 flow positions, T = 4: starts 0 or 1 (RGB alone: also 2)
    entries = [VideoEntry("Cls/v_a", 0, "train")]
    rgb = dataset(tmp_path, entries, "rgb", clip_len=4, crop_size=32)
    both = dataset(tmp_path, entries, "rgb+flow", clip_len=4, crop_size=32)
    starts = set()
    for seed in range(40):
        torch.manual_seed(seed)
        alone = rgb[0]["rgb"]
        torch.manual_seed(seed)
        paired = both[0]
        assert torch.equal(alone, paired["rgb"])
        starts.add(int(decode(paired)[0][0]))
    assert starts == {0, 1}


def test_test_protocols(tmp_path):
    write_video(tmp_path, "Cls/v_a", 12)  # 11 flow positions
    entries = [VideoEntry("Cls/v_a", 1, "test")]
    mars = dataset(tmp_path, entries, "rgb+flow", "test", clip_len=4, crop_size=32, short_side=32)
    sample = mars[0]
    assert sample["rgb"].shape == (2, 3, 4, 32, 32) and sample["flow"].shape == (2, 2, 4, 32, 32)
    for k in range(2):
        positions, flipped = decode({"rgb": sample["rgb"][k], "flow": sample["flow"][k]})
        assert positions.tolist() == list(range(4 * k, 4 * k + 4)) and not flipped
    multi = dataset(
        tmp_path,
        entries,
        "flow",
        "test",
        clip_len=4,
        protocol="multiclip",
        num_clips=5,
        crops=3,
        crop_size=32,
        short_side=40,
    )
    flow = multi[0]["flow"]
    assert flow.shape == (15, 2, 4, 32, 32)
    ramp = flow[:, 1].mean(dim=(1, 2, 3))  # three crops along the width: left < centre < right
    assert (ramp[0] < ramp[1] < ramp[2]) and torch.allclose(ramp[:3], ramp[3:6])
    batch = collate_videos([mars[0], mars[0]])
    assert batch["rgb"].shape == (4, 3, 4, 32, 32) and batch["num_clips"].tolist() == [2, 2]
    scores = torch.arange(8.0).reshape(4, 2)
    assert average_clip_scores(scores, batch["num_clips"]).tolist() == [[1.0, 2.0], [5.0, 6.0]]


def _loader_samples(ds, workers: int) -> list[torch.Tensor]:
    loader = DataLoader(ds, batch_size=1, num_workers=workers, shuffle=False)
    return [batch["rgb"][0] for batch in loader]


def test_dataloader_workers_draw_different_and_reproducible_clips(tmp_path):
    write_video(tmp_path, "Cls/v_a", 30, flows=0)
    entries = [VideoEntry("Cls/v_a", 0, "train")] * 8
    ds = dataset(tmp_path, entries, "rgb", clip_len=2, crop_size=16)
    torch.manual_seed(0)
    first = _loader_samples(ds, 2)
    # Worker 0 serves items 0, 2, 4, 6 and worker 1 items 1, 3, 5, 7: equal seeds would pair them up.
    assert not all(torch.equal(first[i], first[i + 1]) for i in range(0, 8, 2))
    torch.manual_seed(0)
    again = _loader_samples(ds, 2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    batch = next(iter(DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate_videos)))
    assert batch["rgb"].shape == (4, 3, 2, 16, 16) and batch["label"].tolist() == [0] * 4


# --------------------------------------------------------------------------- bad input


def _ds(root, modality="rgb+flow", level="fast"):
    return dataset(root, [VideoEntry("Cls/v_a", 0, "train")], modality, level=level, clip_len=4, crop_size=32)


def test_truncated_jpeg_is_left_out_by_the_check_and_named_by_the_reader(tmp_path):
    folder = write_video(tmp_path, "Cls/v_a", 5)
    for name in ("00001.jpg", "00002.jpg", "00003.jpg", "00004.jpg"):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
    assert verdict(tmp_path)[0] == f"{folder / '00001.jpg'}: truncated JPEG (no end-of-image marker)"
    assert len(_ds(tmp_path)) == 0
    with pytest.raises(FrameReadError, match=r"truncated JPEG .*0000[1-4]\.jpg"):
        _ds(tmp_path, level="off")[0]  # folders only: the reader still refuses the file


def test_undecodable_and_missing_files_name_the_file(tmp_path):
    folder = write_video(tmp_path, "Cls/v_a", 5)
    ds = _ds(tmp_path)
    for p in range(1, 5):
        (folder / f"TVL1jpg_y_0000{p}.jpg").write_bytes(b"not a jpeg\xff\xd9")
    with pytest.raises(FrameReadError, match=r"cannot decode JPEG .*TVL1jpg_y_0000[1-4]\.jpg"):
        ds[0]
    for p in range(1, 5):
        (folder / f"TVL1jpg_y_0000{p}.jpg").unlink()
    with pytest.raises(FrameReadError, match=r"missing frame file .*TVL1jpg_y_0000[1-4]\.jpg"):
        ds[0]


def test_gap_in_frame_numbers_is_named(tmp_path):
    folder = write_video(tmp_path, "Cls/v_a", 6)
    (folder / "00003.jpg").unlink()
    assert verdict(tmp_path) == [f"{folder}: frame file with index 00003 is missing"]


@pytest.mark.parametrize(
    ("frames", "flows", "message"), [(6, 4, "6 frames but 4 flows"), (4, 4, "4 frames but 4 flows")]
)
def test_frame_flow_count_mismatch(tmp_path, frames, flows, message):
    folder = write_video(tmp_path, "Cls/v_a", frames, flows=flows)
    assert verdict(tmp_path) == [f"{folder}: {message}; N frames need N-1 flows"]
    assert verdict(tmp_path, "rgb") == [] and len(_ds(tmp_path, "rgb")) == 1  # RGB alone: no flows needed


def test_too_few_frames(tmp_path):
    folder = write_video(tmp_path, "Cls/v_a", 1)
    assert verdict(tmp_path, "flow") == [f"{folder}: 1 frame(s); at least 2 are needed to have a flow"]


def test_missing_video_folder_is_left_out_with_one_warning_or_refused(tmp_path):
    write_video(tmp_path, "Cls/v_a", 6)
    entries = [VideoEntry("Cls/v_a", 0, "train"), VideoEntry("Cls/v_gone", 0, "train")]
    records, result = usable_videos(tmp_path, entries, "rgb")
    assert [r.video_id for r in records] == ["Cls/v_a"] and [i.kind for i in result.left_out] == ["missing"]
    warned = r"^1 of 2 listed videos left out \(1 without a frame folder\)"
    with pytest.warns(DataWarning, match=warned) as seen:
        warn_left_out(result.left_out, len(entries), tmp_path)
    assert len(seen) == 1
    refused = r"^1 of 2 listed videos are unusable: .*v_gone: missing frame"
    with pytest.raises(DataCheckError, match=refused) as err:
        refuse_left_out(result.left_out, len(entries), tmp_path)
    assert "\n" not in str(err.value)


def test_clip_options_refuse_unknown_choices(tmp_path):
    with pytest.raises(ValueError, match=r"^resize must be one of \('linear', 'pil_bilinear'\), got 'cu"):
        ClipOptions(resize="cubic")
    with pytest.raises(ValueError, match=r"^crop_size 64 exceeds short_side 32$"):
        ClipOptions(crop_size=64, short_side=32)
    with pytest.raises(ValueError, match=r"^mode must be one of \('train', 'test'\), got 'eval'$"):
        VideoDataset([], "rgb", "eval")


@pytest.mark.parametrize(
    "naming", [MMACTION2, MMACTION2_FROM_1], ids=["denseflow-from-0", "dense_flow-from-1"]
)
def test_img_folders_of_either_base_give_the_same_clips(tmp_path, naming):
    """Fixtures named like open-mmlab/denseflow (img_00000.jpg first) and like yjxiong/dense_flow or
    mmaction2's start_index=1 (img_00001.jpg first): the base is detected and recorded per folder."""
    write_video(tmp_path, "Cls/v_a", 6, naming)
    entries = [VideoEntry("Cls/v_a", 0, "test")]
    ds = dataset(tmp_path, entries, "rgb+flow", "test", clip_len=5, crop_size=32, short_side=32)
    assert ds.records[0].naming == naming
    sample = ds[0]
    positions, _ = decode({"rgb": sample["rgb"][0], "flow": sample["flow"][0]})
    assert positions.tolist() == [0, 1, 2, 3, 4]


def test_a_folder_mixing_bases_is_refused(tmp_path):
    folder = write_video(tmp_path, "Cls/v_a", 6, MMACTION2_FROM_1)
    (folder / "flow_x_00005.jpg").unlink()
    (folder / "flow_x_00000.jpg").write_bytes((folder / "flow_x_00001.jpg").read_bytes())
    (problem,) = verdict(tmp_path)
    assert re.search(r"v_a: file indices start at different numbers .*flow-x at 00000", problem)
