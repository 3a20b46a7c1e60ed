"""Features and linear probes for bench/task_probes.py (where a task's class information is).

Features of one video, each from what one stream sees:
- ``frame_features``: one RGB frame -- an 8x8 colour thumbnail, a hue × chroma histogram, a luminance
  histogram and a gradient-orientation histogram (position-free appearance).
- ``object_cues``: per object of one frame, given its outline: how much of it is visible, its contrast
  with the background as drawn, its kind. What a single frame could use to pick the moving object.
- ``difference_features``: grayscale frame differences -- the translation of what changed (least squares
  on its gradients), an 8x8 thumbnail of the mean absolute difference, the changed region's shape.
- ``flow_features``: dequantized flow -- the moving region's (|flow| > 0.5 px) shape (area, elongation,
  compactness) and its mean flow.

Probes: multinomial logistic regression in torch (features standardised on the training videos, L2 weight
chosen on the last fifth of the training videos, then refit on all of them), and a conditional logit that
scores each object of a frame and picks one per video.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from dualaction_lib.data.synthetic.palette import chroma_direction
from dualaction_lib.data.synthetic.scene import luminance

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
MOVING_PX = 0.5  # |flow| above this is the moving region
CHANGED = 12.0  # |gray difference| above this (0-255) is what changed
_AXES = np.stack([chroma_direction(0.0), chroma_direction(90.0)], 1)  # BGR -> (red, yellow) chroma


def _thumb(image: np.ndarray, size: int = 8) -> np.ndarray:
    return cv2.resize(image.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA).ravel()


def _orientation_histogram(gray: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(gray)
    mag, ang = np.hypot(gx, gy), np.arctan2(gy, gx) % np.pi
    hist = np.bincount((ang / np.pi * 8).astype(int).clip(0, 7).ravel(), mag.ravel(), minlength=8)
    return np.concatenate([hist / (hist.sum() + 1e-6), [mag.mean()]])


def frame_features(frame: np.ndarray) -> np.ndarray:
    """Appearance of one BGR frame (see the module docstring)."""
    pixels = frame.reshape(-1, 3).astype(np.float64)
    luma = luminance(pixels)
    chroma = (pixels - luma[:, None]) @ _AXES
    hue = (np.degrees(np.arctan2(chroma[:, 1], chroma[:, 0])) % 360 // 30).astype(int)
    level = np.digitize(np.hypot(chroma[:, 0], chroma[:, 1]), (10.0, 25.0, 50.0))
    colour = np.bincount(hue * 4 + level, minlength=48).reshape(12, 4)[:, 1:].ravel() / len(pixels)
    lum_hist = np.bincount((luma / 32).astype(int).clip(0, 7), minlength=8) / len(pixels)
    gray = luma.reshape(frame.shape[:2])
    return np.concatenate([_thumb(frame) / 255, colour, lum_hist, _orientation_histogram(gray)])


def _shape_of(mask: np.ndarray) -> np.ndarray:
    """log (area, elongation, compactness) of a binary mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return np.log(np.full(3, 1e-3))
    small, large = np.sort(np.linalg.eigvalsh(np.cov(np.stack([xs, ys]))))
    area = mask.mean()
    shape = [area, np.sqrt(large / max(small, 1e-3)), area / max(np.sqrt(small * large), 1e-3)]
    return np.log(np.asarray(shape) + 1e-3)


