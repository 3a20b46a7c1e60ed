"""Flow <-> uint8 quantization shared by flow extraction (JPEG storage) and the data loaders.

A flow component f (pixels) is clipped to [-bound, bound] and mapped linearly to [0, 255]:
``q = 255 * (f + bound) / (2 * bound)``. One level is ``2 * bound / 255`` px (0.157 px for bound 20).

Rounding: ``"round"`` (denseflow / mmaction2) is the default because it is unbiased and its worst-case
error is half a level (40 / 255 / 2 = 0.078 px for bound 20). ``"truncate"`` reproduces MARS's
``uint8(...)`` cast: it always rounds down, so the stored flow is biased by -half a level on average
(error up to a full level) and zero flow lands on 127 instead of 127.5 -> 128.
"""

from __future__ import annotations

import numpy as np

DEFAULT_BOUND = 20.0


def quantize_flow(flow: np.ndarray, bound: float = DEFAULT_BOUND, rounding: str = "round") -> np.ndarray:
    """Clip ``flow`` (any shape, float) to +-bound and map it to uint8 [0, 255] (same shape)."""
    if bound <= 0:
        raise ValueError(f"bound must be positive, got {bound}")
    scaled = (np.clip(np.asarray(flow, dtype=np.float64), -bound, bound) + bound) * (255.0 / (2.0 * bound))
    if rounding == "round":
        scaled = np.rint(scaled)
    elif rounding == "truncate":
        scaled = np.floor(scaled)  # values are >= 0, so floor == MARS's uint8 cast
    else:
        raise ValueError(f"rounding must be 'round' or 'truncate', got {rounding!r}")
    return np.clip(scaled, 0, 255).astype(np.uint8)


def dequantize_flow(q: np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Inverse map of :func:`quantize_flow`: uint8 levels -> float32 flow in pixels."""
    q = np.asarray(q)
    return (q.astype(np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)).astype(np.float32)
