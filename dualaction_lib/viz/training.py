"""Training figures (notebook 03): loss terms and accuracies, live redraws, confusion matrix.

The data come from :mod:`dualaction_lib.study.runs`; these functions only draw.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .core import display_figure, new_figure

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
) -> Figure:
    """Loss terms per step (running mean over ``smoothing`` steps, log scale), learning rate, and
    train/test accuracy per epoch.

    ``steps`` / ``epochs``: metrics.jsonl's step and epoch records; ``final_top1``: the test video top-1;
    ``smoothing=None``: ``default_smoothing`` of the logged steps.
    """
    window = default_smoothing(len(steps)) if smoothing is None else max(1, int(smoothing))
    fig = new_figure(13, 3.6)
    ax_loss, ax_lr, ax_acc = fig.subplots(1, 3)
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
            ax_acc.plot(x, epochs["train_acc"], marker="o", label="train clip acc.")
        if "test_video_top1" in epochs and epochs["test_video_top1"].notna().any():
            ax_acc.plot(x, epochs["test_video_top1"], marker="s", label="test video top-1")
        if final_top1 is not None:
            ax_acc.scatter(
                [x.iloc[-1]],
                [final_top1],
                marker="*",
                s=120,
                color="tab:red",
                zorder=3,
                label=f"final test video top-1 ({final_top1:.1%})",
            )
        ax_acc.legend(fontsize=8)
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="Accuracy")
    if title:
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

    def show_final(self) -> Figure:
        fig = self.view()
        if self._handle is None:
            display_figure(fig)
        return fig


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
