"""Notebook 05's numbers: every run of a plan collected into the paper's tables (mean ± 95 % CI over seeds).

Runs are read back from ``<out_dir>/<preset>/``: single runs (``<method>_seed<k>``, with config.yaml and
eval.json), α-sweep runs (any other name, e.g. ``ds_alpha10_seed1``) and fusions
(``fusion_<a>+<b>_<average|attention>`` with eval.json naming the two streams). The tables are rendered
by :mod:`dualaction_lib.viz.tables`. Each row carries how many listed test videos its runs left out
(skipped by prepare, missing or damaged: eval.json's ``num_videos_left_out``); the tables mark it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import yaml

from dualaction_lib.stats import mean_ci

# (row label, what) — what: ("run", method) or ("fusion", method_a, method_b, fusion method)
TABLE1_ROWS = (
    ("RGB", ("run", "rgb")),
    ("Flow", ("run", "flow")),
    ("RGB+Flow", ("fusion", "rgb", "flow", "{fusion}")),
    ("MARS: Mimic", ("run", "mars")),
    ("MARS: Mimic+RGB", ("fusion", "mars", "rgb", "{fusion}")),
    ("MARS: Mimic+Flow", ("fusion", "mars", "flow", "{fusion}")),
    ("DS: Mimic", ("run", "ds")),
    ("DS: Mimic+RGB", ("fusion", "ds", "rgb", "{fusion}")),
    ("DS: Mimic+Flow", ("fusion", "ds", "flow", "{fusion}")),
)
TABLE2_ROWS = (
    ("MARS (CE + α·MSE)", ("run", "mars")),
    ("+MAE (CE + α·MAE)", ("run", "ds_mae")),
    ("+Gram (CE + α·Gram)", ("run", "ds_gram")),
    ("both: DS (CE + α·(MAE + Gram))", ("run", "ds")),
    ("DS + Flow, averaging", ("fusion", "ds", "flow", "average")),
    ("DS + Flow, attention fusion", ("fusion", "ds", "flow", "attention")),
)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def collect_runs(preset_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per trained run: run, method, seed, alpha, main (named <method>_seed<k>), accuracies."""
    rows = []
    for run in sorted(Path(preset_dir).glob("*/eval.json")):
        folder = run.parent
        if folder.name.startswith("fusion_") or not (folder / "config.yaml").exists():
            continue
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        result = _read(run)
        method, seed = config.get("method"), config.get("seed")
        rows.append(
            {
                "run": folder.name,
                "method": method,
                "seed": seed,
                "alpha": float(config.get("distill", {}).get("alpha", math.nan)),
                "main": folder.name == f"{method}_seed{seed}",
                "video_top1": result.get("video_top1"),
                "clip_top1": result.get("clip_top1"),
                "video_top5": result.get("video_top5"),
                "left_out": int(result.get("num_videos_left_out", 0)),
                "listed": result.get("num_videos_listed", result.get("num_videos")),
            }
        )
    columns = ["run", "method", "seed", "alpha", "main", "video_top1", "clip_top1", "video_top5"]
    return pd.DataFrame(rows, columns=[*columns, "left_out", "listed"])


def collect_fusions(preset_dir: str | os.PathLike, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per fusion: streams' runs and methods, the student's seed, fusion method, accuracies."""
    runs = collect_runs(preset_dir) if runs is None else runs
    by_name = runs.set_index("run") if not runs.empty else pd.DataFrame()
    rows = []
    for path in sorted(Path(preset_dir).glob("fusion_*/eval.json")):
        result = _read(path)
        names = [Path(s).name for s in result.get("streams", [])]
        if len(names) != 2 or any(n not in by_name.index for n in names):
            continue
        a, b = (by_name.loc[n] for n in names)
        rows.append(
            {
                "fusion": path.parent.name,
                "run_a": names[0],
                "run_b": names[1],
                "method_a": a["method"],
                "method_b": b["method"],
                "seed": a["seed"],
                "main": bool(a["main"] and b["main"]),
                "method": result.get("method"),
                "video_top1": result.get("video_top1"),
                "weight_a": (result.get("mean_weights") or [math.nan])[0],
                "left_out": max(a["left_out"], b["left_out"]),  # a fusion scores what both streams scored
                "listed": a["listed"],
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "fusion",
            "run_a",
            "run_b",
            "method_a",
            "method_b",
            "seed",
            "main",
            "method",
            "video_top1",
            "weight_a",
            "left_out",
            "listed",
        ],
    )


def _subset(what: tuple, runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str) -> pd.DataFrame:
    """The main runs (or fusions) of one table row, one per seed."""
    if what[0] == "run":
        return runs if runs.empty else runs[(runs.method == what[1]) & runs.main]
    _, a, b, method = what
    if fusions.empty:
        return fusions
    keep = (
        (fusions.method_a == a) & (fusions.method_b == b) & (fusions.method == method.format(fusion=fusion))
    )
    return fusions[keep & fusions.main]


def _most(column: pd.Series) -> int | None:
    known = column.dropna()
    return int(known.max()) if len(known) else None


def build_table(rows: tuple, runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str = "attention"):
    """DataFrame indexed by row label: mean, ci (95 % half-width), n, seeds (accuracies in [0, 1]),
    left_out (most test videos any of the row's runs left out) and listed (test videos listed)."""
    records = []
    for label, what in rows:
        subset = _subset(what, runs, fusions, fusion)
        values = subset.set_index("seed")["video_top1"] if not subset.empty else pd.Series(dtype=float)
        mean, ci, n = mean_ci(values.tolist())
        records.append(
            {
                "row": label,
                "mean": mean,
                "ci": ci,
                "n": n,
                "seeds": {int(k): float(v) for k, v in values.items()},
                "left_out": int(subset.left_out.max()) if not subset.empty else 0,
                "listed": _most(subset.listed) if not subset.empty else None,
            }
        )
    return pd.DataFrame(records).set_index("row")


def table1(runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str = "attention") -> pd.DataFrame:
    """The seed's Table 1: Mimic / Mimic+RGB / Mimic+Flow for MARS and DS; RGB, Flow, RGB+Flow."""
    return build_table(TABLE1_ROWS, runs, fusions, fusion)


def table2(runs: pd.DataFrame, fusions: pd.DataFrame) -> pd.DataFrame:
    """The seed's Table 2: MARS → +MAE → +Gram → both → +Flow (averaging) → +attention fusion."""
    return build_table(TABLE2_ROWS, runs, fusions)


def alpha_sweep(runs: pd.DataFrame, method: str = "ds") -> pd.DataFrame:
    """Accuracy per α for ``method`` (main runs and sweep runs together): alpha, mean, ci, n, values."""
    subset = runs[runs.method == method] if not runs.empty else runs
    records = []
    for alpha, group in subset.groupby("alpha"):
        mean, ci, n = mean_ci(group.video_top1.tolist())
        records.append(
            {"alpha": float(alpha), "mean": mean, "ci": ci, "n": n, "values": group.video_top1.tolist()}
        )
    return pd.DataFrame(records, columns=["alpha", "mean", "ci", "n", "values"])
