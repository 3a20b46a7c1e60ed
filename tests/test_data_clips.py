"""Temporal sampling and spatial transforms (crop, flip negating flow-x, normalization)."""

from __future__ import annotations

import numpy as np
import pytest

from dualaction_lib.data import clips, transforms


def test_train_clip_random_start_and_loop():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        idx = clips.train_clip(20, 16, rng)
        assert np.array_equal(idx, np.arange(idx[0], idx[0] + 16))
        starts.add(int(idx[0]))
    assert starts == set(range(5))  # every start 0..n-T is drawn
    assert clips.train_clip(5, 12, rng).tolist() == [0, 1, 2, 3, 4] * 2 + [0, 1]


def test_mars_test_clips_non_overlapping():
    assert clips.mars_test_clips(35, 16).tolist() == [list(range(16)), list(range(16, 32))]
    assert clips.mars_test_clips(10, 4).shape == (2, 4)
    assert clips.mars_test_clips(5, 8).tolist() == [[0, 1, 2, 3, 4, 0, 1, 2]]


def test_multiclip_matches_mmaction2():
    # mmaction2 SampleFrames(test_mode): interval = (n - T + 1) / K, offsets int(interval * (k + 0.5)).
    out = clips.multiclip_test_clips(100, 16, 10)
    interval = (100 - 16 + 1) / 10
    assert out[:, 0].tolist() == [int(interval * (k + 0.5)) for k in range(10)]
    assert out.shape == (10, 16) and (np.diff(out, axis=1) == 1).all()
    assert clips.multiclip_test_clips(4, 8, 3).tolist() == [[0, 1, 2, 3, 0, 1, 2, 3]] * 3


def test_num_positions_checks_frame_flow_counts():
    assert clips.num_positions(10, 9, "rgb+flow") == 9
    assert clips.num_positions(10, 9, "flow") == 9
    assert clips.num_positions(10, 0, "rgb") == 10
    with pytest.raises(ValueError, match="10 frames but 8 flows"):
        clips.num_positions(10, 8, "flow")
    with pytest.raises(ValueError, match="10 frames but 10 flows"):
        clips.num_positions(10, 10, "rgb+flow")
    with pytest.raises(ValueError, match="at least 2"):
        clips.num_positions(1, 0, "flow")


def test_train_box_scales_and_corners():
    rng = np.random.default_rng(1)
    sides, positions, flips = set(), set(), set()
    for _ in range(400):
        box = transforms.sample_train_box(128, 170, transforms.MARS_SCALES, rng)
        sides.add(box.height)
        if box.height == 64:
            positions.add((box.y, box.x))
        flips.add(box.flip)
        assert box.height == box.width and box.y + box.height <= 128 and box.x + box.width <= 170
    assert sides == {int(128 * s) for s in transforms.MARS_SCALES}
    assert positions == {(32, 53), (0, 0), (0, 106), (64, 0), (64, 106)} and flips == {True, False}
    never = {transforms.sample_train_box(64, 64, (1.0,), rng, flip=False).flip for _ in range(50)}
    assert never == {False}


def test_test_boxes_centre_and_three_crop():
    (centre,) = transforms.test_boxes(240, 320, 112, 112, crops=1)
    assert (centre.height, centre.y, centre.x) == (240, 0, 40)  # short side -> 112, centre crop
    three = transforms.test_boxes(64, 80, 56, 64, crops=3)
    assert [(b.y, b.x, b.height) for b in three] == [(4, 0, 56), (4, 12, 56), (4, 24, 56)]
    with pytest.raises(ValueError, match="crops"):
        transforms.test_boxes(64, 64, 56, 64, crops=5)


def test_flip_negates_flow_x_only():
    rng = np.random.default_rng(2)
    flow = rng.integers(0, 256, (3, 8, 8, 2), dtype=np.uint8)
    rgb = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    box = transforms.CropBox(0, 0, 8, 8, flip=True)
    out = transforms.crop_resize(flow, box, 8, flow=True)
    assert np.array_equal(out[..., 0], 255 - flow[:, :, ::-1, 0])  # mirrored and negated
    assert np.array_equal(out[..., 1], flow[:, :, ::-1, 1])  # mirrored only
    assert np.array_equal(transforms.crop_resize(rgb, box, 8), rgb[:, :, ::-1])
    # 255 - v is exact negation around 127.5 (zero flow) after normalization.
    normal = transforms.normalize_flow(flow, "mars")
    flipped = transforms.normalize_flow(out, "mars")
    assert np.allclose(flipped[0], -normal[0][:, :, ::-1])


def test_crop_resize_shape_and_content():
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8)[None, None, :, None], (4, 32, 1, 3))  # (4,32,64,3)
    out = transforms.crop_resize(ramp, transforms.CropBox(0, 16, 32, 32), 16)
    assert out.shape == (4, 16, 16, 3)
    assert 60 <= out[0, 0, 0, 0] <= 70 and 180 <= out[0, 0, -1, 0] <= 190


def test_normalization_presets():
    rgb = np.full((2, 4, 4, 3), 200, np.uint8)
    mars = transforms.normalize_rgb(rgb, "mars")
    assert mars.shape == (3, 2, 4, 4) and mars.dtype == np.float32
    assert np.allclose(mars[:, 0, 0, 0], 200 - np.asarray(transforms.ACTIVITYNET_MEAN))
    kin = transforms.normalize_rgb(rgb, "kinetics")
    expect = (200 / 255 - np.asarray(transforms.KINETICS_MEAN)) / np.asarray(transforms.KINETICS_STD)
    assert np.allclose(kin[:, 0, 0, 0], expect, atol=1e-5)
    flow = np.array([0, 255], np.uint8).reshape(1, 1, 1, 2)
    assert transforms.normalize_flow(flow, "mars").ravel().tolist() == [-127.5, 127.5]
    assert transforms.normalize_flow(flow, "kinetics").ravel().tolist() == [-1.0, 1.0]
    with pytest.raises(ValueError, match="norm"):
        transforms.normalize_rgb(rgb, "imagenet")
