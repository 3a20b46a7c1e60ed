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
    frame_rgb: np.ndarray,
    flows: dict[str, np.ndarray],
    errors: dict[str, float],
    reference: str = "tvl1-opencv",
) -> Figure:
    """Colour-coded flow of every method side by side, titled with the mean EPE to ``reference``.

    ``flows``: ``{method: flow}``; ``errors``: ``{method: mean EPE to reference}`` (methods without an entry
    get no EPE in their title). Run times are not shown here: one cold call per method says little (see
    ``plot_timings``).
    """
    width = 3.2 * (len(flows) + 1)
    fig = new_figure(width, _row_height(width, len(flows) + 1, frame_rgb, 0.9))
    axes = fig.subplots(1, len(flows) + 1)
    axes[0].imshow(frame_rgb)
    axes[0].set_title("frame t")
    for ax, (name, flow) in zip(axes[1:], flows.items(), strict=True):
        ax.imshow(_color(flow))
        if name == reference:
            ax.set_title(f"{name}\n(reference)", fontsize=9)
        elif name in errors:
            ax.set_title(f"{name}\nEPE vs {reference}: {errors[name]:.2f} px", fontsize=9)
        else:
            ax.set_title(name, fontsize=9)
    for ax in axes:
        _hide_ticks(ax)
    return fig


def plot_timings(table, title: str = "") -> Figure:
    """Milliseconds per pair and pairs per second of each flow method, one pair vs the whole clip.

    ``table``: the DataFrame of ``flow.timing.time_flow_methods`` (medians after a warm-up call), as
    ``study.inspection.FlowInspector.timings`` returns it.
    """
    modes = list(dict.fromkeys(table["mode"]))
    methods = list(dict.fromkeys(table["method"]))
    rows = table.set_index(["method", "mode"])
    fig = new_figure(12, 1.2 + 0.6 * len(methods))
    axes = fig.subplots(1, 2, sharey=True)
    height = 0.8 / len(modes)
    y = np.arange(len(methods))
    for k, mode in enumerate(modes):
        for ax, column, fmt in ((axes[0], "ms_per_pair", "{:.0f} ms"), (axes[1], "pairs_per_s", "{:.1f}")):
            values = [rows.loc[(m, mode), column] for m in methods]
            pairs = int(rows.loc[(methods[0], mode), "pairs"])
            label = mode if pairs == 1 else f"{mode} ({pairs} pairs)"
            bars = ax.barh(y + (k - (len(modes) - 1) / 2) * height, values, height, label=label)
            ax.bar_label(bars, [fmt.format(v) for v in values], padding=3, fontsize=8)
    axes[0].set_yticks(y, methods)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("milliseconds per frame pair (lower is faster)")
    axes[1].set_xlabel("frame pairs per second (higher is faster)")
    axes[1].set_xscale("log")  # DIS and Farneback run 100x faster than TV-L1
    axes[0].legend(fontsize=8, loc="lower right")
    for ax in axes:
        ax.margins(x=0.25)
    repeats = int(table["repeats"].iloc[0])
    median = f"median of {repeats} calls" if repeats > 1 else "one call"
    batched = table.loc[table["call"] == "one batched call", "method"].tolist()
    clip = f"one batched call for {', '.join(batched)}, a loop over pairs for " if batched else "a loop over "
    fig.suptitle(
        f"{title + ': ' if title else ''}flow run time on this machine, {median} after a warm-up call\n"
        f"clip: {clip}{'the others' if batched else 'its pairs'}",
        fontsize=10,
    )
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
