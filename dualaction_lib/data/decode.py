"""Video decoding for extraction: OpenCV frames resampled to a target fps, short side (or whole frame)
resized."""

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


def _resize(
    frame: np.ndarray, short_side: int | None, frame_size: tuple[int, int] | None = None
) -> np.ndarray:
    """``frame_size`` (height, width): exactly that size, aspect ratio not kept (the seed paper's
    256 × 256); otherwise the short side to ``short_side`` (None or <= 0: unchanged)."""
    height, width = frame.shape[:2]
    if frame_size:
        out_h, out_w = frame_size
    elif short_side and short_side > 0 and min(height, width) != short_side:
        scale = short_side / min(height, width)
        out_h, out_w = max(1, round(height * scale)), max(1, round(width * scale))
    else:
        return frame
    if (out_h, out_w) == (height, width):
        return frame
    shrinking = out_h * out_w < height * width
    return cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _declared_frames(cap: cv2.VideoCapture) -> int | None:
    count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    return int(count) if math.isfinite(count) and count > 0 else None  # streams may not declare it


class DecodedVideo:
    """BGR uint8 frames of ``path`` at ``fps``, short side resized; counts what was decodable.

    Iterate once. Afterwards ``source_frames`` is the number of clean source frames, ``declared_frames``
    the container's frame count (None if it gives none) and ``partial`` tells whether the stream ended
    before its declared length. A stream cut short (a truncated file) ends in the middle of a frame's
    data, and decoders conceal the rest (a grey or smeared band) without reporting it, so the last frame
    decoded before the early end is dropped: it is the one the cut went through.
    """

    def __init__(
        self, path: Path, fps: float | None, short_side: int | None, frame_size: tuple[int, int] | None = None
    ) -> None:
        self.path, self.fps, self.short_side = Path(path), fps, short_side
        self.frame_size = tuple(frame_size) if frame_size else None
        self.source_frames = 0
        self.declared_frames: int | None = None

    @property
    def partial(self) -> bool:
        return self.declared_frames is not None and self.source_frames < self.declared_frames

    def __iter__(self) -> Iterator[np.ndarray]:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise VideoReadError(f"OpenCV cannot open {self.path}")
        try:
            self.declared_frames = _declared_frames(cap)
            targets = resample_indices(_source_fps(cap), self.fps)
            want, index = next(targets), 0
            held = None  # the last frame read, yielded once the next read shows the stream goes on
            while True:
                ok, frame = cap.read()
                if not ok or frame is None:
                    break
                if held is not None:
                    while want == index:
                        yield _resize(held, self.short_side, self.frame_size)
                        want = next(targets)
                    index += 1
                held = frame
            self.source_frames = index
            early_end = self.declared_frames is not None and index + 1 < self.declared_frames
            if held is not None and not early_end:
                self.source_frames = index + 1
                while want == index:
                    yield _resize(held, self.short_side, self.frame_size)
                    want = next(targets)
        finally:
            cap.release()
