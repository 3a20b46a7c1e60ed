"""Video decoding for extraction: OpenCV frames resampled to a target fps, short side resized."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np


class VideoReadError(RuntimeError):
    """A video that cannot be decoded into at least 2 frames (a documented skip, not a crash)."""


def resample_indices(src_fps: float | None, fps: float | None) -> Iterator[int]:
    """Source frame index for output frames 0, 1, 2, ... (nearest frame in time; may repeat or skip)."""
    ratio = 1.0 if not fps or fps <= 0 or not src_fps else src_fps / fps
    j = 0
    while True:
        yield math.floor(j * ratio + 0.5)
        j += 1


def _source_fps(cap: cv2.VideoCapture) -> float | None:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if math.isfinite(fps) and 0 < fps < 1000 else None  # broken header: keep frames


def _resize(frame: np.ndarray, short_side: int | None) -> np.ndarray:
    height, width = frame.shape[:2]
    if not short_side or short_side <= 0 or min(height, width) == short_side:
        return frame
    scale = short_side / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=interp)


def decode_frames(path: Path, fps: float | None, short_side: int | None) -> Iterator[np.ndarray]:
    """Yield BGR uint8 frames of ``path`` at ``fps`` with the short side resized to ``short_side``."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoReadError(f"OpenCV cannot open {path}")
    try:
        targets = resample_indices(_source_fps(cap), fps)
        want, index = next(targets), 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            while want == index:
                yield _resize(frame, short_side)
                want = next(targets)
            index += 1
    finally:
        cap.release()
