"""Every run and fusion of a plan read back from ``<out_dir>/<preset>/`` (notebook 05's raw material).

A run folder holds config.yaml, eval.json and metrics.jsonl (``engine.rundir``). Each run is one row:
what was trained (method, seed, α, init, normalization, the flow teacher it distilled from) and how it did
(test and validation video top-1, final-epoch train accuracy, test videos left out). Its ``variant`` says
which experiment of the plan it belongs to, from the plan's naming convention and the run's config:

- ``main``: ``<method>_seed<k>`` — the preset's recipe (Tables 1 and 2, the preset's α point);
- ``norm``: ``distill.normalize`` other than ``none`` (Table 4), e.g. ``ds_norm_seed<k>``;
- ``sweep``: ``<method>_alpha<α>_seed<k>`` (the α sweep);
- ``scratch``: any other run with ``model.init: scratch`` (Table 3), e.g. ``ds_scratch_seed<k>``;
- ``nopool``: any other run whose ``distill.layers`` leave out the pooled level (Table 2's optional
  row "DS without the pooled level"), e.g. ``ds_nopool_seed<k>``;
- ``other``: anything else (listed, used by no table).

A fusion folder (``fusion_<a>+<b>_<average|attention>``) names its two streams in eval.json.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

RUN_COLUMNS = [
    "run", "method", "seed", "alpha", "init", "normalize", "teacher_seed", "variant", "video_top1",
    "val_top1", "clip_top1", "video_top5", "train_acc", "num_classes", "left_out", "listed",
]  # fmt: skip
FUSION_COLUMNS = [
    "fusion", "run_a", "run_b", "method_a", "method_b", "seed", "seed_b", "teacher_seed", "main", "method",
    "fit_on", "video_top1", "weight_a", "left_out", "listed",
]  # fmt: skip


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def variant_of(
    name: str, method: str, seed: int, init: str, normalize: str, layers: tuple[str, ...] = ("pool",)
) -> str:
    """Which experiment a run belongs to (see the module docstring); ``layers``: its distilled levels."""
    if name == f"{method}_seed{seed}":
        return "main"
    if normalize != "none":
        return "norm"
    if name.startswith(f"{method}_alpha"):
        return "sweep"
    if init == "scratch":
        return "scratch"
    return "nopool" if "pool" not in layers else "other"


def final_train_accuracy(run_dir: str | os.PathLike) -> float:
    """The train clip accuracy of the run's last epoch record in metrics.jsonl (NaN without one)."""
    from dualaction_lib.io import read_jsonl

    path = Path(run_dir) / "metrics.jsonl"
    epochs = [r for r in read_jsonl(path) if r.get("kind") == "epoch"] if path.exists() else []
    value = max(epochs, key=lambda r: r["epoch"]).get("train_acc") if epochs else None
    return math.nan if value is None else float(value)


def number_of_classes(run_dir: str | os.PathLike, result: dict) -> float:
    """Classes the run chooses among: eval.json's ``num_classes``, else scores.pt's class list (NaN)."""
    if result.get("num_classes"):
        return float(result["num_classes"])
    if not (Path(run_dir) / "scores.pt").exists():
        return math.nan
    from dualaction_lib.engine.fuse import load_scores

    return float(len(load_scores(run_dir)["classes"]))


def collect_runs(preset_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per evaluated run of ``preset_dir`` (columns: ``RUN_COLUMNS``; accuracies in [0, 1])."""
    from dualaction_lib.config import read_config

    rows = []
    for path in sorted(Path(preset_dir).glob("*/eval.json")):
        folder = path.parent
        if folder.name.startswith("fusion_") or not (folder / "config.yaml").exists():
            continue
        cfg = read_config(folder)
        result = _read(path)
        init, normalize = cfg.model.init, cfg.distill.normalize
        rows.append(
            {
                "run": folder.name,
                "method": cfg.method,
                "seed": cfg.seed,
                "alpha": float(cfg.distill.alpha),
                "init": init,
                "normalize": normalize,
                "teacher_seed": cfg.teacher_seed,
                "variant": variant_of(
                    folder.name, cfg.method, cfg.seed, init, normalize, tuple(cfg.distill.layers)
                ),
                "video_top1": result.get("video_top1"),
                "val_top1": result.get("val_video_top1"),
                "clip_top1": result.get("clip_top1"),
                "video_top5": result.get("video_top5"),
                "train_acc": final_train_accuracy(folder),
                "num_classes": number_of_classes(folder, result),
                "left_out": int(result.get("num_videos_left_out", 0)),
                "listed": result.get("num_videos_listed", result.get("num_videos")),
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
    for path in sorted(Path(preset_dir).glob("fusion_*/eval.json")):
        result = _read(path)
        names = [Path(s).name for s in result.get("streams", [])]
        if len(names) != 2 or any(n not in by_name.index for n in names):
            continue
        a, b = (by_name.loc[n] for n in names)
        matched = b["method"] != "flow" or int(b["seed"]) == int(a["teacher_seed"])
        rows.append(
            {
                "fusion": path.parent.name,
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
            }
        )
    return pd.DataFrame(rows, columns=FUSION_COLUMNS)
