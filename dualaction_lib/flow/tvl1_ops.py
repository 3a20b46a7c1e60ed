"""Building blocks of the torch TV-L1, each matching the OpenCV routine named in its docstring.

Tensors are batched: images (N, H, W), flow / dual fields (N, C, H, W) and (N, C, 2, H, W).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def linear_resize_matrix(n_in: int, n_out: int, src_per_dst: float) -> np.ndarray:
    """(n_out, n_in) matrix of ``cv::resize`` INTER_LINEAR along one axis.

    OpenCV maps output pixel d to source ``(d + 0.5) * src_per_dst - 0.5`` and clamps at the borders
    (no anti-aliasing), so a separable matrix product reproduces it exactly.
    """
    pos = (np.arange(n_out) + 0.5) * src_per_dst - 0.5
    left = np.floor(pos).astype(np.int64)
    frac = pos - left
    frac[left < 0] = 0.0
    left = np.clip(left, 0, n_in - 1)
    frac[left >= n_in - 1] = 0.0
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(m, (rows, left), 1.0 - frac)
    np.add.at(m, (rows, np.minimum(left + 1, n_in - 1)), frac)
    return m


def resize_linear(x: torch.Tensor, size: tuple[int, int], src_per_dst: tuple[float, float]) -> torch.Tensor:
    """Bilinear resize of the last two dims (any leading dims), as ``cv::resize`` INTER_LINEAR."""
    (h, w), (oh, ow) = x.shape[-2:], size
    my = torch.as_tensor(linear_resize_matrix(h, oh, src_per_dst[0]), dtype=x.dtype, device=x.device)
    mx = torch.as_tensor(linear_resize_matrix(w, ow, src_per_dst[1]), dtype=x.dtype, device=x.device)
    return my @ x @ mx.T


def pyramid(img: torch.Tensor, nscales: int, scale_step: float) -> list[torch.Tensor]:
    """OpenCV's TV-L1 pyramid: repeated resizes by ``scale_step`` while both sides stay >= 16."""
    levels = [img]
    for _ in range(1, nscales):
        h, w = levels[-1].shape[-2:]
        # cv::resize(fx, fy) rounds the size half-to-even but interpolates with the exact factor.
        size = (round(h * scale_step), round(w * scale_step))
        if min(size) < 16:
            break
        levels.append(resize_linear(levels[-1], size, (1.0 / scale_step, 1.0 / scale_step)))
    return levels


def resize_flow(u: torch.Tensor, size: tuple[int, int], factor: float) -> torch.Tensor:
    """Upsample flow to the next finer level and scale (u1, u2) by ``factor``; u3 (gamma) is not scaled."""
    h, w = u.shape[-2:]
    up = resize_linear(u, tuple(size), (h / size[0], w / size[1]))
    return torch.cat([up[:, :2] * factor, up[:, 2:]], dim=1)


