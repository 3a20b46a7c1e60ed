"""Result plots: tables with their paired differences, the α sweep (notebook 05), fusion views (04).

Every error bar is the table's own number: seaborn's bars use ``errorbar=ci_interval``, the same mean ±
95 % CI (Student t, ``dualaction_lib.stats``) the tables print, and the differences and the α sweep draw
the table's ``ci`` column. A value from a single seed has no interval and is drawn without a whisker.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from dualaction_lib.stats import ci_interval

from .core import new_figure
from .tables import Table

_FUSION_COLUMNS = {
    "stream A": "first stream alone",
    "stream B": "second stream alone",
    "average": "averaging",
    "attention": "attention fusion",
}


def _percent(values) -> list[float]:
    return [100 * v for v in values]


def _draw_bars(ax, rows: pd.DataFrame, title: str) -> None:
    """Horizontal bars of mean top-1 (%) with the table's 95 % CI whiskers and one dot per seed."""
    seeds = pd.DataFrame(
        [(row, 100 * v) for row, values in rows["seeds"].items() for v in values.values()],
        columns=["row", "top1"],
    )
    order = list(rows.index)
    colours = {"color": "tab:blue", "label": "mean ± 95 % CI"}
    if "condition" in rows and not seeds.empty:  # a grid table's cells: one colour per condition
        seeds["condition"] = seeds["row"].map(rows["condition"])
        colours = {"hue": "condition", "palette": "Set2", "dodge": False}
    if not seeds.empty:
        sns.barplot(
            data=seeds, x="top1", y="row", order=order, orient="h", errorbar=ci_interval, capsize=0.3,
            alpha=0.8, err_kws={"linewidth": 1.2}, ax=ax, **colours,
        )  # fmt: skip
        sns.stripplot(
            data=seeds, x="top1", y="row", order=order, orient="h", jitter=False, color="black", size=3.5,
            label="one seed", legend=False, ax=ax,
        )  # fmt: skip
    label_x = blended_transform_factory(ax.transAxes, ax.transData)  # x in axes units, y in rows
    for position, (row, n) in enumerate(rows["n"].items()):
        mean, ci = 100 * rows.loc[row, "mean"], 100 * rows.loc[row, "ci"]
        text = "missing" if not n else f"{mean:.1f}" + ("" if np.isnan(ci) else f" ± {ci:.1f}") + f" (n={n})"
        ax.text(0.995, position, text, va="center", ha="right", fontsize=8, transform=label_x)
    ax.set_yticks(range(len(order)), order)
    ax.set(xlim=(0, 132), ylim=(len(order) - 0.5, -0.5), xlabel="video top-1 (%)", ylabel="", title=title)
    ax.set_xticks(range(0, 101, 20))
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        unique = dict(zip(labels, handles, strict=True))  # stripplot labels one collection per row
        ax.legend(unique.values(), unique.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  ncols=len(unique), fontsize=8, frameon=False)  # fmt: skip


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", "−")


def _draw_differences(ax, diffs: pd.DataFrame, title: str) -> None:
    """Paired differences (points): mean ± 95 % CI (filled), a single pair as an open marker labelled
    n=1 (no whisker), every seed's difference as a dot, and the zero line."""
    ax.axvline(0, color="grey", linewidth=1)
    reach = [1.0]
    for position, (_, d) in enumerate(diffs.iterrows()):
        n, mean, ci = int(d["n"]), 100 * d["mean"], 100 * d["ci"]
        if n >= 2 and not np.isnan(ci):
            points = _percent(d["seeds"].values()) if isinstance(d["seeds"], dict) else []
            ax.scatter(points, [position] * len(points), color="black", s=10, zorder=3)
            ax.errorbar([mean], [position], xerr=[ci], fmt="o", color="tab:purple", capsize=3, zorder=4)
            text, reach = f"{_signed(mean)} ± {ci:.1f} (n={n})", [*reach, *map(abs, points), abs(mean) + ci]
        elif n == 1:
            ax.scatter([mean], [position], facecolors="none", edgecolors="tab:purple", s=40, zorder=4)
            text, reach = f"{_signed(mean)} (n=1)", [*reach, abs(mean)]
        else:
            mean, text = 0.0, "not run"
        ax.annotate(text, (mean, position), xytext=(0, 6), textcoords="offset points", ha="center",
                    fontsize=8, color="grey" if n == 0 else "black")  # fmt: skip
    limit = 1.3 * max(reach)
    ax.set_xlim(-limit, limit)
    ax.set_yticks(range(len(diffs)), list(diffs.index))
    ax.set_ylim(len(diffs) - 0.5, -0.7)
    ax.set(xlabel="paired difference (points)", title=title)


def plot_table(table: Table) -> Figure:
    """A table of ``study.ablation``: its accuracies as bars (left) and, if it has any, its paired
    differences (right, mean ± 95 % CI of the per-seed differences); one Figure."""
    bars, diffs = table.bars(), table.contrasts()
    height = 0.45 * max(len(bars), len(diffs)) + 1.6
    if diffs.empty:
        fig = new_figure(8, height)
        _draw_bars(fig.subplots(), bars, table.title)
        return fig
    fig = new_figure(13, height)
    ax_bars, ax_diff = fig.subplots(1, 2, width_ratios=[3, 2])
    _draw_bars(ax_bars, bars, "mean ± 95 % CI over seeds")
    _draw_differences(ax_diff, diffs, "paired differences over shared seeds")
    fig.suptitle(table.title)
    return fig


