"""Notebook 03's data: the Config a notebook trains, and a run's metrics, scores and summary read back.

``viz.training`` draws what these functions return; the ``*_view`` helpers put the two together.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dualaction_lib.io import read_jsonl
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
    name: str = "",
    out_dir: str = "runs",
    **overrides: Any,
) -> Config:
    """The Config notebook 03 trains: the preset plus the notebook's parameters.

    ``alpha`` / ``epochs`` / ``init`` / ``normalize`` / ``layers`` None keep the preset's value
    (``distill.alpha``, ``optim.epochs``, ``model.init``, ``distill.normalize``, ``distill.layers``); a
    value is checked like any override.
    """
    from dualaction_lib.config import load_config

    values = {"method": method, "seed": seed, "name": name, "out_dir": out_dir, **overrides}
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
    teacher = f", teacher flow_seed{cfg.teacher_seed}" if cfg.is_distill else ""
    return (
        f"{cfg.method}: {cfg.model.arch} {cfg.model.widths} from {cfg.model.init}, alpha "
        f"{cfg.distill.alpha:g} ({cfg.distill.normalize}){teacher}, {cfg.optim.epochs} epochs, "
        f"{cfg.data.clip_len}×{cfg.data.crop_size}² clips → {cfg.run_dir}"
    )


def teacher_seed(preset_dir: str | os.PathLike, seed: int, methods=("ds", "mars", "rgb")) -> int:
    """The flow teacher of student seed ``seed``: ``Config.teacher_seed`` of its first existing run
    (``<method>_seed<seed>`` for ``methods``), i.e. the seed mod the preset's ``distill.teacher_seeds``."""
    from dualaction_lib.config import read_config

    for method in methods:
        run = Path(preset_dir) / f"{method}_seed{seed}"
        if (run / "config.yaml").is_file():
            return read_config(run).teacher_seed
    raise FileNotFoundError(
        f"no student run of seed {seed} in {preset_dir} ({', '.join(f'{m}_seed{seed}' for m in methods)}); "
        f"train one first"
    )


def load_metrics(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(step records, epoch records) of a run's metrics.jsonl as DataFrames (empty if not started)."""
    path = Path(run_dir) / "metrics.jsonl"
    records = read_jsonl(path) if path.exists() else []
    steps = pd.DataFrame([r for r in records if r.get("kind") == "step"])
    epochs = pd.DataFrame([r for r in records if r.get("kind") == "epoch"])
    return steps, epochs


def read_eval(run_dir: str | os.PathLike) -> dict:
    """The run's eval.json, or ``{}`` before the run has been evaluated."""
    path = Path(run_dir) / "eval.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


BALANCE_TERMS = {"ce": "CE", "mae": "α·MAE", "gram": "α·Gram", "mse": "α·MSE"}


def load_balance(run_dir: str | os.PathLike) -> pd.DataFrame:
    """metrics.jsonl's ``balance`` records (first batch of every epoch) in long form: epoch, step, term
    (CE, α·MAE, α·Gram, α·MSE), value (before α), weighted (as in the loss), grad_norm, grad_share."""
    path = Path(run_dir) / "metrics.jsonl"
    records = [r for r in read_jsonl(path) if r.get("kind") == "balance"] if path.exists() else []
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
    path = Path(run_dir) / "metrics.jsonl"
    records = [r for r in read_jsonl(path) if r.get("kind") == "balance"] if path.exists() else []
    records = [r for r in records if "level_grad_share" in r]
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
    """(scores (V, K), labels (V,), class names) of the run's test split from scores.pt."""
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
    """eval.json of a run plus its method/seed/alpha from config.yaml, as one Series."""
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
    """The run's learning curves as they stand (metrics.jsonl and, once written, eval.json).

    ``smoothing``: running-mean window of the loss terms in logged steps (None: ``default_smoothing``).
    """
    steps, epochs = load_metrics(run_dir)
    result = read_eval(run_dir)  # read once: this view is redrawn every epoch and on every slider move
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
