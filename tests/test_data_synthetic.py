"""Embedded benchmark: UCF-101 layout, determinism, the spec, and where each task's class information is.

Task "motion": single frames carry no class information, frame differences all of it. Task "objects": a
single frame says nothing about the direction, the motion does, and the moving silhouette shows the kind.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from dualaction_lib.data.layouts import load_index
from dualaction_lib.data.synthetic import (
    CLASSES,
    OBJECT_CLASSES,
    SyntheticSpec,
    draw_scene,
    make_synthetic,
    plan_scene,
    read_spec,
    render_video,
    video_names,
)
from dualaction_lib.data.synthetic.scene import luminance

SMALL = SyntheticSpec(
    num_classes=3, videos_per_class_train=3, videos_per_class_test=2, num_frames=4, frame_size=(24, 32)
)


def test_ucf101_layout_and_split_files(tmp_path):
    out = make_synthetic(tmp_path, SMALL)
    videos = sorted(p.relative_to(out / "videos").as_posix() for p in (out / "videos").rglob("*.avi"))
    assert len(videos) == 15 and videos[0] == "TranslateLeft/v_TranslateLeft_g01_c01.avi"
    assert (
        out / "splits/classInd.txt"
    ).read_bytes() == b"1 TranslateLeft\r\n2 TranslateRight\r\n3 TranslateUp\r\n"
    train = (out / "splits/trainlist01.txt").read_bytes().decode().split("\r\n")
    test = (out / "splits/testlist01.txt").read_bytes().decode().split("\r\n")
    assert train[0] == "TranslateLeft/v_TranslateLeft_g08_c01.avi 1" and train[-1] == ""
    assert test[0] == "TranslateLeft/v_TranslateLeft_g01_c01.avi" and len(test) == 7
    entries, classes = load_index("synthetic", out / "splits", 1)
    assert classes == list(CLASSES[:3])
    groups = {e.split: set() for e in entries}
    for e in entries:
        groups[e.split].add(int(e.video_id.split("_g")[1][:2]))
        assert e.video_id.startswith(classes[e.label] + "/v_" + classes[e.label] + "_g")
    assert max(groups["test"]) <= 7 < min(groups["train"])  # UCF split-1 style: disjoint groups


def test_deterministic_from_seed_and_spec_guard(tmp_path):
    a = make_synthetic(tmp_path / "a", SMALL)
    b = make_synthetic(tmp_path / "b", SMALL)
    files = sorted((a / "videos").rglob("*.avi"))
    assert all(f.read_bytes() == (b / f.relative_to(a)).read_bytes() for f in files)
    other = SyntheticSpec(**{**SMALL.to_dict(), "seed": 1})
    c = make_synthetic(tmp_path / "c", other)
    assert files[0].read_bytes() != (c / files[0].relative_to(a)).read_bytes()
    stamp = files[0].stat().st_mtime_ns
    make_synthetic(a, SMALL)  # complete with the same spec: kept
    assert files[0].stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="different spec"):
        make_synthetic(a, other)
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticSpec(num_classes=9)


def _gray(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32).mean(axis=-1)


def frame_features(frame: np.ndarray) -> np.ndarray:
    """Appearance of one frame: colour moments, gradient energy, orientation histogram, 4x4 thumbnail."""
    gray = _gray(frame)
    gy, gx = np.gradient(gray)
    mag, ang = np.hypot(gx, gy), np.arctan2(gy, gx) % np.pi
    hist = np.bincount((ang / np.pi * 8).astype(int).clip(0, 7).ravel(), mag.ravel(), minlength=8)
    thumb = gray.reshape(4, gray.shape[0] // 4, 4, gray.shape[1] // 4).mean(axis=(1, 3)).ravel()
    colour = frame.reshape(-1, 3).astype(np.float32)
    return np.concatenate([colour.mean(0), colour.std(0), [mag.mean()], hist / (hist.sum() + 1e-6), thumb])


def difference_features(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Global similarity motion (tx, ty, zoom, rotation) from the frame difference (least squares)."""
    g0, g1 = _gray(a), _gray(b)
    gy, gx = np.gradient((g0 + g1) / 2)
    it = g1 - g0
    ys, xs = np.mgrid[: g0.shape[0], : g0.shape[1]].astype(np.float32)
    xs, ys = xs - xs.mean(), ys - ys.mean()
    basis = np.stack([gx, gy, gx * xs + gy * ys, gy * xs - gx * ys], -1).reshape(-1, 4)
    params, *_ = np.linalg.lstsq(basis, -it.ravel(), rcond=None)
    return params * np.array([1, 1, 16, 16])