def _translation(g0: np.ndarray, g1: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient((g0 + g1) / 2)
    it = g1 - g0
    moving = np.abs(it) > CHANGED
    if moving.sum() < 2:
        return np.zeros(2)
    params, *_ = np.linalg.lstsq(np.stack([gx[moving], gy[moving]], -1), -it[moving], rcond=None)
    return np.clip(params, -5, 5)


def difference_features(frames: np.ndarray) -> np.ndarray:
    """Motion from grayscale frame differences (see the module docstring)."""
    gray = luminance(frames.astype(np.float64))
    diffs = np.abs(np.diff(gray, axis=0))
    motion = np.mean([_translation(gray[t], gray[t + 1]) for t in range(len(gray) - 1)], 0)
    shape = np.mean([_shape_of(d > CHANGED) for d in diffs], 0)
    return np.concatenate([motion, _thumb(diffs.mean(0)) / 255, shape])


def flow_features(flows: np.ndarray) -> np.ndarray:
    """(T-1, H, W, 2) dequantized flow -> moving region shape (3) and mean flow in it and overall (4)."""
    magnitude = np.hypot(flows[..., 0], flows[..., 1])
    shape = np.mean([_shape_of(m > MOVING_PX) for m in magnitude], 0)
    moving = magnitude > MOVING_PX
    inside = flows[moving].mean(0) if moving.any() else np.zeros(2)
    return np.concatenate([shape, inside, flows.reshape(-1, 2).mean(0)])


def flow_region_features(flows: np.ndarray) -> np.ndarray:
    """Only the moving region's shape: what the flow says about *what* moves."""
    return flow_features(flows)[:3]


def object_cues(frame: np.ndarray, layers, kinds: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """(features (n, 6), index of the actor) of one frame's objects (``layers`` bottom to top).

    Per object: the visible share of its area (objects drawn above hide it), its contrast with the
    background's luminance as drawn (over its fully visible pixels), whether any pixel is fully visible,
    its kind.
    """
    height, width = frame.shape[:2]
    luma = luminance(frame.astype(np.float64))
    masks = [shape.mask(centre, height, width) for shape, centre, _ in layers]
    background = luma[np.max(masks, axis=0) < 1e-3].mean()
    rows = []
    for i, ((shape, _, _), mask) in enumerate(zip(layers, masks, strict=True)):
        above = masks[i + 1 :]
        seen = mask * np.prod([1 - m for m in above], axis=0) if above else mask
        core = seen > 0.99
        contrast = abs(luma[core].mean() - background) / 255 if core.sum() >= 3 else 0.0
        kind = [float(shape.kind == k) for k in kinds]
        rows.append([seen.sum() / max(mask.sum(), 1e-6), contrast, float(core.sum() >= 3), *kind])
    actor = next(i for i, (_, _, is_actor) in enumerate(layers) if is_actor)
    return np.asarray(rows), actor


def _standardise(x: np.ndarray, train: np.ndarray) -> torch.Tensor:
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    return torch.as_tensor((x - mean) / std, dtype=torch.float64)


def _fit(x: torch.Tensor, y: torch.Tensor, outputs: int, l2: float, mask: torch.Tensor | None = None):
    """Weights (w, b) of a logistic regression by L-BFGS; with ``mask`` (videos × objects) and
    ``outputs`` 1, a conditional logit: one score per object, a softmax over each video's objects."""
    w = torch.zeros(x.shape[-1], outputs, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(outputs, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(_logits(x, w, b, mask), y) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def _logits(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    out = x @ w + b
    return out if mask is None else out.squeeze(-1).masked_fill(~mask, -1e9)


def probe(x: np.ndarray, y: np.ndarray, train: np.ndarray, classes: int) -> np.ndarray:
    """Class probabilities (test videos × classes) of a logistic regression on ``x``, fitted on ``train``."""
    xt, yt = _standardise(x, train), torch.as_tensor(y)
    idx = np.flatnonzero(train)
    fit_idx, hold_idx = idx[: len(idx) * 4 // 5], idx[len(idx) * 4 // 5 :]

    def holdout(l2: float) -> float:
        w, b = _fit(xt[fit_idx], yt[fit_idx], classes, l2)
        return float((_logits(xt[hold_idx], w, b, None).argmax(1) == yt[hold_idx]).double().mean())

    best = max(L2_GRID, key=holdout)  # ties: the smallest
    w, b = _fit(xt[idx], yt[idx], classes, best)
    return torch.softmax(_logits(xt[~train], w, b, None), 1).numpy()


def object_probe(cues: list[np.ndarray], actor: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Per test video, whether a conditional logit on ``cues`` (trained on ``train``) picks the actor."""
    most = max(len(c) for c in cues)
    x = np.zeros((len(cues), most, cues[0].shape[1]))
    mask = np.zeros((len(cues), most), bool)
    for i, c in enumerate(cues):
        x[i, : len(c)], mask[i, : len(c)] = c, True
    objects_train = x[mask & train[:, None]]
    mean, std = objects_train.mean(0), objects_train.std(0) + 1e-6
    xt = torch.as_tensor((x - mean) / std * mask[..., None])
    mt, yt, tr = torch.as_tensor(mask), torch.as_tensor(actor), torch.as_tensor(train)
    w, b = _fit(xt[tr], yt[tr], 1, 1e-3, mask=mt[tr])
    return (_logits(xt[~tr], w, b, mt[~tr]).argmax(1) == yt[~tr]).numpy()
