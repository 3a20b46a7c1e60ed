"""Optical-flow figures (notebook 01): colour coding, magnitudes, method comparison, quantization error."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from dualaction_lib.flow.color import flow_to_color

from .core import new_figure


def _color(flow: np.ndarray) -> np.ndarray:
    return flow_to_color(flow)


def _row_height(width: float, panels: int, image: np.ndarray, extra: float = 1.0) -> float:
    """Figure height that fits a row of ``panels`` images of ``image``'s aspect ratio into ``width``."""
    h, w = image.shape[:2]
    return width / panels * h / w + extra


def _hide_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def add_arrows(ax, flow: np.ndarray, spacing: int = 12, color: str = "white") -> None:
    """Quiver arrows every ``spacing`` pixels, in image coordinates (u right, v down)."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[spacing // 2 : h : spacing, spacing // 2 : w : spacing]
    u, v = flow[ys, xs, 0], flow[ys, xs, 1]
    ax.quiver(xs, ys, u, v, color=color, angles="xy", scale_units="xy", scale=1, width=0.004)


def plot_flow_pair(prev_rgb: np.ndarray, next_rgb: np.ndarray, flow: np.ndarray, title: str = "") -> Figure:
    """Frame t, frame t+1, the colour-coded flow and its magnitude with arrows."""
    fig = new_figure(13, _row_height(13, 4, flow, 1.2))
    axes = fig.subplots(1, 4)
    magnitude = np.linalg.norm(flow, axis=-1)
    axes[0].imshow(prev_rgb)
    axes[0].set_title("frame t")
    axes[1].imshow(next_rgb)
    axes[1].set_title("frame t+1")
    axes[2].imshow(_color(flow))
    axes[2].set_title("flow (hue = direction, saturation = speed)")
    image = axes[3].imshow(magnitude, cmap="magma")
    add_arrows(axes[3], flow)
    axes[3].set_title(f"|flow| in px (max {magnitude.max():.1f})")
    fig.colorbar(image, ax=axes[3], shrink=0.8, label="pixels / frame")
    for ax in axes:
        _hide_ticks(ax)
    if title:
        fig.suptitle(title)
    return fig


def plot_magnitude_histograms(flows: dict[str, np.ndarray], bound: float = 20.0, bins: int = 60) -> Figure:
    """Histogram of per-pixel flow magnitude for each method (log counts); the ±bound clip is marked."""
    fig = new_figure(7, 4)
    ax = fig.subplots()
    top = max(float(np.linalg.norm(f, axis=-1).max()) for f in flows.values())
    edges = np.linspace(0, max(top, 1e-3), bins + 1)
    for name, flow in flows.items():
        ax.hist(np.linalg.norm(flow, axis=-1).ravel(), bins=edges, histtype="step", linewidth=1.5, label=name)
    ax.set_yscale("log")
    if top > bound:
        ax.axvline(bound, color="grey", linestyle="--", label=f"clip bound {bound:g} px")
    ax.set_xlabel("flow magnitude (pixels / frame)")
    ax.set_ylabel("pixels (log)")
    ax.set_title("Flow magnitude distribution")
    ax.legend()
    return fig


def plot_method_comparison(
    frame_rgb: np.ndarray, results: dict, errors: dict[str, float], reference: str = "tvl1-opencv"
) -> Figure:
    """Colour-coded flow of every method side by side, titled with run time and EPE to ``reference``.

    ``results``: ``{method: (flow, seconds)}``; ``errors``: ``{method: mean EPE to reference}`` (methods
    without an entry get no EPE in their title).
    """
    width = 3.2 * (len(results) + 1)
    fig = new_figure(width, _row_height(width, len(results) + 1, frame_rgb, 0.9))
    axes = fig.subplots(1, len(results) + 1)
    axes[0].imshow(frame_rgb)
    axes[0].set_title("frame t")
    for ax, (name, (flow, seconds)) in zip(axes[1:], results.items(), strict=True):
        ax.imshow(_color(flow))
        epe = f"\nEPE vs {reference}: {errors[name]:.2f} px" if name in errors else ""
        ax.set_title(f"{name}: {seconds * 1000:.0f} ms{epe}", fontsize=9)
    for ax in axes:
        _hide_ticks(ax)
    return fig


def plot_timings(results: dict) -> Figure:
    """Bar chart of seconds per frame pair for each method."""
    fig = new_figure(6, 3)
    ax = fig.subplots()
    names = list(results)
    ax.barh(names, [results[n][1] * 1000 for n in names], color="tab:blue")
    ax.set_xlabel("milliseconds per frame pair (this machine)")
    ax.set_title("Flow run time")
    ax.invert_yaxis()
    return fig


def plot_quantization_error(
    flow: np.ndarray, roundtrip: dict[str, np.ndarray], errors: dict[str, np.ndarray], bound: float = 20.0
) -> Figure:
    """What ±bound uint8 quantization and JPEG storage do to a flow field (maps + error histogram).

    ``roundtrip``: the stored flows (``quantized``, ``jpeg``); ``errors``: their per-pixel EPE maps.
    """
    fig = new_figure(13, max(3.2, _row_height(13, 4, flow, 1.0)))
    axes = fig.subplots(1, 4)
    err_q, err_j = errors["quantized"], errors["jpeg"]
    axes[0].imshow(_color(flow))
    axes[0].set_title("float flow")
    axes[1].imshow(_color(roundtrip["jpeg"]))
    axes[1].set_title(f"after ±{bound:g} uint8 + JPEG")
    image = axes[2].imshow(err_j, cmap="viridis")
    axes[2].set_title("end-point error of storage (px)")
    fig.colorbar(image, ax=axes[2], shrink=0.8)
    for ax in axes[:3]:
        _hide_ticks(ax)
    edges = np.linspace(0, max(float(err_j.max()), float(err_q.max()), 1e-3), 50)
    axes[3].hist(err_q.ravel(), bins=edges, histtype="step", label=f"quantized: mean {err_q.mean():.3f} px")
    axes[3].hist(err_j.ravel(), bins=edges, histtype="step", label=f"+ JPEG: mean {err_j.mean():.3f} px")
    axes[3].axvline(bound / 255, color="grey", linestyle=":", label=f"half a level = {bound / 255:.3f} px")
    axes[3].set_yscale("log")
    axes[3].set_xlabel("end-point error (px)")
    axes[3].set_title("Storage error distribution")
    axes[3].legend(fontsize=8)
    return fig
