"""Every run and fusion of a plan read back from ``<out_dir>/<preset>/`` (notebook 05's raw material).

Each evaluated run is one row: what it is, as its identity record says (``rundir.RunDir.identity``: method,
seed, variant, α, init, normalization, the flow teacher it distilled from), and how it did (test and
validation video top-1, final-epoch train accuracy, test videos left out, top-1 per class). Its
``variant`` is the experiment of the plan it belongs to, declared when it was trained (``Config.variant``):

- ``main``: the preset's recipe, each method at its own α (Tables 1 and 2);
- ``norm``: ``distill.normalize`` step0 (Table 4);
- ``sweep``: a run at another α (Table 5's paper α, the tuning's grid);
- ``scratch``: ``model.init: scratch`` (Table 3);
- ``nopool``: ``distill.layers`` without the pooled level (Table 2's optional row "DS without the pooled
  level");
- ``other``: anything else (listed, used by no table).

A fusion's identity names its two streams. Folders without an identity record are left out with a warning.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from dualaction_lib.rundir import RunDir

RUN_COLUMNS = [
    "run", "method", "seed", "alpha", "init", "normalize", "teacher_seed", "variant", "video_top1",
    "val_top1", "clip_top1", "video_top5", "train_acc", "num_classes", "left_out", "listed", "per_class",
]  # fmt: skip
FUSION_COLUMNS = [
    "fusion", "run_a", "run_b", "method_a", "method_b", "seed", "seed_b", "teacher_seed", "main", "method",
    "fit_on", "video_top1", "weight_a", "left_out", "listed", "per_class",
]  # fmt: skip


def final_train_accuracy(run_dir: str | os.PathLike) -> float:
    """The train clip accuracy of the run's last epoch record (NaN without one)."""
    epochs = RunDir(run_dir).read_metrics("epoch")
    value = max(epochs, key=lambda r: r["epoch"]).get("train_acc") if epochs else None
    return math.nan if value is None else float(value)


def number_of_classes(run_dir: str | os.PathLike, result: dict) -> float:
    """Classes the run chooses among: its evaluation's ``num_classes``, else its scores' class list (NaN)."""
    if result.get("num_classes"):
        return float(result["num_classes"])
    if not RunDir(run_dir).scores_path().exists():
        return math.nan
    from dualaction_lib.engine.fuse import load_scores

    return float(len(load_scores(run_dir)["classes"]))


def collect_runs(preset_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per evaluated run of ``preset_dir`` (columns: ``RUN_COLUMNS``; accuracies in [0, 1])."""
    rows = []
    for rd in RunDir.runs_in(preset_dir):
        if not rd.is_evaluated():
            continue
        identity, result = rd.identity(), rd.read_eval()
        rows.append(
            {
                "run": rd.name,
                **{key: identity[key] for key in ("method", "seed", "init", "normalize", "variant")},
                "alpha": float(identity["alpha"]),
                "teacher_seed": identity["teacher_seed"],
                "video_top1": result.get("video_top1"),
                "val_top1": result.get("val_video_top1"),
                "clip_top1": result.get("clip_top1"),
                "video_top5": result.get("video_top5"),
                "train_acc": final_train_accuracy(rd.path),
                "num_classes": number_of_classes(rd.path, result),
                "left_out": int(result.get("num_videos_left_out", 0)),
                "listed": result.get("num_videos_listed", result.get("num_videos")),
                "per_class": result.get("per_class_top1"),  # class → test video top-1
            }
        )
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def collect_fusions(preset_dir: str | os.PathLike, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per fusion whose two streams are runs of ``runs`` (columns: ``FUSION_COLUMNS``).

    ``seed`` is the first stream's (the student's); ``main`` is true when both streams are main runs and
    a flow stream is the student's own teacher (seed ``teacher_seed``, i.e. student seed mod the number
    of teacher seeds), so Table 1's +Flow rows pair every student with the teacher it distilled from.
    """
    runs = collect_runs(preset_dir) if runs is None else runs
    by_name = runs.set_index("run") if not runs.empty else pd.DataFrame()
    rows = []
    for fusion in RunDir.runs_in(preset_dir, kind="fusion"):
        result = fusion.read_eval()
        names = [Path(s).name for s in fusion.identity()["streams"]]
        if len(names) != 2 or any(n not in by_name.index for n in names):
            continue
        a, b = (by_name.loc[n] for n in names)
        matched = b["method"] != "flow" or int(b["seed"]) == int(a["teacher_seed"])
        rows.append(
            {
                "fusion": fusion.name,
                "run_a": names[0],
                "run_b": names[1],
                "method_a": a["method"],
                "method_b": b["method"],
                "seed": a["seed"],
                "seed_b": b["seed"],
                "teacher_seed": a["teacher_seed"],
                "main": bool(a["variant"] == "main" and b["variant"] == "main" and matched),
                "method": result.get("method"),
                "fit_on": result.get("fit_on", ""),
                "video_top1": result.get("video_top1"),
                "weight_a": (result.get("mean_weights") or [math.nan])[0],
                "left_out": max(a["left_out"], b["left_out"]),  # a fusion scores what both streams scored
                "listed": a["listed"],
                "per_class": result.get("per_class_top1"),
            }
        )
    return pd.DataFrame(rows, columns=FUSION_COLUMNS)
