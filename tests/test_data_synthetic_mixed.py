"""Embedded benchmark, task "mixed": 10 classes told apart by motion only, 2 by appearance only.

A warm and a cool box class with the same random stream render the same grayscale video (what flow is
computed from); the directions of a ball, bar or washed-out box with the same stream render the same middle
frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dualaction_lib.data.layouts import load_index
from dualaction_lib.data.synthetic import (
    MIXED_CLASSES,
    SyntheticSpec,
    draw_scene,
    make_synthetic,
    plan_scene,
    render_video,
)
from dualaction_lib.data.synthetic.objects import split_class
from dualaction_lib.data.synthetic.palette import FAMILY_HUE, chroma_direction
from dualaction_lib.data.synthetic.scene import luminance
from dualaction_lib.data.synthetic.spec import DIRECTIONS

MIXED_SMALL = SyntheticSpec(
    task="mixed", videos_per_class_train=2, videos_per_class_test=1, num_frames=4, frame_size=(24, 32)
)


def test_mixed_classes_spec_layout_balance_and_determinism(tmp_path):
    assert MIXED_CLASSES == (
        *("BallMoveLeft", "BallMoveRight", "BallMoveUp", "BallMoveDown"),
        *("BarMoveLeft", "BarMoveRight", "BarMoveUp", "BarMoveDown"),
        *("BoxMoveUp", "BoxMoveDown", "WarmBoxMoveLeft", "CoolBoxMoveLeft"),
    )
    default = SyntheticSpec(task="mixed")
    assert (default.classes, default.speed, default.num_distractors) == (MIXED_CLASSES, (1.0, 2.0), (1, 2))
    assert split_class("CoolBoxMoveLeft") == ("Cool", "Box", "Left")
    assert split_class("BoxMoveUp") == ("", "Box", "Up")
    assert split_class("BarMoveUp") == ("", "Bar", "Up")
    with pytest.raises(ValueError, match="^max_objects applies to task 'motion' only"):
        SyntheticSpec(task="mixed", max_objects=2)
    with pytest.raises(ValueError, match="^num_classes must be in 2..12 for task 'mixed'"):
        SyntheticSpec(task="mixed", num_classes=13)
    with pytest.raises(ValueError, match="'WarmBoxMoveRight' is not a class of task 'mixed'"):
        plan_scene(default, "WarmBoxMoveRight", np.random.default_rng(0))
    a = make_synthetic(tmp_path / "a", MIXED_SMALL)
    b = make_synthetic(tmp_path / "b", MIXED_SMALL)
    assert [len(list((a / "videos" / c).glob("*.avi"))) for c in MIXED_CLASSES] == [3] * 12
    class_ind = (a / "splits/classInd.txt").read_bytes().decode().split("\r\n")
    assert class_ind[:-1] == [f"{i} {c}" for i, c in enumerate(MIXED_CLASSES, start=1)]
    entries, classes = load_index("synthetic", a / "splits", 1)
    assert classes == list(MIXED_CLASSES) and len(entries) == 36
    assert sorted(sum(e.split == "train" for e in entries if e.label == k) for k in range(12)) == [2] * 12
    files = sorted((a / "videos").rglob("*.avi"))
    assert len(files) == 36 and all(f.read_bytes() == (b / f.relative_to(a)).read_bytes() for f in files)


def _gray(frames: np.ndarray) -> np.ndarray:
    return np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]).astype(int)


def test_appearance_classes_differ_only_in_the_actors_colour():
    spec = SyntheticSpec(task="mixed", num_frames=6, frame_size=(32, 32))
    warm_axis = chroma_direction(FAMILY_HUE["Warm"])
    warm, cool = "WarmBoxMoveLeft", "CoolBoxMoveLeft"  # the one appearance pair
    for seed in range(12):
        scenes = [plan_scene(spec, cls, np.random.default_rng(seed)) for cls in (warm, cool)]
        videos = [render_video(spec, cls, np.random.default_rng(seed)) for cls in (warm, cool)]
        w, c = scenes
        # Everything but the colour's hue is the same: geometry, motion, the other objects, luminance.
        assert np.array_equal(w.centre_mid, c.centre_mid) and np.array_equal(w.velocity, c.velocity)
        assert np.array_equal(w.background, c.background) and w.actor_depth == c.actor_depth
        assert (w.actor.size, w.actor.angle) == (c.actor.size, c.actor.angle)
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(w.distractors, c.distractors, strict=True))
        assert luminance(w.actor.colour) == pytest.approx(luminance(c.actor.colour), abs=1e-9)
        assert (w.actor.colour - luminance(w.actor.colour)) @ warm_axis > 20
        assert (c.actor.colour - luminance(c.actor.colour)) @ warm_axis < -20
        # As drawn: the grayscale videos agree to a level or three (each channel is rounded and clipped to
        # 0-255 on its own, after the pixel noise; without noise they agree to one level) ...
        gray_diff = np.abs(_gray(videos[0]) - _gray(videos[1]))
        assert gray_diff.max() <= 3 and gray_diff.mean() < 0.1, (gray_diff.max(), gray_diff.mean())
        # ... and the colour images differ where the actor is.
        colour_diff = np.abs(videos[0].astype(int) - videos[1]).max(axis=-1)
        assert colour_diff.max() > 20


def test_motion_classes_differ_only_in_the_motion():
    spec = SyntheticSpec(task="mixed", num_frames=7, frame_size=(32, 32))
    for seed in range(6):
        for kind, directions in (("Ball", DIRECTIONS), ("Bar", DIRECTIONS), ("Box", ("Up", "Down"))):
            classes = [f"{kind}Move{how}" for how in directions]
            scenes = [plan_scene(spec, cls, np.random.default_rng(seed)) for cls in classes]
            videos = [render_video(spec, cls, np.random.default_rng(seed)) for cls in classes]
            speeds = {float(np.abs(s.velocity).sum()) for s in scenes}
            assert len(speeds) == 1 and speeds.pop() > 0
            for scene, video in zip(scenes[1:], videos[1:], strict=True):
                assert np.array_equal(scene.actor.colour, scenes[0].actor.colour)
                assert np.array_equal(scene.centre_mid, scenes[0].centre_mid)
                assert np.array_equal(video[3], videos[0][3])  # the middle frame, noise included
                assert not np.array_equal(video[0], videos[0][0])


def test_the_moving_object_is_never_covered():
    """In "mixed" the actor is drawn above every distractor, so flow always sees its whole silhouette."""
    spec = SyntheticSpec(task="mixed", num_frames=5, frame_size=(32, 32), noise=0.0, num_distractors=(2, 2))
    for seed in range(8):
        for cls in ("BallMoveLeft", "BarMoveUp", "BoxMoveDown", "WarmBoxMoveLeft"):
            scene = plan_scene(spec, cls, np.random.default_rng(seed))
            assert scene.actor_depth == len(scene.distractors) == 2
            frames = draw_scene(spec, scene, np.random.default_rng(seed))
            for t in (0, 4):
                inside = scene.actor_mask(t) == 1.0  # pixels the actor covers entirely
                alone = scene.actor.paint(scene.background.astype(np.float64), scene.actor_centre(t))
                expected = np.clip(np.rint(alone), 0, 255)[inside]
                assert inside.sum() > 10 and np.array_equal(frames[t][inside], expected)
