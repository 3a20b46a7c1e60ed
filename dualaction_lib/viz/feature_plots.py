"""Notebook 02's figures: Gram matrices, feature maps and per-layer distances to the flow teacher.

The data come from :mod:`dualaction_lib.study.features`; these functions only draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from dualaction_lib.stats import ci_interval

from .core import new_figure


def plot_gram_matrices(
    grams: dict[str, np.ndarray], reference: str, distances: dict[str, float], where: str
) -> Figure:
    """Each model's normalised Gram matrix (C, C) on the ``reference`` model's colour scale.

    ``distances``: model → Gram distance to the reference (shown in the titles).
    """
    vmax = float(np.percentile(np.abs(grams[reference]), 99)) or 1.0
    fig = new_figure(3.4 * len(grams), 3.6)
    axes = fig.subplots(1, len(grams))
    for ax, (name, gram) in zip(axes, grams.items(), strict=True):
        ticks = max(1, len(gram) // 4)
        sns.heatmap(
            gram, ax=ax, cmap="viridis", vmin=0, vmax=vmax, square=True, cbar=False,
            xticklabels=ticks, yticklabels=ticks,
        )  # fmt: skip
        note = f"\nGram dist. {distances[name]:.3g}" if name in distances else ""
        ax.set_title(f"{name}{note}", fontsize=9)
        ax.set(xlabel="channel", ylabel="channel")
    fig.colorbar(axes[0].collections[0], ax=list(axes), shrink=0.8, label="G / (C·T·H·W)")
    fig.suptitle(f"Gram matrices at {where}")
    return fig


def plot_feature_maps(maps: dict[str, np.ndarray], title: str) -> Figure:
    """One row per model of its first channels' maps ``(channels, H, W)``."""
    channels = max(m.shape[0] for m in maps.values())
    fig = new_figure(1.9 * channels, 2.1 * len(maps))
    axes = fig.subplots(len(maps), channels, squeeze=False)
    for row, (name, frame) in enumerate(maps.items()):
        for c in range(frame.shape[0]):
            axes[row, c].imshow(frame[c], cmap="magma")
            axes[row, c].set_xticks([])
            axes[row, c].set_yticks([])
            axes[row, c].set_title(f"{name if c == 0 else ''} ch {c}", fontsize=8)
    fig.suptitle(title)
    return fig


def plot_pooled_features(pooled: dict[str, np.ndarray]) -> Figure:
    """The pooled feature vectors (C,) of some models, channel by channel (the MARS target)."""
    fig = new_figure(8, 3)
    ax = fig.subplots()
    for name, vector in pooled.items():
        ax.plot(vector, label=name)
    ax.set(xlabel="channel", ylabel="pooled activation", title="Pooled features (the MARS target)")
    ax.legend()
    return fig


def plot_layer_distances(distances: pd.DataFrame) -> Figure:
    """Mean Gram distance and MAE to the teacher per layer and student (± 95 % CI over test videos).

    ``distances``: long format, one row per (video, model, layer) with ``gram`` and ``mae``.
    """
    layers = list(dict.fromkeys(distances["layer"]))
    fig = new_figure(11, 3.8)
    for ax, metric in zip(fig.subplots(1, 2), ("gram", "mae"), strict=True):
        sns.pointplot(
            data=distances, x="layer", y=metric, hue="model", order=layers, errorbar=ci_interval,
            capsize=0.15, dodge=0.3, markersize=5, linewidth=1.2, ax=ax,
        )  # fmt: skip
        ax.set_yscale("log")
        title = "Gram distance to the teacher" if metric == "gram" else "Mean absolute error to the teacher"
        ax.set(xlabel="", ylabel=metric.upper() if metric == "mae" else "Gram distance", title=title)
        ax.legend(fontsize=8)
    return fig
