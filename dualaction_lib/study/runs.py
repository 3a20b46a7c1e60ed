"""Notebook 03's data: the Config a notebook trains, and a run's metrics, scores and summary read back.

``viz.training`` draws what these functions return; the ``*_view`` helpers put the two together.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dualaction_lib.rundir import RunDir, teacher_run
from dualaction_lib.viz import training

from .collect import number_of_classes

if TYPE_CHECKING:
    from dualaction_lib.config import Config


def run_config(
    preset: str,
    method: str,
    seed: int,
    *,
    alpha: float | None = None,
    epochs: int | None = None,
    init: str | None = None,
    normalize: str | None = None,
    layers: list[str] | None = None,
    variant: str = "main",
    name: str = "",
    out_dir: str = "runs",
    **overrides: Any,
) -> Config:
    """The Config notebook 03 trains: the preset plus the notebook's parameters.

    ``alpha`` / ``epochs`` / ``init`` / ``normalize`` / ``layers`` None keep the preset's value
    (``distill.alpha``, ``optim.epochs``, ``model.init``, ``distill.normalize``, ``distill.layers``); a
    value is checked like any override. ``variant`` is the experiment the run belongs to (its folder name
    and the tables' selection).
    """
    from dualaction_lib.config import load_config

    values = {"method": method, "seed": seed, "variant": variant, "name": name, "out_dir": out_dir}
    values.update(overrides)
    chosen = {
        "distill.alpha": alpha,
        "optim.epochs": epochs,
        "model.init": init,
        "distill.normalize": normalize,
        "distill.layers": layers,
    }
    values.update({key: value for key, value in chosen.items() if value is not None})
    return load_config(preset, **values)


def describe(cfg: Config) -> str:
    """One line: what a run trains and where (notebook 03's setup cell)."""
    teacher = f", teacher {teacher_run(cfg).name}" if cfg.is_distill else ""
    return (
        f"{cfg.method}: {cfg.model.arch} {cfg.model.widths} from {cfg.model.init}, alpha "
        f"{cfg.distill.alpha:g} ({cfg.distill.normalize}){teacher}, {cfg.optim.epochs} epochs, "
        f"{cfg.data.clip_len}×{cfg.data.crop_size}² clips → {RunDir.of(cfg).path}"
    )


def teacher_seed(preset_dir: str | os.PathLike, seed: int, methods=("ds", "mars", "rgb")) -> int:
    """The flow teacher of student seed ``seed``: the recorded ``teacher_seed`` of its first main run
    among ``methods``, i.e. the seed mod the preset's ``distill.teacher_seeds``."""
    for method in methods:
        run = RunDir.find(preset_dir, method, seed)
        if run is not None:
            return int(run.identity()["teacher_seed"])
    raise FileNotFoundError(
        f"no main student run ({', '.join(methods)}) of seed {seed} in {preset_dir}; train one first"
    )


def load_metrics(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(step records, epoch records) of a run's metrics as DataFrames (empty if not started)."""
    rd = RunDir(run_dir)
    return pd.DataFrame(rd.read_metrics("step")), pd.DataFrame(rd.read_metrics("epoch"))


BALANCE_TERMS = {"ce": "CE", "mae": "α·MAE", "gram": "α·Gram", "mse": "α·MSE"}


def load_balance(run_dir: str | os.PathLike) -> pd.DataFrame:
    """The run's ``balance`` metrics (first batch of every epoch) in long form: epoch, step, term
    (CE, α·MAE, α·Gram, α·MSE), value (before α), weighted (as in the loss), grad_norm, grad_share."""
    records = RunDir(run_dir).read_metrics("balance")
    rows = [
        {
            "epoch": r["epoch"],
            "step": r["step"],
            "term": BALANCE_TERMS.get(key, key),
            "value": r["value"][key],
            "weighted": r["weighted"][key],
            "grad_norm": r["grad_norm"][key],
            "grad_share": r["grad_share"][key],
        }
        for r in records
        for key in r["grad_share"]
    ]
    columns = ["epoch", "step", "term", "value", "weighted", "grad_norm", "grad_share"]
    return pd.DataFrame(rows, columns=columns)


LEVEL_COLUMNS = ["epoch", "step", "term", "level", "value", "weighted", "grad_norm", "grad_share"]


def load_level_balance(run_dir: str | os.PathLike) -> pd.DataFrame:
    """The per-level loss balance measured on the run's first batch, in long form: one row per term and
    level (term α·MAE or α·Gram, level layer1 … layer4 or pool) plus one CE row (level ''), with its value
    (its part of the term before α), weighted value, gradient norm and ``grad_share`` (its share of the
    summed gradient norms of CE and every level). Empty for runs without multi-level terms."""
    records = [r for r in RunDir(run_dir).read_metrics("balance") if "level_grad_share" in r]
    rows = []
    for r in records:
        for key, share in r["level_grad_share"].items():
            term, _, level = key.partition("/")
            rows.append(
                {
                    "epoch": r["epoch"], "step": r["step"], "term": BALANCE_TERMS.get(term, term),
                    "level": level, "value": r["level_value"][key], "weighted": r["level_weighted"][key],
                    "grad_norm": r["level_grad_norm"][key], "grad_share": share,
                }
            )  # fmt: skip
    return pd.DataFrame(rows, columns=LEVEL_COLUMNS)


def level_balance_view(run_dir: str | os.PathLike, title: str = "") -> Figure | None:
    """The run's per-level balance at step 0 (``viz.training.plot_level_balance``); None without levels."""
    levels = load_level_balance(run_dir)
    return None if levels.empty else training.plot_level_balance(levels, title or Path(run_dir).name)


def balance_view(run_dir: str | os.PathLike, title: str = "") -> Figure | None:
    """The run's loss balance (``viz.training.plot_loss_balance``); None for a run without distillation
    terms (rgb, flow: CE is the whole loss)."""
    balance = load_balance(run_dir)
    return None if balance.empty else training.plot_loss_balance(balance, title or Path(run_dir).name)


def load_test_scores(run_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(scores (V, K), labels (V,), class names) of the run's test split from its saved scores."""
    from dualaction_lib.engine.fuse import load_scores

    payload = load_scores(run_dir)  # a missing or damaged file is an error naming it
    test = payload["test"]
    return test["scores"].float().numpy(), np.asarray(test["labels"]), list(payload["classes"])


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``C[true, predicted]``."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def run_summary(run_dir: str | os.PathLike) -> pd.Series:
    """A run's evaluation plus its method/seed/variant/alpha from its config, as one Series."""
    rd = RunDir(run_dir)
    result, cfg = rd.read_eval(), rd.read_config()
    info = {
        "run": rd.name,
        "method": cfg.method,
        "seed": cfg.seed,
        "variant": cfg.variant,
        "alpha": cfg.distill.alpha,
    }
    keys = ("video_top1", "video_top5", "clip_top1", "num_videos", "num_videos_left_out", "num_clips")
    keys += ("train_seconds",)
    return pd.Series({**info, **{k: result.get(k) for k in keys}})


def smoothing_control(run_dir: str | os.PathLike) -> dict:
    """Slider spec (``widgets.show_view``) for the loss curves' running-mean window, in logged steps."""
    from dualaction_lib.viz import widgets

    num_steps = len(load_metrics(run_dir)[0])
    return widgets.slider(
        1, max(2, num_steps // 2), training.default_smoothing(num_steps), description="running mean (steps)"
    )


def curves_view(run_dir: str | os.PathLike, title: str = "", smoothing: int | None = None) -> Figure:
    """The run's learning curves as they stand (its metrics and, once written, its evaluation).

    ``smoothing``: running-mean window of the loss terms in logged steps (None: ``default_smoothing``).
    """
    steps, epochs = load_metrics(run_dir)
    result = RunDir(
        run_dir
    ).read_eval()  # read once: this view is redrawn every epoch and on every slider move
    classes = number_of_classes(run_dir, result)
    chance = None if math.isnan(classes) else 1.0 / classes  # NaN: not evaluated yet
    final_test, final_val = result.get("video_top1"), result.get("val_video_top1")
    return training.plot_training_curves(steps, epochs, final_test, title, smoothing, final_val, chance)


def confusion_view(run_dir: str | os.PathLike, title: str = "") -> Figure:
    """The run's row-normalised test confusion matrix (video level)."""
    scores, labels, classes = load_test_scores(run_dir)
    matrix = confusion_matrix(scores.argmax(1), labels, len(classes))
    return training.plot_confusion_matrix(matrix, classes, title)


def live_curves(run_dir: str | os.PathLike, interactive: bool, title: str = "") -> training.LiveCurves:
    """An ``on_epoch_end`` hook for ``engine.train`` that redraws the run's curves after every epoch.

    Use it as a context manager around training: when training ends the live figure gives way to one line,
    so the notebook's curves view is the only copy of the curves.
    """
    return training.LiveCurves(
        lambda: curves_view(run_dir, title), interactive, name=title or Path(run_dir).name
    )
