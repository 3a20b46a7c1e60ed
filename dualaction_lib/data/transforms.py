"""Spatial transforms shared by the RGB and flow clips of one sample (same crop, same flip).

Clips are uint8 numpy arrays ``(T, H, W, C)``: RGB (C = 3, RGB order) or flow (C = 2, x then y).
- Training (MARS): one square crop per clip whose side is ``scale * short side`` (scale drawn from
  ``scales``), at the centre or one of the 4 corners, resized to ``crop_size``; horizontal flip with p = 0.5.
- Test: the frame's short side is (virtually) resized to ``test_short_side`` (default ``crop_size``, which
  is MARS's protocol) and a ``crop_size`` square is cut at the centre, or at 3 positions along the long
  side (mmaction2 ``ThreeCrop``). Both are done as one crop-and-resize of the original frame (MARS resizes
  the whole frame, then crops: the same region up to a sub-pixel offset).
- Resize (``resize``): "linear" is OpenCV's INTER_LINEAR (fast; samples 2 x 2 pixels, so it aliases when
  downscaling); "pil_bilinear" is PIL's ``Image.resize(size, BILINEAR)`` per frame, whose filter widens
  with the scale (antialiased) -- what MARS's loader does, to RGB images and to each flow axis as an 8-bit
  'L' image.
- Flip negates flow-x: in uint8 space ``v -> 255 - v`` (exact, as 127.5 is zero flow). It comes after the
  resize; mirroring and inverting are per pixel, so the order of the two gives MARS's values (resize,
  ``FLIP_LEFT_RIGHT``, ``ImageChops.invert``).
- Normalization presets: "mars" (0-255 input; RGB minus the ActivityNet mean, flow minus 127.5) and
  "kinetics" (RGB on 0-1 minus torchvision's Kinetics mean, divided by its std; flow mapped to [-1, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import cv2
import numpy as np
from PIL import Image

from dualaction_lib.choices import Norm, Resize

MARS_SCALES = (1.0, 2**-0.25, 2**-0.5, 2**-0.75, 0.5)
ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)  # RGB, 0-255
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)  # RGB, 0-1
KINETICS_STD = (0.22803, 0.22145, 0.216989)
NORMS: tuple[str, ...] = get_args(Norm)
RESIZES: tuple[str, ...] = get_args(Resize)
_CORNERS = ("centre", "top_left", "top_right", "bottom_left", "bottom_right")


@dataclass(frozen=True)
class CropBox:
    y: int
    x: int
    height: int
    width: int
    flip: bool = False


def corner_box(height: int, width: int, side: int, where: str, flip: bool = False) -> CropBox:
    """A ``side``-square at the centre or a corner of a ``height x width`` frame."""
    side = max(1, min(side, height, width))
    ys = {"top": 0, "centre": (height - side) // 2, "bottom": height - side}
    xs = {"left": 0, "centre": (width - side) // 2, "right": width - side}
    vertical, _, horizontal = where.partition("_") if where != "centre" else ("centre", "", "centre")
    return CropBox(ys[vertical], xs[horizontal], side, side, flip)


def sample_train_box(height: int, width: int, scales, rng: np.random.Generator, flip: bool = True) -> CropBox:
    """MARS multi-scale corner crop: side = scale * short side, at the centre or a corner; random flip."""
    scale = float(scales[int(rng.integers(len(scales)))])
    where = _CORNERS[int(rng.integers(len(_CORNERS)))]
    flipped = bool(flip and rng.random() < 0.5)
    return corner_box(height, width, int(min(height, width) * scale), where, flipped)


def test_boxes(height: int, width: int, crop_size: int, test_short_side: int, crops: int) -> list[CropBox]:
    """Centre crop (crops=1) or ThreeCrop (crops=3) after resizing the short side to test_short_side."""
    if crop_size > test_short_side:
        raise ValueError(f"crop_size {crop_size} exceeds the test short side {test_short_side}")
    side = round(crop_size * min(height, width) / test_short_side)  # crop side in original pixels
    if crops == 1:
        return [corner_box(height, width, side, "centre")]
    if crops != 3:
        raise ValueError(f"crops must be 1 or 3, got {crops}")
    centre = corner_box(height, width, side, "centre")
    if width >= height:
        return [CropBox(centre.y, x, side, side) for x in (0, centre.x, width - side)]
    return [CropBox(y, centre.x, side, side) for y in (0, centre.y, height - side)]


def crop_resize(
    clip: np.ndarray, box: CropBox, size: int, flow: bool = False, resize: str = "linear"
) -> np.ndarray:
    """(T, H, W, C) uint8 -> (T, size, size, C) uint8: crop, resize (``RESIZES``), flip (negating flow-x)."""
    patch = clip[:, box.y : box.y + box.height, box.x : box.x + box.width]
    if patch.shape[1:3] != (size, size):
        if resize == "linear":
            # Per frame: faster than one call on T*C stacked channels, and INTER_AREA is limited to 4.
            resized = [cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR) for frame in patch]
        elif resize == "pil_bilinear":
            resized = [pil_resize(frame, size) for frame in patch]
        else:
            raise ValueError(f"resize must be one of {RESIZES}, got {resize!r}")
        patch = np.stack(resized).reshape(len(patch), size, size, -1)
    if box.flip:
        patch = patch[:, :, ::-1]
        if flow:
            patch = patch.copy()
            patch[..., 0] = 255 - patch[..., 0]  # mirrored motion: u -> -u
    return np.ascontiguousarray(patch)


def pil_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, C) uint8 -> (size, size, C) with PIL's antialiased bilinear, as MARS: an RGB frame as one
    'RGB' image, any other channel count (flow x, y) one 'L' image per channel."""

    def one(image: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((size, size), Image.BILINEAR))

    if frame.shape[-1] == 3:
        return one(frame)
    return np.stack([one(frame[..., c]) for c in range(frame.shape[-1])], axis=-1)


def normalize_rgb(clip: np.ndarray, norm: str) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (3, T, H, W) float32."""
    x = clip.astype(np.float32)
    if norm == "mars":
        x -= np.asarray(ACTIVITYNET_MEAN, np.float32)
    elif norm == "kinetics":
        x = (x / 255.0 - np.asarray(KINETICS_MEAN, np.float32)) / np.asarray(KINETICS_STD, np.float32)
    else:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2))


def normalize_flow(clip: np.ndarray, norm: str) -> np.ndarray:
    """(T, H, W, 2) uint8 -> (2, T, H, W) float32; "mars": v - 127.5, "kinetics": (v - 127.5) / 127.5."""
    x = clip.astype(np.float32) - np.float32(127.5)
    if norm == "kinetics":
        x /= np.float32(127.5)
    elif norm != "mars":
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2))
