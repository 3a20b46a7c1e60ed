"""Drawing helpers both tasks share: periodic noise textures, textured backgrounds, antialiased masks.

Coordinates are OpenCV's: x to the right, y down, pixel centres at integers (pixel ``j`` covers
``[j - 0.5, j + 0.5]``).
"""

from __future__ import annotations

import cv2
import numpy as np

SUPERSAMPLE = 8  # masks are drawn this many times larger, then area-averaged down (area steady to ~2 %)
_SHIFT = 4  # fractional bits of cv2's drawing coordinates (1/16 of a supersampled pixel)
_LUMA_BGR = np.array([0.114, 0.587, 0.299])  # ITU-R BT.601, in OpenCV's BGR order


def periodic_noise(rng: np.random.Generator, size: int, period: float) -> np.ndarray:
    """Smooth noise on a torus (FFT low-pass of white noise), (size, size) float in [0, 1]."""
    freq = np.fft.fftfreq(size)
    radius2 = freq[:, None] ** 2 + freq[None, :] ** 2
    spectrum = np.fft.fft2(rng.standard_normal((size, size))) * np.exp(-radius2 * (period**2) * 2.0)
    noise = np.fft.ifft2(spectrum).real
    noise -= noise.min()
    return noise / max(float(noise.max()), 1e-8)


def noise_background(
    rng: np.random.Generator, size: int, period: tuple[float, float], contrast: tuple[float, float]
) -> np.ndarray:
    """A periodic two-colour noise texture with finer detail, (size, size, 3) float BGR, not clipped.

    ``period`` is a range in units of ``size``; ``contrast`` a range of the sharpening of the mix.
    """
    scale = size * rng.uniform(*period)
    sharpen = rng.uniform(*contrast)
    mix = np.clip((periodic_noise(rng, size, scale)[..., None] - 0.5) * sharpen + 0.5, 0, 1)
    low, high = rng.uniform(0, 255, (2, 3))
    detail = periodic_noise(rng, size, scale / 3)[..., None]
    return (low * (1 - mix) + high * mix) * (0.75 + 0.5 * detail)


def shifted(texture: np.ndarray, offset, height: int, width: int) -> np.ndarray:
    """``texture`` (periodic) moved by ``offset`` (x, y) px, sub-pixel, cut to (height, width)."""
    matrix = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
    flags, border = cv2.INTER_LINEAR, cv2.BORDER_WRAP
    return cv2.warpAffine(texture.astype(np.float32), matrix, (width, height), flags=flags, borderMode=border)


def luminance(bgr) -> np.ndarray:
    """Luma (0-255 scale) of BGR colours or images, over the last axis."""
    return np.asarray(bgr, np.float64) @ _LUMA_BGR


def _to_fixed(points: np.ndarray) -> np.ndarray:
    """Frame coordinates → cv2's fixed-point coordinates on the supersampled canvas."""
    big = (np.asarray(points, np.float64) + 0.5) * SUPERSAMPLE - 0.5
    return np.rint(big * (1 << _SHIFT)).astype(np.int32)


def _downsample(layer: np.ndarray, height: int, width: int) -> np.ndarray:
    return cv2.resize(layer, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def polygon_mask(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Coverage (height, width) float32 in [0, 1] of the filled polygon ``points`` (n, 2) (x, y)."""
    layer = np.zeros((height * SUPERSAMPLE, width * SUPERSAMPLE), np.uint8)
    cv2.fillPoly(layer, [_to_fixed(points)], 255, cv2.LINE_8, _SHIFT)
    return _downsample(layer, height, width)


def disc_mask(centre, radius: float, height: int, width: int) -> np.ndarray:
    """Coverage (height, width) float32 in [0, 1] of the disc of ``radius`` px around ``centre`` (x, y)."""
    layer = np.zeros((height * SUPERSAMPLE, width * SUPERSAMPLE), np.uint8)
    r = int(round(radius * SUPERSAMPLE * (1 << _SHIFT)))
    cv2.circle(layer, tuple(int(v) for v in _to_fixed(centre)), r, 255, -1, cv2.LINE_8, _SHIFT)
    return _downsample(layer, height, width)
