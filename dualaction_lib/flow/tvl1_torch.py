"""Batched Dual TV-L1 optical flow in PyTorch, following OpenCV's ``cv2.optflow.DualTVL1OpticalFlow``.

Zach, Pock & Bischof's duality-based TV-L1 as OpenCV implements it: an image pyramid built by repeated
bilinear resizing by ``scale_step``; at each scale ``warps`` re-linearizations around the current flow
(bicubic warp of the second image and of its centred gradient); inside each, up to ``outer_iterations``
x ``inner_iterations`` primal-dual steps (thresholding with lambda*theta, primal update from the divergence
of the dual field, dual update ``p = (p + tau/theta grad u) / (1 + tau/theta |grad u|)``), a 5x5 median
filter of the flow before every outer iteration, and OpenCV's stopping rule
``sum |u_k+1 - u_k|^2 <= epsilon^2 * area`` evaluated per pair.

A batch of N pairs is one tensor program: each step runs on (N, C, H, W) tensors. Converged pairs stop
updating (per-pair rule, so a batch gives the per-pair results). On CPU, converged pairs are dropped
from the working set at once (a host check is free there); on CUDA they are frozen with a mask on the
device and the host is consulted only once per outer iteration, to drop them and to exit early.
"""

from __future__ import annotations

import numpy as np
import torch

from .opencv import normalize_params
from .tvl1_ops import centered_gradient, median_blur, pyramid, resize_flow, tv_step, warp_bicubic

# Pixels per chunk when batch_size is None: ~16 pairs of 320x240 (about 100 MB of float32 state).
DEFAULT_CHUNK_PIXELS = 16 * 320 * 240


