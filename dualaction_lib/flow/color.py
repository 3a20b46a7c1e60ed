"""Flow visualisation for the notebooks: Middlebury colour wheel, magnitude, overlays and arrows.

Functions return numpy arrays or draw on a matplotlib Axes the caller owns; nothing here picks a
backend or creates figures (docs/architecture.md), so they work inline, headless and in the paper figures.
"""

from __future__ import annotations

import numpy as np


def _color_wheel() -> np.ndarray:
    """(55, 3) RGB wheel of Baker et al.'s Middlebury flow benchmark (red -> yellow -> ... -> magenta)."""
    segments = [(15, (255, 0, 0), (255, 255, 0)), (6, (255, 255, 0), (0, 255, 0)),
                (4, (0, 255, 0), (0, 255, 255)), (11, (0, 255, 255), (0, 0, 255)),
                (13, (0, 0, 255), (255, 0, 255)), (6, (255, 0, 255), (255, 0, 0))]  # fmt: skip
    rows = []
    for n, start, end in segments:
        t = np.arange(n)[:, None] / n
        rows.append((1 - t) * np.array(start) + t * np.array(end))
    return np.concatenate(rows)


_WHEEL = _color_wheel()


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
    """|flow| in pixels, shape (..., H, W)."""
    flow = np.asarray(flow, dtype=np.float32)
    return np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2)


def flow_to_color(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Middlebury colour coding of (H, W, 2) flow -> uint8 RGB (H, W, 3).

    Hue is the direction (+x red-ish ... following the standard wheel), saturation the magnitude
    relative to ``max_flow`` (default: the largest magnitude in this field, so pass a shared value to
    compare several fields). Magnitudes beyond ``max_flow`` are darkened, as in the reference code.
    """
    flow = np.nan_to_num(np.asarray(flow, dtype=np.float64))
    u, v = flow[..., 0], flow[..., 1]
    rad = np.sqrt(u**2 + v**2)
    scale = float(max_flow) if max_flow is not None else float(rad.max())
    rad = rad / max(scale, 1e-9)
    ncols = len(_WHEEL)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    pos = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(pos).astype(int)
    k1 = (k0 + 1) % ncols
    frac = (pos - k0)[..., None]
    col = ((1 - frac) * _WHEEL[k0] + frac * _WHEEL[k1]) / 255.0
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    return np.clip(np.floor(255 * col), 0, 255).astype(np.uint8)


def color_wheel_legend(size: int = 64) -> np.ndarray:
    """A (size, size, 3) uint8 disc showing the colour of every direction (unit radius = max_flow)."""
    r = np.linspace(-1, 1, size)
    xx, yy = np.meshgrid(r, r)
    img = flow_to_color(np.stack([xx, yy], -1), max_flow=1.0)
    img[xx**2 + yy**2 > 1] = 255
    return img


def flow_overlay(image: np.ndarray, flow: np.ndarray, alpha: float = 0.6, max_flow=None) -> np.ndarray:
    """Blend the colour-coded flow over a grayscale or RGB uint8 image -> uint8 RGB (H, W, 3)."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    out = (1 - alpha) * img + alpha * flow_to_color(flow, max_flow).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def draw_flow_arrows(ax, flow: np.ndarray, image: np.ndarray | None = None, step: int = 16, **quiver_kw):
    """Draw a (H, W, 2) flow as arrows every ``step`` pixels on ``ax`` (optionally over ``image``).

    Arrows are in pixel units (an arrow spans the displacement); returns the Quiver artist.
    """
    flow = np.asarray(flow, dtype=np.float32)
    h, w = flow.shape[:2]
    if image is not None:
        ax.imshow(image, cmap="gray" if np.asarray(image).ndim == 2 else None)
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    u, v = flow[ys, xs, 0], flow[ys, xs, 1]
    kw = {"angles": "xy", "scale_units": "xy", "scale": 1.0, "color": "yellow", "width": 0.003}
    kw.update(quiver_kw)
    quiver = ax.quiver(xs, ys, u, v, **kw)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)  # image coordinates: y grows downwards
    return quiver