def centered_gradient(img: torch.Tensor) -> torch.Tensor:
    """(N, H, W) -> (N, 2, H, W) central differences; OpenCV's border rule equals replicate padding."""
    x = F.pad(img[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    dx = 0.5 * (x[:, 1:-1, 2:] - x[:, 1:-1, :-2])
    dy = 0.5 * (x[:, 2:, 1:-1] - x[:, :-2, 1:-1])
    return torch.stack([dx, dy], dim=1)


def warp_bicubic(src: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample src (N, C, H, W) at (x + u, y + v): ``cv::remap`` INTER_CUBIC with a zero constant border.

    The sampling grid is built in float64: grid_sample's normalise / unnormalise round trip in float32
    shifts integer positions by ~1e-5 px, enough for the L1 data term to drift flat regions and
    borders (zero motion then gave up to 1 px of flow). The warp runs once per warp, so it is cheap.
    Returns float32; pass src already in float64 to skip the conversion.
    """
    n, _, h, w = src.shape
    ys = torch.arange(h, device=src.device, dtype=torch.float64).view(1, h, 1)
    xs = torch.arange(w, device=src.device, dtype=torch.float64).view(1, 1, w)
    # align_corners=True puts pixel centres at integer coordinates 0..W-1, like remap's maps.
    gx = (xs + flow[:, 0].double()) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1].double()) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    out = F.grid_sample(src.double(), grid, mode="bicubic", padding_mode="zeros", align_corners=True)
    return out.float()


def _median_network(n: int = 25) -> list[tuple[int, int, bool, bool]]:
    """Comparators of Batcher's odd-even merge sort pruned to those that decide the median of n.

    Wires >= n act as +inf padding (they only ever move up), so their comparators are dropped. Each
    entry is (i, j, keep_min, keep_max): whether the min (-> wire i) / max (-> wire j) is needed later.
    """
    size = 1 << (n - 1).bit_length()
    pairs, p = [], 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    needed, kept = {n // 2}, []
    for i, j in reversed([(i, j) for i, j in pairs if j < n]):
        if i in needed or j in needed:
            kept.append((i, j, i in needed, j in needed))
            needed |= {i, j}
    return kept[::-1]


_NETWORKS = {k: _median_network(k * k) for k in (3, 5)}


def median_blur(u: torch.Tensor, ksize: int = 5, network: bool = False) -> torch.Tensor:
    """k x k median (k = 3 or 5) per channel, replicated borders: ``cv::medianBlur`` on float32.

    On CPU this *is* cv::medianBlur, called once for the whole batch: the N*C planes are stacked into
    one tall image, each padded by k//2 replicated rows so windows never mix planes (30x faster than
    the network below in eager torch). Elsewhere, a min/max selection network over the k*k shifted
    views: exact and elementwise, so GPUs and torch.compile run it as a few fused loops.
    u: (N, C, H, W); ``network=True`` forces the network on CPU too.
    """
    if ksize not in _NETWORKS:
        raise ValueError(f"median_filtering must be 0, 1, 3 or 5 (OpenCV's float limit), got {ksize}")
    n, c, h, w = u.shape
    r = ksize // 2
    if u.device.type == "cpu" and not network and not torch.compiler.is_compiling():
        tall = F.pad(u.reshape(n * c, 1, h, w), (0, 0, r, r), mode="replicate").reshape(-1, w)
        med = torch.from_numpy(cv2.medianBlur(tall.numpy(), ksize)).view(n * c, h + 2 * r, w)
        return med[:, r : h + r].reshape(n, c, h, w)
    x = F.pad(u, (r, r, r, r), mode="replicate")
    v = [x[..., dy : dy + h, dx : dx + w] for dy in range(ksize) for dx in range(ksize)]
    for i, j, keep_min, keep_max in _NETWORKS[ksize]:
        a, b = v[i], v[j]
        if keep_min:
            v[i] = torch.minimum(a, b)
        if keep_max:
            v[j] = torch.maximum(a, b)
    return v[ksize * ksize // 2]


def tv_step(u, q, grad_i, rho_c, neg_inv_g2, lt: float, tau: float, taut: float):
    """One primal-dual iteration (OpenCV's estimateV, divergence, estimateU, estimateDualVariables).

    u (N, C, H, W) flow; q = theta * p (N, C, 2, H, W), the dual field pre-scaled by theta so that
    ``u = v + theta div p`` is a plain add; ``neg_inv_g2`` = -1 / |grad I1|^2 (0 where OpenCV skips it).
    Returns (u_new, q_new, err) with err (N,) = sum |u_new - u|^2, OpenCV's stopping statistic.

    The thresholding step TH: with rho = rho_c + <grad I1, u>, OpenCV's three branches
    (rho < -lt g, rho > lt g, otherwise -rho / g) are exactly ``clamp(-rho / g, -lt, lt) * grad I1``.
    Written with fused / in-place ops on fresh tensors (~18 passes instead of ~35): inputs are never
    modified, so the masked (CUDA) path can still keep old values.
    """
    rho = torch.addcmul(rho_c, grad_i[:, :1], u[:, :1])
    for c in range(1, u.shape[1]):
        rho.addcmul_(grad_i[:, c : c + 1], u[:, c : c + 1])
    coef = rho.mul_(neg_inv_g2).clamp_(-lt, lt)
    u_new = torch.addcmul(u, coef, grad_i)
    qx, qy = q[:, :, 0], q[:, :, 1]
    div = torch.add(qx, qy)  # backward differences, zero outside (the adjoint of the gradient below)
    div[..., 1:].sub_(qx[..., :-1])
    div[..., 1:, :].sub_(qy[..., :-1, :])
    u_new.add_(div)
    diff = (u_new - u).flatten(1)
    err = torch.linalg.vecdot(diff, diff)
    g = torch.empty_like(q)  # forward differences, zero on the last column / row
    torch.sub(u_new[..., 1:], u_new[..., :-1], out=g[:, :, 0, :, :-1])
    torch.sub(u_new[..., 1:, :], u_new[..., :-1, :], out=g[:, :, 1, :-1, :])
    g[:, :, 0, :, -1] = 0.0
    g[:, :, 1, -1, :] = 0.0
    gx, gy = g[:, :, 0], g[:, :, 1]
    denom = torch.addcmul(gx * gx, gy, gy).sqrt_().mul_(taut).add_(1.0)  # 2x faster than torch.hypot
    q_new = torch.add(q, g, alpha=tau).div_(denom.unsqueeze(2))
    return u_new, q_new, err


__all__ = [
    "centered_gradient",
    "linear_resize_matrix",
    "median_blur",
    "pyramid",
    "resize_flow",
    "resize_linear",
    "tv_step",
    "warp_bicubic",
]