def tvl1_torch(
    prev,
    nxt,
    device=None,
    batch_size: int | None = None,
    compile: bool = False,
    host_sync: bool | None = None,
    **params,
):
    """TV-L1 flow from ``prev`` to ``nxt`` (see :func:`dualaction_lib.flow.tvl1`); float32 numpy out.

    batch_size: pairs per chunk, bounds memory (default: as many as fit in ``DEFAULT_CHUNK_PIXELS``).
    compile: run the inner step (and, off CPU, the median) through ``torch.compile`` (see tvl1).
    host_sync: test convergence on the host every iteration and drop converged pairs (default on CPU),
        or freeze them with on-device masks and sync once per outer iteration (default elsewhere).
    """
    prm = normalize_params(params)
    prev, nxt = (x if isinstance(x, torch.Tensor) else np.asarray(x) for x in (prev, nxt))
    single = prev.ndim == 2
    if single:
        prev, nxt = prev[None], nxt[None]
    if tuple(prev.shape) != tuple(nxt.shape):
        raise ValueError(f"prev and nxt shapes differ: {tuple(prev.shape)} vs {tuple(nxt.shape)}")
    n, h, w = prev.shape
    if batch_size is None:
        batch_size = max(1, DEFAULT_CHUNK_PIXELS // (h * w))
    dev = torch.device(device) if device is not None else _device_of(prev)
    ops = _compiled_ops(dev.type) if compile else (tv_step, median_blur)
    prm["host_sync"] = dev.type == "cpu" if host_sync is None else host_sync
    flows = []
    with torch.no_grad():
        for k in range(0, n, batch_size):  # inputs are converted per chunk: memory stays bounded
            i0, i1 = _as_tensor(prev[k : k + batch_size], dev), _as_tensor(nxt[k : k + batch_size], dev)
            flows.append(tvl1_batch(i0, i1, prm, ops).cpu())
    out = torch.cat(flows).numpy() if flows else np.zeros((0, h, w, 2), np.float32)
    return out[0] if single else out


def _device_of(img) -> torch.device:
    return img.device if isinstance(img, torch.Tensor) else torch.device("cpu")


def _as_tensor(img, device: torch.device) -> torch.Tensor:
    """(N, H, W) numpy / torch, uint8 or float in [0, 255] -> float32 (N, H, W) on ``device``."""
    if img.ndim != 3:
        raise ValueError(f"expected grayscale (H, W) or (N, H, W), got shape {tuple(img.shape)}")
    # numpy: one float32 copy (also makes read-only / broadcast views safe for torch.from_numpy)
    t = img if isinstance(img, torch.Tensor) else torch.from_numpy(np.array(img, dtype=np.float32))
    return t.to(device=device, dtype=torch.float32)


def tvl1_batch(i0: torch.Tensor, i1: torch.Tensor, prm: dict, ops=(tv_step, median_blur)) -> torch.Tensor:
    """Flow for a batch (N, H, W) -> (N, H, W, 2) on the input device; ``prm`` = normalized params."""
    levels0 = pyramid(i0, prm["nscales"], prm["scale_step"])
    levels1 = pyramid(i1, prm["nscales"], prm["scale_step"])
    channels = 3 if prm["gamma"] != 0 else 2  # gamma adds OpenCV's illumination term u3
    n, (h, w) = i0.shape[0], levels0[-1].shape[-2:]
    u = i0.new_zeros(n, channels, h, w)
    for s in range(len(levels0) - 1, -1, -1):
        u = solve_scale(levels0[s], levels1[s], u, prm, ops)
        if s > 0:
            u = resize_flow(u, levels0[s - 1].shape[-2:], 1.0 / prm["scale_step"])
    return u[:, :2].permute(0, 2, 3, 1).contiguous()


def solve_scale(i0, i1, u, prm: dict, ops=(tv_step, median_blur)) -> torch.Tensor:
    """All warps at one scale; the dual field persists across warps (reset per scale, as OpenCV).

    The dual field is carried as q = theta * p (see :func:`tv_step`).
    """
    n, c, h, w = u.shape
    # I1, dI1/dx, dI1/dy, in float64 once per scale for the exact warp (see warp_bicubic)
    source = torch.cat([i1[:, None], centered_gradient(i1)], dim=1).double()
    q = u.new_zeros(n, c, 2, h, w)
    for _ in range(prm["warps"]):
        warped = warp_bicubic(source, u[:, :2])
        grad_i = warped[:, 1:].contiguous()  # same strides as after shrinking: no torch.compile re-guard
        if c == 3:  # the illumination variable enters rho with a constant "gradient" gamma
            grad_i = torch.cat([grad_i, torch.full_like(grad_i[:, :1], prm["gamma"])], dim=1)
        g2 = warped[:, 1:].square().sum(1, keepdim=True)  # |grad I1|^2 without gamma, as OpenCV
        rho_c = warped[:, :1] - (warped[:, 1:] * u[:, :2]).sum(1, keepdim=True) - i0[:, None]
        # OpenCV skips the division where |grad I1|^2 <= FLT_EPSILON; there the step is ~0 anyway.
        neg_inv_g2 = torch.where(g2 > torch.finfo(torch.float32).eps, -1.0 / g2, torch.zeros_like(g2))
        u, q = _iterate_warp(u, q, (grad_i, rho_c, neg_inv_g2), prm, ops)
    return u


def _iterate_warp(u, q, consts, prm: dict, ops):
    """Outer x inner primal-dual iterations of one warp with OpenCV's per-pair stopping rule."""
    h, w = u.shape[-2:]
    tol = prm["epsilon"] ** 2 * h * w
    lt, tau, taut = prm["lambda_"] * prm["theta"], prm["tau"], prm["tau"] / prm["theta"]
    step, median = ops
    masked = not prm.get("host_sync", u.device.type == "cpu")  # see module docstring
    idx = torch.arange(u.shape[0], device=u.device)  # batch positions of the working set
    wu, wq, wc = u, q, consts
    active = torch.ones(u.shape[0], dtype=torch.bool, device=u.device)
    for _ in range(prm["outer_iterations"]):
        if prm["median_filtering"] > 1:
            wu = _median_flow(wu, median, prm["median_filtering"], active if masked else None)
        for _ in range(prm["inner_iterations"]):
            nu, nq, err = step(wu, wq, *wc, lt, tau, taut)
            if masked:
                keep = active.view(-1, 1, 1, 1)
                wu, wq = torch.where(keep, nu, wu), torch.where(keep[..., None], nq, wq)
                active = active & (err > tol)
            else:
                wu, wq, active = nu, nq, err > tol
                if not bool(active.all()):
                    u, q, idx, wu, wq, wc, active = _shrink(u, q, idx, wu, wq, wc, active)
                    if idx.numel() == 0:
                        return u, q
        if masked:
            if not bool(active.any()):
                break
            u, q, idx, wu, wq, wc, active = _shrink(u, q, idx, wu, wq, wc, active)
    u, q = u.index_copy(0, idx, wu), q.index_copy(0, idx, wq)
    return u, q


def _shrink(u, q, idx, wu, wq, wc, active):
    """Write the working set back into (u, q) and keep only its still-active pairs."""
    u, q = u.index_copy(0, idx, wu), q.index_copy(0, idx, wq)
    if bool(active.all()):
        return u, q, idx, wu, wq, wc, active
    keep = active.nonzero().squeeze(1)
    wc = tuple(t.index_select(0, keep) for t in wc)
    return u, q, idx[keep], wu[keep], wq[keep], wc, active[keep]


def _median_flow(u: torch.Tensor, median, ksize: int, active: torch.Tensor | None) -> torch.Tensor:
    """5x5 median of the flow (u1, u2 only; OpenCV leaves the illumination term unfiltered)."""
    med = torch.cat([median(u[:, :2], ksize), u[:, 2:]], dim=1)
    return med if active is None else torch.where(active.view(-1, 1, 1, 1), med, u)


_COMPILED: dict[str, tuple] = {}


def _compiled_ops(device_type: str) -> tuple:
    """``torch.compile`` of the inner step (and, off CPU, of the median network): fused loops.

    Built once per process and device type with dynamic shapes, so pyramid levels and shrinking
    batches reuse the code. On CPU the median stays cv::medianBlur, which beats the fused network.
    The first call compiles for 1-2 min on a small CPU; inductor's on-disk cache makes later runs quick.
    """
    if device_type not in _COMPILED:
        step = torch.compile(tv_step, dynamic=True)
        median = median_blur if device_type == "cpu" else torch.compile(median_blur, dynamic=True)
        _COMPILED[device_type] = (step, median)
    return _COMPILED[device_type]


__all__ = ["solve_scale", "tvl1_batch", "tvl1_torch"]
