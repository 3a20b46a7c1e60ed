"""Training figures (notebook 03): loss terms and accuracies from metrics.jsonl, live updates, confusion."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dualaction_lib.io import read_jsonl

from .core import display_figure, new_figure

LOSS_TERMS = ("loss", "ce", "mae", "gram", "mse")


def load_metrics(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(step records, epoch records) of a run's metrics.jsonl as DataFrames (empty if not started)."""
    path = Path(run_dir) / "metrics.jsonl"
    records = read_jsonl(path) if path.exists() else []
    steps = pd.DataFrame([r for r in records if r.get("kind") == "step"])
    epochs = pd.DataFrame([r for r in records if r.get("kind") == "epoch"])
    return steps, epochs


def _smooth(values: pd.Series, window: int) -> pd.Series:
    return values.rolling(window, min_periods=1).mean()


def default_smoothing(num_steps: int) -> int:
    """Running-mean window of the loss curves: 1/20 of the logged steps (at least 1)."""
    return max(1, num_steps // 20)


def smoothing_control(run_dir: str | os.PathLike) -> dict:
    """Slider spec (``widgets.show_view``) for the loss curves' running-mean window, in logged steps."""
    from . import widgets

    num_steps = len(load_metrics(run_dir)[0])
    return widgets.slider(
        1, max(2, num_steps // 2), default_smoothing(num_steps), description="running mean (steps)"
    )


def plot_training_curves(run_dir: str | os.PathLike, title: str = "", smoothing: int | None = None) -> Figure:
    """Loss terms per step (running mean over ``smoothing`` steps, log scale), learning rate, and
    train/test accuracy per epoch. ``smoothing=None``: ``default_smoothing`` of the logged steps."""
    steps, epochs = load_metrics(run_dir)
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
        final = _final_test_top1(run_dir)
        if final is not None:
            ax_acc.scatter(
                [x.iloc[-1]],
                [final],
                marker="*",
                s=120,
                color="tab:red",
                zorder=3,
                label=f"final test video top-1 ({final:.1%})",
            )
        ax_acc.legend(fontsize=8)
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="Accuracy")
    if title:
        fig.suptitle(title)
    return fig


def _final_test_top1(run_dir: str | os.PathLike) -> float | None:
    import json

    path = Path(run_dir) / "eval.json"
    return json.loads(path.read_text(encoding="utf-8")).get("video_top1") if path.exists() else None


class LiveCurves:
    """``on_epoch_end`` hook for ``engine.train``: redraws the curves in place after every epoch.

    Interactive sessions see the figure grow; in batch the hook stays silent and the notebook shows the
    final curves once (so executed notebooks hold one figure, not one per epoch). Used as a context
    manager around training, the live figure gives way to one line when training ends, so the notebook's
    curves view is the only copy of the curves (a failed run keeps its last live figure).
    """

    def __init__(self, run_dir: str | os.PathLike, interactive: bool = True, title: str = ""):
        self.run_dir, self.interactive, self.title = Path(run_dir), interactive, title
        self._handle = None

    def __call__(self, epoch: int, record: dict) -> None:
        if not self.interactive:
            return
        from IPython.display import Image, display

        from .core import figure_bytes

        image = Image(data=figure_bytes(plot_training_curves(self.run_dir, self.title)), format="png")
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

            name = self.title or self.run_dir.name
            self._handle.update(Markdown(f"*{name}: training finished; its curves are shown below.*"))
            self._handle = None

    def show_final(self) -> Figure:
        fig = plot_training_curves(self.run_dir, self.title)
        if self._handle is None:
            display_figure(fig)
        return fig


def load_test_scores(run_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(scores (V, K), labels (V,), class names) of the run's test split from scores.pt."""
    import torch

    payload = torch.load(Path(run_dir) / "scores.pt", map_location="cpu", weights_only=True)
    test = payload["test"]
    return test["scores"].float().numpy(), np.asarray(test["labels"]), list(payload["classes"])


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``C[true, predicted]``."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def plot_confusion_matrix(run_dir: str | os.PathLike, title: str = "") -> Figure:
    """Row-normalised test confusion matrix (video level) with counts annotated."""
    scores, labels, classes = load_test_scores(run_dir)
    matrix = confusion_matrix(scores.argmax(1), labels, len(classes))
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    size = 2.5 + 0.45 * len(classes)
    fig = new_figure(size + 1.5, size)
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    if len(classes) <= 20:
        for i, j in zip(*np.nonzero(matrix), strict=True):
            color = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8, color=color)
    ax.set(xlabel="predicted class", ylabel="true class")
    accuracy = float(np.trace(matrix) / max(matrix.sum(), 1))
    ax.set_title(title or f"Test confusion (video top-1 {accuracy:.1%})")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    return fig


def run_summary(run_dir: str | os.PathLike) -> pd.Series:
    """eval.json of a run plus its method/seed/alpha from config.yaml, as one Series."""
    import json

    import yaml

    run_dir = Path(run_dir)
    result = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
    config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    info = {
        "run": run_dir.name,
        "method": config.get("method"),
        "seed": config.get("seed"),
        "alpha": config.get("distill", {}).get("alpha"),
    }
    keys = ("video_top1", "video_top5", "clip_top1", "num_videos", "num_clips", "train_seconds")
    return pd.Series({**info, **{k: result.get(k) for k in keys}})


def run_config(
    preset: str,
    method: str,
    seed: int,
    *,
    alpha: float = -1.0,
    epochs: int = 0,
    name: str = "",
    out_dir: str = "runs",
    **overrides,
):
    """The Config notebook 03 trains: the preset plus the notebook's parameters (negative/zero = preset's)."""
    from dualaction_lib.config import load_config

    values = {"method": method, "seed": seed, "name": name, "out_dir": out_dir, **overrides}
    if alpha >= 0:
        values["distill.alpha"] = float(alpha)
    if epochs > 0:
        values["optim.epochs"] = int(epochs)
    return load_config(preset, **values)
