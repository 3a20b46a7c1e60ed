"""OpenCV flow backends: the reference DualTVL1 (opencv-contrib) plus DIS and Farneback for comparison.

All functions take ``tvl1``'s inputs (grayscale ``(H, W)`` or ``(N, H, W)``, uint8 or float in
[0, 255], numpy or torch) and return float32 numpy ``(..., H, W, 2)`` with ``[..., 0] = u`` (x).
OpenCV is single-pair, so batches are a Python loop over pairs (each call is multi-threaded inside).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

# tvl1's snake_case parameter name -> (OpenCV setter, cast). Defaults are OpenCV's (see TVL1_DEFAULTS).
_TVL1_SETTERS: dict[str, tuple[str, type]] = {
    "tau": ("setTau", float),
    "lambda_": ("setLambda", float),
    "theta": ("setTheta", float),
    "nscales": ("setScalesNumber", int),
    "warps": ("setWarpingsNumber", int),
    "epsilon": ("setEpsilon", float),
    "inner_iterations": ("setInnerIterations", int),
    "outer_iterations": ("setOuterIterations", int),
    "scale_step": ("setScaleStep", float),
    "gamma": ("setGamma", float),
    "median_filtering": ("setMedianFiltering", int),
}

TVL1_DEFAULTS: dict[str, float] = {
    "tau": 0.25,
    "lambda_": 0.15,
    "theta": 0.3,
    "nscales": 5,
    "warps": 5,
    "epsilon": 0.01,
    "inner_iterations": 30,
    "outer_iterations": 10,
    "scale_step": 0.8,
    "gamma": 0.0,
    "median_filtering": 5,
}


def normalize_params(params: dict) -> dict:
    """Accept ``lambda`` / ``lambda_`` / ``lam`` for lambda; reject unknown names; fill defaults."""
    params = dict(params)
    for alias in ("lambda", "lam"):
        if alias in params:
            params["lambda_"] = params.pop(alias)
    unknown = set(params) - set(TVL1_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown TV-L1 parameter(s) {sorted(unknown)}; known: {sorted(TVL1_DEFAULTS)}")
    return {**TVL1_DEFAULTS, **params}


def as_gray_batch(img) -> tuple[np.ndarray, bool]:
    """Return float32 numpy ``(N, H, W)`` in [0, 255] and whether the input was a single ``(H, W)``."""
    if hasattr(img, "detach"):  # torch tensor, without importing torch here
        img = img.detach().cpu().numpy()
    arr = np.asarray(img)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected grayscale (H, W) or (N, H, W), got shape {arr.shape}")
    single = arr.ndim == 2
    return arr[None].astype(np.float32) if single else arr.astype(np.float32), single


def _check_pair(prev, nxt) -> tuple[np.ndarray, np.ndarray, bool]:
    a, single = as_gray_batch(prev)
    b, _ = as_gray_batch(nxt)
    if a.shape != b.shape:
        raise ValueError(f"prev and nxt shapes differ: {a.shape} vs {b.shape}")
    return a, b, single


def _per_pair(prev, nxt, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    a, b, single = _check_pair(prev, nxt)
    out = np.stack([fn(x, y) for x, y in zip(a, b, strict=True)]).astype(np.float32)
    return out[0] if single else out


def make_tvl1(**params) -> cv2.optflow.DualTVL1OpticalFlow:
    """A configured ``cv2.optflow.DualTVL1OpticalFlow`` (``tvl1``'s snake_case parameter names)."""
    algo = cv2.optflow.DualTVL1OpticalFlow_create()
    for name, value in normalize_params(params).items():
        setter, cast = _TVL1_SETTERS[name]
        getattr(algo, setter)(cast(value))
    return algo


def tvl1_opencv(prev, nxt, **params) -> np.ndarray:
    """OpenCV's DualTVL1 on each pair (inputs in [0, 255], uint8 or float)."""
    algo = make_tvl1(**params)
    # OpenCV multiplies float32 input by 255 (it expects [0, 1]) and uint8 by 1, so hand it [0, 1] floats.
    return _per_pair(prev, nxt, lambda a, b: algo.calc(a / 255.0, b / 255.0, None))


def dis_flow(prev, nxt, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> np.ndarray:
    """OpenCV DIS optical flow (needs uint8; float input is rounded)."""
    algo = cv2.DISOpticalFlow_create(preset)
    return _per_pair(prev, nxt, lambda a, b: algo.calc(_to_u8(a), _to_u8(b), None))


def farneback_flow(prev, nxt, **kwargs) -> np.ndarray:
    """OpenCV Farneback flow with the commonly used parameters (overridable by keyword)."""
    p = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2}
    p.update(kwargs)

    def one(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(
            _to_u8(a), _to_u8(b), None, p["pyr_scale"], p["levels"], p["winsize"],
            p["iterations"], p["poly_n"], p["poly_sigma"], 0,
        )  # fmt: skip

    return _per_pair(prev, nxt, one)


def _to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)
