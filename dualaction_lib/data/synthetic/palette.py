"""Object and background colours of the object tasks.

- Task "objects": any colour (uniform in BGR).
- Task "mixed": the scene (background, distractors, the ball and bar actors) is washed out, keeping
  ``NEUTRAL_KEEP`` of its chroma; the box actors are *warm* (red to yellow) or *cool* (cyan to blue) at full
  chroma. A warm and a cool colour are drawn from the same three numbers (luminance, chroma, hue offset), the
  cool hue opposite the warm one, so the two have the same luminance: flow, computed on grayscale frames,
  cannot tell them apart, while a single RGB frame can.
"""

from __future__ import annotations

import numpy as np

from .scene import luminance

NEUTRAL_KEEP = 0.25  # the share of its chroma a washed-out colour keeps
FAMILY_HUE = {"Warm": 45.0, "Cool": 225.0}  # degrees in the chroma plane: 0 = red, 90 = yellow, 180 = green
HUE_SPREAD = 30.0  # ± degrees around the family's hue
FAMILY_LUMA = (30.0, 225.0)  # luminance of a family colour, 0-255
FAMILY_CHROMA = (0.7, 1.0)  # × the largest chroma a colour of that luminance can have in either family


def desaturate(bgr, keep: float = NEUTRAL_KEEP) -> np.ndarray:
    """Colours or images (last axis BGR) moved toward the gray of their luminance, keeping ``keep`` chroma."""
    bgr = np.asarray(bgr, np.float64)
    luma = luminance(bgr)[..., None]
    return luma + keep * (bgr - luma)


def _zero_luma(bgr) -> np.ndarray:
    """The unit chroma direction of ``bgr``: luminance removed (the luma weights sum to 1)."""
    v = np.asarray(bgr, np.float64)
    v = v - luminance(v)
    return v / np.linalg.norm(v)


_RED = _zero_luma((0.0, -1.0, 1.0))  # BGR: red against green
_YELLOW = _zero_luma((-1.0, 0.5, 0.5))  # yellow against blue


def chroma_direction(hue_degrees: float) -> np.ndarray:
    """Unit BGR direction of zero luminance at ``hue_degrees`` (0 red, 90 yellow, 180 green, 270 blue)."""
    h = np.radians(hue_degrees)
    v = np.cos(h) * _RED + np.sin(h) * _YELLOW
    return v / np.linalg.norm(v)


def any_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, 3)


def neutral_colour(rng: np.random.Generator) -> np.ndarray:
    return desaturate(rng.uniform(0, 255, 3))


def family_colour(rng: np.random.Generator, family: str) -> np.ndarray:
    """A ``family`` ("Warm" or "Cool") colour; the same draws give the other family the same luminance."""
    luma = rng.uniform(*FAMILY_LUMA)
    chroma = rng.uniform(*FAMILY_CHROMA)
    offset = rng.uniform(-HUE_SPREAD, HUE_SPREAD)
    direction = chroma_direction(FAMILY_HUE[family] + offset)  # the other family's is its negative
    reach = min(luma, 255.0 - luma) / float(np.abs(direction).max())  # in gamut for either sign
    return luma + chroma * reach * direction
