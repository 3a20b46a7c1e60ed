"""Embedded benchmark: UCF-101 layout, determinism, and class information in motion only."""

from __future__ import annotations

import numpy as np
import pytest

from dualaction_lib.data.layouts import load_index
from dualaction_lib.data.synthetic import CLASSES, SyntheticSpec, make_synthetic, render_video

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