def ridge_accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray, classes: int) -> float:
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    x = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    targets = np.eye(classes)[y[train]]
    a = x[train]
    w = np.linalg.solve(a.T @ a + 1.0 * len(a) * np.eye(a.shape[1]), a.T @ targets)
    return float(((x[~train] @ w).argmax(1) == y[~train]).mean())


def test_single_frames_carry_no_class_information():
    spec = SyntheticSpec(num_frames=6, frame_size=(32, 32), seed=3)
    rng = np.random.default_rng(0)
    single, diff, labels = [], [], []
    for label, cls in enumerate(spec.classes):
        for _ in range(32):
            frames = render_video(spec, cls, rng)
            t = int(rng.integers(spec.num_frames - 1))
            single.append(frame_features(frames[t]))
            diff.append(np.mean([difference_features(frames[i], frames[i + 1]) for i in range(5)], 0))
            labels.append(label)
    labels = np.asarray(labels)
    train = np.zeros(len(labels), bool)
    train[rng.permutation(len(labels))[: len(labels) // 2]] = True
    single_acc = ridge_accuracy(np.asarray(single), labels, train, 8)
    diff_acc = ridge_accuracy(np.asarray(diff), labels, train, 8)
    # Chance is 1/8 = 0.125 (std of the estimate on 128 videos ~ 0.03); motion is nearly perfect.
    assert single_acc < 0.3, single_acc
    assert diff_acc > 0.8, diff_acc


# --------------------------------------------------------------------------- the spec, both tasks


def test_spec_defaults_per_task_and_errors_name_the_field(tmp_path):
    motion, objects = SyntheticSpec(), SyntheticSpec(task="objects")
    assert (motion.task, motion.num_classes, motion.speed) == ("motion", 8, (0.75, 2.0))
    assert (objects.num_classes, objects.speed, objects.num_distractors) == (12, (1.0, 2.0), (1, 2))
    assert objects.classes == OBJECT_CLASSES and OBJECT_CLASSES[:5] == (
        "BallMoveLeft",
        "BallMoveRight",
        "BallMoveUp",
        "BallMoveDown",
        "BarMoveLeft",
    )
    assert SyntheticSpec(task="objects", num_classes=2).classes == ("BallMoveLeft", "BallMoveRight")
    assert objects == SyntheticSpec(task="objects", num_classes=12, speed=[1, 2], num_distractors=[1, 2])
    bad = {
        "task": dict(task="object"),
        "num_classes": dict(task="objects", num_classes=13),
        "num_distractors": dict(num_distractors=(0, 1)),  # objects only
        "max_objects": dict(task="objects", max_objects=2),  # motion only
        "min_contrast": dict(task="objects", min_contrast=90),
        "speed": dict(speed=(2.0, 1.0)),
        "frame_size": dict(frame_size=(8, 8)),
    }
    for name, kwargs in bad.items():
        with pytest.raises(ValueError, match=f"^{name} ") as err:
            SyntheticSpec(**kwargs)
        assert err.value.field == name
    with pytest.raises(ValueError, match="num_classes must be in 2..8"):
        SyntheticSpec(num_classes=9)
    # A spec.json written before tasks existed (no task, no objects-only keys) reads as the motion task.
    old = {k: v for k, v in motion.to_dict().items() if k not in ("task", "num_distractors", "min_contrast")}
    (tmp_path / "spec.json").write_text(json.dumps(old))
    assert read_spec(tmp_path) == motion


def test_video_names_follow_ucf101_with_many_videos_per_class():
    spec = SyntheticSpec(task="objects", num_classes=2, videos_per_class_train=60, videos_per_class_test=10)
    names = video_names(spec)
    assert len(names) == 140 and len({stem for _, stem, _ in names}) == 140
    train = [stem for cls, stem, i in names if cls == "BallMoveLeft" and i < 60]
    test = [stem for cls, stem, i in names if cls == "BallMoveLeft" and i >= 60]
    assert train[:2] == ["v_BallMoveLeft_g08_c01", "v_BallMoveLeft_g09_c01"]
    assert train[18] == "v_BallMoveLeft_g08_c02" and train[-1] == "v_BallMoveLeft_g13_c04"
    assert test[7] == "v_BallMoveLeft_g01_c02" and test[-1] == "v_BallMoveLeft_g03_c02"
    groups = {int(stem.split("_g")[1][:2]) for stem in train}
    assert groups == set(range(8, 26)) and {int(s.split("_g")[1][:2]) for s in test} == set(range(1, 8))


def test_prepare_cli_chooses_the_task():
    from dualaction_lib.__main__ import build_parser
    from dualaction_lib.data.cli import spec_from_args

    base = ["prepare", "--dataset", "synthetic", "--root", "r", "--out", "o"]
    assert spec_from_args(build_parser().parse_args(base)) == SyntheticSpec()
    args = build_parser().parse_args([*base, "--task", "objects", "--num-classes", "6", "--frame-size", "48"])
    assert spec_from_args(args) == SyntheticSpec(task="objects", num_classes=6, frame_size=(48, 48))


# --------------------------------------------------------------------------- task "objects"

OBJECTS_SMALL = SyntheticSpec(
    task="objects",
    num_classes=5,
    videos_per_class_train=2,
    videos_per_class_test=1,
    num_frames=4,
    frame_size=(24, 32),
)


def test_objects_layout_balance_and_determinism(tmp_path):
    a = make_synthetic(tmp_path / "a", OBJECTS_SMALL)
    b = make_synthetic(tmp_path / "b", OBJECTS_SMALL)
    per_class = {c: sorted(p.name for p in (a / "videos" / c).glob("*.avi")) for c in OBJECT_CLASSES[:5]}
    assert [len(v) for v in per_class.values()] == [3] * 5 and not (a / "videos" / OBJECT_CLASSES[5]).exists()
    assert per_class["BarMoveLeft"] == [
        "v_BarMoveLeft_g01_c01.avi",
        "v_BarMoveLeft_g08_c01.avi",
        "v_BarMoveLeft_g09_c01.avi",
    ]
    assert (a / "splits/classInd.txt").read_bytes().split(b"\r\n")[4] == b"5 BarMoveLeft"
    train = (a / "splits/trainlist01.txt").read_bytes().decode().split("\r\n")
    assert train[-2] == "BarMoveLeft/v_BarMoveLeft_g09_c01.avi 5" and len(train) == 11
    entries, classes = load_index("synthetic", a / "splits", 1)
    assert classes == list(OBJECT_CLASSES[:5]) and len(entries) == 15
    assert read_spec(a) == OBJECTS_SMALL
    files = sorted((a / "videos").rglob("*.avi"))
    assert all(f.read_bytes() == (b / f.relative_to(a)).read_bytes() for f in files)
    frames = [render_video(OBJECTS_SMALL, "BarMoveLeft", np.random.default_rng(7)) for _ in range(2)]
    assert frames[0].shape == (4, 24, 32, 3) and np.array_equal(*frames)
    other = render_video(OBJECTS_SMALL, "BarMoveLeft", np.random.default_rng(8))
    assert not np.array_equal(frames[0], other)
    with pytest.raises(ValueError, match="not a class of this spec"):
        render_video(OBJECTS_SMALL, "BoxMoveDown", np.random.default_rng(0))  # class 12 > num_classes


def visible_masks(scene, t: float, height: int, width: int) -> list[tuple[np.ndarray, object, bool]]:
    """(coverage not hidden by the objects drawn above, shape, is the actor) of each object at time ``t``."""
    layers = scene.layers(t)
    masks = [shape.mask(centre, height, width) for shape, centre, _ in layers]
    out = []
    for i, (shape, _, is_actor) in enumerate(layers):
        hidden = np.prod([1 - m for m in masks[i + 1 :]], axis=0) if i + 1 < len(masks) else 1.0
        out.append((masks[i] * hidden, shape, is_actor))
    return out


def test_objects_actor_stays_in_view_and_every_object_contrasts_with_the_background():
    spec = SyntheticSpec(task="objects", num_frames=8, frame_size=(32, 40), seed=1)
    rng = np.random.default_rng(0)
    depths = []
    for i in range(48):
        cls = spec.classes[i % 12]
        scene = plan_scene(spec, cls, rng)
        frames = draw_scene(spec, scene, rng)
        assert scene.actor.kind == cls.split("Move")[0] and 1 <= len(scene.distractors) <= 2
        depths.append((scene.actor_depth, len(scene.distractors)))
        masks = np.stack([scene.actor_mask(t) for t in range(spec.num_frames)])
        border = masks[:, [0, -1], :].sum() + masks[:, :, [0, -1]].sum()
        areas = masks.sum(axis=(1, 2))
        assert border == 0 and areas.max() - areas.min() < 0.04 * areas.mean(), (cls, areas)
        displacement = scene.actor_centre(spec.num_frames - 1) - scene.actor_centre(0)
        assert np.sign(displacement).tolist() == {
            "Left": [-1, 0], "Right": [1, 0], "Up": [0, -1], "Down": [0, 1]
        }[cls.split("Move")[1]]  # fmt: skip
        background = float(luminance(scene.background.reshape(-1, 3).mean(0)))
        # The same contrast rule for the actor and the distractors: a frame does not tell them apart by it.
        for shape in [scene.actor, *(shape for shape, _ in scene.distractors)]:
            assert abs(shape.mean_luminance() - background) >= spec.min_contrast
        # As drawn: the actor's fully visible pixels, averaged over the video (noise and edges aside).
        drawn = []
        for t, frame in enumerate(frames):
            visible = next(m for m, _, is_actor in visible_masks(scene, t, 32, 40) if is_actor)
            if (visible > 0.999).sum() >= 4:
                drawn.append(luminance(frame.astype(float))[visible > 0.999].mean())
        assert abs(np.mean(drawn) - background) >= 0.85 * spec.min_contrast, (cls, drawn, background)
    # The actor is drawn at a random depth: under every distractor, between them, over them.
    assert {d for d, n in depths if n == 2} == {0, 1, 2} and {d for d, n in depths if n == 1} == {0, 1}


@pytest.fixture(scope="module")
def objects_videos():
    """24 videos per class of the 12 classes, 32x32 px, 8 frames: (videos, what, how, train mask)."""
    spec = SyntheticSpec(task="objects", num_frames=8, frame_size=(32, 32), seed=3)
    rng = np.random.default_rng(0)
    videos, labels = [], []
    for label, cls in enumerate(spec.classes):
        for _ in range(24):
            videos.append(render_video(spec, cls, rng))
            labels.append(label)
    labels = np.asarray(labels)
    train = np.zeros(len(labels), bool)
    train[rng.permutation(len(labels))[: len(labels) // 2]] = True
    return videos, labels // 4, labels % 4, train


def translation(a: np.ndarray, b: np.ndarray, threshold: float = 12.0) -> np.ndarray:
    """Translation (tx, ty) of what changed between two frames (least squares on its gradients)."""
    g0, g1 = _gray(a), _gray(b)
    gy, gx = np.gradient((g0 + g1) / 2)
    it = g1 - g0
    moving = np.abs(it) > threshold
    if moving.sum() < 2:
        return np.zeros(2)
    params, *_ = np.linalg.lstsq(np.stack([gx[moving], gy[moving]], -1), -it[moving], rcond=None)
    return params


def silhouette(mask: np.ndarray) -> list[float]:
    """Area, elongation and compactness of a binary mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return [0.0, 0.0, 0.0]
    small, large = np.sort(np.linalg.eigvalsh(np.cov(np.stack([xs, ys]))))
    return [mask.mean(), np.sqrt(large / max(small, 1e-3)), mask.mean() / max(np.sqrt(small * large), 1e-3)]


def moving_silhouette(frames: np.ndarray) -> list[float]:
    """``silhouette`` of where OpenCV's Farneback flow moves between the two middle frames."""
    gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    t = len(gray) // 2 - 1
    flow = cv2.calcOpticalFlowFarneback(gray[t], gray[t + 1], None, 0.5, 2, 7, 3, 5, 1.1, 0)
    return silhouette(np.hypot(flow[..., 0], flow[..., 1]) > 0.4)


def test_objects_direction_needs_motion_and_the_moving_silhouette_shows_the_kind(objects_videos):
    videos, what, how, train = objects_videos
    rng = np.random.default_rng(1)
    single = []
    for v in videos:
        frame = v[rng.integers(len(v))]
        thumb = cv2.resize(frame, (8, 8), interpolation=cv2.INTER_AREA).ravel()
        single.append(np.concatenate([frame_features(frame), thumb]))
    motion = [np.mean([translation(v[t], v[t + 1]) for t in range(len(v) - 1)], 0) for v in videos]
    first_last = [[(np.abs(_gray(v[-1]) - _gray(v[0])) > 20).mean()] for v in videos]
    moving = np.log(np.asarray([moving_silhouette(v) for v in videos]) + 1e-3)
    single_how = ridge_accuracy(np.asarray(single), how, train, 4)
    motion_how = ridge_accuracy(np.asarray(motion), how, train, 4)
    ball_or_box = what != 1
    area_ball_box = ridge_accuracy(
        np.asarray(first_last)[ball_or_box], what[ball_or_box] // 2, train[ball_or_box], 2
    )
    moving_what = ridge_accuracy(moving, what, train, 3)
    # Chance: 1/4 for how (std of the estimate on 144 test videos ~ 0.036), 1/2 ball/box, 1/3 what. The
    # moving silhouette is partly hidden when a distractor is drawn over the actor's path.
    assert single_how < 0.35, single_how
    assert motion_how > 0.9, motion_how
    assert area_ball_box > 0.9, area_ball_box
    assert moving_what > 0.7, moving_what
