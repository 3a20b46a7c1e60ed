"""Result plots: table bars, the α sweep (notebook 05) and fusion views (notebook 04).

Error bars over seeds are seaborn's, with ``errorbar=ci_interval``: the same mean ± 95 % CI (Student t,
``dualaction_lib.stats``) as the numbers in the tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from dualaction_lib.stats import ci_interval

from .core import new_figure

_FUSION_COLUMNS = {
    "stream A": "first stream alone",
    "stream B": "second stream alone",
    "average": "averaging",
    "attention": "attention fusion",
}


def _percent(values) -> list[float]:
    return [100 * v for v in values]


def plot_table_bars(table: pd.DataFrame, title: str) -> Figure:
    """Horizontal bars of mean video top-1 (%) with 95 % CI whiskers and one dot per seed.

    ``table``: a table of ``study.ablation`` (index: row labels; ``seeds``: seed → accuracy; ``n``).
    """
    seeds = pd.DataFrame(
        [(row, 100 * v) for row, values in table["seeds"].items() for v in values.values()],
        columns=["row", "top1"],
    )
    order = list(table.index)
    fig = new_figure(8, 0.5 * len(table) + 1.4)
    ax = fig.subplots()
    if not seeds.empty:
        sns.barplot(
            data=seeds, x="top1", y="row", order=order, orient="h", errorbar=ci_interval, capsize=0.3,
            color="tab:blue", alpha=0.7, err_kws={"linewidth": 1.2}, label="mean ± 95 % CI", ax=ax,
        )  # fmt: skip
        sns.stripplot(
            data=seeds, x="top1", y="row", order=order, orient="h", jitter=False, color="black", size=3.5,
            label="one seed", legend=False, ax=ax,
        )  # fmt: skip
    for position, (row, n) in enumerate(table["n"].items()):
        mean = 100 * table.loc[row, "mean"] if n else 0.0
        ax.text(mean + 1, position, f"{mean:.1f}" if n else "missing", va="center", fontsize=8)
    ax.set_yticks(range(len(order)), order)
    ax.set(xlim=(0, 105), ylim=(len(order) - 0.5, -0.5), xlabel="video top-1 (%)", ylabel="", title=title)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))  # stripplot labels one collection per row
    ax.legend(unique.values(), unique.keys(), loc="lower right", fontsize=8)
    return fig


def plot_alpha_sweep(sweep: pd.DataFrame, baselines: dict[str, float] | None = None) -> Figure:
    """Video top-1 against the distillation weight α (symlog axis so α = 0 fits), with reference lines.

    ``sweep``: ``study.ablation.alpha_sweep`` (one row per α with the seeds' ``values``).
    """
    points = pd.DataFrame(
        [
            (alpha, 100 * v)
            for alpha, values in zip(sweep["alpha"], sweep["values"], strict=True)
            for v in values
        ],
        columns=["alpha", "top1"],
    )
    fig = new_figure(7, 4)
    ax = fig.subplots()
    ax.set_xscale("symlog", linthresh=1)  # before plotting, so the limits are found on this scale
    if not points.empty:
        sns.lineplot(
            data=points, x="alpha", y="top1", errorbar=ci_interval, err_style="bars", marker="o",
            err_kws={"capsize": 3}, label="DS student (mean ± 95 % CI)", ax=ax,
        )  # fmt: skip
        sns.scatterplot(data=points, x="alpha", y="top1", color="black", s=12, zorder=3, ax=ax)
    for (name, value), style in zip((baselines or {}).items(), ("--", ":", "-."), strict=False):
        if value is not None and not pd.isna(value):
            ax.axhline(100 * value, linestyle=style, color="grey", label=name)
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
    long = summary.melt(id_vars="pair", value_vars=list(_FUSION_COLUMNS), var_name="what", value_name="top1")
    long["top1"] = 100 * long["top1"]
    long["what"] = long["what"].map(_FUSION_COLUMNS)
    fig = new_figure(9, 4)
    ax = fig.subplots()
    sns.barplot(data=long, x="pair", y="top1", hue="what", hue_order=list(_FUSION_COLUMNS.values()), ax=ax)
    ax.set(xlabel="", ylabel="video top-1 (%)", ylim=(0, 105), title="Late fusion: averaging vs attention")
    ax.legend(fontsize=8, ncols=4, loc="upper center")
    return fig


def plot_fusion_weights(view: dict, names: tuple[str, str]) -> Figure:
    """The learned weight of stream A: distribution, per class, and against both streams' confidence.

    ``view``: arrays from ``study.fusion.fusion_view`` (weights, confidences and correctness per video).
    """
    right_a, right_b = view["right_a"], view["right_b"]
    groups = np.select(
        [right_a & right_b, right_a & ~right_b, ~right_a & right_b],
        ["both right", f"only {names[0]} right", f"only {names[1]} right"],
        default="both wrong",
    )
    videos = pd.DataFrame(
        {
            "weight": view["weights"],
            "class": np.asarray(view["classes"])[view["labels"]],
            "margin": view["confidence_a"] - view["confidence_b"],
            "group": [f"{g} ({(groups == g).sum()})" for g in groups],
        }
    )
    weight = f"weight of {names[0]}"
    fig = new_figure(14, 4)
    ax_hist, ax_class, ax_conf = fig.subplots(1, 3)
    sns.histplot(data=videos, x="weight", bins=np.linspace(0, 1, 21), color="tab:purple", ax=ax_hist)
    ax_hist.set(xlabel=weight, ylabel="test videos", title="Weight distribution")
    sns.boxplot(data=videos, x="class", y="weight", order=view["classes"], color="tab:purple", ax=ax_class)
    ax_class.tick_params(axis="x", rotation=45)
    ax_class.set(xlabel="", ylabel=weight, ylim=(-0.02, 1.02), title="Per class")
    sns.scatterplot(data=videos, x="margin", y="weight", hue="group", style="group", s=20, ax=ax_conf)
    ax_conf.axhline(0.5, color="grey", linestyle=":")
    ax_conf.set(
        xlabel=f"confidence({names[0]}) − confidence({names[1]})",
        ylabel=weight,
        ylim=(-0.02, 1.02),
        title="Weight vs stream confidence and correctness",
    )
    ax_conf.legend(fontsize=7)
    return fig
