"""Optical flow: TV-L1 (our batched PyTorch port and OpenCV's reference), quantization, colour coding.

from dualaction_lib.flow import tvl1
flow = tvl1(prev, nxt, backend="torch")   # (H, W, 2) or (N, H, W, 2) float32, [..., 0] = u (x)
"""

from __future__ import annotations

import numpy as np

from .color import color_wheel_legend, draw_flow_arrows, flow_magnitude, flow_overlay, flow_to_color
from .opencv import TVL1_DEFAULTS, dis_flow, farneback_flow, tvl1_opencv
from .quantize import DEFAULT_BOUND, dequantize_flow, quantize_flow

__all__ = [
    "DEFAULT_BOUND",
    "TVL1_DEFAULTS",
    "color_wheel_legend",
    "dequantize_flow",
    "dis_flow",
    "draw_flow_arrows",
    "farneback_flow",
    "flow_magnitude",
    "flow_overlay",
    "flow_to_color",
    "quantize_flow",
    "tvl1",
    "tvl1_consecutive",
    "tvl1_opencv",
]


def tvl1(
    prev,
    nxt,
    backend: str = "torch",
    device=None,
    batch_size: int | None = None,
    compile: bool = False,
    **params,
) -> np.ndarray:
    """Dual TV-L1 optical flow from ``prev`` to ``nxt`` (docs/architecture.md, "Optical flow").

    prev, nxt: grayscale ``(H, W)`` or ``(N, H, W)``, uint8 or float in [0, 255], numpy or torch.
    backend: ``"torch"`` (ours, batched, any torch device) or ``"opencv"`` (cv2.optflow reference).
    device: torch device for the torch backend (default: the input tensor's device, else CPU).
    batch_size: pairs processed at once by the torch backend (bounds memory); None = a size-based default.
    compile: torch backend only; ``torch.compile`` the inner step into fused loops. On the 2-core CPU
        it measured 1.1x eager with 1 thread and slower with 2 (bench/flow.py), after a one-off
        compilation of 0.5-2 min, so eager is the default; try it on GPUs / long extraction runs.
    params: OpenCV's DualTVL1 parameters in snake_case (tau, lambda_ / lambda, theta, nscales, warps,
        epsilon, inner_iterations, outer_iterations, scale_step, gamma, median_filtering).
    Returns float32 numpy ``(..., H, W, 2)``; ``prev(y, x) ≈ nxt(y + v, x + u)``.
    """
    if backend == "opencv":
        return tvl1_opencv(prev, nxt, **params)
    if backend == "torch":
        from .tvl1_torch import tvl1_torch  # lazy: importing torch is slow and not needed for opencv

        return tvl1_torch(prev, nxt, device=device, batch_size=batch_size, compile=compile, **params)
    raise ValueError(f"backend must be 'torch' or 'opencv', got {backend!r}")


def tvl1_consecutive(frames, backend: str = "torch", batch_size: int | None = None, **kwargs) -> np.ndarray:
    """Flow between consecutive frames of one video: (N, H, W) grayscale -> (N - 1, H, W, 2).

    For extraction. The torch backend solves ``batch_size`` pairs at a time as one batch (default:
    about 16 pairs of 320x240 per chunk) and converts the input chunk by chunk, so memory stays bounded
    for any video length; ``frames`` may be a numpy array or a torch tensor (e.g. already on the GPU).
    """
    if len(frames) < 2:
        shape = tuple(frames.shape) if hasattr(frames, "shape") else np.shape(frames)
        return np.zeros((0, *shape[1:], 2), np.float32)
    return tvl1(frames[:-1], frames[1:], backend=backend, batch_size=batch_size, **kwargs)
