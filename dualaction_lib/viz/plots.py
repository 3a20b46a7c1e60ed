"""Result plots: table bars, the α sweep (notebook 05) and fusion-weight views (notebook 04)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .core import new_figure


def plot_table_bars(table: pd.DataFrame, title: str) -> Figure:
    """Horizontal bars of mean video top-1 (%) with 95 % CI whiskers and one dot per seed."""
    fig = new_figure(8, 0.5 * len(table) + 1.4)
    ax = fig.subplots()
    y = np.arange(len(table))
    means = 100 * table["mean"].fillna(0).to_numpy()
    errors = 100 * table["ci"].fillna(0).to_numpy()
    ax.barh(y, means, xerr=errors, color="tab:blue", alpha=0.7, capsize=3, label="mean ± 95 % CI")
    for row, seeds in enumerate(table["seeds"]):
        values = [100 * v for v in seeds.values()]
        ax.scatter(
            values, [row] * len(values), color="black", s=12, zorder=3, label="one seed" if row == 0 else None
        )
    for row, (mean, n) in enumerate(zip(means, table["n"], strict=True)):
        ax.text(mean + 1, row, f"{mean:.1f}" if n else "missing", va="center", fontsize=8)
    ax.set_yticks(y, table.index)
    ax.invert_yaxis()
    ax.set(xlim=(0, 105), xlabel="video top-1 (%)", title=title)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_alpha_sweep(sweep: pd.DataFrame, baselines: dict[str, float] | None = None) -> Figure:
    """Video top-1 against the distillation weight α (symlog axis so α = 0 fits), with reference lines."""
    fig = new_figure(7, 4)
    ax = fig.subplots()
    if not sweep.empty:
        ax.errorbar(
            sweep["alpha"],
            100 * sweep["mean"],
            yerr=100 * sweep["ci"].fillna(0),
            marker="o",
            capsize=3,
            label="DS student (mean ± 95 % CI)",
        )
        for alpha, values in zip(sweep["alpha"], sweep["values"], strict=True):
            ax.scatter([alpha] * len(values), [100 * v for v in values], color="black", s=10, zorder=3)
    for (name, value), style in zip((baselines or {}).items(), ("--", ":", "-."), strict=False):
        if value is not None and not pd.isna(value):
            ax.axhline(100 * value, linestyle=style, color="grey", label=name)
    ax.set_xscale("symlog", linthresh=1)
    ax.set(
        xlabel="α (distillation weight, symlog)",
        ylabel="video top-1 (%)",
        ylim=(0, 102),
        title="Sensitivity to α in CE + α·(MAE + Gram)",
    )
    ax.legend(fontsize=8)
    return fig


def plot_fusion_accuracy(summary: pd.DataFrame) -> Figure:
    """Grouped bars: each stream alone, averaging and attention fusion, for every stream pair."""
    pairs = list(dict.fromkeys(summary["pair"]))
    columns = ["stream A", "stream B", "average", "attention"]
    fig = new_figure(9, 4)
    ax = fig.subplots()
    width = 0.2
    for k, column in enumerate(columns):
        values = [100 * summary.loc[summary.pair == p, column].iloc[0] for p in pairs]
        label = {
            "stream A": "first stream alone",
            "stream B": "second stream alone",
            "average": "averaging",
            "attention": "attention fusion",
        }[column]
        ax.bar(np.arange(len(pairs)) + (k - 1.5) * width, values, width, label=label)
    ax.set_xticks(np.arange(len(pairs)), pairs)
    ax.set(ylabel="video top-1 (%)", ylim=(0, 105), title="Late fusion: averaging vs attention")
    ax.legend(fontsize=8, ncols=4, loc="upper center")
    return fig


def plot_fusion_weights(view: dict, names: tuple[str, str]) -> Figure:
    """The learned weight of stream A: distribution, per class, and against both streams' confidence.

    ``view``: arrays from ``study.fusion.fusion_view`` (weights, confidences and correctness per video).
    """
    w, labels, classes = view["weights"], view["labels"], view["classes"]
    right_a, right_b = view["right_a"], view["right_b"]
    fig = new_figure(14, 4)
    ax_hist, ax_class, ax_conf = fig.subplots(1, 3)
    ax_hist.hist(w, bins=np.linspace(0, 1, 21), color="tab:purple")
    ax_hist.set(xlabel=f"weight of {names[0]}", ylabel="test videos", title="Weight distribution")
    per_class = [w[labels == k] for k in range(len(classes))]
    ax_class.boxplot([v if len(v) else [np.nan] for v in per_class], tick_labels=classes)
    ax_class.tick_params(axis="x", rotation=45)
    ax_class.set(ylabel=f"weight of {names[0]}", ylim=(-0.02, 1.02), title="Per class")
    margin = view["confidence_a"] - view["confidence_b"]
    groups = {
        "both right": right_a & right_b,
        f"only {names[0]} right": right_a & ~right_b,
        f"only {names[1]} right": ~right_a & right_b,
        "both wrong": ~right_a & ~right_b,
    }
    for (label, mask), marker in zip(groups.items(), "o^vx", strict=True):
        if mask.any():
            ax_conf.scatter(margin[mask], w[mask], s=16, marker=marker, label=f"{label} ({mask.sum()})")
    ax_conf.axhline(0.5, color="grey", linestyle=":")
    ax_conf.set(
        xlabel=f"confidence({names[0]}) − confidence({names[1]})",
        ylabel=f"weight of {names[0]}",
        ylim=(-0.02, 1.02),
        title="Weight vs stream confidence and correctness",
    )
    ax_conf.legend(fontsize=7)
    return fig
