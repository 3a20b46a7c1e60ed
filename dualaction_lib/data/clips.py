"""Temporal sampling: which frame positions (0-based) make up each clip.

A *position* p is frame p and, for flow, the flow from frame p to p+1. A video with N frames has N-1
flows, so clips that use flow (modality "flow" or "rgb+flow") sample the N-1 positions that have both;
RGB-only clips sample all N frames. Short videos loop (MARS): position k of a clip is ``(start + k) % n``.
"""

from __future__ import annotations

import numpy as np


def _looped(start: int, clip_len: int, n: int) -> np.ndarray:
    return (start + np.arange(clip_len)) % n


def _check(n: int, clip_len: int) -> None:
    if n < 1:
        raise ValueError(f"a video needs at least 1 clip position, got {n}")
    if clip_len < 1:
        raise ValueError(f"clip_len must be >= 1, got {clip_len}")


def train_clip(n: int, clip_len: int, rng: np.random.Generator) -> np.ndarray:
    """T consecutive positions from a uniformly random start; a video shorter than T loops from 0."""
    _check(n, clip_len)
    start = int(rng.integers(0, n - clip_len + 1)) if n >= clip_len else 0
    return _looped(start, clip_len, n)


def mars_test_clips(n: int, clip_len: int) -> np.ndarray:
    """All floor(n / T) non-overlapping clips from position 0, (K, T); one looped clip if n < T."""
    _check(n, clip_len)
    count = max(1, n // clip_len)
    return np.stack([_looped(k * clip_len, clip_len, n) for k in range(count)])


def multiclip_test_clips(n: int, clip_len: int, num_clips: int) -> np.ndarray:
    """mmaction2 ``SampleFrames(test_mode=True)``: num_clips evenly spaced clips, (num_clips, T).

    Clip k starts at ``int(interval * (k + 0.5))`` with ``interval = (n - T + 1) / num_clips``; when the
    video is shorter than T every clip starts at 0 and loops.
    """
    _check(n, clip_len)
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    interval = max(0.0, (n - clip_len + 1) / num_clips)
    starts = (interval * (np.arange(num_clips) + 0.5)).astype(int) if n >= clip_len else [0] * num_clips
    return np.stack([_looped(int(s), clip_len, n) for s in starts])


def num_positions(n_frames: int, n_flows: int | None, modality: str) -> int:
    """Clip positions of a video for ``modality``; checks the frame/flow counts agree (N -> N-1)."""
    if n_frames < 2 and modality != "rgb":
        raise ValueError(f"{n_frames} frame(s): at least 2 are needed to have a flow")
    if modality == "rgb":
        if n_frames < 1:
            raise ValueError("no frames")
        return n_frames
    if n_flows != n_frames - 1:
        raise ValueError(f"{n_frames} frames but {n_flows} flows; a video with N frames must have N-1 flows")
    return n_flows
