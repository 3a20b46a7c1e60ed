"""Training figures (notebook 03): loss terms and accuracies, the loss balance, live redraws, confusion.

The data come from :mod:`dualaction_lib.study.runs`; these functions only draw.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .core import new_figure

LOSS_TERMS = ("loss", "ce", "mae", "gram", "mse")


def _smooth(values: pd.Series, window: int) -> pd.Series:
    return values.rolling(window, min_periods=1).mean()


def default_smoothing(num_steps: int) -> int:
    """Running-mean window of the loss curves: 1/20 of the logged steps (at least 1)."""
    return max(1, num_steps // 20)


def plot_training_curves(
    steps: pd.DataFrame,
    epochs: pd.DataFrame,
    final_top1: float | None = None,
    title: str = "",
    smoothing: int | None = None,
    final_val: float | None = None,
    chance: float | None = None,
) -> Figure:
    """Loss terms per step (running mean over ``smoothing`` steps, log scale), learning rate, and
    accuracy per epoch: train clip accuracy every epoch, test video top-1 at the epochs it was measured
    (``eval.every``) joined to the final one.

    ``steps`` / ``epochs``: a run's step and epoch metrics records; ``final_top1`` / ``final_val``: the
    test and validation video top-1 after training; ``chance``: 1/classes (a dotted line);
    ``smoothing=None``: ``default_smoothing`` of the logged steps.
    """
    window = default_smoothing(len(steps)) if smoothing is None else max(1, int(smoothing))
    fig = new_figure(14, 3.8)
    ax_loss, ax_lr, ax_acc = fig.subplots(1, 3, width_ratios=[1.1, 0.7, 1.3])
    if not steps.empty:
        for term in LOSS_TERMS:
            if term in steps and steps[term].notna().any() and (steps[term].abs() > 0).any():
                label = "total" if term == "loss" else term
                ax_loss.plot(steps["step"], _smooth(steps[term], window), label=label)
        ax_loss.set_yscale("log")
        ax_loss.legend(fontsize=8)
        if "lr" in steps:
            ax_lr.plot(steps["step"], steps["lr"], color="tab:gray")
    ax_loss.set(
        xlabel="step",
        ylabel="loss (running mean)",
        title="Loss terms" + (f" (mean of {window} steps)" if window > 1 else " (per step)"),
    )
    ax_lr.set(xlabel="step", ylabel="learning rate", title="Schedule")
    if not epochs.empty:
        x = epochs["epoch"] + 1
        if "train_acc" in epochs:
            ax_acc.plot(x, epochs["train_acc"], marker="o", markersize=3, label="train clip acc.")
        tested = epochs.dropna(subset=["test_video_top1"]) if "test_video_top1" in epochs else epochs[:0]
        if not tested.empty:  # measured every eval.every epochs; the final evaluation closes the curve
            test_x, test_y = list(tested["epoch"] + 1), list(tested["test_video_top1"])
            if final_top1 is not None:
                test_x, test_y = [*test_x, int(x.iloc[-1])], [*test_y, final_top1]
            ax_acc.plot(
                test_x, test_y, marker="s", markersize=4, color="tab:orange", label="test video top-1"
            )
        if final_top1 is not None:
            ax_acc.scatter([int(x.iloc[-1])], [final_top1], marker="*", s=120, color="tab:red", zorder=3,
                           label=f"final test video top-1 ({final_top1:.1%})")  # fmt: skip
        if final_val is not None:
            ax_acc.scatter([int(x.iloc[-1])], [final_val], marker="D", s=30, color="tab:green", zorder=3,
                           label=f"final val video top-1 ({final_val:.1%})")  # fmt: skip
        if chance is not None:
            ax_acc.axhline(chance, color="grey", linestyle=":", label=f"chance ({chance:.1%})")
        ax_acc.legend(fontsize=8, loc="best")
        ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="Accuracy")
    if title:
        fig.suptitle(title)
    return fig


BALANCE_COLORS = {"CE": "tab:blue", "α·MAE": "tab:orange", "α·Gram": "tab:green", "α·MSE": "tab:red"}


def plot_loss_balance(balance: pd.DataFrame, title: str = "") -> Figure:
    """How hard each loss term pulls the student, at the first batch of every epoch (step 0 first).

    ``balance``: one row per epoch and term with ``epoch``, ``term`` (CE, α·MAE, α·Gram or α·MSE),
    ``weighted`` (the term as it enters the loss) and ``grad_share`` (its share of the summed gradient
    norms at the student's parameters). Left: the weighted values (log scale); right: the shares, stacked.
    """
    fig = new_figure(12, 3.8)
    ax_value, ax_share = fig.subplots(1, 2)
    terms = [t for t in BALANCE_COLORS if t in set(balance.get("term", []))]
    terms += sorted(set(balance.get("term", [])) - set(terms))
    epochs = sorted(balance["epoch"].unique()) if not balance.empty else []
    bottom = np.zeros(len(epochs))
    for term in terms:
        rows = balance[balance.term == term].set_index("epoch").reindex(epochs)
        color = BALANCE_COLORS.get(term)
        ax_value.plot(np.add(epochs, 1), rows["weighted"], marker="o", markersize=3, color=color, label=term)
        share = rows["grad_share"].fillna(0).to_numpy()
        ax_share.bar(np.add(epochs, 1), share, bottom=bottom, color=color, width=0.8, label=term)
        bottom += share
    if terms:
        ax_value.set_yscale("log")
        ax_share.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="term")
    for ax in (ax_value, ax_share):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_value.set(
        xlabel="epoch (its first batch)", ylabel="weighted term (log)", title="Loss terms as weighted"
    )
    ax_share.set(
        xlabel="epoch (its first batch)",
        ylabel="share of the gradient norm",
        ylim=(0, 1.0),
        title="Who moves the student: gradient-norm shares",
    )
    if epochs:
        first = balance[balance.epoch == epochs[0]].set_index("term")["grad_share"]
        shares = ", ".join(f"{t} {first[t]:.0%}" for t in terms if t in first)
        title = f"{title}: " if title else ""
        fig.suptitle(f"{title}gradient shares at step 0 — {shares}")
    elif title:
        fig.suptitle(title)
    return fig


def plot_level_balance(levels: pd.DataFrame, title: str = "") -> Figure:
    """Which feature level drives each multi-level term, at the run's first batch.

    ``levels``: rows with ``term`` (α·MAE, α·Gram; CE with level ''), ``level`` (layer1 … pool),
    ``weighted`` and ``grad_share`` (share of the summed gradient norms of CE and every level). Left: each
    level's weighted value (log scale), one bar per term; right: its gradient share, CE's as a line.
    """
    first = levels[levels.step == levels.step.min()] if not levels.empty else levels
    ce = first[first.term == "CE"]
    parts = first[first.term != "CE"]
    names = list(dict.fromkeys(parts.get("level", [])))
    terms = [t for t in BALANCE_COLORS if t in set(parts.get("term", []))]
    fig = new_figure(12, 3.8)
    ax_value, ax_share = fig.subplots(1, 2)
    x = np.arange(len(names))
    width = 0.8 / max(1, len(terms))
    for i, term in enumerate(terms):
        rows = parts[parts.term == term].set_index("level").reindex(names)
        offset = x + (i - (len(terms) - 1) / 2) * width
        color = BALANCE_COLORS.get(term)
        ax_value.bar(offset, rows["weighted"].to_numpy(), width, color=color, label=term)
        ax_share.bar(offset, rows["grad_share"].fillna(0).to_numpy(), width, color=color, label=term)
    if not ce.empty:
        share = float(ce["grad_share"].iloc[0])
        ax_share.axhline(share, color=BALANCE_COLORS["CE"], linestyle="--", label=f"CE ({share:.0%})")
    for ax in (ax_value, ax_share):
        ax.set_xticks(x, names)
        ax.set_xlabel("feature level")
    if terms:
        ax_value.set_yscale("log")
        ax_share.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="term")
    ax_value.set(ylabel="weighted part of the term (log)", title="Each level's part of the loss")
    ax_share.set(ylabel="share of the gradient norm", ylim=(0, 1.0), title="Which level moves the student")
    if not parts.empty:
        top = parts.loc[parts.grad_share.idxmax()]
        title = f"{title}: " if title else ""
        fig.suptitle(f"{title}step 0 — largest pull: {top.term} at {top.level} ({top.grad_share:.0%})")
    elif title:
        fig.suptitle(title)
    return fig


class LiveCurves:
    """``on_epoch_end`` hook for ``engine.train``: redraws ``view()`` in place after every epoch.

    Interactive sessions see the figure grow; in batch the hook stays silent and the notebook shows the
    final curves once (so executed notebooks hold one figure, not one per epoch). Used as a context
    manager around training, the live figure gives way to one line when training ends, so the notebook's
    curves view is the only copy of the curves (a failed run keeps its last live figure).
    """

    def __init__(self, view: Callable[[], Figure], interactive: bool = True, name: str = ""):
        self.view, self.interactive, self.name = view, interactive, name
        self._handle = None

    def __call__(self, epoch: int, record: dict) -> None:
        if not self.interactive:
            return
        from IPython.display import Image, display

        from .core import figure_bytes

        image = Image(data=figure_bytes(self.view()), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def __enter__(self) -> LiveCurves:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()

    def close(self) -> None:
        """Replace the live figure (if one was shown) by a line saying where the final curves are."""
        if self._handle is not None:
            from IPython.display import Markdown

            who = f"{self.name}: training" if self.name else "Training"
            self._handle.update(Markdown(f"*{who} finished; its curves are shown below.*"))
            self._handle = None


def plot_confusion_matrix(matrix: np.ndarray, classes: list[str], title: str = "") -> Figure:
    """Row-normalised confusion matrix ``matrix[true, predicted]`` (counts) with the counts annotated."""
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    counts = np.where(matrix > 0, matrix.astype(str), "") if len(classes) <= 20 else False
    size = 2.5 + 0.45 * len(classes)
    fig = new_figure(size + 1.5, size)
    ax = fig.subplots()
    sns.heatmap(
        rates, ax=ax, cmap="Blues", vmin=0, vmax=1, square=True, annot=counts, fmt="",
        annot_kws={"fontsize": 8}, xticklabels=classes, yticklabels=classes,
        cbar_kws={"shrink": 0.8, "label": "fraction of the true class"},
    )  # fmt: skip
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.tick_params(axis="y", rotation=0)
    ax.set(xlabel="predicted class", ylabel="true class")
    accuracy = float(np.trace(matrix) / max(matrix.sum(), 1))
    ax.set_title(title or f"Test confusion (video top-1 {accuracy:.1%})")
    return fig