def plot_alpha_sweep(
    points: pd.DataFrame,
    methods: tuple[str, ...] = ("mars", "ds"),
    names: dict[str, str] | None = None,
    ylabel: str = "validation video top-1 (%)",
    baselines: dict[str, float] | None = None,
) -> Figure:
    """Top-1 against the distillation weight α, one panel per method side by side on a shared y axis.

    ``points``: one row per method and α (method, alpha, mean, ci, n, values[, chosen]), e.g.
    ``study.tuning.sensitivity``. Error bars are mean ± 95 % CI (Student t) and every seed is a dot; a
    point from a single seed is an open marker labelled n=1, never a zero-length bar. The chosen α is
    ringed; ``baselines`` draws reference lines (name → top-1).
    """
    fig = new_figure(5 * len(methods) + 1.5, 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(methods), sharey=True))
    for ax, method in zip(axes, methods, strict=True):
        ax.set_xscale("log")
        own = points[points.method == method].sort_values("alpha") if not points.empty else points
        if not own.empty:
            x, mean = own["alpha"].to_numpy(float), 100 * own["mean"].to_numpy(float)
            ax.plot(x, mean, color="tab:blue", linewidth=1, alpha=0.6)
            seeds = [
                (a, 100 * v)
                for a, vs, n in zip(x, own["values"], own["n"], strict=True)
                if n >= 2
                for v in vs
            ]
            if seeds:
                ax.scatter(*zip(*seeds, strict=True), color="black", s=12, zorder=3, label="one seed")
            many = (own["n"] >= 2).to_numpy()
            if many.any():
                ax.errorbar(x[many], mean[many], yerr=100 * own["ci"].to_numpy(float)[many], fmt="o",
                            color="tab:blue", capsize=4, zorder=4, label="mean ± 95 % CI")  # fmt: skip
            single = (own["n"] == 1).to_numpy()
            if single.any():
                ax.scatter(x[single], mean[single], facecolors="none", edgecolors="tab:blue", s=60, zorder=4,
                           label="a single seed (n=1, no interval)")  # fmt: skip
            chosen = own.get("chosen", pd.Series(False, index=own.index)).astype(bool).to_numpy()
            if chosen.any():
                ax.scatter(x[chosen], mean[chosen], facecolors="none", edgecolors="tab:red", s=220,
                           linewidths=1.5, zorder=5, label="chosen α")  # fmt: skip
            for a, m, n in zip(x, mean, own["n"], strict=True):
                ax.annotate(f"n={n}", (a, m), xytext=(6, -12), textcoords="offset points", fontsize=7)
            ax.set_xticks(x, [f"{a:g}" for a in x])
            ax.minorticks_off()
        for (name, value), style in zip((baselines or {}).items(), ("--", ":", "-."), strict=False):
            if value is not None and not pd.isna(value):
                ax.axhline(100 * value, linestyle=style, color="grey", label=f"{name} ({100 * value:.1f})")
        label = (names or {}).get(method, method)
        ax.set(xlabel="α (distillation weight, log axis)", ylabel=ylabel, ylim=(0, 102), title=label)
        ax.legend(fontsize=7, loc="lower left")
    return fig


def plot_fusion_accuracy(summary: pd.DataFrame) -> Figure:
    """Grouped bars: each stream alone, averaging and attention fusion, for every stream pair; the title
    names the split attention was fitted on (``summary["fit_on"]``, ``study.fusion.fusion_summary``)."""
    long = summary.melt(id_vars="pair", value_vars=list(_FUSION_COLUMNS), var_name="what", value_name="top1")
    long["top1"] = 100 * long["top1"]
    long["what"] = long["what"].map(_FUSION_COLUMNS)
    fig = new_figure(9, 4)
    ax = fig.subplots()
    sns.barplot(data=long, x="pair", y="top1", hue="what", hue_order=list(_FUSION_COLUMNS.values()), ax=ax)
    splits = sorted(set(summary.get("fit_on", pd.Series(dtype=str)).dropna()) - {""})
    names = {"val": "validation", "train": "training"}
    fitted = (
        f" (attention fitted on the {' and '.join(names.get(x, x) for x in splits)} split)" if splits else ""
    )
    ax.set(
        xlabel="",
        ylabel="video top-1 (%)",
        ylim=(0, 112),
        title=f"Late fusion: averaging vs attention{fitted}",
    )
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
    cues = view.get("cues")  # mixed task: class → "appearance" / "motion" (study.fusion.fusion_view)
    if cues:
        videos["what tells the class"] = videos["class"].map(cues)
        sns.boxplot(data=videos, x="class", y="weight", order=view["classes"], hue="what tells the class",
                    palette={"appearance": "tab:orange", "motion": "tab:blue"}, ax=ax_class)  # fmt: skip
        ax_class.legend(fontsize=7, title="class told apart by", title_fontsize=7)
    else:
        sns.boxplot(
            data=videos, x="class", y="weight", order=view["classes"], color="tab:purple", ax=ax_class
        )
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
